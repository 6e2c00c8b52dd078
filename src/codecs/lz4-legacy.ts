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
 * - a size field of zero is no block either: the stream ended (zero padding after an initramfs segment;
 *   lib/decompress_unlz4.c has read it so since Linux 5.11);
 * - a size field whose value equals the decoded size so far (mod 2^32) is the kernel's le32 size trailer,
 *   not a block: the stream ended (a real block of exactly that compressed size would be misread; for the
 *   kernel's 8 MiB blocks that needs a block compressing to exactly k*8 MiB, which does not occur in practice).
 */
/**
 * The lz4-legacy codec decoding `depth` blocks at once (1..4; without an argument, `KIMG_LZ4_DEPTH` at each
 * decode, default 1: see lz4Depth).
 */
export function lz4LegacyCodec(depth?: number): Codec {
  if (depth !== undefined && !(Number.isInteger(depth) && depth >= 1 && depth <= 4)) throw new RangeError(`lz4-legacy depth ${depth} is not 1..4`);
  return {
    name: 'lz4-legacy',
    description: 'LZ4 legacy format (lz4 -l): zboot "lz4" payloads',
    library: 'lz4-napi@2.10.0 (block decoder; framing in kimg)',
    sniff: (head) => head.length >= 4 && head[0] === 0x02 && head[1] === 0x21 && head[2] === 0x4c && head[3] === 0x18,
    decode: (source, options) => decodeLz4Legacy(depth ?? lz4Depth(), source, options),
  };
}

export const lz4Legacy: Codec = lz4LegacyCodec();

interface Lz4Napi {
  uncompressSync(d: Uint8Array): Uint8Array;
  /** The same decode as a napi-rs task on libuv's thread pool (off the main thread). */
  uncompress(d: Uint8Array): Promise<Uint8Array>;
}
let loader: Promise<Lz4Napi> | undefined;
function loadLz4(): Promise<Lz4Napi> {
  loader ??= (async () => {
    const lz = (await import('lz4-napi')) as unknown as Partial<Lz4Napi> & { default?: Partial<Lz4Napi> };
    const lib = typeof lz.uncompressSync === 'function' ? lz : lz.default;
    if (typeof lib?.uncompressSync !== 'function' || typeof lib.uncompress !== 'function') throw new Error('lz4-napi has no uncompressSync/uncompress');
    return lib as Lz4Napi;
  })();
  loader.catch(() => (loader = undefined));
  return loader;
}

/**
 * Blocks decoded at once. Legacy blocks are independent: with `KIMG_LZ4_DEPTH=2` (up to 4) the next blocks
 * decode on libuv's thread pool (lz4-napi's async `uncompress`) while the main thread hashes, scans and
 * writes the previous one. Measured on the 52 MiB image (docs/codecs.md, lz4 legacy in parallel): whole
 * `kimg extract` median 0.61 s vs 0.67 s at depth 1, but 138 vs 109 MiB peak RSS (every block in flight
 * holds 8 MiB of output and its input), against issue 12's 96 MiB goal; a worker_threads pool was slower
 * than serial (each worker starts a Node environment and loads lz4-napi). So the default is 1.
 */
export const LZ4_DEPTH_ENV = 'KIMG_LZ4_DEPTH';
function lz4Depth(): number {
  const v = process.env[LZ4_DEPTH_ENV];
  if (v === undefined || v === '') return 1;
  if (v === '1' || v === '2' || v === '3' || v === '4') return Number(v);
  throw new CodecError('lz4-legacy', `lz4-legacy: ${LZ4_DEPTH_ENV}=${JSON.stringify(v)} is not one of 1, 2, 3, 4`);
}

function le32(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

async function* decodeLz4Legacy(depth: number, source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let lib: Lz4Napi;
  try {
    lib = await loadLz4();
  } catch (e) {
    throw new CodecError('lz4-legacy', `lz4-legacy: cannot load block decoder (lz4-napi): ${(e as Error).message}`, undefined, { cause: e });
  }
  const r = new ByteReader(source);
  /** Bytes yielded so far. */
  let produced = 0;
  /** Blocks being decoded, oldest first, each in its own framed buffer (depth buffers, reused in turn). */
  const inFlight: { at: number; out: Promise<Uint8Array> }[] = [];
  const framed: (Uint8Array | undefined)[] = new Array(depth);
  let blocks = 0;

  /** Awaits the oldest block in flight: its output, checked. */
  const settle = async (): Promise<Uint8Array> => {
    const { at, out } = inFlight.shift()!;
    let o: Uint8Array;
    try {
      o = await out;
    } catch (e) {
      throw asCodecError('lz4-legacy', `corrupt block at input offset ${at}`, e, at);
    }
    if (o.length > BLOCK_MAX) throw new CodecError('lz4-legacy', `lz4-legacy: block at input offset ${at} decodes past 8 MiB`, at);
    return o;
  };
  try {
    const magic = await r.read(4);
    if (magic.length < 4 || le32(magic) !== LEGACY_MAGIC) throw new CodecError('lz4-legacy', 'lz4-legacy: missing legacy magic 02 21 4C 18', 0);
    for (;;) {
      const at = r.offset;
      const sz = await r.read(4);
      const csize = sz.length === 4 ? le32(sz) : 0;
      // The trailer test below needs the exact decoded size: when this word could equal it (whatever the
      // blocks in flight decode to, 1 byte to 8 MiB each), let them finish first.
      const lo = produced + inFlight.length;
      const aboveLo = (((csize - lo) % 0x100000000) + 0x100000000) % 0x100000000;
      const couldBeTrailer = sz.length === 4 && inFlight.length > 0 && aboveLo <= inFlight.length * (BLOCK_MAX - 1);
      if (sz.length < 4 || csize === LEGACY_MAGIC || csize > CSIZE_MAX || csize === 0 || couldBeTrailer) {
        while (inFlight.length > 0) {
          const o = await settle();
          produced += o.length;
          yield o;
          if (produced > options.maxOutput) return;
        }
      }
      if (sz.length === 0 || (sz.length < 4 && sz.every((b) => b === 0))) {
        options.onStreamEnd?.(at); // clean end of input at a block boundary (or in the padding after it)
        return;
      }
      if (sz.length < 4) throw new CodecError('lz4-legacy', `lz4-legacy: stream truncated at input offset ${r.offset} (block size word at ${at})`, r.offset);
      if (csize === LEGACY_MAGIC) continue; // concatenated legacy stream
      // Not a block (too large, the kernel's le32 size trailer, or a zero word: the zero padding after an
      // initramfs segment, which the kernel's unlz4 takes for the end since Linux 5.11): the stream ended
      // before this word.
      if (csize > CSIZE_MAX || csize === 0 || (produced > 0 && inFlight.length === 0 && csize === produced % 0x100000000)) {
        options.onStreamEnd?.(at);
        return;
      }
      // A buffer is free once the block that used it has settled: with `depth` in flight, settle the oldest.
      if (inFlight.length === depth) {
        const o = await settle();
        produced += o.length;
        yield o;
        if (produced > options.maxOutput) return;
        await yieldToEventLoop();
      }
      // lz4-napi takes lz4_flex's size-prepended form; the prefix is the output capacity (8 MiB per block).
      // The block is read straight behind it, into a buffer reused from block to block (a copy of each
      // block plus a framed copy of it was 8 MiB of garbage per 8 MiB block: see docs/codecs.md, Memory).
      const slot = blocks++ % depth;
      let f = framed[slot];
      if (!f || f.length < 4 + csize) {
        f = framed[slot] = new Uint8Array(4 + csize + (csize >>> 4)); // a little room: block sizes vary slightly
        f[0] = BLOCK_MAX & 0xff;
        f[1] = (BLOCK_MAX >>> 8) & 0xff;
        f[2] = (BLOCK_MAX >>> 16) & 0xff;
        f[3] = (BLOCK_MAX >>> 24) & 0xff;
      }
      const got = await r.readInto(f, 4, csize);
      if (got < csize) throw new CodecError('lz4-legacy', `lz4-legacy: stream truncated at input offset ${r.offset} (block at ${at} has ${got} of ${csize} bytes)`, r.offset);
      const input = f.subarray(0, 4 + csize);
      let out: Promise<Uint8Array>;
      if (depth === 1) {
        try {
          out = Promise.resolve(lib.uncompressSync(input));
        } catch (e) {
          out = Promise.reject(e);
        }
      } else out = lib.uncompress(input);
      // A block abandoned in flight (early stop, an error before it) must not become an unhandled rejection.
      out.catch(() => undefined);
      inFlight.push({ at, out });
    }
  } finally {
    await r.close();
  }
}
