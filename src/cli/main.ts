#!/usr/bin/env node
/**
 * kimg's command line. Commands parse arguments, call the library, print; every expected failure
 * is a KimgError printed as one line (or a JSON object with --json) with a documented exit code.
 */
import { realpathSync } from 'node:fs';
import { delimiter } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { FileSource } from '../core/bytes.js';
import { KimgError, UsageError } from '../core/errors.js';
import { LIMIT_NAMES, type Limits } from '../core/limits.js';
import { Kimg } from '../kimg.js';
import { stringifyJson } from '../render/json.js';
import { humanSize, quoteBytes } from '../expr/format.js';
import { AtomicFile, BrokenPipe, StdoutSink } from '../pipeline/output.js';
import { extract, type ExtractTarget, type Output } from '../pipeline/extract.js';
import { dumpJson, dumpText, infoJson, infoText, parseJson, parseText } from './report.js';
import { Progress } from './progress.js';

/** Exit codes (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  invalidInput: 3,
  io: 4,
  schema: 5,
} as const;

interface Common {
  json: boolean;
  verbose: boolean;
  'schema-path': string[];
  jitless: boolean;
  limit: string[];
  'allow-outside-imports': boolean;
}

function kimgFrom(argv: Common, extraLimits: Partial<Limits> = {}): Kimg {
  const envPath = process.env['KIMG_SCHEMA_PATH']?.split(delimiter).filter(Boolean) ?? [];
  return new Kimg({
    schemaPath: [...argv['schema-path'], ...envPath],
    ...(argv.jitless ? { jitless: true } : {}),
    allowOutsideImports: argv['allow-outside-imports'],
    limits: { ...parseLimits(argv.limit), ...extraLimits },
  });
}

function parseLimits(specs: readonly string[]): Partial<Limits> {
  const out: Record<string, number> = {};
  for (const spec of specs) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(spec);
    if (!m || !(LIMIT_NAMES as string[]).includes(m[1]!)) {
      throw new UsageError(`--limit ${spec}: expected NAME=NUMBER with NAME one of ${LIMIT_NAMES.join(', ')}`);
    }
    out[m[1]!] = Number(m[2]);
  }
  return out as Partial<Limits>;
}

function parseSize(text: string): number {
  const m = /^(\d+)\s*([KMGT]i?B?|B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--max-size ${text}: expected a number of bytes, optionally with K, M, G (binary units)`);
  const unit = (m[2] ?? '').toUpperCase()[0] ?? '';
  const mult = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : unit === 'T' ? 1024 ** 4 : 1;
  const v = Number(m[1]) * mult;
  if (!Number.isSafeInteger(v)) throw new UsageError(`--max-size ${text} is too large`);
  return v;
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function printJson(v: Parameters<typeof stringifyJson>[0]): void {
  out(stringifyJson(v));
}

function common<T>(y: Argv<T>): Argv<T & Common> {
  return y
    .option('json', { type: 'boolean', default: false, describe: 'JSON output (and JSON errors on stderr)' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'more detail (error causes, regions, every check)' })
    .option('schema-path', { alias: 'S', type: 'string', array: true, default: [] as string[], describe: 'extra schema directory, searched before the built-ins (also $KIMG_SCHEMA_PATH)' })
    .option('jitless', { type: 'boolean', default: false, describe: 'never generate code; use the interpreter (also $KIMG_JITLESS=1)' })
    .option('limit', { type: 'string', array: true, default: [] as string[], describe: `hard limit override NAME=N (${LIMIT_NAMES.join(', ')})` })
    .option('allow-outside-imports', { type: 'boolean', default: false, describe: 'let schema imports leave the schema search path' }) as unknown as Argv<T & Common>;
}

async function main(args: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  let jsonErrors = args.includes('--json');
  let verbose = args.includes('--verbose') || args.includes('-v');
  const parser = yargs(args)
    .scriptName('kimg')
    .usage('$0 <command> [options]\n\nRead Linux kernel boot images the way boot loaders do.')
    .command(
      'info <file>',
      'one line per layer (outermost first), the kernel banner and every check',
      (y) => common(y.positional('file', { type: 'string', demandOption: true, describe: 'kernel image (vmlinuz, Image, .efi, UKI)' }))
        .option('sha256', { type: 'boolean', default: false, describe: "hash the innermost layer's bytes" }),
      async (argv) => {
        const k = kimgFrom(argv);
        const a = await k.analyze(argv.file, { hash: argv.sha256, scan: true, decode: true });
        if (argv.json) printJson(infoJson(a));
        else for (const l of infoText(a, argv.verbose)) out(l);
        if (a.error) throw a.error;
        if (a.checks.some((c) => c.status === 'error')) exitCode = EXIT.invalidInput;
      },
    )
    .command(
      'dump <file>',
      'dump the headers of every layer (or of one schema) with offsets',
      (y) => common(y.positional('file', { type: 'string', demandOption: true }))
        .option('schema', { alias: 's', type: 'string', describe: 'apply only this schema (id or path) to the file' })
        .option('all', { type: 'boolean', default: false, describe: 'also show formats a more refined one includes (dos-mz under pe)' })
        .option('offsets', { type: 'boolean', default: false, describe: 'JSON: every field as {offset, size, value}' }),
      async (argv) => {
        const k = kimgFrom(argv);
        if (argv.schema) {
          printParse(k, argv.schema, argv.file, 0, argv.json, argv.offsets);
          return;
        }
        const a = await k.analyze(argv.file, { scan: false, decode: true });
        if (argv.json) printJson(dumpJson(a, argv.all, argv.offsets));
        else for (const l of dumpText(a, argv.all)) out(l);
        if (a.error) throw a.error;
      },
    )
    .command(
      'parse <schema> <file>',
      'apply any schema file (or built-in id) to any file',
      (y) => common(y.positional('schema', { type: 'string', demandOption: true, describe: 'schema id or path to a .yaml file' })
        .positional('file', { type: 'string', demandOption: true }))
        .option('offset', { type: 'string', default: '0', describe: 'where the root struct starts (decimal or 0x hex)' })
        .option('offsets', { type: 'boolean', default: false, describe: 'JSON: every field as {offset, size, value}' }),
      (argv) => {
        const k = kimgFrom(argv);
        const offset = parseOffset(argv.offset);
        printParse(k, argv.schema, argv.file, offset, argv.json, argv.offsets);
      },
    )
    .command(
      'extract <file>',
      'write the decoded kernel (default), a layer, the stored payload or a PE section',
      (y) => common(y.positional('file', { type: 'string', demandOption: true }))
        .option('output', { alias: 'o', type: 'string', describe: 'output file, or - for stdout (the default when stdout is not a terminal)' })
        .option('layer', { type: 'number', describe: 'write layer N (0 = the file itself)' })
        .option('raw', { type: 'boolean', describe: 'write the payload as stored (compressed)' })
        .option('section', { type: 'string', describe: 'write the PE section with this name (.linux, .initrd, .cmdline...)' })
        .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'replace an existing output file' })
        .option('max-size', { type: 'string', default: '1G', describe: 'stop decoding beyond this many bytes (K, M, G suffixes)' })
        .conflicts('raw', ['layer', 'section'])
        .conflicts('layer', 'section'),
      async (argv) => {
        const k = kimgFrom(argv, { maxDecodedSize: parseSize(argv['max-size']) });
        const target: ExtractTarget = argv.raw ? { kind: 'raw' } : argv.section !== undefined ? { kind: 'section', name: argv.section } : argv.layer !== undefined ? { kind: 'layer', index: checkLayer(argv.layer) } : { kind: 'innermost' };
        const output = argv.output ?? (process.stdout.isTTY ? null : '-');
        if (output === null) throw new UsageError('name an output: -o FILE, or -o - for stdout (kimg does not write binary data to a terminal)');
        const toStdout = output === '-';
        const input = realpathOrSelf(argv.file);
        new FileSource(argv.file).close(); // fail early, with an I/O error, on an unreadable input
        const sink: Output = toStdout ? stdoutOutput() : new AtomicFile(output, argv.force, [input]);
        const progress = Progress.forStderr();
        const r = await extract(k, argv.file, target, sink, progress ? (d, t) => progress.update(d, t) : undefined);
        progress?.done();
        if (argv.json) printJsonTo(process.stderr, { written: r.bytes, what: r.what, output });
        else if (!toStdout || argv.verbose) process.stderr.write(`kimg: wrote ${r.what}, ${r.bytes} bytes (${humanSize(r.bytes)}) to ${toStdout ? 'stdout' : output}\n`);
      },
    )
    .command(
      'schemas',
      'list the schemas (built-in and from --schema-path) and what they detect',
      (y) => common(y),
      (argv) => {
        const k = kimgFrom(argv);
        const list = k.schemas.all().map((s) => ({
          id: s.id,
          title: s.title,
          file: s.file,
          detects: s.detect ? s.detect.magic.map((m) => ({ at: Number(m.at), bytes: quoteBytes(m.bytes) })) : null,
          when: s.detect?.when?.source ?? null,
          refines: [...(s.detect?.refines ?? [])],
          regions: s.regions.map((r) => r.id),
        }));
        if (argv.json) printJson(list);
        else {
          for (const s of list) {
            const detect = s.detects ? s.detects.map((d) => `${d.bytes}@0x${d.at.toString(16)}`).join(' + ') + (s.when ? ` when ${s.when}` : '') : '(not detected; use kimg parse)';
            out(`${s.id.padEnd(16)} ${s.title}`);
            out(`${''.padEnd(16)} detects: ${detect}${s.refines.length ? `; refines ${s.refines.join(', ')}` : ''}`);
          }
        }
      },
    )
    .command(
      'codecs',
      'list the codec plugins',
      (y) => common(y),
      (argv) => {
        const k = kimgFrom(argv);
        const list = k.codecs.names().map((n) => {
          const c = k.codecs.get(n)!;
          return { name: c.name, library: c.library, description: c.description, sniffs: c.sniff !== undefined };
        });
        if (argv.json) printJson(list);
        else for (const c of list) out(`${c.name.padEnd(12)} ${c.library.padEnd(28)} ${c.description}`);
      },
    )
    .demandCommand(1, 'name a command (kimg --help lists them)')
    .strict()
    .help()
    .alias('help', 'h')
    .version()
    .epilog('Exit codes: 0 ok, 2 usage error, 3 invalid or unrecognised input (or a failed check), 4 I/O error, 5 schema file error, 1 internal error (a bug).')
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    })
    .wrap(Math.min(110, process.stdout.columns || 100));

  try {
    const argv = await parser.parseAsync();
    jsonErrors = Boolean(argv['json']);
    verbose = Boolean(argv['verbose']);
  } catch (e) {
    return reportError(e, jsonErrors, verbose);
  }
  return exitCode;
}

function printParse(k: Kimg, schemaRef: string, file: string, offset: number, json: boolean, offsets: boolean): void {
  const schema = k.loadSchema(schemaRef);
  const src = new FileSource(file);
  try {
    const r = k.parse(schema, src, { offset, layout: true });
    if (json) printJson({ file, schema: schema.id, offset, value: parseJson(r, offsets), checks: r.checks.filter((c) => !c.ok).map((c) => ({ id: c.id, path: c.path, severity: c.severity, message: c.message })) });
    else {
      out(`${file}: ${schema.id} (${schema.title}) at 0x${offset.toString(16)}`);
      for (const l of parseText(r)) out(l);
      for (const c of r.checks.filter((x) => !x.ok)) process.stderr.write(`kimg: ${c.severity}: ${c.path}: ${c.message}\n`);
    }
  } catch (e) {
    if (e instanceof KimgError) throw e.locate({ file });
    throw e;
  } finally {
    src.close();
  }
}

function parseOffset(text: string): number {
  const v = Number(text);
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text) || !Number.isSafeInteger(v)) throw new UsageError(`--offset ${text}: expected a non-negative integer (decimal or 0x hex)`);
  return v;
}

function checkLayer(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--layer ${n}: expected a layer number 0, 1, ...`);
  return n;
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function stdoutOutput(): Output {
  const s = new StdoutSink();
  return { write: (c) => s.write(c), commit() {}, abort() {} };
}

function printJsonTo(stream: NodeJS.WriteStream, v: Parameters<typeof stringifyJson>[0]): void {
  stream.write(stringifyJson(v, 0) + '\n');
}

function exitCodeFor(e: KimgError): number {
  switch (e.kind) {
    case 'usage': return EXIT.usage;
    case 'io': return EXIT.io;
    case 'schema': return EXIT.schema;
    default: return EXIT.invalidInput;
  }
}

function reportError(e: unknown, json: boolean, verbose: boolean): number {
  if (e instanceof BrokenPipe) return EXIT.ok;
  if (e instanceof KimgError) {
    if (json) printJsonTo(process.stderr, e.toJSON() as Parameters<typeof stringifyJson>[0]);
    else {
      process.stderr.write(`kimg: error: ${e.describe()}\n`);
      if (verbose && e.cause) process.stderr.write(`  cause: ${(e.cause as Error).message ?? String(e.cause)}\n`);
      if (e.kind === 'usage' && !verbose) process.stderr.write(`  (kimg --help for usage)\n`);
    }
    return exitCodeFor(e);
  }
  const err = e as Error;
  if (json) printJsonTo(process.stderr, { error: 'internal', kind: 'internal', message: err?.message ?? String(e) });
  else process.stderr.write(`kimg: internal error (a bug, please report it): ${err?.stack ?? String(e)}\n`);
  return EXIT.internal;
}

// If the event loop ever empties before main settles (a promise that can never resolve), say so and fail:
// a run that did not finish must not look like success.
let settled = false;
process.exitCode = EXIT.internal;
process.on('exit', () => {
  if (!settled) process.stderr.write('kimg: internal error (a bug, please report it): the operation stopped before finishing\n');
});

// A reader that goes away (`kimg dump f | head`) ends the output: a normal end, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') return;
  settled = true;
  process.exit(EXIT.ok);
});

main(hideBin(process.argv)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e) => {
    settled = true;
    process.exitCode = reportError(e, false, true);
  },
);
