/**
 * `extract`: write one layer's bytes (the decoded kernel by default), a stored payload as is, or a
 * named PE section, through an atomic output.
 */
import { IoError, type KimgError, LimitError, PipelineError, UsageError } from '../core/errors.js';
import { currentFileState, fileChanges } from '../core/file-source.js';
import type { Kimg } from '../kimg.js';
import type { Analysis, LayerReport, RegionInfo, Sink } from './analysis.js';
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
  /** Empties the output to start again (a file can; a pipe cannot, so it has no rewind). */
  rewind?(): void;
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
  const counting: Sink = {
    write(chunk) {
      written += chunk.length;
      return out.write(chunk);
    },
  };
  const common = {
    scan: false,
    hash: false,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.eagerGc ? { eagerGc: true } : {}),
  };

  if (target.kind === 'raw') {
    const analysis = await k.analyze(input, { ...common, decode: false });
    if (analysis.error) throw analysis.error;
    const encoded = [...analysis.layers].reverse().find((l) => l.main && l.codec !== null && l.from !== null);
    if (!encoded?.from || encoded.from.fileOffset === null) {
      throw new UsageError('--raw: nothing in this file is stored compressed', { file: input });
    }
    await copyRegion(input, encoded.from.fileOffset, encoded.from.size, counting, k.limits.maxDecodedSize);
    return { analysis, what: `stored payload of layer ${encoded.index - 1} (${encoded.codec?.header ?? encoded.codec?.plugin})`, bytes: written };
  }

  // Layers are written while the analysis runs (decoded ones are kept only until it ends); the output is
  // committed only if the whole analysis then succeeds.
  let wrote: LayerReport | null = null;
  let refused: KimgError | null = null;
  let found: RegionInfo | null = null;
  // A decoded layer of the main path streamed into the output while it was decoded (so the output grows
  // with the decoder). For the innermost layer that is a guess: if the path goes on, the output is
  // rewound; an output that cannot rewind (a pipe) gets only a layer sure to be the last one.
  let streamed: number | null = null;
  const restart = (): void => {
    if (!out.rewind) throw new PipelineError('cannot-rewind', 'the output was given a layer that turned out not to be the innermost one, and it cannot be emptied again', { file: input });
    out.rewind();
    written = 0;
    streamed = null;
  };
  const section = target.kind === 'section' ? parseSectionName(target.name) : null;
  const analysis = await k.analyze(input, {
    ...common,
    decode: true,
    sinkFor: (index, last) => {
      if (target.kind === 'layer' ? target.index !== index : target.kind !== 'innermost' || !(last || out.rewind)) return null;
      if (streamed !== null) restart();
      streamed = index;
      return counting;
    },
    onLayer: async (layer, innermost) => {
      const l = layer.report;
      if (target.kind === 'innermost' && innermost) {
        refused = refusal(l, input);
        if (!refused && streamed !== l.index) {
          if (streamed !== null) restart();
          await layer.writeLayer(counting);
        }
        wrote = l;
      } else if (target.kind === 'layer' && !innermost && l.index === target.index) {
        if (streamed !== l.index) await layer.writeLayer(counting);
        wrote = l;
      } else if (section && !innermost && (section.layer === null || section.layer === l.index)) {
        const r = l.regions.find((x) => x.name === section.name);
        if (r) {
          await layer.writeRegion(r, counting);
          found = r;
          return true; // what was asked for is written: the layers after it are not needed
        }
      }
      return false;
    },
  });
  if (analysis.error) throw analysis.error;
  if (refused) throw refused;
  const layers = analysis.layers;

  if (target.kind === 'innermost' || target.kind === 'layer') {
    const index = target.kind === 'layer' ? target.index : (layers.filter((l) => l.main).pop()?.index ?? 0);
    const layer = layers[index];
    if (!layer) throw new UsageError(`--layer ${index}: the file has layers 0..${layers.length - 1}`, { file: input });
    if (!wrote) throw new UsageError(`layer ${index} was not produced`, { file: input });
    return { analysis, what: describeLayer(wrote), bytes: written };
  }

  const region = found as RegionInfo | null;
  if (!region) {
    const names = [...new Set(layers.filter((l) => section!.layer === null || l.index === section!.layer).flatMap((l) => l.regions.filter((r) => r.name !== null).map((r) => r.name!)))];
    const shown = names.length > MAX_NAMES_SHOWN ? `${names.slice(0, MAX_NAMES_SHOWN).join(', ')}, … (${names.length - MAX_NAMES_SHOWN} more: kimg info -v lists them)` : names.join(', ');
    const where = section!.layer === null ? '' : ` in layer ${section!.layer}`;
    throw new UsageError(`no section named ${JSON.stringify(section!.name)}${where}${names.length ? ` (sections: ${shown})` : ''}`, { file: input });
  }
  return { analysis, what: `section ${target.kind === 'section' ? target.name : ''}${region.codec ? ` (decoded by ${region.codec})` : ''}`, bytes: written };
}

const MAX_NAMES_SHOWN = 40;

/**
 * `--section NAME` looks in every layer, outermost first (the first layer with a region of that name
 * wins); `--section N:NAME` only in layer N.
 */
export function parseSectionName(spec: string): { readonly layer: number | null; readonly name: string } {
  const m = /^(\d+):(.+)$/s.exec(spec);
  return m ? { layer: Number(m[1]), name: m[2]! } : { layer: null, name: spec };
}

/**
 * A default extract writes "the kernel": only a layer kimg recognised and reached through the file's
 * headers. The input itself, or bytes no schema names, would be a copy dressed up as an answer.
 */
function refusal(layer: LayerReport, input: string): KimgError | null {
  if (layer.index === 0) {
    const what = layer.detections[0]?.schema.title ?? 'unrecognised data';
    return new PipelineError('nothing-to-extract', `the file itself is the innermost layer (${what}): there is no inner kernel to extract`, { file: input, layer: 0 }, {
      expected: 'a container (zboot, UKI, compressed stream) holding a kernel',
      found: what,
    });
  }
  if (!layer.detections.length) {
    return new PipelineError('nothing-to-extract', `layer ${layer.index} is not a recognised format, so kimg will not write it as the kernel (--layer ${layer.index} writes it on purpose)`, { file: input, layer: layer.index }, {
      expected: 'a recognised kernel image',
      found: 'unrecognised data',
    });
  }
  return null;
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
