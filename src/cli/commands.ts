/**
 * What each command does: call the library, print. Loaded only when a command runs, so that
 * `kimg --help` and `--version` need none of it.
 */
import { delimiter } from 'node:path';
import { FileSource } from '../core/file-source.js';
import { realpathOrSelf } from '../core/paths.js';
import { KimgError, UsageError } from '../core/errors.js';
import { LIMIT_NAMES, type Limits } from '../core/limits.js';
import { Kimg } from '../kimg.js';
import { stringifyJson } from '../render/json.js';
import { humanSize, quoteBytes } from '../expr/format.js';
import { openOutput, StdoutSink } from '../pipeline/output.js';
import { printJsonTo } from './report-error.js';
import { extract, type ExtractTarget, type Output } from '../pipeline/extract.js';
import type { Parsed, Values } from './args.js';
import { EXIT } from './exit.js';
import { dumpJson, dumpText, infoJson, infoText, parseJson, parseText, verdictOk } from './report.js';
import { Progress } from './progress.js';
import { writeLine } from './terminal.js';

function kimgFrom(v: Values, extraLimits: Partial<Limits> = {}): Kimg {
  const envPath = process.env['KIMG_SCHEMA_PATH']?.split(delimiter).filter(Boolean) ?? [];
  return new Kimg({
    schemaPath: [...(v['schema-path'] as string[]), ...envPath],
    ...(v['jitless'] ? { jitless: true } : {}),
    allowOutsideImports: Boolean(v['allow-outside-imports']),
    limits: { ...parseLimits(v['limit'] as string[]), ...extraLimits },
  });
}

/** Runs one parsed command; returns the exit code (errors are thrown). */
export async function run({ command, values: v, positionals: p }: Parsed): Promise<number> {
  const json = Boolean(v['json']);
  switch (command.name) {
    case 'info': {
      const k = kimgFrom(v);
      const a = await k.analyze(p['file']!, { hash: Boolean(v['sha256']), scan: true, decode: true, eagerGc: true });
      if (json) printJson(infoJson(a));
      else for (const l of infoText(a, Boolean(v['verbose']))) out(l);
      if (a.error) throw a.error;
      return verdictOk(a) ? EXIT.ok : EXIT.invalidInput;
    }
    case 'dump': {
      const k = kimgFrom(v);
      if (v['schema']) {
        printParse(k, v['schema'] as string, p['file']!, 0, json, Boolean(v['offsets']));
        return EXIT.ok;
      }
      const a = await k.analyze(p['file']!, { scan: false, decode: true, eagerGc: true });
      if (json) printJson(dumpJson(a, Boolean(v['all']), Boolean(v['offsets'])));
      else for (const l of dumpText(a, Boolean(v['all']))) out(l);
      if (a.error) throw a.error;
      return EXIT.ok;
    }
    case 'parse': {
      const k = kimgFrom(v);
      printParse(k, p['schema']!, p['file']!, parseOffset(v['offset'] as string), json, Boolean(v['offsets']));
      return EXIT.ok;
    }
    case 'extract':
      return extractCommand(v, p['file']!);
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
  throw new UsageError(`unknown command ${command.name}`);
}

async function extractCommand(v: Values, file: string): Promise<number> {
  const k = kimgFrom(v, { maxDecodedSize: parseNumber(v['max-size'] as string, '--max-size') });
  const target: ExtractTarget = v['raw']
    ? { kind: 'raw' }
    : v['section'] !== undefined
      ? { kind: 'section', name: v['section'] as string }
      : v['layer'] !== undefined
        ? { kind: 'layer', index: parseLayer(v['layer'] as string) }
        : { kind: 'innermost' };
  const output = (v['output'] as string | undefined) ?? (process.stdout.isTTY ? null : '-');
  if (output === null) throw new UsageError('name an output: -o FILE, or -o - for stdout (kimg does not write binary data to a terminal)');
  const toStdout = output === '-';
  new FileSource(file).close(); // an unreadable input is an I/O error before anything is created
  const sink: Output = toStdout ? stdoutOutput() : openOutput(output, Boolean(v['force']), [realpathOrSelf(file)]);
  const progress = Progress.forStderr();
  const r = await extract(k, file, target, sink, { eagerGc: true, ...(progress ? { onProgress: (d: number, t: number) => progress.update(d, t) } : {}) });
  progress?.done();
  if (v['json']) printJsonTo(process.stderr, { written: r.bytes, what: r.what, output });
  else if (!toStdout || v['verbose']) writeLine(process.stderr, `kimg: wrote ${r.what}, ${r.bytes} bytes (${humanSize(r.bytes)}) to ${toStdout ? 'stdout' : output}`);
  return EXIT.ok;
}

function parseLayer(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--layer ${text}: expected a layer number 0, 1, ...`);
  return Number(text);
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

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * The CLI's one number syntax (--offset, --max-size, --limit): decimal or 0x hex, optionally with a
 * binary unit K, M, G, T (KiB, MB... accepted). Anything not a safe integer is a usage error naming
 * the option, never a number silently rounded (99999999999999999999 is not 1e20 bytes).
 */
export function parseNumber(text: string, option: string): number {
  const m = /^(0x[0-9a-f]+|\d+)\s*(?:([KMGT])(?:i?B)?|(B))?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${option} ${text}: expected a non-negative integer (decimal or 0x hex, optionally with K, M, G or T: binary units)`);
  const value = Number(m[1]) * UNITS[(m[2] ?? m[3] ?? '').toUpperCase()]!;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${option} ${text}: too large (at most ${Number.MAX_SAFE_INTEGER})`);
  return value;
}

/** Every stdout line of text mode goes through here (JSON is escaped by stringifyJson). */
function out(line: string): void {
  writeLine(process.stdout, line);
}

function printJson(v: Parameters<typeof stringifyJson>[0]): void {
  // Not through out(): indented JSON has newlines of its own, and stringifyJson escapes every control.
  process.stdout.write(stringifyJson(v) + '\n');
}

function printParse(k: Kimg, schemaRef: string, file: string, offset: number, json: boolean, offsets: boolean): void {
  const schema = k.loadSchema(schemaRef);
  const src = new FileSource(file);
  try {
    const r = k.parse(schema, src, { offset, layout: true });
    src.assertUnchanged();
    if (json) printJson({ file, schema: schema.id, offset, value: parseJson(r, offsets), checks: r.checks.filter((c) => !c.ok).map((c) => ({ id: c.id, path: c.path, severity: c.severity, message: c.message })) });
    else {
      out(`${file}: ${schema.id} (${schema.title}) at 0x${offset.toString(16)}`);
      for (const l of parseText(r)) out(l);
      for (const c of r.checks.filter((x) => !x.ok)) writeLine(process.stderr, `kimg: ${c.severity}: ${c.path}: ${c.message}`);
    }
  } catch (e) {
    if (e instanceof KimgError) throw e.locate({ file });
    throw e;
  } finally {
    src.close();
  }
}

function parseOffset(text: string): number {
  return parseNumber(text, '--offset');
}

function stdoutOutput(): Output {
  const s = new StdoutSink();
  return { write: (c) => s.write(c), commit() {}, abort() {} };
}


