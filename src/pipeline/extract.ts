/**
 * `extract`: write one layer's bytes (the decoded kernel by default), a stored payload as is, or a
 * named PE section, through an atomic output.
 */
import { IoError, LimitError, PipelineError, UsageError } from '../core/errors.js';
import { currentFileState, fileChanges } from '../core/file-source.js';
import type { Kimg } from '../kimg.js';
import type { Analysis, LayerReport, RegionInfo, Sink } from './pipeline.js';
import { readFileRange } from './read.js';

export type ExtractTarget =
  | { readonly kind: 'innermost' }
  | { readonly kind: 'layer'; readonly index: number }
  | { readonly kind: 'raw' }
  | { readonly kind: 'section'; readonly name: string };

export interface ExtractResult {
  readonly analysis: Analysis;
  /** What was written: "layer 1 (decoded gzip)", "section .initrd"... */
  readonly what: string;
  readonly bytes: number;
}

/** A sink that can be made permanent or thrown away (AtomicFile; stdout commits trivially). */
export interface Output extends Sink {
  commit(): void;
  abort(): void;
}

export interface ExtractOptions {
  readonly onProgress?: (done: number, total: number) => void;
  /** See PipelineOptions.eagerGc. */
  readonly eagerGc?: boolean;
}

export async function extract(k: Kimg, input: string, target: ExtractTarget, out: Output, options: ExtractOptions = {}): Promise<ExtractResult> {
  try {
    const r = await extractInto(k, input, target, out, options);
    out.commit();
    return r;
  } catch (e) {
    out.abort();
    throw e;
  }
}

async function extractInto(k: Kimg, input: string, target: ExtractTarget, out: Output, options: ExtractOptions): Promise<ExtractResult> {
  // The bytes written must come from the version of the file that was analysed: stored ranges are
  // copied by a second read after the analysis, so the file is compared before and after both.
  const before = currentFileState(input);
  const result = await extractChecked(k, input, target, out, options);
  const changes = typeof before === 'string' ? [] : fileChanges(before, currentFileState(input));
  if (changes.length) throw new IoError('changed', `the file changed while being extracted: ${changes.join(', ')}`, { file: input });
  return result;
}

async function extractChecked(k: Kimg, input: string, target: ExtractTarget, out: Output, options: ExtractOptions): Promise<ExtractResult> {
  let written = 0;
  let decodedInto: number | null = null;
  const counting: Sink = {
    write(chunk) {
      written += chunk.length;
      return out.write(chunk);
    },
  };
  const wantsDecode = target.kind === 'innermost' || target.kind === 'layer';
  const analysis = await k.analyze(input, {
    decode: wantsDecode,
    scan: false,
    hash: false,
    sinkFor: (layer) => {
      if (target.kind === 'innermost' || (target.kind === 'layer' && target.index === layer)) {
        decodedInto = layer;
        return counting;
      }
      return null;
    },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.eagerGc ? { eagerGc: true } : {}),
  });
  if (analysis.error) throw analysis.error;
  const layers = analysis.layers;
  const last = layers[layers.length - 1]!;

  if (target.kind === 'innermost' || target.kind === 'layer') {
    const index = target.kind === 'layer' ? target.index : last.index;
    const layer = layers[index];
    if (!layer) throw new UsageError(`--layer ${index}: the file has layers 0..${layers.length - 1}`, { file: input });
    if (target.kind === 'innermost') refuseUnlessKernel(layer, input);
    if (decodedInto === index) return { analysis, what: describeLayer(layer), bytes: written };
    if (layer.origin === 'decoded') throw new UsageError(`layer ${index} was not produced`, { file: input });
    await copyRegion(input, layerFileOffset(layers, index), layer.size, counting, k.limits.maxDecodedSize);
    return { analysis, what: describeLayer(layer), bytes: written };
  }

  if (target.kind === 'raw') {
    const encoded = [...layers].reverse().find((l) => l.codec !== null && l.from !== null);
    if (!encoded?.from || encoded.from.fileOffset === null) {
      throw new UsageError('--raw: nothing in this file is stored compressed', { file: input });
    }
    await copyRegion(input, encoded.from.fileOffset, encoded.from.size, counting, k.limits.maxDecodedSize);
    return { analysis, what: `stored payload of layer ${encoded.index - 1} (${encoded.codec?.header ?? encoded.codec?.plugin})`, bytes: written };
  }

  const found = findSection(layers, target.name);
  if (!found) {
    const names = [...new Set(layers.flatMap((l) => l.regions.filter((r) => r.name !== null).map((r) => r.name!)))];
    throw new UsageError(`no section named ${JSON.stringify(target.name)}${names.length ? ` (sections: ${names.join(', ')})` : ''}`, { file: input });
  }
  await copyRegion(input, found.fileOffset!, found.size, counting, k.limits.maxDecodedSize);
  return { analysis, what: `section ${target.name}`, bytes: written };
}

/**
 * A default extract writes "the kernel": only a layer kimg recognised and reached through the file's
 * headers. The input itself, or bytes no schema names, would be a copy dressed up as an answer.
 */
function refuseUnlessKernel(layer: LayerReport, input: string): void {
  if (layer.index === 0) {
    const what = layer.detections[0]?.schema.title ?? 'unrecognised data';
    throw new PipelineError('nothing-to-extract', `the file itself is the innermost layer (${what}): there is no inner kernel to extract`, { file: input, layer: 0 }, {
      expected: 'a container (zboot, UKI, compressed stream) holding a kernel',
      found: what,
    });
  }
  if (!layer.detections.length) {
    throw new PipelineError('nothing-to-extract', `layer ${layer.index} is not a recognised format, so kimg will not write it as the kernel (--layer ${layer.index} writes it on purpose)`, { file: input, layer: layer.index }, {
      expected: 'a recognised kernel image',
      found: 'unrecognised data',
    });
  }
}

function findSection(layers: readonly LayerReport[], name: string): RegionInfo | null {
  for (const l of layers) {
    const r = l.regions.find((x) => x.name === name && x.fileOffset !== null);
    if (r) return r;
  }
  return null;
}

function layerFileOffset(layers: readonly LayerReport[], index: number): number {
  const l = layers[index]!;
  if (index === 0) return 0;
  if (l.from?.fileOffset === null || !l.from) throw new UsageError(`layer ${index} is not stored in the file`);
  return l.from.fileOffset;
}

function describeLayer(l: LayerReport): string {
  const what = l.detections[0]?.schema.title ?? 'unrecognised data';
  return `layer ${l.index} (${what}${l.codec ? `, decoded from ${l.codec.header ?? l.codec.plugin}` : ''})`;
}

/** Copies a stored range; `max` (--max-size) bounds it as it bounds a decoded layer. */
async function copyRegion(input: string, offset: number, size: number, sink: Sink, max: number): Promise<void> {
  if (size > max) throw new LimitError('maxDecodedSize', max, { file: input, offset });
  for await (const chunk of readFileRange(input, offset, size)) await sink.write(chunk);
}
