/**
 * Chains of segments (a region with `chain: true`): an initramfs is archives one after the other, some
 * stored (the early microcode cpio), others compressed each with its own codec, with zero bytes of
 * padding between them, as the kernel's init/initramfs.c unpacks it. Walked from the region's start:
 *   zero bytes are skipped; a stored segment is one an `inner` schema recognises, as long as its root
 *   struct reads; a stream a codec recognises by its magic is decoded, as long as the codec says its stream
 *   is, and the decoded bytes are read the same way (stored segments only: padding, then further
 *   archives); anything else is an error. Each segment is a layer of its own.
 */
import type { ByteSource } from '../core/bytes.js';
import { LimitError, PipelineError } from '../core/errors.js';
import { hexInt, quoteBytes } from '../expr/format.js';
import { detect, type Detection } from '../detect/detect.js';
import type { RegionInfo } from './analysis.js';
import type { Analysed, Follower } from './layer.js';
import { checkInLayer, chooseInner, type EvaluatedRegion, type Expect } from './regions.js';
import type { LayerBytes } from './store.js';
import { codecInfo, sniff, streamRange } from './stream.js';

/** Follows every segment of a chain region of `outer`. */
export async function walkChain(run: Follower, outer: Analysed, er: EvaluatedRegion): Promise<void> {
  const bytes = outer.current.bytes!;
  checkInLayer(er.schema, er.decl, er.info, bytes.size);
  const expect = chooseInner(er, run.o.registry, run.limits, outer.report.index);
  await walkSegments(run, outer, er, bytes.slice(er.info.offset, er.info.size), er.info.offset, expect, true);
}

/**
 * The segments in `bytes` (at offset `base` of `parent`'s layer). `streams`: whether compressed segments
 * may appear (not inside a decoded one).
 */
async function walkSegments(run: Follower, parent: Analysed, er: EvaluatedRegion, bytes: LayerBytes, base: number, expect: Expect, streams: boolean): Promise<void> {
  const layer = parent.report.index;
  let pos = 0;
  for (let n = 0; ; n++) {
    const where = (at: number): string => `segment ${n} at ${hexInt(base + at)} of region ${er.decl.id} (layer ${layer})`;
    pos = skipZeros(bytes.source, pos);
    if (pos >= bytes.size) return;
    if (n >= run.limits.maxRegions) throw new LimitError('maxRegions', run.limits.maxRegions, { layer, schema: er.schema.id });
    const rest = bytes.slice(pos, bytes.size - pos);
    const info = (size: number, codec: string | null): RegionInfo => ({
      schema: er.schema.id,
      id: er.decl.id,
      name: null,
      offset: base + pos,
      size,
      fileOffset: bytes.fileOffset === null ? null : bytes.fileOffset + pos,
      codec,
      segment: n,
    });
    const common = { parent: layer, main: false, depth: parent.current.depth + 1, scans: [], sha256: null } as const;

    const stored = storedSegment(run, rest.source, expect, () => where(pos));
    if (stored) {
      const size = segmentSize(stored, () => where(pos));
      await run.follow({ ...common, bytes: rest.slice(0, size), origin: 'segment', from: info(size, null), codec: null, expect: { schemas: [stored.schema], because: `chain ${er.decl.id} of ${er.schema.id}` } });
      pos += size;
      continue;
    }

    const codec = streams ? sniff(rest.source, run.o.codecs) : null;
    if (!codec) {
      const expected = expect?.schemas ? expect.schemas.map((s) => s.id).join(' or ') : 'a format kimg recognises';
      throw new PipelineError('bad-segment', `${where(pos)} is neither ${expected}${streams ? ` nor a stream of ${run.o.codecs.names().join(', ')}` : ' nor zero padding'}`, { layer, schema: er.schema.id, offset: base + pos }, {
        expected: `${expected}${streams ? ', a compressed stream' : ''} or zero padding`,
        found: `${quoteBytes(rest.source.slice(0, Math.min(16, rest.size)))}${rest.size > 16 ? '…' : ''}`,
      });
    }
    const capture = run.store.capture();
    const r = await streamRange(bytes, pos, bytes.size - pos, { codec, scans: [], hash: false, sink: null, capture }, run.o);
    if (r.consumed === null) {
      throw new PipelineError('stream-end-unknown', `${where(pos)}: the ${codec.name} codec does not say where its stream ends, so the segment after it cannot be found`, { layer, offset: base + pos });
    }
    const decodedBytes = capture.finish();
    const first = await run.follow({ ...common, bytes: decodedBytes, origin: 'decoded', from: info(r.consumed, codec.name), codec: codecInfo(null, codec), expect });
    const primary = first?.report.detections[0];
    if (first && primary) {
      // The decoded stream may hold further archives after the first, with padding (not more streams).
      const read = segmentSize(primary, () => `the ${codec.name} stream ${where(pos)}`);
      if (read < decodedBytes.size) await walkSegments(run, first, er, decodedBytes.slice(read, decodedBytes.size - read), read, expect, false);
    }
    pos += r.consumed;
  }
}

/** A stored segment at the start of `source`: the first candidate that reads it. A damaged one is an error. */
function storedSegment(run: Follower, source: ByteSource, expect: Expect, where: () => string): Detection | null {
  const got = detect(run.o.registry, source, run.limits, run.o.engine, expect?.schemas ?? undefined);
  const primary = got.matches[0];
  if (primary) return primary;
  const damage = got.damaged[0];
  if (damage) {
    if (damage.error instanceof LimitError) throw damage.error;
    throw new PipelineError('damaged-segment', `${where()}: ${damage.schema.id} (${damage.schema.title}) matches by its magic but is damaged: ${damage.error.message}`, {
      schema: damage.schema.id,
      ...(damage.error.where.path !== undefined ? { path: damage.error.where.path } : {}),
    }, { ...(damage.error.expected !== undefined ? { expected: damage.error.expected } : {}), ...(damage.error.found !== undefined ? { found: damage.error.found } : {}), cause: damage.error });
  }
  return null;
}

/** Bytes a segment occupies: what its schema's root struct read. */
function segmentSize(d: Detection, where: () => string): number {
  const size = d.result.layout?.size ?? 0;
  if (size <= 0) throw new PipelineError('no-progress', `${where()}: ${d.schema.id} reads no bytes, so the chain cannot go on`, { schema: d.schema.id });
  return size;
}

function skipZeros(source: ByteSource, from: number): number {
  let pos = from;
  while (pos < source.size) {
    const len = Math.min(64 * 1024, source.size - pos);
    const w = source.window(pos, len);
    const start = pos - w.base;
    let i = start;
    const end = start + len;
    while (i < end && w.bytes[i] === 0) i++;
    pos += i - start;
    if (i < end) return pos;
  }
  return pos;
}
