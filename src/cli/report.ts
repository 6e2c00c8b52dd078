/**
 * Turns analyses and parse results into the CLI's text and JSON shapes. Pure functions: no I/O.
 */
import type { Json } from '../render/annotate.js';
import { annotateStruct } from '../render/annotate.js';
import { renderStruct } from '../render/text.js';
import { humanSize, hexInt } from '../expr/format.js';
import type { Analysis, CheckReport, LayerReport } from '../pipeline/pipeline.js';
import { regionJson, } from '../pipeline/analysis-json.js';
import type { Detection } from '../detect/detect.js';
import type { ParseResult } from '../engine.js';

/** Detections worth a line: the most refined, and what they directly refine (not MZ under PE under zboot). */
export function shownDetections(layer: LayerReport): Detection[] {
  const byId = new Map(layer.detections.map((d) => [d.schema.id, d]));
  return layer.detections
    .filter((d) => d.refinedBy.every((r) => (byId.get(r)?.refinedBy.length ?? 0) === 0))
    .reverse();
}

function summaryOf(l: LayerReport, d: Detection): string {
  return l.summaries[d.schema.id] ?? d.schema.title;
}

/**
 * One layer in one line: the most refined format first, then what it refines (`brief`: only the
 * first); a layer no schema describes but a codec decoded (a bare Image.bz2) is that codec's stream.
 */
export function layerDescription(a: Analysis, index: number, brief = false): string {
  const l = a.layers[index]!;
  if (!l.decoded) return `(not decoded) ${l.codec ? `${l.codec.header ?? l.codec.plugin} stream of ${humanSize(l.from?.size ?? 0)}` : ''}`;
  const shown = shownDetections(l).reverse();
  if (shown.length) return (brief ? shown.slice(0, 1) : shown).map((d) => summaryOf(l, d)).join('; ');
  const next = a.layers[index + 1];
  if (next?.codec && next.from?.schema === '(none)') return `${next.codec.plugin} stream, ${humanSize(l.size)}`;
  return `${l.damaged.length ? 'damaged' : 'unrecognised'} data, ${humanSize(l.size)}`;
}

/** Where a layer off the main path lies: its parent layer and region (and segment of a chain). */
function sideOrigin(l: LayerReport): string {
  const r = l.from;
  if (!r) return `layer ${l.parent}`;
  const name = r.name ? ` ${r.name}` : '';
  const segment = r.segment !== null ? ` segment ${r.segment}` : '';
  return `layer ${l.parent} ${r.id}${name}${segment}${l.codec ? ` (${l.codec.header ?? l.codec.plugin})` : ''}`;
}

export function infoText(a: Analysis, verbose: boolean): string[] {
  const lines: string[] = [`${a.file}: ${a.size} bytes (${humanSize(a.size)})`];
  for (const l of a.layers) {
    // One line per layer: an arrow is a step inward along the main path; a layer of another region
    // (an initramfs beside the kernel) says where it lies.
    lines.push(`${l.index === 0 ? '   ' : l.main ? '-> ' : ` + layer ${l.index} in ${sideOrigin(l)}: `}${layerDescription(a, l.index)}`);
    if (!l.decoded) continue;
    for (const d of l.damaged) lines.push(`     damaged: ${d.schema.id} matches by its magic but cannot be read: ${d.error.describe()}`);
    if (verbose) {
      for (const d of l.detections) lines.push(`     tried ${d.schema.id}: matches${d.refinedBy.length ? ` (refined by ${d.refinedBy.join(', ')})` : ''}`);
      for (const r of l.rejected) lines.push(`     tried ${r.schema}: no: ${r.reason}`);
      for (const [k, f] of Object.entries(l.facts)) lines.push(`     fact ${k} = ${typeof f.value === 'number' || typeof f.value === 'bigint' ? hexInt(f.value) : String(f.value)} (${f.schema})`);
      for (const r of l.regions) lines.push(`     region ${r.id}${r.name ? ` ${r.name}` : ''}: ${humanSize(r.size)} at ${hexInt(r.offset)}${r.codec ? ` (${r.codec})` : ''}`);
    }
    if (l.sha256) lines.push(`     sha256 ${l.sha256}`);
  }
  // Every string the layers' schemas scan for (the kernel's banner...), found or not: names are data.
  const hits = a.layers.flatMap((l) => l.scans);
  for (const id of scanIds(a)) {
    const found = hits.find((s) => s.id === id);
    lines.push(`${id}: ${found ? found.text : '(none found)'}`);
  }
  for (const g of summarizeChecks(a.checks)) {
    const c = g.first;
    const id = g.count > 1 ? `${g.pattern} (${g.count} elements)` : c.id;
    lines.push(`${c.status.padEnd(7)} layer ${c.layer} ${id}${c.status === 'ok' ? '' : `: ${c.message}`}`);
  }
  return lines;
}

/**
 * Passed checks of array elements, one line per check rather than per element: `entries[*].magic
 * (9 elements)`. A check that did not pass is always shown on its own line, with its element's index.
 */
function summarizeChecks(checks: readonly CheckReport[]): { first: CheckReport; pattern: string; count: number }[] {
  const out: { first: CheckReport; pattern: string; count: number }[] = [];
  const byKey = new Map<string, { first: CheckReport; pattern: string; count: number }>();
  for (const c of checks) {
    const pattern = c.id.replace(/\[\d+\]/g, '[*]');
    if (c.status !== 'ok' || pattern === c.id) {
      out.push({ first: c, pattern, count: 1 });
      continue;
    }
    const key = `${c.layer}\0${pattern}`;
    const g = byKey.get(key);
    if (g) g.count++;
    else {
      const fresh = { first: c, pattern, count: 1 };
      byKey.set(key, fresh);
      out.push(fresh);
    }
  }
  return out;
}

export function dumpJson(a: Analysis, all: boolean, offsets: boolean): Json {
  return {
    file: a.file,
    size: a.size,
    layers: a.layers.map((l) => ({
      index: l.index,
      origin: l.origin,
      from: regionJson(l.from),
      codec: l.codec ? l.codec.header ?? l.codec.plugin : null,
      detections: l.detections.map((d) => d.schema.id),
      headers: Object.fromEntries(
        (all ? l.detections : l.detections.filter((d) => d.refinedBy.length === 0)).map((d) => [d.schema.id, parseJson(d.result, offsets)]),
      ),
    })),
    error: a.error ? (a.error.toJSON() as Json) : null,
  };
}

export function parseJson(r: ParseResult, offsets: boolean): Json {
  return annotateStruct(r.value, r.layout!, { offsets });
}

export function dumpText(a: Analysis, all: boolean): string[] {
  const lines: string[] = [`${a.file}: ${a.size} bytes`];
  for (const l of a.layers) {
    const from = l.from ? ` from ${l.from.schema} ${l.from.id} at ${hexInt(l.from.offset)}${l.codec ? `, decoded by ${l.codec.plugin}` : ''}` : '';
    lines.push(`layer ${l.index} (${l.origin}${from})`);
    for (const d of all ? l.detections : l.detections.filter((x) => x.refinedBy.length === 0)) {
      lines.push(`  ${d.schema.id}: ${d.schema.title}`);
      lines.push(...parseText(d.result, '    '));
    }
  }
  return lines;
}

export function parseText(r: ParseResult, indent = '  '): string[] {
  return renderStruct(r.value, r.layout!, indent);
}

/** The scan ids of the schemas that read the layers, in layer order, each once. */
export function scanIds(a: Analysis): string[] {
  const ids = new Set<string>();
  for (const l of a.layers) for (const d of l.detections) for (const s of d.schema.scans) ids.add(s.id);
  for (const l of a.layers) for (const s of l.scans) ids.add(s.id);
  return [...ids];
}
