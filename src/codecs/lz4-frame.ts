import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, asCodecError, yieldToEventLoop } from './_util.js';

/**
 * The LZ4 *frame* format (lz4 CLI default, magic 04 22 4D 18): what U-Boot's `mkimage -C lz4` payloads are
 * (its lib/lz4_wrapper.c reads frames), unlike the kernel's legacy lz4 (./lz4-legacy.ts).
 *
 * Layout (the lz4 frame format description, v1.6.x): magic, FLG (version 01, block independence, block
 * checksum, content size, content checksum, dictionary id), BD (block max size 64 KiB / 256 KiB / 1 MiB /
 * 4 MiB), optional le64 content size, optional le32 dictionary id, HC = (xxh32(FLG..) >> 8) & 0xff; then blocks of
 * [le32 size, top bit = stored uncompressed][data][le32 xxh32 of the data if block checksums], ended by a zero
 * size word; then the le32 xxh32 of the whole content if content checksum.
 *
 * The container is walked here; compressed blocks are decoded by lz4-napi's block decoder (lz4_flex), linked
 * blocks (`-BD`) with the previous 64 KiB of output as its dictionary; xxHash32 is xxhash-wasm's. lz4-napi's own
 * `decompressFrameSync` is one-shot (the whole frame in, the whole output out, no limit), so it cannot stop at
 * `maxOutput` (docs/codecs.md, lz4 frame). Memory: one block's input and output (≤ 4 MiB each) and the 64 KiB window.
 *
 * Checked, each with its input offset: magic, version, reserved bits, block max size, header checksum, each
 * block's size (≤ block max size) and checksum, each block decoding to ≤ block max size, the content size (if
 * present) against what was decoded, the content checksum. A frame needing a dictionary is refused (kimg has
 * none to give, as `lz4 -d` without `-D`). Skippable frames (0x184D2A50..5F) before the frame are skipped, as
 * `lz4 -d` does; one frame is decoded, and what follows it (a further frame, padding) is trailing data: the
 * frame's length is reported through onStreamEnd and nothing after it is read.
 */
export const lz4Frame: Codec = {
  name: 'lz4-frame',
  description: 'LZ4 frame format (lz4 CLI default): U-Boot "lz4" payloads, .lz4 files',
  library: 'lz4-napi@2.10.0 (block decoder; frame container in kimg), xxhash-wasm@1.1.0 (xxHash32)',
  sniff: (head) => head.length >= 4 && le32(head, 0) === FRAME_MAGIC,
  decode: decodeLz4Frame,
};

const FRAME_MAGIC = 0x184d2204;
/** Block max sizes by BD's 3-bit field (4..7); 0..3 are reserved. */
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
/** Linked blocks may refer back this far (LZ4's maximum match distance). */
const WINDOW = 64 << 10;

function le32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function isSkippable(magic: number): boolean {
  return (magic & 0xfffffff0) === 0x184d2a50;
}

interface Lz4Napi {
  uncompressSync(d: Uint8Array, dict?: Uint8Array): Uint8Array;
}
interface Xxh32State {
  update(input: Uint8Array): Xxh32State;
  digest(): number;
}
interface Libraries {
  readonly lz4: Lz4Napi;
  readonly create32: (seed?: number) => Xxh32State;
  readonly h32Raw: (input: Uint8Array, seed?: number) => number;
}

let loader: Promise<Libraries> | undefined;
function loadLibraries(): Promise<Libraries> {
  loader ??= (async () => {
    const lz = (await import('lz4-napi')) as unknown as Partial<Lz4Napi> & { default?: Partial<Lz4Napi> };
    const lz4 = typeof lz.uncompressSync === 'function' ? lz : lz.default;
    if (typeof lz4?.uncompressSync !== 'function') throw new Error('lz4-napi has no uncompressSync');
    const { default: xxhash } = await import('xxhash-wasm');
    const { create32, h32Raw } = await xxhash();
    return { lz4: lz4 as Lz4Napi, create32, h32Raw };
  })();
  loader.catch(() => (loader = undefined));
  return loader;
}

const fail = (message: string, at: number): CodecError => new CodecError('lz4-frame', `lz4-frame: ${message} at input offset ${at}`, at);
/** Input ran out at `at` (the wording every codec uses for truncation). */
const truncated = (at: number, detail: string): CodecError => new CodecError('lz4-frame', `lz4-frame: stream truncated at input offset ${at} (${detail})`, at);

async function* decodeLz4Frame(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let libs: Libraries;
  try {
    libs = await loadLibraries();
  } catch (e) {
    throw new CodecError('lz4-frame', `lz4-frame: cannot load its libraries (lz4-napi, xxhash-wasm): ${(e as Error).message}`, undefined, { cause: e });
  }
  const r = new ByteReader(source);
  const exactly = async (n: number, what: string): Promise<Uint8Array> => {
    const at = r.offset;
    const b = await r.read(n);
    if (b.length < n) throw truncated(r.offset, `${what} at ${at} needs ${n} bytes, ${b.length} left`);
    return b;
  };
  try {
    // Skippable frames first, as lz4 -d skips them.
    let start = r.offset;
    let magic = le32(await exactly(4, 'frame magic'), 0);
    while (isSkippable(magic)) {
      let left = le32(await exactly(4, 'skippable frame size'), 0);
      while (left > 0) {
        const c = await r.chunk(Math.min(left, 1 << 20));
        if (!c) throw truncated(r.offset, `inside the skippable frame at ${start}`);
        left -= c.length;
      }
      start = r.offset;
      magic = le32(await exactly(4, 'frame magic'), 0);
    }
    if (magic !== FRAME_MAGIC) throw fail(`bad magic 0x${magic.toString(16).padStart(8, '0')} (an LZ4 frame starts 04 22 4D 18)`, start);

    // Frame descriptor.
    const descriptorAt = r.offset;
    const fb = (await exactly(2, 'frame descriptor')).slice();
    const flg = fb[0]!;
    const bd = fb[1]!;
    if (flg >> 6 !== 1) throw fail(`unsupported frame version ${flg >> 6} (FLG 0x${flg.toString(16)}; only version 01 exists)`, descriptorAt);
    if (flg & 0x02) throw fail('reserved FLG bit 1 set', descriptorAt);
    if (bd & 0x8f) throw fail(`reserved BD bits set (BD 0x${bd.toString(16)})`, descriptorAt + 1);
    const blockMax = BLOCK_MAX_SIZES[(bd >> 4) & 7];
    if (blockMax === undefined) throw fail(`reserved block max size ${(bd >> 4) & 7} in BD`, descriptorAt + 1);
    const independent = (flg & 0x20) !== 0;
    const blockChecksums = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    const optional = (hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0);
    const rest = (await exactly(optional + 1, 'frame descriptor')).slice();
    const descriptor = new Uint8Array(2 + optional);
    descriptor.set(fb);
    descriptor.set(rest.subarray(0, optional), 2);
    const hc = rest[optional]!;
    const wantHc = (libs.h32Raw(descriptor, 0) >>> 8) & 0xff;
    if (hc !== wantHc) throw fail(`header checksum 0x${hc.toString(16)} does not match the descriptor (xxh32 gives 0x${wantHc.toString(16)})`, descriptorAt + 2 + optional);
    const contentSize = hasContentSize ? Number(new DataView(rest.buffer, rest.byteOffset, 8).getBigUint64(0, true)) : undefined;
    if (hasDictId) throw fail(`the frame needs dictionary id 0x${le32(rest, hasContentSize ? 8 : 0).toString(16)}, which kimg does not have`, descriptorAt + 2 + (hasContentSize ? 8 : 0));

    const content = contentChecksum ? libs.create32(0) : undefined;
    let produced = 0;
    /** The last up to 64 KiB of output, the dictionary of the next linked block. */
    let window: Uint8Array = new Uint8Array(0);
    /** Size-prefixed block buffer for lz4-napi (lz4_flex's size-prepended form; the prefix is the output capacity). */
    let framed: Uint8Array = new Uint8Array(0);
    for (;;) {
      const at = r.offset;
      const word = le32(await exactly(4, 'block size'), 0);
      if (word === 0) break; // EndMark
      const stored = (word & 0x80000000) !== 0;
      const size = word & 0x7fffffff;
      if (size > blockMax) throw fail(`block size ${size} above the frame's block max size ${blockMax}`, at);
      // The block's stored bytes (a stored block is copied: it is yielded as is).
      let data: Uint8Array;
      if (stored) data = (await exactly(size, `stored block at ${at}`)).slice();
      else {
        if (framed.length < 4 + size) {
          framed = new Uint8Array(4 + blockMax);
          new DataView(framed.buffer).setUint32(0, blockMax, true);
        }
        const got = await r.readInto(framed, 4, size);
        if (got < size) throw truncated(r.offset, `block at ${at} has ${got} of ${size} bytes`);
        data = framed.subarray(4, 4 + size);
      }
      // The block checksum covers the stored bytes: checked before they are decoded, as liblz4 does.
      if (blockChecksums) {
        const sumAt = r.offset;
        const sum = le32(await exactly(4, 'block checksum'), 0);
        const want = libs.h32Raw(data, 0) >>> 0;
        if (sum !== want) throw fail(`block checksum 0x${sum.toString(16)} of the block at ${at} does not match its data (xxh32 0x${want.toString(16)})`, sumAt);
      }
      let out: Uint8Array;
      if (stored) out = data;
      else {
        try {
          const input = framed.subarray(0, 4 + size);
          out = independent || window.length === 0 ? libs.lz4.uncompressSync(input) : libs.lz4.uncompressSync(input, window);
        } catch (e) {
          throw asCodecError('lz4-frame', `corrupt block at input offset ${at}`, e, at);
        }
        if (out.length > blockMax) throw fail(`block decodes to ${out.length} bytes, above the block max size ${blockMax}`, at);
      }
      produced += out.length;
      if (contentSize !== undefined && produced > contentSize) throw fail(`the frame decodes past its content size ${contentSize}`, at);
      content?.update(out);
      if (!independent) window = slide(window, out);
      if (out.length > 0) yield out;
      if (produced > options.maxOutput) return;
      await yieldToEventLoop();
    }
    if (contentSize !== undefined && produced !== contentSize) throw fail(`the frame decoded to ${produced} bytes, its header says ${contentSize}`, r.offset - 4);
    if (content) {
      const sumAt = r.offset;
      const sum = le32(await exactly(4, 'content checksum'), 0);
      const want = content.digest() >>> 0;
      if (sum !== want) throw fail(`content checksum 0x${sum.toString(16)} does not match the decoded data (xxh32 0x${want.toString(16)})`, sumAt);
    }
    options.onStreamEnd?.(r.offset);
  } finally {
    await r.close();
  }
}

/** The last 64 KiB of (window + out), the dictionary of the next linked block. */
function slide(window: Uint8Array, out: Uint8Array): Uint8Array {
  if (out.length >= WINDOW) return out.subarray(out.length - WINDOW);
  const keep = Math.min(window.length, WINDOW - out.length);
  const next = new Uint8Array(keep + out.length);
  next.set(window.subarray(window.length - keep));
  next.set(out, keep);
  return next;
}
