/**
 * What each command does: call the library, print. Loaded only when a command runs, so that
 * `kimg --help` and `--version` need none of it.
 *
 * Commands that take several files run them one after another with one Kimg (its compiled parsers
 * are shared); a file's error is reported and the next file goes on; the exit code is the worst one.
 */
import { delimiter } from 'node:path';
import { FileSource } from '../core/file-source.js';
import { realpathOrSelf } from '../core/paths.js';
import { KimgError, UsageError } from '../core/errors.js';
import { LIMIT_NAMES, type Limits } from '../core/limits.js';
import { Kimg } from '../kimg.js';
import { stringifyJson } from '../render/json.js';
import { analysisJson, failedAnalysisJson, verdictOk } from '../pipeline/analysis-json.js';
import { humanSize, quoteBytes } from '../expr/format.js';
import { BrokenPipe, openOutput, StdoutSink } from '../pipeline/output.js';
import type { Analysis } from '../pipeline/pipeline.js';
import type { SchemaDef } from '../types.js';
import { exitCodeFor, printJsonTo, reportError } from './report-error.js';
import { extract, type ExtractTarget, type Output } from '../pipeline/extract.js';
import type { Parsed, Values } from './args.js';
import { EXIT, worstExit } from './exit.js';
import { dumpJson, dumpText, infoText, layerDescription, parseJson, parseText } from './report.js';
import { Progress } from './progress.js';
import { writeLine } from './terminal.js';
import { parseNumber } from './numbers.js';
import { declarationsFor } from '../codegen/declarations.js';
import { refuseDirectory, STDIN_NAME, stdinAsFile, walk, type Input } from './inputs.js';

function kimgFrom(v: Values, extraLimits: Partial<Limits> = {}): Kimg {
  const envPath = process.env['KIMG_SCHEMA_PATH']?.split(delimiter).filter(Boolean) ?? [];
  return new Kimg({
    schemaPath: [...(v['schema-path'] as string[]), ...envPath],
    ...(v['jitless'] ? { jitless: true } : {}),
    allowOutsideImports: Boolean(v['allow-outside-imports']),
    limits: { ...parseLimits(v['limit'] as string[]), ...extraLimits },
  });
}

/** Runs one parsed command; returns the exit code (errors of a single-input command are thrown). */
export async function run({ command, values: v, positionals: p }: Parsed): Promise<number> {
  const json = Boolean(v['json']);
  const verbose = Boolean(v['verbose']);
  switch (command.name) {
    case 'info': {
      const k = kimgFrom(v);
      const files = p['file'] as string[];
      return eachInput(k, files, json, verbose, async (input, printer) => {
        const a = shownAs(await k.analyze(input.path, { hash: Boolean(v['sha256']), scan: true, decode: true, eagerGc: true }), input);
        if (json) printer.json(analysisJson(a));
        else printer.lines(infoText(a, verbose));
        if (a.error) throw a.error;
        return verdictOk(a) ? EXIT.ok : EXIT.invalidInput;
      });
    }
    case 'dump': {
      const k = kimgFrom(v);
      const files = p['file'] as string[];
      return eachInput(k, files, json, verbose, async (input, printer) => {
        if (v['schema']) return printParse(k, k.loadSchema(v['schema'] as string), input, 0, json, Boolean(v['offsets']), printer);
        const a = shownAs(await k.analyze(input.path, { scan: false, decode: true, eagerGc: true }), input);
        if (json) printer.json(dumpJson(a, Boolean(v['all']), Boolean(v['offsets'])));
        else printer.lines(dumpText(a, Boolean(v['all'])));
        if (a.error) throw a.error;
        return EXIT.ok;
      });
    }
    case 'parse': {
      const k = kimgFrom(v);
      const schema = k.loadSchema(p['schema'] as string); // a bad schema fails once, before any file
      return eachInput(k, p['file'] as string[], json, verbose, (input, printer) => printParse(k, schema, input, v['offset'] as number, json, Boolean(v['offsets']), printer));
    }
    case 'extract':
      return extractCommand(v, p['file'] as string);
    case 'scan':
      return scanCommand(v, p['dir'] as string[]);
    case 'types': {
      const k = kimgFrom(v);
      process.stdout.write(declarationsFor((p['schema'] as string[]).map((s) => k.loadSchema(s))));
      return EXIT.ok;
    }
    case 'schemas': {
      const k = kimgFrom(v);
      const list = k.schemas.all().map((s) => ({
        id: s.id,
        title: s.title,
        file: s.file,
        detects: s.detect ? s.detect.magic.map((m) => ({ at: Number(m.at), bytes: quoteBytes(m.bytes) })) : null,
        when: s.detect?.when?.source ?? null,
        refines: [...(s.detect?.refines ?? [])],
        regions: s.regions.map((r) => r.id),
      }));
      if (json) printJson(list);
      else {
        for (const s of list) {
          const detect = s.detects ? s.detects.map((d) => `${d.bytes}@0x${d.at.toString(16)}`).join(' + ') + (s.when ? ` when ${s.when}` : '') : '(not detected; use kimg parse)';
          out(`${s.id.padEnd(16)} ${s.title}`);
          out(`${''.padEnd(16)} detects: ${detect}${s.refines.length ? `; refines ${s.refines.join(', ')}` : ''}`);
        }
      }
      return EXIT.ok;
    }
    case 'codecs': {
      const k = kimgFrom(v);
      const list = k.codecs.names().map((n) => {
        const c = k.codecs.get(n)!;
        return { name: c.name, library: c.library, description: c.description, sniffs: c.sniff !== undefined };
      });
      if (json) printJson(list);
      else for (const c of list) out(`${c.name.padEnd(12)} ${c.library.padEnd(34)} ${c.description}`);
      return EXIT.ok;
    }
  }
  throw new UsageError(`${command.name}: nothing to run (yargs answers it)`);
}

/** Prints one input's result: plain for one input, separated (text) or one line each (JSON Lines) for several. */
interface Printer {
  lines(lines: readonly string[]): void;
  json(v: Parameters<typeof stringifyJson>[0]): void;
}

/**
 * Runs `each` on every input in order. With one input its errors propagate as they always did; with
 * several, each error is reported (stderr) and the others still run. Returns the worst exit code.
 */
async function eachInput(k: Kimg, files: readonly string[], json: boolean, verbose: boolean, each: (input: Input, printer: Printer) => Promise<number>): Promise<number> {
  if (files.filter((f) => f === STDIN_NAME).length > 1) throw new UsageError(`standard input (-) can be read only once, got it ${files.filter((f) => f === STDIN_NAME).length} times`);
  const many = files.length > 1;
  let worst: number = EXIT.ok;
  let printed = 0;
  const printer: Printer = {
    lines(lines) {
      if (many && printed++ > 0) out('');
      for (const l of lines) out(l);
    },
    json(v) {
      printed++;
      if (many) process.stdout.write(stringifyJson(v, 0) + '\n');
      else printJson(v);
    },
  };
  for (const file of files) {
    try {
      worst = worstExit(worst, await withInput(k, file, (input) => each(input, printer)));
    } catch (e) {
      if (!many || e instanceof BrokenPipe) throw e;
      worst = worstExit(worst, reportError(e, json, verbose));
    }
  }
  return worst;
}

/** Runs `fn` on a named file or on standard input (spooled if it is a pipe); errors name what the user gave. */
async function withInput<T>(k: Kimg, file: string, fn: (input: Input) => Promise<T>): Promise<T> {
  if (file !== STDIN_NAME) {
    refuseDirectory(file);
    return fn({ path: file, shown: file });
  }
  const spool = await stdinAsFile(k.limits.maxDecodedSize);
  try {
    return await fn({ path: spool.path, shown: STDIN_NAME });
  } catch (e) {
    if (e instanceof KimgError && e.where.file === spool.path) e.where.file = STDIN_NAME;
    throw e;
  } finally {
    spool.release();
  }
}

function shownAs(a: Analysis, input: Input): Analysis {
  if (a.error && a.error.where.file === input.path) a.error.where.file = input.shown;
  return input.path === input.shown ? a : { ...a, file: input.shown };
}

/** `kimg scan`: one line per file under each directory, never stopping at a file. */
async function scanCommand(v: Values, roots: readonly string[]): Promise<number> {
  const k = kimgFrom(v);
  const json = Boolean(v['json']);
  let worst: number = EXIT.ok;
  for (const root of roots) {
    for (const entry of walk(root)) {
      if (entry.kind === 'skipped') {
        if (json) process.stdout.write(stringifyJson({ file: entry.path, skipped: entry.why }, 0) + '\n');
        else out(`skipped ${entry.path}: ${entry.why}`);
        continue;
      }
      let a: Analysis;
      try {
        a = await k.analyze(entry.path, { hash: Boolean(v['sha256']), scan: true, decode: true, eagerGc: true });
      } catch (e) {
        if (!(e instanceof KimgError)) throw e;
        worst = worstExit(worst, exitCodeFor(e));
        if (json) process.stdout.write(stringifyJson(failedAnalysisJson(entry.path, e), 0) + '\n');
        else out(`error   ${entry.path}: ${withoutFile(e.describe(), entry.path)}`);
        continue;
      }
      const ok = verdictOk(a);
      worst = worstExit(worst, a.error ? exitCodeFor(a.error) : ok ? EXIT.ok : EXIT.invalidInput);
      if (json) process.stdout.write(stringifyJson(analysisJson(a), 0) + '\n');
      else out(scanLine(a, ok));
    }
  }
  return worst;
}

/** `ok      path: zboot, gzip -> arm64 kernel Image, 2.44 MiB...: Linux version 7.2.13` in one line. */
function scanLine(a: Analysis, ok: boolean): string {
  const status = !ok ? 'error' : a.checks.some((c) => c.status === 'warning') ? 'warning' : 'ok';
  const chain = a.layers.map((l) => layerDescription(a, l.index, true)).join(' -> ');
  // The first hit of each scan id, as `info` shows them (a banner found in two layers is one banner).
  const hits = [...new Map(a.layers.flatMap((l) => l.scans).reverse().map((h) => [h.id, h] as const)).values()].reverse();
  const why = a.error ? `; ${withoutFile(a.error.describe(), a.file)}` : a.checks.filter((c) => c.status === 'error').map((c) => `; check ${c.id}: ${c.message}`).join('');
  return `${status.padEnd(7)} ${a.file}: ${chain}${hits.length ? `: ${hits.map((h) => h.short).join('; ')}` : ''}${why}`;
}

/** An error's description without the file name the line already starts with. */
function withoutFile(description: string, file: string): string {
  return description.startsWith(`${file}, `) || description.startsWith(`${file}: `) ? description.slice(file.length + 2) : description;
}

async function extractCommand(v: Values, file: string): Promise<number> {
  const k = kimgFrom(v, { maxDecodedSize: v['max-size'] as number });
  const target: ExtractTarget = v['raw']
    ? { kind: 'raw' }
    : v['section'] !== undefined
      ? { kind: 'section', name: v['section'] as string }
      : v['layer'] !== undefined
        ? { kind: 'layer', index: v['layer'] as number }
        : { kind: 'innermost' };
  const output = (v['output'] as string | undefined) ?? (process.stdout.isTTY ? null : '-');
  if (output === null) throw new UsageError('name an output: -o FILE, or -o - for stdout (kimg does not write binary data to a terminal)');
  const toStdout = output === '-';
  return withInput(k, file, async (input) => {
    new FileSource(input.path).close(); // an unreadable input is an I/O error before anything is created
    const sink: Output = toStdout ? stdoutOutput() : openOutput(output, Boolean(v['force']), [realpathOrSelf(input.path)]);
    const progress = Progress.forStderr();
    const r = await extract(k, input.path, target, sink, { eagerGc: true, ...(progress ? { onProgress: (d: number, t: number) => progress.update(d, t) } : {}) });
    progress?.done();
    if (v['json']) printJsonTo(process.stderr, { written: r.bytes, what: r.what, output });
    else if (!toStdout || v['verbose']) writeLine(process.stderr, `kimg: wrote ${r.what}, ${r.bytes} bytes (${humanSize(r.bytes)}) to ${toStdout ? 'stdout' : output}`);
    return EXIT.ok;
  });
}

function parseLimits(specs: readonly string[]): Partial<Limits> {
  const out: Record<string, number> = {};
  for (const spec of specs) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(spec);
    if (!m || !(LIMIT_NAMES as string[]).includes(m[1]!)) {
      throw new UsageError(`--limit ${spec}: expected NAME=NUMBER with NAME one of ${LIMIT_NAMES.join(', ')}`);
    }
    out[m[1]!] = parseNumber(m[2]!, `--limit ${m[1]}`);
  }
  return out as Partial<Limits>;
}

/** Every stdout line of text mode goes through here (JSON is escaped by stringifyJson). */
function out(line: string): void {
  writeLine(process.stdout, line);
}

function printJson(v: Parameters<typeof stringifyJson>[0]): void {
  // Not through out(): indented JSON has newlines of its own, and stringifyJson escapes every control.
  process.stdout.write(stringifyJson(v) + '\n');
}

async function printParse(k: Kimg, schema: SchemaDef, input: Input, offset: number, json: boolean, offsets: boolean, printer: Printer): Promise<number> {
  const src = new FileSource(input.path);
  try {
    const r = k.parse(schema, src, { offset, layout: true });
    src.assertUnchanged();
    if (json) printer.json({ file: input.shown, schema: schema.id, offset, value: parseJson(r, offsets), checks: r.checks.filter((c) => !c.ok).map((c) => ({ id: c.id, path: c.path, severity: c.severity, message: c.message })) });
    else {
      printer.lines([`${input.shown}: ${schema.id} (${schema.title}) at 0x${offset.toString(16)}`, ...parseText(r)]);
      for (const c of r.checks.filter((x) => !x.ok)) writeLine(process.stderr, `kimg: ${c.severity}: ${c.path}: ${c.message}`);
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof KimgError) throw e.locate({ file: input.shown });
    throw e;
  } finally {
    src.close();
  }
}

function stdoutOutput(): Output {
  const s = new StdoutSink();
  return { write: (c) => s.write(c), commit() {}, abort() {} };
}
