/**
 * The layer pipeline. Generic: it follows what schemas declare and knows no format.
 *   detect the layer's formats -> take the most refined one's main region -> if the region names a
 *   codec, decode it (streaming) and identify the result among the declared candidates; otherwise
 *   the region is the next layer -> repeat. A layer no schema recognises may be a bare compressed
 *   stream, found by the codecs' magic.
 */
import type { ByteSource } from '../core/bytes.js';
import { FileSource } from '../core/file-source.js';
import { DecodeError, KimgError, LimitError, PipelineError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { CodecRegistry } from '../codecs/registry.js';
import { CodecError } from '../codecs/errors.js';
import type { Codec } from '../codecs/types.js';
import { evaluate, type Scope } from '../expr/evaluate.js';
import { formatValue, hexInt, humanSize, quoteBytes } from '../expr/format.js';
import { renderTemplate } from '../expr/template.js';
import { isInt, truthy } from '../expr/values.js';
import { renderSummary } from '../render/summary.js';
import { rootScope } from '../expr/scope.js';
import { detect, type Damage, type DetectOutcome, type Detection, type Rejection } from '../detect/detect.js';
import type { Engine } from '../engine.js';
import type { SchemaRegistry } from '../schema/registry.js';
import type { CheckDef, CompiledExpr, RegionDecl, ScanDecl, SchemaDef } from '../types.js';
import { readFileRange } from './read.js';
import { StreamScanner, type ScanHit } from './scan.js';
import { HeadSource, SliceSource } from './sources.js';

export type CheckStatus = 'ok' | 'warning' | 'error';

export interface CheckReport {
  readonly layer: number;
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
}

/** A region of a layer, evaluated: where it is and what it is called. */
export interface RegionInfo {
  readonly schema: string;
  readonly id: string;
  readonly name: string | null;
  readonly offset: number;
  readonly size: number;
  /** Absolute offset in the input file, when the layer is a slice of the file. */
  readonly fileOffset: number | null;
  readonly codec: string | null;
}

export interface LayerReport {
  readonly index: number;
  readonly size: number;
  /** How the layer was reached. */
  readonly origin: 'file' | 'region' | 'decoded';
  /** The region of the previous layer this layer is (for region and decoded layers). */
  readonly from: RegionInfo | null;
  /** Codec used to produce this layer. */
  readonly codec: { readonly header: string | null; readonly plugin: string; readonly library: string } | null;
  /** Schemas that apply, most refined first. */
  readonly detections: readonly Detection[];
  /** Schemas tried that do not apply, and why (for --verbose). */
  readonly rejected: readonly Rejection[];
  /** Schemas whose magic matched but which failed on this layer: the layer is damaged. */
  readonly damaged: readonly Damage[];
  /** Facts the layer's schemas state (`machine`), with the schema that stated each. */
  readonly facts: Readonly<Record<string, { readonly value: unknown; readonly schema: string }>>;
  /** The layer's one-line description: the most refined schema's summary. */
  readonly summary: string | null;
  /** Every matching schema's summary (or title), by schema id. */
  readonly summaries: Readonly<Record<string, string>>;
  /** Regions declared by the layer's schemas (the payload, every PE section). */
  readonly regions: readonly RegionInfo[];
  scans: readonly ScanHit[];
  /** sha256 of the layer's bytes, when asked for. */
  sha256: string | null;
  /** False when the pipeline stopped before producing this layer's bytes (decode not asked). */
  readonly decoded: boolean;
}

export interface Analysis {
  readonly file: string;
  readonly size: number;
  readonly layers: LayerReport[];
  readonly checks: CheckReport[];
  /** Set when the pipeline stopped on an error; layers hold what was found before it. */
  error: KimgError | null;
}

/** Receives a layer's bytes in order (a file being written, stdout). */
export interface Sink {
  write(chunk: Uint8Array): Promise<void> | void;
}

export interface PipelineOptions {
  readonly registry: SchemaRegistry;
  readonly codecs: CodecRegistry;
  readonly limits: Limits;
  readonly engine: Engine;
  /** Decode payloads (info, dump, extract of a decoded layer) or stop at the stored payload. */
  readonly decode: boolean;
  /** Look for declared strings (the version banner) in the final layer. */
  readonly scan: boolean;
  /** Hash the final layer. */
  readonly hash: boolean;
  /** Bytes of a decoded layer kept for parsing its headers. */
  readonly headSize: number;
  /** Where a decoded layer's bytes go, if anywhere: called once the layer index is known. */
  readonly sinkFor?: (layer: number) => Sink | null;
  /** Progress of reading a stored region (bytes, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Collect garbage every few MiB while streaming, keeping RSS flat. It turns on V8's --expose-gc for
   * the process, so the CLI asks for it and the library leaves it off by default.
   */
  readonly eagerGc?: boolean;
}

export const DEFAULT_HEAD_SIZE = 1 << 20;

/** Longest run of decoding without yielding to the event loop (signals are handled between turns). */
const EVENT_LOOP_TURN_MS = 25;

/**
 * Decoded chunks are garbage as soon as they are written, but V8 collects array buffers only when their
 * total has grown a lot, so RSS would climb by tens of MiB per image. A minor collection every few MiB
 * keeps it flat (measured in bench/extract.mjs).
 */
const COLLECT_EVERY = 4 << 20;
const MAJOR_AFTER_EXTERNAL = 16 << 20;
let minorGc: (() => void) | null | undefined;
function collectGarbage(): void {
  if (minorGc === undefined) {
    // Fetched, not imported: most runs never collect (docs/performance.md, start-up).
    const v8 = process.getBuiltinModule('node:v8');
    const vm = process.getBuiltinModule('node:vm');
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
      // Mostly cheap minor collections; a major one every fourth time, or as soon as memory held outside
      // the JavaScript heap (decoded chunks, input buffers: ArrayBuffers whose small wrappers were promoted
      // to the old generation, so minor collections cannot free them) grew by MAJOR_AFTER_EXTERNAL since the
      // last major one (lz4-legacy's 8 MiB blocks, bzip2's input buffer: measured in docs/codecs.md, Memory).
      let n = 0;
      let externalAfterMajor = 0;
      minorGc = () => {
        const major = ++n % 4 === 0 || v8.getHeapStatistics().external_memory - externalAfterMajor > MAJOR_AFTER_EXTERNAL;
        gc({ type: major ? 'major' : 'minor' });
        if (major) externalAfterMajor = v8.getHeapStatistics().external_memory;
      };
    } catch {
      minorGc = null;
    }
  }
  minorGc?.();
}

interface Current {
  readonly source: ByteSource;
  /** Absolute offset of the layer in the file, or null for decoded layers. */
  readonly fileOffset: number | null;
  readonly origin: LayerReport['origin'];
  readonly from: RegionInfo | null;
  readonly codec: LayerReport['codec'];
  /** The schema the outer layer says this must be, and why. */
  readonly expect: { readonly schema: SchemaDef; readonly because: string } | null;
  readonly decoded: boolean;
  readonly scans: readonly ScanHit[];
  readonly sha256: string | null;
}

export async function analyze(path: string, options: PipelineOptions): Promise<Analysis> {
  const file = new FileSource(path);
  const analysis: Analysis = { file: path, size: file.size, layers: [], checks: [], error: null };
  try {
    await run(file, path, options, analysis);
    file.assertUnchanged(); // an input rewritten meanwhile may have mixed two files' bytes
  } catch (e) {
    if (!(e instanceof KimgError)) throw e;
    analysis.error = e.locate({ file: path, layer: analysis.layers.length ? analysis.layers.length - 1 : 0 });
  } finally {
    file.close();
  }
  return analysis;
}

async function run(file: FileSource, path: string, o: PipelineOptions, a: Analysis): Promise<void> {
  let cur: Current = { source: file, fileOffset: 0, origin: 'file', from: null, codec: null, expect: null, decoded: true, scans: [], sha256: null };
  for (let index = 0; ; index++) {
    if (index >= o.limits.maxLayers) throw new LimitError('maxLayers', o.limits.maxLayers, { layer: index });
    const detected = detectLayer(cur, index, o);
    const detections = detected.matches;
    const primary = detections[0] ?? null;
    const regions = primary && !detected.damaged.length ? evaluateRegions(detections, cur, o.limits, index) : [];
    const layer: LayerReport = {
      index,
      size: cur.source.size,
      origin: cur.origin,
      from: cur.from,
      codec: cur.codec,
      detections,
      rejected: detected.rejected,
      damaged: detected.damaged,
      facts: detected.damaged.length ? {} : layerFacts(detections, cur.source.size, o.limits, index),
      summary: primary ? summarize(primary, cur.source.size, o.limits) : null,
      summaries: Object.fromEntries(detections.map((d) => [d.schema.id, summarize(d, cur.source.size, o.limits)])),
      regions,
      scans: cur.scans,
      sha256: cur.sha256,
      decoded: cur.decoded,
    };
    a.layers.push(layer);
    if (!cur.decoded) return;
    if (detected.damaged.length) throw damagedError(detected.damaged[0]!, detections, index);
    checkFacts(a, layer);
    for (const d of detections) {
      for (const c of d.result.checks) {
        a.checks.push({ layer: index, id: `${d.schema.id}:${c.path || c.id}`, status: c.ok ? 'ok' : c.severity, message: c.message || 'ok' });
      }
    }

    const main = primary ? mainRegion(primary.schema) : null;
    if (!main || !primary) {
      if (!primary) {
        const codec = cur.fileOffset !== null ? sniff(cur.source, o.codecs) : null;
        if (codec) {
          const whole: RegionInfo = { schema: '(none)', id: 'stream', name: null, offset: 0, size: cur.source.size, fileOffset: cur.fileOffset, codec: codec.name };
          cur = await decodeLayer(path, whole, codec, null, null, null, index + 1, o, a);
          continue;
        }
        // Every layer must be recognised: "gzip -> unrecognised data" is no answer.
        const how = index === 0 ? 'this file' : `layer ${index} (${describeOrigin(cur)})`;
        throw new PipelineError('unrecognised', `no schema${cur.fileOffset !== null ? ' and no codec' : ''} recognises ${how}`, { layer: index }, {
          expected: `one of: ${o.registry.loader.listIds().join(', ')}${cur.fileOffset !== null ? `; or a stream of ${o.codecs.names().join(', ')}` : ''}`,
          found: `${quoteBytes(cur.source.slice(0, Math.min(16, cur.source.size)))}${cur.source.size > 16 ? '…' : ''}`,
        });
      }
      // The innermost layer: scan and hash it if it is a slice of the file (decoded ones were already).
      if (cur.fileOffset !== null && index > 0 && (o.scan || o.hash)) {
        const scanDecls = primary ? primary.schema.scans : [];
        const r = await streamRange(path, cur.fileOffset, cur.source.size, o.scan ? scanDecls : [], o.hash, null, o);
        layer.scans = r.scans;
        layer.sha256 = r.sha256;
      } else if (index === 0 && (o.scan || o.hash) && primary) {
        const r = await streamRange(path, 0, cur.source.size, o.scan ? primary.schema.scans : [], o.hash, null, o);
        layer.scans = r.scans;
        layer.sha256 = r.sha256;
      }
      return;
    }

    const scope = rootScope(primary.result.value, cur.source.size);
    const info = evaluateRegion(primary.schema, main, scope, cur, o.limits, index);
    runRegionChecks(main.checks, scope, index, o.limits, a);
    if (info.offset + info.size > cur.source.size) {
      throw new PipelineError('region-out-of-bounds', `region ${main.id} ${hexInt(info.offset)}..${hexInt(info.offset + info.size)} runs past the end of the layer`, { schema: primary.schema.id, offset: info.offset }, {
        expected: `end <= ${hexInt(cur.source.size)}`,
        found: hexInt(info.offset + info.size),
      });
    }
    if (!main.codec && !main.codecByMagic && info.offset === 0 && info.size === cur.source.size) {
      // A stored region that is the whole layer would be the same layer again, forever.
      throw new PipelineError('region-loop', `region ${main.id} is the whole layer it belongs to, so following it would never end`, { schema: primary.schema.id, offset: 0 }, {
        expected: 'a region smaller than its layer',
        found: `0x0..${hexInt(info.size)} of a ${hexInt(cur.source.size)}-byte layer`,
      });
    }
    const expect = chooseInner(primary.schema, main, scope, o);

    if (main.codec || main.codecByMagic) {
      let header: string | null = null;
      let codec: Codec | undefined;
      if (main.codec) {
        header = evaluateString(main.codec, scope, o.limits, primary.schema.id, index);
        const pluginName = main.codecs.size ? main.codecs.get(header) : header;
        codec = pluginName !== undefined ? o.codecs.get(pluginName) : undefined;
        if (!codec) {
          throw new PipelineError('unknown-codec', `${main.codec.source} "${header}" names no known codec`, { schema: primary.schema.id, path: main.codec.source }, {
            expected: main.codecs.size ? [...main.codecs.keys()].map((k) => `"${k}"`).join(', ') : o.codecs.names().join(', '),
            found: JSON.stringify(header),
          });
        }
      } else {
        // The header does not name the codec (an x86 bzImage): the payload's own magic does.
        const regionSource = new SliceSource(cur.source, info.offset, info.size);
        codec = sniff(regionSource, o.codecs) ?? undefined;
        if (!codec) {
          throw new PipelineError('unknown-codec', `no codec recognises the payload of region ${main.id} by its magic`, { schema: primary.schema.id, layer: index, offset: info.offset }, {
            expected: `a stream of ${o.codecs.names().join(', ')}`,
            found: `${quoteBytes(regionSource.slice(0, Math.min(8, info.size)))}`,
          });
        }
      }
      if (cur.fileOffset === null) {
        throw new PipelineError('nested-decode', `region ${main.id} of a decoded layer would need decoding again; kimg keeps only the head of decoded layers`, { layer: index });
      }
      const expectedSize = main.expectedSize ? evaluateOptionalInt(main.expectedSize, scope, o.limits, primary.schema.id, index) : null;
      if (!o.decode) {
        cur = { source: new HeadSource(new Uint8Array(0), 0), fileOffset: null, origin: 'decoded', from: info, codec: codecInfo(header, codec), expect, decoded: false, scans: [], sha256: null };
        continue;
      }
      cur = await decodeLayer(path, info, codec, header, expect, expectedSize === null ? null : { value: expectedSize, modulo: main.expectedSizeModulo }, index + 1, o, a);
      continue;
    }
    cur = {
      source: new SliceSource(cur.source, info.offset, info.size),
      fileOffset: (cur.fileOffset ?? 0) + info.offset,
      origin: 'region',
      from: info,
      codec: null,
      expect,
      decoded: true,
      scans: [],
      sha256: null,
    };
  }
}

function detectLayer(cur: Current, index: number, o: PipelineOptions): DetectOutcome {
  if (!cur.decoded) return { matches: [], rejected: [], damaged: [] };
  if (cur.expect) {
    const got = detect(o.registry, cur.source, o.limits, o.engine, [cur.expect.schema]);
    if (got.matches.length || got.damaged.length) return got;
    const actually = detect(o.registry, cur.source, o.limits, o.engine).matches.filter((m) => m.refinedBy.length === 0).map((m) => m.schema.id);
    const rule = cur.expect.schema.detect;
    const magic = rule?.magic.map((m) => `${quoteBytes(m.bytes)} at ${hexInt(m.at)}`).join(' and ') ?? '';
    const foundMagic = rule?.magic.map((m) => {
      const at = Number(m.at);
      return at + m.bytes.length <= cur.source.size ? `${quoteBytes(cur.source.slice(at, m.bytes.length))} at ${hexInt(at)}` : `nothing at ${hexInt(at)}`;
    }).join(' and ');
    throw new PipelineError('inner-mismatch',
      `${cur.expect.because} says this layer is ${cur.expect.schema.id}, but it is not: ${got.rejected[0]?.reason ?? 'no match'}`,
      { layer: index, schema: cur.expect.schema.id },
      { expected: `${cur.expect.schema.title}${magic ? ` (${magic})` : ''}`, found: actually.length ? actually.join(' + ') : (foundMagic || 'unrecognised data') });
  }
  return detect(o.registry, cur.source, o.limits, o.engine);
}

/** A schema claimed the layer by its magic and then failed: the layer is that format, damaged. */
function damagedError(d: Damage, fallback: readonly Detection[], layer: number): KimgError {
  const e = d.error;
  if (e instanceof LimitError) return new LimitError(e.limit, e.value, { ...e.where, layer, schema: d.schema.id });
  const magic = d.schema.detect?.magic.map((m) => `${quoteBytes(m.bytes)} at ${hexInt(m.at)}`).join(' and ') ?? '';
  const instead = fallback.length ? `; only ${fallback.filter((f) => f.refinedBy.length === 0).map((f) => f.schema.id).join(' + ')} could be read` : '';
  return new PipelineError('damaged', `${d.schema.id} (${d.schema.title}) matches by its magic${magic ? ` (${magic})` : ''} but is damaged: ${e.message}${instead}`,
    { layer, schema: d.schema.id, ...(e.where.path !== undefined ? { path: e.where.path } : {}), ...(e.where.offset !== undefined ? { offset: e.where.offset } : {}) },
    { ...(e.expected !== undefined ? { expected: e.expected } : {}), ...(e.found !== undefined ? { found: e.found } : {}), cause: e });
}

function describeOrigin(cur: Current): string {
  if (cur.codec) return `decoded from ${cur.codec.header ?? cur.codec.plugin}`;
  if (cur.from) return `region ${cur.from.id}${cur.from.name ? ` ${cur.from.name}` : ''} of ${cur.from.schema}`;
  return cur.origin;
}

/** The facts every matching schema states about this layer; schemas of one layer must agree. */
function layerFacts(detections: readonly Detection[], size: number, limits: Limits, layer: number): Record<string, { value: unknown; schema: string }> {
  const out: Record<string, { value: unknown; schema: string }> = {};
  for (const d of detections) {
    if (!d.schema.facts.size) continue;
    const scope = rootScope(d.result.value, size);
    for (const [name, e] of d.schema.facts) {
      const value = evalExpr(e, scope, limits, d.schema.id, layer);
      if (value === null) continue;
      const prior = out[name];
      if (prior && !sameValue(prior.value, value)) {
        throw new PipelineError('inconsistent-facts', `${prior.schema} and ${d.schema.id} disagree on ${name} for the same layer`, { layer, schema: d.schema.id, path: `facts.${name}` }, {
          expected: `${formatValue(prior.value, 'hex')} (from ${prior.schema})`,
          found: formatValue(value, 'hex'),
        });
      }
      out[name] ??= { value, schema: d.schema.id };
    }
  }
  return out;
}

/** Each fact a layer states must equal what the nearest outer layer stating it said. */
function checkFacts(a: Analysis, layer: LayerReport): void {
  for (const [name, fact] of Object.entries(layer.facts)) {
    const outer = [...a.layers].reverse().find((l) => l !== layer && name in l.facts);
    if (!outer) continue;
    const said = outer.facts[name]!;
    const id = `facts:${name}`;
    if (sameValue(said.value, fact.value)) {
      a.checks.push({ layer: layer.index, id, status: 'ok', message: `${name} ${formatValue(fact.value, 'hex')}, as layer ${outer.index} says` });
      continue;
    }
    const message = `layer ${outer.index} (${said.schema}) says ${name} ${formatValue(said.value, 'hex')}, but layer ${layer.index} (${fact.schema}) is for ${formatValue(fact.value, 'hex')}`;
    a.checks.push({ layer: layer.index, id, status: 'error', message });
    throw new PipelineError('inconsistent-layers', message, { layer: layer.index, schema: fact.schema, path: `facts.${name}` }, {
      expected: `${name} ${formatValue(said.value, 'hex')} (from layer ${outer.index}, ${said.schema})`,
      found: formatValue(fact.value, 'hex'),
    });
  }
}

function sameValue(x: unknown, y: unknown): boolean {
  if (isInt(x) && isInt(y)) return BigInt(x) === BigInt(y);
  return x === y;
}

function mainRegion(schema: SchemaDef): RegionDecl | null {
  return schema.regions.find((r) => r.main && !r.each) ?? null;
}

function summarize(d: Detection, size: number, limits: Limits): string {
  return d.schema.summary ? renderSummary(d.schema.summary, d.result, size, limits.maxExprSteps) : d.schema.title;
}

/** Every region every matching schema declares, for listing and --section. */
function evaluateRegions(detections: readonly Detection[], cur: Current, limits: Limits, layer: number): RegionInfo[] {
  const out: RegionInfo[] = [];
  for (const d of detections) {
    const scope = rootScope(d.result.value, cur.source.size);
    for (const r of d.schema.regions) {
      if (!r.each) {
        try {
          out.push(evaluateRegion(d.schema, r, scope, cur, limits, layer));
        } catch (e) {
          if (!(e instanceof KimgError)) throw e;
        }
        continue;
      }
      const items = evalExpr(r.each, scope, limits, d.schema.id, layer);
      if (!Array.isArray(items)) continue;
      if (out.length + items.length > limits.maxRegions) throw new LimitError('maxRegions', limits.maxRegions, { layer, schema: d.schema.id });
      items.forEach((item, i) => {
        scope.elem = item;
        scope.index = i;
        try {
          out.push(evaluateRegion(d.schema, r, scope, cur, limits, layer));
        } catch (e) {
          if (!(e instanceof KimgError)) throw e;
        }
      });
      scope.elem = null;
      scope.index = null;
    }
  }
  return out;
}

function evaluateRegion(schema: SchemaDef, r: RegionDecl, scope: Scope, cur: Current, limits: Limits, layer: number): RegionInfo {
  const offset = evaluateInt(r.offset, scope, limits, schema.id, layer);
  const size = evaluateInt(r.size, scope, limits, schema.id, layer);
  const name = r.name ? evalExpr(r.name, scope, limits, schema.id, layer) : null;
  const codec = r.codec ? evalExpr(r.codec, scope, limits, schema.id, layer) : null;
  return {
    schema: schema.id,
    id: r.id,
    name: name === null ? null : formatValue(name, 'raw'),
    offset,
    size,
    fileOffset: cur.fileOffset === null ? null : cur.fileOffset + offset,
    codec: codec === null ? null : formatValue(codec, 'raw'),
  };
}

function runRegionChecks(checks: readonly CheckDef[], scope: Scope, layer: number, limits: Limits, a: Analysis): void {
  for (const c of checks) {
    let ok: boolean;
    try {
      ok = truthy(evaluate(c.assert.ast, scope, { steps: 0, maxSteps: limits.maxExprSteps }));
    } catch (e) {
      ok = false;
      a.checks.push({ layer, id: c.id, status: c.severity, message: `check could not be evaluated: ${(e as Error).message}` });
      if (c.severity === 'error') throw new PipelineError('check-failed', `check ${c.id} could not be evaluated: ${(e as Error).message}`, { layer });
      continue;
    }
    if (ok) {
      a.checks.push({ layer, id: c.id, status: 'ok', message: 'ok' });
      continue;
    }
    const message = renderTemplate(c.message, scope, { steps: 0, maxSteps: limits.maxExprSteps });
    a.checks.push({ layer, id: c.id, status: c.severity, message });
    if (c.severity === 'error') throw new PipelineError('check-failed', message, { layer }, { expected: c.assert.source });
  }
}

function chooseInner(schema: SchemaDef, r: RegionDecl, scope: Scope, o: PipelineOptions): Current['expect'] {
  for (const c of r.inner) {
    if (c.when && !truthy(evalExpr(c.when, scope, o.limits, schema.id, 0))) continue;
    return { schema: o.registry.get(c.schema), because: c.when ? `${schema.id} (${c.when.source})` : schema.id };
  }
  if (r.inner.length) {
    throw new PipelineError('no-inner-candidate', `none of the formats region ${r.id} may hold applies`, { schema: schema.id }, {
      expected: r.inner.map((c) => `${c.schema} when ${c.when?.source ?? 'always'}`).join('; '),
      found: 'no condition true',
    });
  }
  return null;
}

/** Bytes a codec sniffer sees: enough for LZMA-alone (no magic) to trial-decode its first symbols. */
const SNIFF_BYTES = 4096;

function sniff(source: ByteSource, codecs: CodecRegistry): Codec | null {
  const head = source.slice(0, Math.min(SNIFF_BYTES, source.size));
  return codecs.sniff(head) ?? null;
}

function codecInfo(header: string | null, codec: Codec): NonNullable<LayerReport['codec']> {
  return { header, plugin: codec.name, library: codec.library };
}

async function decodeLayer(
  path: string,
  region: RegionInfo,
  codec: Codec,
  header: string | null,
  expect: Current['expect'],
  expectedSize: { value: number | bigint; modulo: bigint | null } | null,
  index: number,
  o: PipelineOptions,
  a: Analysis,
): Promise<Current> {
  const sink = o.sinkFor?.(index) ?? null;
  const scanDecls: readonly ScanDecl[] = o.scan ? (expect ? expect.schema.scans : o.registry.all().flatMap((s) => s.scans)) : [];
  const r = await streamRange(path, region.fileOffset!, region.size, scanDecls, o.hash, { codec, sink, headSize: o.headSize }, o);
  if (r.consumed !== null) {
    // The codec found its stream's end before the region's: say what follows, as the native tools would.
    const extra = region.size - r.consumed;
    const at = (region.fileOffset ?? 0) + r.consumed;
    a.checks.push({
      layer: index,
      id: 'trailing_data',
      status: extra > 0 ? 'warning' : 'ok',
      message: extra > 0 ? `${extra} bytes after the end of the ${codec.name} stream, at file offset ${hexInt(at)} (not decoded)` : 'the stream ends where the region does',
    });
  }
  if (expectedSize) {
    const total = BigInt(r.total);
    const got = expectedSize.modulo ? total % expectedSize.modulo : total;
    const want = BigInt(expectedSize.value);
    const ok = got === want;
    a.checks.push({
      layer: index,
      id: 'decoded_size',
      status: ok ? 'ok' : 'error',
      message: ok ? `decoded ${r.total} bytes, as the size word says` : `decoded ${r.total} bytes, but the size word says ${want}${expectedSize.modulo ? ` (mod ${hexInt(expectedSize.modulo)})` : ''}`,
    });
    if (!ok) {
      throw new PipelineError('size-mismatch', `decoded size does not match the stored size word`, { layer: index }, { expected: `${want} bytes${expectedSize.modulo ? ` (mod ${hexInt(expectedSize.modulo)})` : ''}`, found: `${r.total} (${humanSize(r.total)})` });
    }
  }
  return {
    source: new HeadSource(r.head!, r.total),
    fileOffset: null,
    origin: 'decoded',
    from: region,
    codec: codecInfo(header, codec),
    expect,
    decoded: true,
    scans: r.scans,
    sha256: r.sha256,
  };
}

interface StreamResult {
  total: number;
  /** Input bytes the decoded stream occupied, when the codec reports its end; null otherwise. */
  consumed: number | null;
  head: Uint8Array | null;
  scans: ScanHit[];
  sha256: string | null;
}

/**
 * Streams a file range, optionally through a decoder, to the scanners, the hash, the head buffer and
 * the sink. Memory: one chunk, the head, the scanners' tails.
 */
export async function streamRange(
  path: string,
  offset: number,
  size: number,
  scanDecls: readonly ScanDecl[],
  hash: boolean,
  decode: { codec: Codec; sink: Sink | null; headSize: number } | null,
  o: Pick<PipelineOptions, 'limits' | 'onProgress' | 'eagerGc'>,
): Promise<StreamResult> {
  const scanner = new StreamScanner(scanDecls);
  const hasher = hash ? process.getBuiltinModule('node:crypto').createHash('sha256') : null;
  const headSize = decode?.headSize ?? 0;
  const head = decode ? new Uint8Array(headSize) : null;
  let total = 0;
  let collectedAt = 0;
  let inputDone = 0;
  // Without a decoder every consumer below is done with a chunk before the next read: reuse one buffer.
  const input = readFileRange(path, offset, size, (n) => {
    inputDone = n;
    o.onProgress?.(n, size);
  }, decode === null);
  const max = o.limits.maxDecodedSize;
  let stream: AsyncIterable<Uint8Array> = input;
  let consumed: number | null = null;
  if (decode) stream = decode.codec.decode(input, { maxOutput: max, onStreamEnd: (n) => { consumed ??= n; } });
  // Decoders resolve through microtasks only while they need no input (a bomb of zeros): give the event
  // loop a turn every few tens of ms so that SIGINT/SIGTERM/SIGHUP and timers are handled during any decode.
  let turnAt = Date.now();
  try {
    for await (const chunk of stream) {
      if (Date.now() - turnAt >= EVENT_LOOP_TURN_MS) {
        await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
        turnAt = Date.now();
      }
      if (decode && total + chunk.length > max) {
        throw new LimitError('maxDecodedSize', max, { offset: offset + inputDone });
      }
      if (head && total < headSize) head.set(chunk.subarray(0, Math.min(chunk.length, headSize - total)), total);
      total += chunk.length;
      if (!scanner.done) scanner.push(chunk);
      hasher?.update(chunk);
      if (!decode && !hasher && scanner.done) break; // stored bytes with nothing left to find: stop reading
      if (decode?.sink) await decode.sink.write(chunk);
      // Decoded chunks are new garbage each time; undecoded reads reuse one buffer and make none.
      if (o.eagerGc && decode && total - collectedAt >= COLLECT_EVERY) {
        collectedAt = total;
        collectGarbage();
      }
    }
  } catch (e) {
    if (e instanceof CodecError) {
      const at = e.inputOffset !== undefined ? offset + e.inputOffset : offset + inputDone;
      throw new DecodeError(`${e.codec} stream is corrupt: ${e.message}`, { offset: at }, { cause: e, expected: `a valid ${e.codec} stream`, found: `${humanSize(total)} decoded before the failure` });
    }
    throw e;
  } finally {
    // A decoder may stop reading at its end-of-stream marker: close the file now, not at GC.
    await input.return(undefined);
  }
  scanner.finish();
  if (decode && total === 0) {
    throw new DecodeError(`${decode.codec.name} stream decoded to nothing`, { offset }, { expected: 'a kernel image', found: '0 bytes' });
  }
  return { total, consumed, head: head ? head.subarray(0, Math.min(total, headSize)) : null, scans: scanner.hits, sha256: hasher ? hasher.digest('hex') : null };
}

function evalExpr(e: CompiledExpr, scope: Scope, limits: Limits, schema: string, layer: number): unknown {
  try {
    return evaluate(e.ast, scope, { steps: 0, maxSteps: limits.maxExprSteps });
  } catch (err) {
    throw new PipelineError('expression', `in '${e.source}': ${(err as Error).message}`, { schema, layer, path: e.source });
  }
}

function evaluateInt(e: CompiledExpr, scope: Scope, limits: Limits, schema: string, layer: number): number {
  const v = evalExpr(e, scope, limits, schema, layer);
  if (!isInt(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw new PipelineError('bad-region', `'${e.source}' = ${formatValue(v, 'auto')} is not a valid offset or size`, { schema, layer, path: e.source }, { expected: 'a non-negative integer', found: formatValue(v, 'auto') });
  }
  return Number(v);
}

function evaluateOptionalInt(e: CompiledExpr, scope: Scope, limits: Limits, schema: string, layer: number): number | bigint | null {
  const v = evalExpr(e, scope, limits, schema, layer);
  if (v === null) return null;
  if (!isInt(v)) throw new PipelineError('bad-region', `'${e.source}' is not an integer`, { schema, layer, path: e.source });
  return v;
}

function evaluateString(e: CompiledExpr, scope: Scope, limits: Limits, schema: string, layer: number): string {
  const v = evalExpr(e, scope, limits, schema, layer);
  if (typeof v !== 'string') throw new PipelineError('bad-codec-name', `'${e.source}' should name a codec, got ${formatValue(v, 'auto')}`, { schema, layer, path: e.source });
  return v;
}
