/**
 * Command-line grammar: the commands and options as data. A command to run is parsed by yargs-parser
 * (yargs' own parser) with this table and checked strictly here: unknown options and commands with
 * "did you mean", argument counts, choices, conflicts, one number syntax for every number. Help, `kimg
 * help CMD`, --version and shell completion are yargs itself, built from the same table
 * (yargs-cli.ts), loaded only when asked for.
 *
 * Why the split: in the bundle, evaluating yargs and building a parser with every command costs
 * ~30 ms of CPU before any work (bench/startup.mjs, "kimg --version"), and running a command through
 * it also lays out that command's help text (~25 ms); yargs-parser alone costs nothing measurable.
 */
import parser from 'yargs-parser';
import { UsageError } from '../core/errors.js';
import { LIMIT_NAMES } from '../core/limits.js';
import { parseNumber } from './numbers.js';

export interface OptionSpec {
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

export interface PositionalSpec {
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

/**
 * Options yargs itself answers, with their one-letter aliases. --version has none: -V would differ
 * from --verbose's -v only by case.
 */
const BUILTIN_FLAGS: Readonly<Record<string, string | null>> = { help: 'h', version: null };

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
    summary: 'write the decoded kernel (default), one layer, the stored payload, or a named region (a PE section...)',
    positionals: [{ name: 'file', describe: 'the file to read; - reads standard input' }],
    options: {
      output: { type: 'string', alias: 'o', arg: 'FILE|-', describe: 'output file, or - for stdout (the default when stdout is not a terminal)' },
      layer: { type: 'number', arg: 'N', describe: 'write layer N (0 = the file itself)' },
      raw: { type: 'boolean', default: false, describe: 'write the payload as stored (compressed)' },
      section: { type: 'string', arg: '[N:]NAME', describe: 'write the region with this name, from the outermost layer that has one (.linux, .initrd, .cmdline...; N:NAME: of layer N)' },
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
    name: 'types',
    summary: 'TypeScript declarations of what schemas parse to (kimg types my.yaml > my.d.ts)',
    positionals: [{ name: 'schema', variadic: true, describe: 'schema ids or paths to .yaml files' }],
    options: {},
    examples: ['kimg types examples/gzip-member/gzip.yaml > gzip.d.ts'],
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
  /** For yargs (yargs-cli.ts) to answer: help, version, a completion script or completions. */
  | { readonly kind: 'yargs'; readonly args: readonly string[]; readonly command: CommandSpec | undefined; readonly completing: boolean };

export const EXIT_CODES = 'Exit codes: 0 ok, 2 usage error, 3 invalid or unrecognised input (or a failed check), 4 I/O error, 5 schema file error, 1 internal error (a bug). With several files, the worst of their codes.';

/**
 * kimg uses a lone `-` for standard input, which yargs drops from a command's positionals and which,
 * after an option taking a value (`-o -`), reads as the start of another option. So it travels as
 * this string, which no argument can be (argv strings cannot hold NUL), and is shown as `-` again.
 */
export const STDIN_TOKEN = '\0-';

export function parseCommandLine(argv: readonly string[]): Invocation {
  const completing = argv.some((a) => a.startsWith('--get-yargs-completions'));
  const args = completing ? [...argv] : argv.map((a) => (a === '-' ? STDIN_TOKEN : a));
  const commandAt = checkLeadingOptions(args);
  const word = args[commandAt];
  const name = word?.startsWith('-') ? undefined : word; // --help, --version: yargs answers
  if (name === 'help') return { kind: 'yargs', args: args.slice(commandAt), command: undefined, completing };
  if (name !== undefined && !COMMANDS.some((c) => c.name === name)) {
    throw new UsageError(`unknown command '${name}'${didYouMean(name, COMMANDS.map((c) => c.name))} (commands: ${COMMANDS.map((c) => c.name).join(', ')}, help)`);
  }
  const command = COMMANDS.find((c) => c.name === name);
  const asksYargs = command ? checkOptionNames(command, args.slice(commandAt + 1)) : true;
  if (command && !asksYargs && !completing && command.name !== 'completion') {
    return { kind: 'run', parsed: check(command, parseOptions(command, [...args.slice(0, commandAt), ...args.slice(commandAt + 1)])) };
  }
  return { kind: 'yargs', args, command, completing };
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
    if (name in BUILTIN_FLAGS || Object.values(BUILTIN_FLAGS).includes(name)) return k;
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
function checkOptionNames(command: CommandSpec, args: readonly string[]): boolean {
  let helpOrVersion = false;
  const options: Record<string, OptionSpec> = { ...COMMON, ...command.options };
  const byAlias = new Map(Object.entries(options).flatMap(([n, o]) => (o.alias ? [[o.alias, n] as const] : [])));
  for (let k = 0; k < args.length; k++) {
    const arg = args[k]!;
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === STDIN_TOKEN || arg.startsWith('--get-yargs-completions')) continue;
    const long = arg.startsWith('--');
    const name = arg.slice(long ? 2 : 1).split('=')[0]!;
    // -vf: a group of one-letter flags; -oFILE is not supported (yargs would read it as a group too).
    const negated = long && !options[name] && name.startsWith('no-') && options[name.slice(3)]?.type === 'boolean';
    const names = long ? [negated ? name.slice(3) : name] : [...name].map((c) => byAlias.get(c) ?? (c === 'h' ? 'help' : c));
    for (const n of names) {
      if (n in BUILTIN_FLAGS) helpOrVersion = true;
      if (options[n] || n in BUILTIN_FLAGS) continue;
      throw new UsageError(`${command.name}: unknown option '${long ? `--${n}` : `-${n}`}'${didYouMean(n, Object.keys(options), '--')} (kimg help ${command.name} lists the options)`);
    }
    const last = options[names[names.length - 1]!];
    if (last && last.type !== 'boolean' && !arg.includes('=')) k++; // its value
  }
  return helpOrVersion;
}

const PARSER_CONFIG = { 'camel-case-expansion': false, 'strip-aliased': true, 'dot-notation': false, 'parse-numbers': false, 'parse-positional-numbers': false } as const;

/** One command's options parsed as yargs would (same parser, same configuration); words stay in `_`. */
function parseOptions(command: CommandSpec, args: readonly string[]): Record<string, unknown> {
  const options = Object.entries({ ...COMMON, ...command.options });
  const r = parser.detailed([...args], {
    boolean: options.filter(([, o]) => o.type === 'boolean').map(([n]) => n),
    string: options.filter(([, o]) => o.type !== 'boolean').map(([n]) => n),
    alias: Object.fromEntries(options.flatMap(([n, o]) => (o.alias ? [[n, [o.alias]]] : []))),
    default: Object.fromEntries(options.flatMap(([n, o]) => (o.default !== undefined ? [[n, o.default]] : []))),
    configuration: PARSER_CONFIG,
  });
  if (r.error) throw new UsageError(`${command.name}: ${oneLine(r.error.message)}`);
  for (const [n, o] of options) {
    const v = r.argv[n];
    if (o.arg && (v === '' || (Array.isArray(v) && v.includes(''))) && !args.some((a) => a.startsWith(`--${n}=`))) throw new UsageError(`${command.name}: --${n} needs a value (${o.arg})`);
  }
  return r.argv as Record<string, unknown>;
}

export function positionalUsage(p: PositionalSpec): string {
  return p.optional ? `[${p.name}${p.variadic ? '..' : ''}]` : `<${p.name}${p.variadic ? '..' : ''}>`;
}

export function usageOf(c: CommandSpec): string {
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
  // Positionals in order; a variadic one (always the last) takes the rest.
  const words = ((argv['_'] as unknown[]) ?? []).map((w) => shown(String(w)));
  const positionals: Record<string, string | string[]> = {};
  let w = 0;
  for (const p of command.positionals) {
    const taken = p.variadic ? words.slice(w) : words.slice(w, w + 1);
    w += taken.length;
    if (taken.length === 0) {
      if (!p.optional) throw new UsageError(`${command.name}: expected ${usageOf(command)}, the <${p.name}> is missing`);
      continue;
    }
    const wrong = taken.find((t) => p.choices && !p.choices.includes(t));
    if (wrong !== undefined) throw new UsageError(`${command.name}: <${p.name}> is one of ${p.choices!.join(', ')}, got '${wrong}'`);
    positionals[p.name] = p.variadic ? taken : taken[0]!;
  }
  if (w < words.length) {
    const extra = words.slice(w);
    throw new UsageError(`${command.name}: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((x) => `'${x}'`).join(' ')} (expected ${usageOf(command)})`);
  }
  const values: Values = {};
  for (const [name, o] of Object.entries(options)) {
    let v = argv[name];
    if (Array.isArray(v) && !o.multiple) throw new UsageError(`${command.name}: --${name} given more than once`);
    if (typeof v === 'string') v = shown(v); // `-o -`
    if (o.multiple) v = v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => shown(String(x)));
    if (o.type === 'number' && typeof v === 'string') v = parseNumber(v, `--${name}`);
    if (o.choices && typeof v === 'string' && !o.choices.includes(v)) throw new UsageError(`${command.name}: --${name} is one of ${o.choices.join(', ')}, got '${v}'`);
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

/** yargs words some messages over several lines; kimg's errors are one line. */
export function oneLine(message: string): string {
  return message.replace(/:?\n\s*/g, ': ');
}

export function shown(word: string): string {
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
