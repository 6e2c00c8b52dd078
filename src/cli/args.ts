/**
 * Command-line grammar: the commands, their options and help text, parsed with Node's built-in
 * util.parseArgs (strict). yargs, named on the design card, was measured at ~110 ms and 14 MiB just to
 * import on this machine's kind of box, most of kimg's start-up budget; parseArgs costs nothing.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { LIMIT_NAMES } from '../core/limits.js';

interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly default?: string | boolean | string[];
  readonly arg?: string;
  readonly describe: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly positionals: readonly { readonly name: string; readonly describe: string }[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Pairs of options that cannot be given together. */
  readonly conflicts?: readonly (readonly [string, string])[];
  readonly examples?: readonly string[];
}

const COMMON: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', default: false, describe: 'JSON output (and errors as JSON objects on stderr)' },
  verbose: { type: 'boolean', short: 'v', default: false, describe: 'more detail: error causes, regions, every check' },
  'schema-path': { type: 'string', short: 'S', multiple: true, default: [], arg: 'DIR', describe: 'extra schema directory, searched before the built-ins (also $KIMG_SCHEMA_PATH, :-separated)' },
  jitless: { type: 'boolean', default: false, describe: 'never generate code, use the interpreter (also $KIMG_JITLESS=1)' },
  limit: { type: 'string', multiple: true, default: [], arg: 'NAME=N', describe: `override a hard limit: ${LIMIT_NAMES.join(', ')}` },
  'allow-outside-imports': { type: 'boolean', default: false, describe: 'let schema imports leave the schema search path' },
  help: { type: 'boolean', short: 'h', default: false, describe: 'show this help' },
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'info',
    summary: 'one line per layer (outermost first), the kernel banner and every check',
    positionals: [{ name: 'file', describe: 'a kernel image: vmlinuz, Image, Image.gz, EFI zboot, UKI' }],
    options: { sha256: { type: 'boolean', default: false, describe: "hash the innermost layer's bytes" } },
    examples: ['kimg info /boot/vmlinuz-6.12.0-arm64', 'kimg info --json vmlinuz.efi | jq .banner'],
  },
  {
    name: 'dump',
    summary: 'the headers of every layer (or of one schema), with offsets',
    positionals: [{ name: 'file', describe: 'the file to read' }],
    options: {
      schema: { type: 'string', short: 's', arg: 'NAME|PATH', describe: 'apply only this schema (id or path) to the file' },
      all: { type: 'boolean', default: false, describe: 'also show the formats a more refined one includes (dos-mz under pe)' },
      offsets: { type: 'boolean', default: false, describe: 'JSON: every field as {offset, size, value}' },
    },
    examples: ['kimg dump vmlinuz.efi', 'kimg dump --json vmlinuz.efi | jq ".layers[1].headers"'],
  },
  {
    name: 'parse',
    summary: 'apply any schema file (or built-in id) to any file',
    positionals: [
      { name: 'schema', describe: 'schema id or path to a .yaml file' },
      { name: 'file', describe: 'the file to read' },
    ],
    options: {
      offset: { type: 'string', default: '0', arg: 'N', describe: 'where the root struct starts (decimal or 0x hex)' },
      offsets: { type: 'boolean', default: false, describe: 'JSON: every field as {offset, size, value}' },
    },
    examples: ['kimg parse examples/gzip-member/gzip.yaml initrd.img.gz'],
  },
  {
    name: 'extract',
    summary: 'write the decoded kernel (default), one layer, the stored payload, or a PE section',
    positionals: [{ name: 'file', describe: 'the file to read' }],
    options: {
      output: { type: 'string', short: 'o', arg: 'FILE|-', describe: 'output file, or - for stdout (the default when stdout is not a terminal)' },
      layer: { type: 'string', arg: 'N', describe: 'write layer N (0 = the file itself)' },
      raw: { type: 'boolean', default: false, describe: 'write the payload as stored (compressed)' },
      section: { type: 'string', arg: 'NAME', describe: 'write the PE section with this name (.linux, .initrd, .cmdline...)' },
      force: { type: 'boolean', short: 'f', default: false, describe: 'replace an existing output file' },
      'max-size': { type: 'string', default: '1G', arg: 'BYTES', describe: 'stop decoding beyond this size (K, M, G suffixes; binary units)' },
    },
    conflicts: [['raw', 'layer'], ['raw', 'section'], ['layer', 'section']],
    examples: ['kimg extract vmlinuz.efi -o Image', 'kimg extract uki.efi --section .initrd -o initrd.img', 'kimg extract vmlinuz.efi -o - | sha256sum'],
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
];

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  readonly command: CommandSpec;
  readonly values: Values;
  readonly positionals: Record<string, string>;
}

export type Invocation = { readonly kind: 'run'; readonly parsed: Parsed } | { readonly kind: 'help'; readonly text: string } | { readonly kind: 'version' };

export function parseCommandLine(argv: readonly string[]): Invocation {
  // Common options may come before the command (`kimg -S dir dump f`): move them after it.
  const leading: string[] = [];
  let k = 0;
  while (k < argv.length && argv[k]!.startsWith('-') && !['--help', '-h', '--version', '-V'].includes(argv[k]!)) {
    const name = argv[k]!.replace(/^--?/, '').split('=')[0]!;
    const spec = Object.entries(COMMON).find(([n, o]) => n === name || o.short === name)?.[1];
    if (!spec) throw new UsageError(`unknown option '${argv[k]}' before the command (options: ${Object.keys(COMMON).map((n) => `--${n}`).join(', ')})`);
    leading.push(argv[k]!);
    if (spec.type === 'string' && !argv[k]!.includes('=')) leading.push(argv[++k] ?? '');
    k++;
  }
  const [first, ...afterCommand] = argv.slice(k);
  const rest = [...leading, ...afterCommand];
  if (first === undefined || first === '--help' || first === '-h') return { kind: 'help', text: mainHelp() };
  if (first === 'help') return { kind: 'help', text: helpTopic(afterCommand) };
  if (first === '--version' || first === '-V') return { kind: 'version' };
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) throw new UsageError(`unknown command '${first}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
  const options = { ...COMMON, ...command.options };
  let result: ReturnType<typeof parseArgs>;
  try {
    result = parseArgs({
      args: [...rest],
      options: Object.fromEntries(Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${command.name}: ${(e as Error).message.replace(/\. To specify a positional.*$/s, '')}`);
  }
  const values: Values = {};
  for (const [k, o] of Object.entries(options)) values[k] = (result.values as Values)[k] ?? o.default;
  if (values['help']) return { kind: 'help', text: commandHelp(command) };
  for (const [a, b] of command.conflicts ?? []) {
    if (given(result.values as Values, a) && given(result.values as Values, b)) throw new UsageError(`${command.name}: --${a} and --${b} cannot be used together`);
  }
  if (result.positionals.length !== command.positionals.length) {
    const want = command.positionals.map((p) => `<${p.name}>`).join(' ') || 'no arguments';
    throw new UsageError(`${command.name}: expected ${want}, got ${result.positionals.length ? result.positionals.map((p) => `'${p}'`).join(' ') : 'none'}`);
  }
  const positionals = Object.fromEntries(command.positionals.map((p, i) => [p.name, result.positionals[i]!]));
  return { kind: 'run', parsed: { command, values, positionals } };
}

/** `kimg help` alone is the top-level help; `kimg help CMD` is CMD's own help, as `kimg CMD --help`. */
function helpTopic(topic: readonly string[]): string {
  if (topic.length === 0) return mainHelp();
  const command = COMMANDS.find((c) => c.name === topic[0]);
  if (!command || topic.length > 1) throw new UsageError(`help: expected at most one command name (commands: ${COMMANDS.map((c) => c.name).join(', ')}), got ${topic.map((t) => `'${t}'`).join(' ')}`);
  return commandHelp(command);
}

function given(values: Values, name: string): boolean {
  const v = values[name];
  return v !== undefined && v !== false;
}

const EXIT_CODES = 'Exit codes: 0 ok, 2 usage error, 3 invalid or unrecognised input (or a failed check), 4 I/O error, 5 schema file error, 1 internal error (a bug).';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'kimg <command> [options]',
    '',
    'Read Linux kernel boot images the way boot loaders do: EFI zboot, PE/COFF, arm64/riscv/loongarch Image, UKI.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  kimg ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (kimg help <command> or kimg <command> --help for a command\'s options)',
    '  -V, --version  show the version',
    '',
    EXIT_CODES,
  ].join('\n');
}

function commandHelp(c: CommandSpec): string {
  const usage = `kimg ${c.name} ${c.positionals.map((p) => `<${p.name}>`).join(' ')} [options]`.replace(/\s+/g, ' ');
  const opts = Object.entries({ ...c.options, ...COMMON }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
    const dflt = o.type === 'string' && typeof o.default === 'string' ? ` (default: ${o.default})` : '';
    return `  ${flag.padEnd(34)} ${o.describe}${dflt}`;
  });
  return [
    usage,
    '',
    c.summary,
    ...(c.positionals.length ? ['', 'Arguments:', ...c.positionals.map((p) => `  <${p.name}>${' '.repeat(Math.max(1, 33 - p.name.length))}${p.describe}`)] : []),
    '',
    'Options:',
    ...opts,
    ...(c.examples?.length ? ['', 'Examples:', ...c.examples.map((e) => `  ${e}`)] : []),
    '',
    EXIT_CODES,
  ].join('\n');
}
