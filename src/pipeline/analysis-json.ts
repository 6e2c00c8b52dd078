/**
 * The one JSON shape of an analysis, printed by `kimg info --json` / `kimg scan --json` and returned by
 * the library's analysisJson(): its keys are the names of `Analysis` and `LayerReport` (a Detection is
 * given by its schema id), plus the verdict `ok` and the `banner`. Documented, with a JSON Schema that
 * the tests validate real outputs against, in docs/analysis.schema.json.
 */
import type { Json } from '../render/annotate.js';
import type { Analysis, CheckReport, LayerReport, RegionInfo } from './analysis.js';
import type { KimgError } from '../core/errors.js';

/** The verdict: the pipeline finished, every layer recognised and undamaged, no error-level check failed. */
export function verdictOk(a: Analysis): boolean {
  return a.error === null && !a.checks.some((c) => c.status === 'error') && a.layers.every((l) => l.decoded && l.damaged.length === 0);
}

/** RegionInfo as JSON: the same keys (a mapped type, so that it is a plain JSON object type). */
export type RegionJson = { readonly [K in keyof RegionInfo]: RegionInfo[K] };

export type LayerJson = {
  readonly index: number;
  readonly origin: LayerReport['origin'];
  readonly parent: number | null;
  readonly main: boolean;
  /** null when the layer was not decoded (its size is not known). */
  readonly size: number | null;
  readonly decoded: boolean;
  /** Schema ids of LayerReport.detections, most refined first. */
  readonly detections: string[];
  readonly summary: string | null;
  readonly summaries: Record<string, string>;
  readonly from: RegionJson | null;
  readonly codec: { readonly header: string | null; readonly plugin: string; readonly library: string } | null;
  readonly regions: RegionJson[];
  readonly facts: Record<string, { readonly value: Json; readonly schema: string }>;
  readonly damaged: { readonly schema: string; readonly error: ErrorJson }[];
  readonly rejected: { readonly schema: string; readonly reason: string }[];
  readonly scans: Record<string, { readonly offset: number; readonly text: string }>;
  readonly sha256: string | null;
};

export type CheckJson = { readonly [K in keyof CheckReport]: CheckReport[K] };

export type ErrorJson = { readonly error: string; readonly kind: string; readonly message: string } & Record<string, Json>;

export type AnalysisJson = {
  readonly file: string;
  /** null only for a file that could not be opened (scan reports those too). */
  readonly size: number | null;
  readonly ok: boolean;
  readonly layers: LayerJson[];
  /** The kernel's version banner, from whichever layer held it. */
  readonly banner: string | null;
  readonly checks: CheckJson[];
  readonly error: ErrorJson | null;
};

export function regionJson(r: RegionInfo | null): RegionJson | null {
  return r && { schema: r.schema, id: r.id, name: r.name, offset: r.offset, size: r.size, fileOffset: r.fileOffset, codec: r.codec, segment: r.segment };
}

export function errorJson(e: KimgError): ErrorJson {
  return e.toJSON() as ErrorJson;
}

export function analysisJson(a: Analysis): AnalysisJson {
  const banner = a.layers.flatMap((l) => l.scans).find((s) => s.id === 'banner');
  return {
    file: a.file,
    size: a.size,
    ok: verdictOk(a),
    layers: a.layers.map((l) => ({
      index: l.index,
      origin: l.origin,
      parent: l.parent,
      main: l.main,
      size: l.decoded ? l.size : null,
      decoded: l.decoded,
      detections: l.detections.map((d) => d.schema.id),
      summary: l.summary,
      summaries: { ...l.summaries },
      from: regionJson(l.from),
      codec: l.codec ? { header: l.codec.header, plugin: l.codec.plugin, library: l.codec.library } : null,
      regions: l.regions.map((r) => regionJson(r)!),
      facts: Object.fromEntries(Object.entries(l.facts).map(([k, f]) => [k, { value: f.value as Json, schema: f.schema }])),
      damaged: l.damaged.map((d) => ({ schema: d.schema.id, error: errorJson(d.error) })),
      rejected: l.rejected.map((r) => ({ schema: r.schema, reason: r.reason })),
      scans: Object.fromEntries(l.scans.map((s) => [s.id, { offset: s.offset, text: s.text }])),
      sha256: l.sha256,
    })),
    banner: banner ? banner.text : null,
    checks: a.checks.map((c) => ({ layer: c.layer, id: c.id, status: c.status, message: c.message })),
    error: a.error ? errorJson(a.error) : null,
  };
}

/** The same shape for a file that could not be analysed at all (scan's line for an unreadable file). */
export function failedAnalysisJson(file: string, e: KimgError): AnalysisJson {
  return { file, size: null, ok: false, layers: [], banner: null, checks: [], error: errorJson(e) };
}
