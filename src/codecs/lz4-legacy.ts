import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, asCodecError, yieldToEventLoop } from './_util.js';

/** Legacy frame magic 0x184C2102, little-endian. */
const LEGACY_MAGIC = 0x184c2102;
/** Each legacy block decodes to at most 8 MiB. */
const BLOCK_MAX = 8 << 20;
/** LZ4_COMPRESSBOUND(8 MiB): no valid block size field is larger. */
const CSIZE_MAX = BLOCK_MAX + Math.floor(BLOCK_MAX / 255) + 16;

/**
 * LZ4 *legacy* format (`lz4 -l`, the kernel's CONFIG_KERNEL_LZ4): magic 02 21 4C 18, then blocks of
 * [le32 compressed size][LZ4 block], each decoding to at most 8 MiB. The framing is ours; blocks are decoded
 * by lz4-napi (lz4_flex via N-API, prebuilt per platform through optional dependencies, no install script).
 *
 * End of stream / trailing data, as the kernel's unlz4 and the lz4 tool do it:
 * - end of input at a block boundary ends the stream;
 * - a size field equal to the legacy magic starts a new concatenated legacy stream;
 * - a size field larger than LZ4_COMPRESSBOUND(8 MiB) cannot be a block: the stream ended and what follows
 *   is trailing data (not read further);
 * - a size field whose value equals the decoded size so far (mod 2^32) is the kernel's le32 size trailer,
 *   not a block: the stream ended (a real block of exactly that compressed size would be misread; for the
 *   kernel's 8 MiB blocks that needs a block compressing to exactly k*8 MiB, which does not occur in practice).
 */
export const lz4Legacy: Codec = {
  name: 'lz4-legacy',
  description: 'LZ4 legacy format (lz4 -l): zboot "lz4" payloads',
  library: 'lz4-napi@2.10.0 (block decoder; framing in kimg)',
  sniff: (head) => head.length >= 4 && head[0] === 0x02 && head[1] === 0x21 && head[2] === 0x4c && head[3] === 0x18,
  decode: decodeLz4Legacy,
};

type Uncompress = (data: Uint8Array) => Uint8Array;
let loader: Promise<Uncompress> | undefined;
function loadLz4(): Promise<Uncompress> {
  loader ??= (async () => {
    const lz = (await import('lz4-napi')) as unknown as { uncompressSync(d: Uint8Array): Uint8Array; default?: { uncompressSync(d: Uint8Array): Uint8Array } };
    const fn = lz.uncompressSync ?? lz.default?.uncompressSync;
    if (!fn) throw new Error('lz4-napi has no uncompressSync');
    return fn;
  })();
  loader.catch(() => (loader = undefined));
  return loader;
}

function le32(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

async function* decodeLz4Legacy(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let uncompress: Uncompress;
  try {
    uncompress = await loadLz4();
  } catch (e) {
    throw new CodecError('lz4-legacy', `lz4-legacy: cannot load block decoder (lz4-napi): ${(e as Error).message}`, undefined, { cause: e });
  }
  const r = new ByteReader(source);
  let produced = 0;
  let framed: Uint8Array | undefined;
  try {
    const magic = await r.read(4);
    if (magic.length < 4 || le32(magic) !== LEGACY_MAGIC) throw new CodecError('lz4-legacy', 'lz4-legacy: missing legacy magic 02 21 4C 18', 0);
    for (;;) {
      const at = r.offset;
      const sz = await r.read(4);
      if (sz.length === 0) {
        options.onStreamEnd?.(at); // clean end of input at a block boundary
        return;
      }
      if (sz.length < 4) throw new CodecError('lz4-legacy', `lz4-legacy: stream truncated at input offset ${r.offset} (block size word at ${at})`, r.offset);
      const csize = le32(sz);
      if (csize === LEGACY_MAGIC) continue; // concatenated legacy stream
      // Not a block (too large, or the kernel's le32 size trailer): the stream ended before this word.
      if (csize > CSIZE_MAX || (produced > 0 && csize === produced % 0x100000000)) {
        options.onStreamEnd?.(at);
        return;
      }
      if (csize === 0) throw new CodecError('lz4-legacy', `lz4-legacy: zero-length block at input offset ${at}`, at);
      // lz4-napi takes lz4_flex's size-prepended form; the prefix is the output capacity (8 MiB per block).
      // The block is read straight behind it, into one buffer reused from block to block (a copy of each
      // block plus a framed copy of it was 8 MiB of garbage per 8 MiB block: see docs/codecs.md, Memory).
      if (!framed || framed.length < 4 + csize) {
        framed = new Uint8Array(4 + csize + (csize >>> 4)); // a little room: block sizes vary slightly
        framed[0] = BLOCK_MAX & 0xff;
        framed[1] = (BLOCK_MAX >>> 8) & 0xff;
        framed[2] = (BLOCK_MAX >>> 16) & 0xff;
        framed[3] = (BLOCK_MAX >>> 24) & 0xff;
      }
      const got = await r.readInto(framed, 4, csize);
      if (got < csize) throw new CodecError('lz4-legacy', `lz4-legacy: stream truncated at input offset ${r.offset} (block at ${at} has ${got} of ${csize} bytes)`, r.offset);
      let out: Uint8Array;
      try {
        out = uncompress(framed.subarray(0, 4 + csize));
      } catch (e) {
        throw asCodecError('lz4-legacy', `corrupt block at input offset ${at}`, e, at);
      }
      if (out.length > BLOCK_MAX) throw new CodecError('lz4-legacy', `lz4-legacy: block at input offset ${at} decodes past 8 MiB`, at);
      produced += out.length;
      yield out;
      if (produced > options.maxOutput) return;
      await yieldToEventLoop();
    }
  } finally {
    await r.close();
  }
}
