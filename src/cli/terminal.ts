/**
 * The one way text reaches a terminal. File contents (banners, compress_type, section names, schema
 * titles, file names) can hold escape sequences that would recolour, retitle or rewrite the user's
 * terminal, or a newline that forges a second `kimg:` line; every printed line passes through here so
 * that no code path can forget it.
 */

/**
 * C0 controls (newline and tab included: a line is one line), DEL, C1 controls (U+0080..U+009F, which
 * some terminals take as 8-bit CSI), the bidirectional overrides and line separators that reorder
 * or split what the user sees, and lone surrogates (not encodable as UTF-8).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with every unsafe character shown as `\xNN` (up to U+00FF) or `\u{NNNN}`. */
export function escapeForTerminal(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** Colour per stream (color.ts), applied after escaping; none until the CLI decides. */
const painters = new WeakMap<NodeJS.WritableStream, (escapedLine: string) => string>();

export function setPainter(stream: NodeJS.WritableStream, painter: (escapedLine: string) => string): void {
  painters.set(stream, painter);
}

/** Writes one line, escaped (then coloured, if colour is on for the stream), and its newline. */
export function writeLine(stream: NodeJS.WritableStream, line: string): void {
  const escaped = escapeForTerminal(line);
  const paint = painters.get(stream);
  stream.write((paint ? paint(escaped) : escaped) + '\n');
}

/** Writes text of several lines (help), each escaped. */
export function writeLines(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.split('\n').map(escapeForTerminal).join('\n') + '\n');
}
