/**
 * Colour for people, none for pipes: on only when the stream is a terminal (or FORCE_COLOR / --color
 * always says so), off with NO_COLOR (https://no-color.org) or --color never.
 *
 * Colour is added to lines that are already escaped (terminal.ts), and only around tokens kimg itself
 * puts at fixed places (the `->` of a layer, a check's status word, `kimg: error:`), so no text from a
 * file can carry or forge an escape sequence.
 */

export type ColorWhen = 'auto' | 'always' | 'never';

/** Turns an escaped line into the same line with colour around kimg's own tokens. */
export type Painter = (escapedLine: string) => string;

export function colorEnabled(stream: { readonly isTTY?: boolean }, when: ColorWhen, env: NodeJS.ProcessEnv = process.env): boolean {
  switch (when) {
    case 'always':
      return true;
    case 'never':
      return false;
    case 'auto': {
      if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
      const force = env['FORCE_COLOR'];
      if (force !== undefined) return force !== '0' && force !== 'false';
      return Boolean(stream.isTTY) && env['TERM'] !== 'dumb';
    }
  }
}

const SGR = { red: '31', green: '32', yellow: '33', cyan: '36', bold: '1' } as const;

function sgr(code: string, text: string): string {
  return `\x1b[${code}m${text}\x1b[0m`;
}

const STATUS: Readonly<Record<string, string>> = { ok: SGR.green, warning: SGR.yellow, error: SGR.red, skipped: SGR.yellow };

/** Layer arrows, check and scan verdicts, damage lines, error and warning labels. */
export const paintReport: Painter = (line) => {
  const arrow = /^-> /.exec(line);
  if (arrow) return `${sgr(`${SGR.bold};${SGR.cyan}`, '->')} ${line.slice(3)}`;
  const status = /^(ok|warning|error|skipped)( +)/.exec(line);
  if (status) return `${sgr(STATUS[status[1]!]!, status[1]!)}${line.slice(status[1]!.length)}`;
  const damaged = /^( +)(damaged:)/.exec(line);
  if (damaged) return `${damaged[1]}${sgr(SGR.red, damaged[2]!)}${line.slice(damaged[0].length)}`;
  const label = /^kimg: (error|warning|internal error)/.exec(line);
  if (label) {
    const code = label[1] === 'warning' ? SGR.yellow : SGR.red;
    return `kimg: ${sgr(`${SGR.bold};${code}`, label[1]!)}${line.slice(label[0].length)}`;
  }
  return line;
};

export const noPaint: Painter = (line) => line;
