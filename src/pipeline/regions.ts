/**
 * Regions, evaluated: where each region of a layer lies (its `if`, offset and size, or its markers found
 * by scanning the layer), what it is called, which codec and inner schema it names, and the checks of the
 * region the pipeline follows. Expressions here see the root struct of the schema declaring the region.
 */
import type { ByteSource } from '../core/bytes.js';
import { KimgError, LimitError, PipelineError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { CodecRegistry } from '../codecs/registry.js';
import type { Codec } from '../codecs/types.js';
import type { Detection } from '../detect/detect.js';
import { evaluate, type Scope } from '../expr/evaluate.js';
import { formatValue, hexInt, quoteBytes } from '../expr/format.js';
import { rootScope } from '../expr/scope.js';
import { renderTemplate } from '../expr/template.js';
import { isInt, truthy } from '../expr/values.js';
import type { SchemaRegistry } from '../schema/registry.js';
import { ANY_SCHEMA, type CheckDef, type CompiledExpr, type RegionDecl, type SchemaDef } from '../types.js';
import type { CheckReport, RegionInfo } from './analysis.js';
import { SliceSource } from './sources.js';
import { sniff } from './stream.js';

/** A region as evaluated, with what following it needs: its declaration and the scope it was evaluated in. */
export interface EvaluatedRegion {
  readonly info: RegionInfo;
  readonly decl: RegionDecl;
  readonly schema: SchemaDef;
  /** The root scope, with `_` and `_index` set for an element of a family. */
  readonly scope: Scope;
}

/** What a followed region may hold: one schema, any recognisable format, or (for a chain) a list. */
export type Expect = { readonly schemas: readonly SchemaDef[] | null; readonly because: string } | null;

export interface LayerRegions {
  readonly regions: EvaluatedRegion[];
  /** Regions (not families) whose expressions failed: left out of the list, raised if followed. */
  readonly failed: ReadonlyMap<RegionDecl, KimgError>;
}

/**
 * Every region every matching schema declares and that exists (its `if` holds, its start marker is
 * there), for listing, --section and following. A region whose expressions fail is left out of the list
 * (the error is raised if the pipeline follows it); a start marker without an end marker is an error.
 */
export function evaluateRegions(detections: readonly Detection[], source: ByteSource, fileOffset: number | null, limits: Limits, layer: number): LayerRegions {
  const regions: EvaluatedRegion[] = [];
  const failed = new Map<RegionDecl, KimgError>();
  for (const d of detections) {
    for (const r of d.schema.regions) {
      if (!r.each) {
        const scope = rootScope(d.result.value, source.size);
        try {
          const info = evaluateRegion(d.schema, r, scope, source, fileOffset, limits, layer);
          if (info) regions.push({ info, decl: r, schema: d.schema, scope });
        } catch (e) {
          if (!(e instanceof KimgError) || e instanceof LimitError || isMarkerError(e)) throw e;
          failed.set(r, e);
        }
        continue;
      }
      const items = evalExpr(r.each, rootScope(d.result.value, source.size), limits, d.schema.id, layer);
      if (!Array.isArray(items)) continue;
      if (regions.length + items.length > limits.maxRegions) throw new LimitError('maxRegions', limits.maxRegions, { layer, schema: d.schema.id });
      items.forEach((item, i) => {
        const scope = rootScope(d.result.value, source.size);
        scope.elem = item;
        scope.index = i;
        try {
          const info = evaluateRegion(d.schema, r, scope, source, fileOffset, limits, layer);
          if (info) regions.push({ info, decl: r, schema: d.schema, scope });
        } catch (e) {
          if (!(e instanceof KimgError) || e instanceof LimitError) throw e;
        }
      });
    }
  }
  return { regions, failed };
}

function isMarkerError(e: KimgError): boolean {
  return e instanceof PipelineError && e.code === 'marker-missing';
}

/**
 * The region the pipeline follows for a schema: its first `main` region (not a family) that exists, or
 * whose expressions failed (that failure is then the layer's error).
 */
export function mainRegion(schema: SchemaDef, evaluated: LayerRegions): EvaluatedRegion | KimgError | null {
  for (const r of schema.regions) {
    if (!r.main || r.each) continue;
    const failure = evaluated.failed.get(r);
    if (failure) return failure;
    const er = evaluated.regions.find((e) => e.decl === r);
    if (er) return er;
  }
  return null;
}

/**
 * One region: null when its `if` is false or its start marker absent. Throws when an expression fails or
 * gives no valid offset or size, or a start marker has no end marker after it.
 */
export function evaluateRegion(schema: SchemaDef, r: RegionDecl, scope: Scope, source: ByteSource, fileOffset: number | null, limits: Limits, layer: number): RegionInfo | null {
  if (r.when && !truthy(evalExpr(r.when, scope, limits, schema.id, layer))) return null;
  let offset: number;
  let size: number;
  if (r.markers) {
    const from = r.offset ? evaluateInt(r.offset, scope, limits, schema.id, layer) : 0;
    const span = r.size ? evaluateInt(r.size, scope, limits, schema.id, layer) : Math.max(0, source.size - from);
    if (from + span > source.size) throw outOfBounds(schema, r, from, span, source.size);
    const found = findBetween(source, from, span, r.markers.start, r.markers.end);
    if (found === null) return null;
    if (typeof found === 'number') {
      throw new PipelineError('marker-missing', `region ${r.id}: start marker ${quoteBytes(r.markers.start)} at ${hexInt(found)} has no end marker ${quoteBytes(r.markers.end)} after it`, { schema: schema.id, layer, offset: found }, {
        expected: `${quoteBytes(r.markers.end)} before ${hexInt(from + span)}`,
        found: 'no end marker',
      });
    }
    ({ offset, size } = found);
  } else {
    offset = evaluateInt(r.offset!, scope, limits, schema.id, layer);
    size = evaluateInt(r.size!, scope, limits, schema.id, layer);
  }
  const name = r.name ? evalExpr(r.name, scope, limits, schema.id, layer) : null;
  const codec = r.codec ? evalExpr(r.codec, scope, limits, schema.id, layer) : null;
  return {
    schema: schema.id,
    id: r.id,
    name: name === null ? null : formatValue(name, 'raw'),
    offset,
    size,
    fileOffset: fileOffset === null ? null : fileOffset + offset,
    codec: codec === null ? null : formatValue(codec, 'raw'),
    segment: null,
  };
}

/** The region must lie inside its layer. */
export function checkInLayer(schema: SchemaDef, r: RegionDecl, info: RegionInfo, layerSize: number): void {
  if (info.offset + info.size > layerSize) throw outOfBounds(schema, r, info.offset, info.size, layerSize);
}

function outOfBounds(schema: SchemaDef, r: RegionDecl, offset: number, size: number, layerSize: number): PipelineError {
  return new PipelineError('region-out-of-bounds', `region ${r.id} ${hexInt(offset)}..${hexInt(offset + size)} runs past the end of the layer`, { schema: schema.id, offset }, {
    expected: `end <= ${hexInt(layerSize)}`,
    found: hexInt(offset + size),
  });
}

/** Bytes searched per window; a marker split between two windows is found through the overlap. */
const SEARCH_WINDOW = 1 << 20;

/**
 * The bytes between the first `start` in [from, from + span) and the first `end` after it: the region's
 * place, null without a start marker, or the start marker's offset when no end marker follows it.
 */
export function findBetween(source: ByteSource, from: number, span: number, start: Uint8Array, end: Uint8Array): { offset: number; size: number } | number | null {
  const s = indexOf(source, start, from, from + span);
  if (s < 0) return null;
  const body = s + start.length;
  const e = indexOf(source, end, body, from + span);
  if (e < 0) return s;
  return { offset: body, size: e - body };
}

function indexOf(source: ByteSource, needle: Uint8Array, from: number, to: number): number {
  const pattern = Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength);
  for (let at = from; at + needle.length <= to; at += SEARCH_WINDOW) {
    const len = Math.min(SEARCH_WINDOW + needle.length - 1, to - at);
    const w = source.window(at, len);
    const bytes = Buffer.from(w.bytes.buffer, w.bytes.byteOffset + (at - w.base), len);
    const i = bytes.indexOf(pattern);
    if (i >= 0) return at + i;
  }
  return -1;
}

/** Runs the checks of the region being followed; an error-level failure stops the pipeline. */
export function runRegionChecks(checks: readonly CheckDef[], scope: Scope, layer: number, limits: Limits, out: CheckReport[]): void {
  for (const c of checks) {
    let ok: boolean;
    try {
      ok = truthy(evaluate(c.assert.ast, scope, { steps: 0, maxSteps: limits.maxExprSteps }));
    } catch (e) {
      ok = false;
      out.push({ layer, id: c.id, status: c.severity, message: `check could not be evaluated: ${(e as Error).message}` });
      if (c.severity === 'error') throw new PipelineError('check-failed', `check ${c.id} could not be evaluated: ${(e as Error).message}`, { layer });
      continue;
    }
    if (ok) {
      out.push({ layer, id: c.id, status: 'ok', message: 'ok' });
      continue;
    }
    const message = renderTemplate(c.message, scope, { steps: 0, maxSteps: limits.maxExprSteps });
    out.push({ layer, id: c.id, status: c.severity, message });
    if (c.severity === 'error') throw new PipelineError('check-failed', message, { layer }, { expected: c.assert.source });
  }
}

/**
 * What the region holds, by its `inner` list: the first candidate whose `when` holds (`*`: any format);
 * no list: any format. A chain takes every candidate whose `when` holds (a segment may be any of them).
 */
export function chooseInner(er: EvaluatedRegion, registry: SchemaRegistry, limits: Limits, layer: number): Expect {
  const { decl: r, schema, scope } = er;
  const chosen: SchemaDef[] = [];
  const because: string[] = [];
  for (const c of r.inner) {
    if (c.when && !truthy(evalExpr(c.when, scope, limits, schema.id, layer))) continue;
    if (c.schema === ANY_SCHEMA) {
      if (!chosen.length) return { schemas: null, because: c.when ? `${schema.id} (${c.when.source})` : schema.id };
      break;
    }
    chosen.push(registry.get(c.schema));
    because.push(c.when ? `${schema.id} (${c.when.source})` : schema.id);
    if (!r.chain) break;
  }
  if (chosen.length) return { schemas: chosen, because: because[0]! };
  if (r.inner.length) {
    throw new PipelineError('no-inner-candidate', `none of the formats region ${r.id} may hold applies`, { schema: schema.id }, {
      expected: r.inner.map((c) => `${c.schema} when ${c.when?.source ?? 'always'}`).join('; '),
      found: 'no condition true',
    });
  }
  return null;
}

/** The codec a region names (through its `codecs` map), null for stored data; by magic when it says so. */
export function regionCodec(er: EvaluatedRegion, source: ByteSource, codecs: CodecRegistry, limits: Limits, layer: number): { codec: Codec; header: string | null } | null {
  const { decl: r, schema, scope, info } = er;
  if (r.codec) {
    const named = evalExpr(r.codec, scope, limits, schema.id, layer);
    if (named === null) return null;
    if (typeof named !== 'string') throw new PipelineError('bad-codec-name', `'${r.codec.source}' should name a codec, got ${formatValue(named, 'auto')}`, { schema: schema.id, layer, path: r.codec.source });
    const pluginName = r.codecs.size ? r.codecs.get(named) : named;
    if (pluginName === null) return null;
    const codec = pluginName !== undefined ? codecs.get(pluginName) : undefined;
    if (!codec) {
      throw new PipelineError('unknown-codec', `${r.codec.source} "${named}" names no known codec`, { schema: schema.id, path: r.codec.source }, {
        expected: r.codecs.size ? [...r.codecs.keys()].map((k) => `"${k}"`).join(', ') : codecs.names().join(', '),
        found: JSON.stringify(named),
      });
    }
    return { codec, header: named };
  }
  if (!r.codecByMagic) return null;
  // The header does not name the codec (an x86 bzImage): the payload's own magic does.
  const payload = new SliceSource(source, info.offset, info.size);
  const codec = sniff(payload, codecs);
  if (!codec) {
    throw new PipelineError('unknown-codec', `no codec recognises the payload of region ${r.id} by its magic`, { schema: schema.id, layer, offset: info.offset }, {
      expected: `a stream of ${codecs.names().join(', ')}`,
      found: `${quoteBytes(payload.slice(0, Math.min(8, info.size)))}`,
    });
  }
  return { codec, header: null };
}

/** The decoded size the header claims (`expected_size`), or null when it makes none. */
export function expectedSize(er: EvaluatedRegion, limits: Limits, layer: number): { value: number | bigint; modulo: bigint | null } | null {
  const { decl: r, schema, scope } = er;
  if (!r.expectedSize) return null;
  const v = evalExpr(r.expectedSize, scope, limits, schema.id, layer);
  if (v === null) return null;
  if (!isInt(v)) throw new PipelineError('bad-region', `'${r.expectedSize.source}' is not an integer`, { schema: schema.id, layer, path: r.expectedSize.source });
  return { value: v, modulo: r.expectedSizeModulo };
}

export function evalExpr(e: CompiledExpr, scope: Scope, limits: Limits, schema: string, layer: number): unknown {
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
