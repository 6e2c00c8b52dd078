/**
 * Command-line grammar: the commands and options as data, turned into a yargs parser (help per
 * command, `kimg help CMD`, completion, --version), then checked strictly here: unknown options and
 * commands with "did you mean", argument counts, conflicts, one number syntax for every number.
 *
 * yargs costs ~55 ms to import unbundled; the CLI ships as one esbuild bundle (scripts/bundle.mjs),
 * where it costs ~18 ms (bench/startup.mjs measures both).
 */
import yargs, { type Argv } from 'yargs';

type FallbackCompletionFunction = Parameters<Argv['completion']>[2];
import { UsageError } from '../core/errors.js';
import { LIMIT_NAMES } from '../core/limits.js';
import { parseNumber } from './numbers.js';

interface OptionSpec {
  /** `number` options are strings to yargs and go through parseNumber (hex, K/M/G/T) here. */
  readonly type: 'boolean' | 'string' | 'number';
  /** One-letter alias. No two aliases differ only by case. */
  readonly alias?: string;
  /** Repeatable: the value is always an array. */
  readonly multiple?: boolean;
  readonly default?: string | boolean;
  readonly choices?: readonly string[];
  readonly arg?: string;
  readonly describe: string;
}

interface PositionalSpec {
  readonly name: string;
  readonly describe: string;
  /** `<file..>`: one or more. */
  readonly variadic?: boolean;
  /** `[shell]`: may be left out. */
  readonly optional?: boolean;
  readonly choices?: readonly string[];
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly positionals: readonly PositionalSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Pairs of options that cannot be given together. */
  readonly conflicts?: readonly (readonly [string, string])[];
  /** [option, the option it needs, why]. */
  readonly needs?: readonly (readonly [string, string, string])[];
  readonly examples?: readonly string[];
}

const FILES: PositionalSpec = { name: 'file', variadic: true, describe: 'one or more files; - reads standard input' };

export const COMMON: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', default: false, describe: 'JSON output (JSON Lines for several files) and errors as JSON objects on stderr' },
  verbose: { type: 'boolean', alias: 'v', default: false, describe: 'more detail: error causes, regions, every schema tried' },
  'schema-path': { type: 'string', alias: 'S', multiple: true, arg: 'DIR', describe: 'extra schema directory, searched before the built-ins (repeatable; also $KIMG_SCHEMA_PATH, :-separated)' },
  jitless: { type: 'boolean', default: false, describe: 'never generate code, use the interpreter (also $KIMG_JITLESS=1)' },
  limit: { type: 'string', multiple: true, arg: 'NAME=N', describe: `override a hard limit (repeatable): ${LIMIT_NAMES.join(', ')}` },
  'allow-outside-imports': { type: 'boolean', default: false, describe: 'let schema imports leave the schema search path' },
  color: { type: 'string', choices: ['auto', 'always', 'never'], default: 'auto', arg: 'WHEN', describe: 'colour on a terminal (auto: only on a terminal; NO_COLOR and FORCE_COLOR are honoured)' },
};

/** Options yargs itself answers. */
const BUILTIN_FLAGS: Readonly<Record<string, string>> = { help: 'h', version: 'V' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'info',
    summary: 'one line per layer (outermost first), the kernel banner and every check',
    positionals: [FILES],
    options: { sha256: { type: 'boolean', default: false, describe: "hash the innermost layer's bytes" } },
    examples: ['kimg info /boot/vmlinuz-6.12.0-arm64', 'kimg info --json vmlinuz.efi | jq .banner', 'kimg info *.efi', 'curl -s URL | kimg info -'],
  },
  {
    name: 'dump',
    summary: 'the headers of every layer (or of one schema), with offsets',
    positionals: [FILES],
    options: {
      schema: { type: 'string', arg: 'NAME|PATH', describe: 'apply only this schema (id or path) to the file' },
      all: { type: 'boolean', default: false, describe: 'also show the formats a more refined one includes (dos-mz under pe)' },
      offsets: { type: 'boolean', default: false, describe: 'with --json: every field as {offset, size, value}' },
    },
    conflicts: [['schema', 'all']],
    needs: [['offsets', 'json', 'the text view always shows each field\'s offset']],
    examples: ['kimg dump vmlinuz.efi', 'kimg dump --json vmlinuz.efi | jq ".layers[1].headers"', 'kimg dump --json a.efi b.efi  # JSON Lines'],
  },
  {
    name: 'parse',
    summary: 'apply any schema file (or built-in id) to any file',
    positionals: [{ name: 'schema', describe: 'schema id or path to a .yaml file' }, FILES],
    options: {
      offset: { type: 'number', default: '0', arg: 'N', describe: 'where the root struct starts (decimal or 0x hex, K/M/G suffixes)' },
      offsets: { type: 'boolean', default: false, describe: 'with --json: every field as {offset, size, value}' },
    },
    needs: [['offsets', 'json', 'the text view always shows each field\'s offset']],
    examples: ['kimg parse examples/gzip-member/gzip.yaml initrd.img.gz', 'kimg parse pe vmlinuz.efi --offset 0x40 --json'],
  },
  {
    name: 'extract',
    summary: 'write the decoded kernel (default), one layer, the stored payload, or a PE section',
    positionals: [{ name: 'file', describe: 'the file to read; - reads standard input' }],
    options: {
      output: { type: 'string', alias: 'o', arg: 'FILE|-', describe: 'output file, or - for stdout (the default when stdout is not a terminal)' },
      layer: { type: 'number', arg: 'N', describe: 'write layer N (0 = the file itself)' },
      raw: { type: 'boolean', default: false, describe: 'write the payload as stored (compressed)' },
      section: { type: 'string', arg: 'NAME', describe: 'write the PE section with this name (.linux, .initrd, .cmdline...)' },
      force: { type: 'boolean', alias: 'f', default: false, describe: 'replace an existing output file' },
      'max-size': { type: 'number', default: '1G', arg: 'BYTES', describe: 'stop decoding beyond this size (decimal or 0x hex, K/M/G/T binary units)' },
    },
    conflicts: [['raw', 'layer'], ['raw', 'section'], ['layer', 'section']],
    examples: ['kimg extract vmlinuz.efi -o Image', 'kimg extract uki.efi --section .initrd -o initrd.img', 'kimg extract vmlinuz.efi -o - | sha256sum'],
  },
  {
    name: 'scan',
    summary: 'every file under directories, recursively: one line per file (JSON Lines with --json)',
    positionals: [{ name: 'dir', variadic: true, describe: 'directories (or files) to scan' }],
    options: { sha256: { type: 'boolean', default: false, describe: "hash each file's innermost layer" } },
    examples: ['kimg scan /boot', 'kimg scan --json firmware/ | jq -c "select(.ok | not)"'],
  },
  {
    name: 'schemas',
    summary: 'list the schemas (built-in and from --schema-path) and what they detect',
    positionals: [],
    options: {},
  },
  {
    name: 'codecs',
    summary: 'list the codec plugins and their libraries',
    positionals: [],
    options: {},
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh; default: from $SHELL)',
    positionals: [{ name: 'shell', optional: true, choices: ['bash', 'zsh'], describe: 'the shell to complete for' }],
    options: {},
    examples: ['kimg completion bash >> ~/.bashrc', 'kimg completion zsh > "${fpath[1]}/_kimg"'],
  },
];

export type Values = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  readonly command: CommandSpec;
  readonly values: Values;
  /** Each positional by name; variadic ones are arrays. `-` stays `-`. */
  readonly positionals: Readonly<Record<string, string | string[]>>;
}

export type Invocation =
  | { readonly kind: 'run'; readonly parsed: Parsed }
  /** Text yargs produced (help, version, a completion script or completions): print it, exit 0. */
  | { readonly kind: 'output'; readonly text: string };

const EXIT_CODES = 'Exit codes: 0 ok, 2 usage error, 3 invalid or unrecognised input (or a failed check), 4 I/O error, 5 schema file error, 1 internal error (a bug). With several files, the worst of their codes.';

/**
 * yargs drops a lone `-` from positionals; kimg uses it for standard input, so it travels as this
 * string, which no argument can be (argv strings cannot hold NUL).
 */
const STDIN_TOKEN = '\0-';

export function parseCommandLine(argv: readonly string[], version: string): Invocation {
  const completing = argv.some((a) => a.startsWith('--get-yargs-completions'));
  const args = completing ? [...argv] : argv.map((a) => (a === '-' ? STDIN_TOKEN : a));
  const commandAt = checkLeadingOptions(args);
  const word = args[commandAt];
  const name = word?.startsWith('-') ? undefined : word; // --help, --version: yargs answers
  if (name === 'help') return helpFor(args.slice(commandAt + 1), version);
  if (name !== undefined && !COMMANDS.some((c) => c.name === name)) {
    throw new UsageError(`unknown command '${name}'${didYouMean(name, COMMANDS.map((c) => c.name))} (commands: ${COMMANDS.map((c) => c.name).join(', ')}, help)`);
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command) checkOptionNames(command, args.slice(commandAt + 1));
  if (command?.name === 'completion') chooseCompletionShell(args[commandAt + 1]);
  const { argv: parsed, output } = runYargs(args, version, command);
  if (output !== '' || completing) return { kind: 'output', text: output };
  if (!command) return { kind: 'output', text: runYargs(['--help'], version, undefined).output };
  return { kind: 'run', parsed: check(command, parsed) };
}

/** `kimg help` alone is the top-level help; `kimg help CMD` is exactly `kimg CMD --help`. */
function helpFor(topic: readonly string[], version: string): Invocation {
  if (topic.length === 0) return { kind: 'output', text: runYargs(['--help'], version, undefined).output };
  const command = COMMANDS.find((c) => c.name === topic[0]);
  if (!command || topic.length > 1) {
    throw new UsageError(`help: expected at most one command name, got ${topic.map((t) => `'${shown(t)}'`).join(' ')}${command ? '' : didYouMean(topic[0]!, COMMANDS.map((c) => c.name))} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
  }
  return { kind: 'output', text: runYargs([command.name, '--help'], version, command).output };
}

/**
 * Common options may come before the command (`kimg -S dir dump f`). Any other option there is an
 * error: yargs would take the command name as its value (`kimg --force info f`).
 * Returns the index of the command.
 */
function checkLeadingOptions(args: readonly string[]): number {
  let k = 0;
  while (k < args.length && args[k]!.startsWith('-') && args[k] !== STDIN_TOKEN) {
    const arg = args[k]!;
    const name = arg.replace(/^--?/, '').split('=')[0]!;
    if (arg.startsWith('--get-yargs-completions')) return args.length; // the completion script calling back
    if (BUILTIN_FLAGS[name] !== undefined || Object.values(BUILTIN_FLAGS).includes(name)) return k;
    const entry = Object.entries(COMMON).find(([n, o]) => n === name || n === name.replace(/^no-/, '') || o.alias === name);
    if (!entry) {
      throw new UsageError(`unknown option '${arg}' before the command${didYouMean(name, Object.keys(COMMON), '--')} (options allowed there: ${Object.keys(COMMON).map((n) => `--${n}`).join(', ')})`);
    }
    if (entry[1].type !== 'boolean' && !arg.includes('=')) k++;
    k++;
  }
  return k;
}

/**
 * Every option after the command must be one it takes: checked before yargs, which would take an
 * unknown option's next word as its value (`--jsn f` would swallow the file name).
 */
function checkOptionNames(command: CommandSpec, args: readonly string[]): void {
  const options: Record<string, OptionSpec> = { ...COMMON, ...command.options };
  const byAlias = new Map(Object.entries(options).flatMap(([n, o]) => (o.alias ? [[o.alias, n] as const] : [])));
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (arg === '--') return;
    if (!arg.startsWith('-') || arg === STDIN_TOKEN || arg.startsWith('--get-yargs-completions')) continue;
    const long = arg.startsWith('--');
    const name = arg.slice(long ? 2 : 1).split('=')[0]!;
    // -vf: a group of one-letter flags; -oFILE is not supported (yargs would read it as a group too).
    const negated = long && !options[name] && name.startsWith('no-') && options[name.slice(3)]?.type === 'boolean';
    const names = long ? [negated ? name.slice(3) : name] : [...name].map((c) => byAlias.get(c) ?? (c === 'h' ? 'help' : c === 'V' ? 'version' : c));
    for (const n of names) {
      if (options[n] || BUILTIN_FLAGS[n] !== undefined) continue;
      throw new UsageError(`${command.name}: unknown option '${long ? `--${n}` : `-${n}`}'${didYouMean(n, Object.keys(options), '--')} (kimg help ${command.name} lists the options)`);
    }
    const last = options[names[names.length - 1]!];
    if (last && last.type !== 'boolean' && !arg.includes('=')) k++; // its value
  }
}

/** yargs has no per-call shell choice: it reads $SHELL when the parser is made. */
function chooseCompletionShell(shell: string | undefined): void {
  if (shell === 'bash' || shell === 'zsh') process.env['SHELL'] = `/bin/${shell}`;
}

function runYargs(args: readonly string[], version: string, command: CommandSpec | undefined): { argv: Record<string, unknown>; output: string } {
  let result: { argv: Record<string, unknown>; output: string } | undefined;
  buildParser(version, command, args).parse([...args], {}, (_err: Error | undefined, argv: Record<string, unknown>, output: string) => {
    result = { argv, output: output.split(STDIN_TOKEN).join('-') };
  });
  return result!;
}

function buildParser(version: string, current: CommandSpec | undefined, args: readonly string[]): Argv {
  const y = yargs()
    .scriptName('kimg')
    .locale('en')
    .usage('kimg <command> [options]\n\nRead Linux kernel boot images the way boot loaders do: EFI zboot, PE/COFF, arm64/riscv/loongarch Image, UKI, bzImage.')
    .parserConfiguration({ 'camel-case-expansion': false, 'strip-aliased': true, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false })
    .wrap(Math.min(110, process.stdout.columns || 100))
    .help('help')
    .alias('help', 'h')
    .version(version)
    .alias('version', 'V')
    .epilogue(EXIT_CODES)
    .fail((message: string | null, error: Error | undefined) => {
      if (error instanceof UsageError) throw error;
      const missing = message?.startsWith('Not enough non-option arguments') && current;
      if (missing) throw new UsageError(`${current.name}: expected ${usageOf(current)}, got ${message!.replace(/^.*got (\d+).*$/, '$1')} argument(s)`);
      throw new UsageError(`${current ? `${current.name}: ` : ''}${message ?? error?.message ?? 'invalid arguments'}`);
    });
  addOptions(y, COMMON, true);
  y.group(Object.keys(COMMON), 'Common options:');
  for (const c of COMMANDS) {
    if (c.name === 'completion') continue;
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
  y.completion(completion.name, completion.summary, complete);
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

function positionalUsage(p: PositionalSpec): string {
  return p.optional ? `[${p.name}${p.variadic ? '..' : ''}]` : `<${p.name}${p.variadic ? '..' : ''}>`;
}

function usageOf(c: CommandSpec): string {
  return c.positionals.map(positionalUsage).join(' ') || 'no arguments';
}

/** What yargs parsed, checked the way kimg wants it: strictly, with the number syntax applied. */
function check(command: CommandSpec, argv: Record<string, unknown>): Parsed {
  const options: Record<string, OptionSpec> = { ...COMMON, ...command.options };
  const known = new Set([...Object.keys(options), ...Object.keys(BUILTIN_FLAGS), ...command.positionals.map((p) => p.name), '_', '$0']);
  for (const key of Object.keys(argv)) {
    if (known.has(key)) continue;
    const flag = key.length === 1 ? `-${key}` : `--${key}`;
    throw new UsageError(`${command.name}: unknown option '${flag}'${didYouMean(key, Object.keys(options), '--')} (kimg help ${command.name} lists the options)`);
  }
  // yargs leaves the command and the words beyond the declared positionals in `_`.
  const extra = ((argv['_'] as unknown[]) ?? []).map(String).slice(1);
  if (extra.length) throw new UsageError(`${command.name}: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((w) => `'${shown(w)}'`).join(' ')} (expected ${usageOf(command)})`);
  const positionals: Record<string, string | string[]> = {};
  for (const p of command.positionals) {
    const v = argv[p.name];
    if (v === undefined) {
      if (!p.optional) throw new UsageError(`${command.name}: expected ${usageOf(command)}, the <${p.name}> is missing`);
      continue;
    }
    const list = (Array.isArray(v) ? v : [v]).map((x) => shown(String(x)));
    if (p.variadic && list.length === 0) throw new UsageError(`${command.name}: expected ${usageOf(command)}, got no <${p.name}>`);
    positionals[p.name] = p.variadic ? list : list[0]!;
  }
  const values: Values = {};
  for (const [name, o] of Object.entries(options)) {
    let v = argv[name];
    if (Array.isArray(v) && !o.multiple) throw new UsageError(`${command.name}: --${name} given more than once`);
    if (typeof v === 'string') v = shown(v); // `-o -`
    if (o.multiple) v = v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => shown(String(x)));
    if (o.type === 'number' && typeof v === 'string') v = parseNumber(v, `--${name}`);
    values[name] = v as Values[string];
  }
  for (const [a, b] of command.conflicts ?? []) {
    if (given(values, a) && given(values, b)) throw new UsageError(`${command.name}: --${a} and --${b} cannot be used together`);
  }
  for (const [a, b, why] of command.needs ?? []) {
    if (given(values, a) && !given(values, b)) throw new UsageError(`${command.name}: --${a} needs --${b} (${why})`);
  }
  return { command, values, positionals };
}

function shown(word: string): string {
  return word === STDIN_TOKEN ? '-' : word;
}

function given(values: Values, name: string): boolean {
  const v = values[name];
  return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
}

/** ` (did you mean --json?)` for a near miss: edit distance at most 2, or a unique prefix. */
export function didYouMean(word: string, candidates: readonly string[], prefix = ''): string {
  const scored = candidates
    .map((c) => ({ c, d: c.startsWith(word) && word.length >= 2 ? 1 : editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= Math.min(2, Math.max(1, Math.floor(x.c.length / 3))))
    .sort((a, b) => a.d - b.d);
  return scored.length ? ` (did you mean ${prefix}${scored[0]!.c}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
