/**
 * yargs, built from the command table (args.ts), answers what it is best at: the top-level and
 * per-command help (`kimg CMD --help`, `kimg help CMD`), `--version`, the bash/zsh completion script
 * (`kimg completion [bash|zsh]`) and the completions the script asks for. Loaded only for those.
 */
import yargs, { type Argv } from 'yargs';
import { UsageError } from '../core/errors.js';
import { COMMANDS, COMMON, didYouMean, EXIT_CODES, oneLine, positionalUsage, shown, STDIN_TOKEN, usageOf, type CommandSpec, type OptionSpec } from './args.js';

type FallbackCompletionFunction = Parameters<Argv['completion']>[2];

const PARSER_CONFIG = { 'camel-case-expansion': false, 'strip-aliased': true, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false } as const;

/** The text to print for `args` (help, version, a completion script or completions; may be empty). */
export function yargsAnswer(args: readonly string[], version: string, command: CommandSpec | undefined, completing: boolean): string {
  if (args[0] === 'help') return helpFor(args.slice(1), version);
  if (command?.name === 'completion') chooseCompletionShell(args[args.indexOf('completion') + 1]);
  const output = runYargs(args, version, command);
  if (output !== '' || completing) return output;
  return runYargs(['--help'], version, undefined); // `kimg` alone, or only common options
}

/** `kimg help` alone is the top-level help; `kimg help CMD` is exactly `kimg CMD --help`. */
function helpFor(topic: readonly string[], version: string): string {
  if (topic.length === 0) return runYargs(['--help'], version, undefined);
  const command = COMMANDS.find((c) => c.name === topic[0]);
  if (!command || topic.length > 1) {
    throw new UsageError(`help: expected at most one command name, got ${topic.map((t) => `'${shown(t)}'`).join(' ')}${command ? '' : didYouMean(topic[0]!, COMMANDS.map((c) => c.name))} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
  }
  return runYargs([command.name, '--help'], version, command);
}

/** yargs has no per-call shell choice: it reads $SHELL when the parser is made. */
function chooseCompletionShell(shell: string | undefined): void {
  if (shell === 'bash' || shell === 'zsh') process.env['SHELL'] = `/bin/${shell}`;
}

function runYargs(args: readonly string[], version: string, command: CommandSpec | undefined): string {
  let output = '';
  // With a callback, yargs hands over what it would print instead of printing it and exiting.
  buildParser(version, command, args).parse([...args], {}, (_err: Error | undefined, _argv: unknown, text: string) => {
    output = text.split(STDIN_TOKEN).join('-');
  });
  return output;
}

function buildParser(version: string, current: CommandSpec | undefined, args: readonly string[]): Argv {
  // yargs' completion command prints its script even for --help: for help it is a plain command.
  const completionHelp = current?.name === 'completion' && args.some((a) => a === '--help' || a === '-h');
  const y = yargs()
    .scriptName('kimg')
    .locale('en')
    .usage('kimg <command> [options]\n\nRead Linux kernel boot images the way boot loaders do: EFI zboot, PE/COFF, arm64/riscv/loongarch Image, UKI, bzImage.')
    .parserConfiguration(PARSER_CONFIG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .help('help')
    .alias('help', 'h')
    .version(version)
    .epilogue(EXIT_CODES)
    .fail((message: string | null, error: Error | undefined) => {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`${current ? `${current.name}: ` : ''}${oneLine(message ?? error?.message ?? 'invalid arguments')}${current ? ` (expected ${usageOf(current)})` : ''}`);
    });
  addOptions(y, COMMON, true);
  y.group(Object.keys(COMMON), 'Common options:');
  for (const c of COMMANDS) {
    if (c.name === 'completion' && !completionHelp) continue;
    y.command(`${c.name} ${c.positionals.map(positionalUsage).join(' ')}`.trim(), c.summary, (sub: Argv) => {
      for (const p of c.positionals) sub.positional(p.name, { describe: p.describe, type: 'string', ...(p.choices ? { choices: [...p.choices] } : {}) });
      addOptions(sub, c.options, false);
      for (const e of c.examples ?? []) sub.example(e, '');
      return sub;
    });
  }
  const completion = COMMANDS.find((c) => c.name === 'completion')!;
  const complete: FallbackCompletionFunction = (current, argv, defaultCompletion, done) => {
    const words = ((argv as { _: unknown[] })._ ?? []).map(String);
    const commandWord = words.find((w) => COMMANDS.some((c) => c.name === w) || w === 'help');
    if (commandWord === 'completion' && !current.startsWith('-')) return done(['bash', 'zsh']);
    if (commandWord === 'help' && !current.startsWith('-')) return done(COMMANDS.map((c) => c.name));
    // After the command a word is a file (or schema) name: an empty answer lets the shell complete paths.
    if (commandWord && !current.startsWith('-') && args.at(-2) !== '--color') return done([]);
    // yargs offers one-letter aliases as `--S`; a shell user types `-S`.
    defaultCompletion((_err, list) => done((list ?? []).map((w) => w.replace(/^--([A-Za-z])(:|$)/, '-$1$2'))));
  };
  if (!completionHelp) y.completion(completion.name, completion.summary, complete);
  return y;
}

function addOptions(y: Argv, options: Readonly<Record<string, OptionSpec>>, global: boolean): void {
  for (const [name, o] of Object.entries(options)) {
    y.option(name, {
      type: o.type === 'boolean' ? 'boolean' : 'string',
      describe: o.describe,
      global,
      ...(o.alias ? { alias: o.alias } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
      ...(o.choices ? { choices: [...o.choices] } : {}),
      ...(o.arg ? { requiresArg: true } : {}),
    });
  }
}
