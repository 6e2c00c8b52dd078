import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, adler32, yieldToEventLoop } from './_util.js';
import { LzoFormatError, decodeLzo1x } from './lzo1x.js';

const MAGIC = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
const F_ADLER32_D = 0x1;
const F_ADLER32_C = 0x2;
const F_H_EXTRA_FIELD = 0x40;
const F_CRC32_D = 0x100;
const F_CRC32_C = 0x200;
const F_MULTIPART = 0x400;
const F_H_FILTER = 0x800;
const F_H_CRC32 = 0x1000;
/** lzop refuses blocks above 64 MiB. */
const MAX_BLOCK = 64 << 20;

/**
 * lzop container (the kernel's CONFIG_KERNEL_LZO: `lzop -9` from a pipe): magic, header (version, library
 * version, version needed, method, level, flags, [filter], mode, mtime, name, header checksum, [extra field]),
 * then blocks [BE32 uncompressed size][BE32 compressed size][checksums per flags][data]; an uncompressed size
 * of 0 ends the stream; a block with csize == usize is stored. The framing and checksum checks are ours.
 *
 * LZO1X block decoder, chosen at each decode:
 * - `kimg` (default): kimg's own (./lzo1x.ts), bounds-checked, decoding into a buffer of the block's declared
 *   size: about twice lzo-ts's speed (docs/codecs.md, lzop), and MIT like the rest of kimg;
 * - `lzo-ts`: lzo-ts 0.2.3 (GPL-3.0, pure TypeScript; no bounds checks, so we cap its output buffer at the
 *   block's declared size and verify the result's length and checksums). A devDependency only: the tests
 *   and the benchmark run it as the second implementation; an installed kimg ships no GPL code.
 * `KIMG_LZO=lzo-ts` (or `kimg`) forces one; `lzopCodec('lzo-ts')` does the same from the API.
 *
 * Trailing data: decoding stops at the zero end marker; bytes after it (the kernel's le32 size trailer) are
 * not read.
 */
export type LzoImplementation = 'kimg' | 'lzo-ts';
export const LZO_IMPLEMENTATION_ENV = 'KIMG_LZO';
const LIBRARIES: Record<LzoImplementation, string> = {
  kimg: 'kimg lzo1x decoder (TypeScript; container in kimg)',
  'lzo-ts': 'lzo-ts@0.2.3 (LZO1X block decoder; container in kimg)',
};

/** The implementation a decode started now uses: KIMG_LZO if set, else kimg's. */
export function lzoImplementation(): LzoImplementation {
  const wanted = process.env[LZO_IMPLEMENTATION_ENV] ?? '';
  switch (wanted) {
    case '':
    case 'auto':
    case 'kimg':
      return 'kimg';
    case 'lzo-ts':
      return 'lzo-ts';
    default:
      throw new CodecError('lzop', `lzop: ${LZO_IMPLEMENTATION_ENV}=${JSON.stringify(wanted)} is not one of auto, kimg, lzo-ts`);
  }
}

/** The lzop codec with a fixed LZO1X implementation, or (without an argument) the one lzoImplementation() picks. */
export function lzopCodec(implementation?: LzoImplementation): Codec {
  return {
    name: 'lzop',
    description: 'lzop file (LZO1X blocks): zboot "lzo" payloads',
    get library(): string {
      if (implementation) return LIBRARIES[implementation];
      try {
        return LIBRARIES[lzoImplementation()];
      } catch (e) {
        return (e as Error).message;
      }
    },
    sniff: (head) => head.length >= 9 && MAGIC.every((b, i) => head[i] === b),
    decode: (source, options) => decodeLzop(implementation ?? lzoImplementation(), source, options),
  };
}

export const lzop: Codec = lzopCodec();

type LzoDecompress = (block: Uint8Array, usize: number) => Uint8Array;

/** kimg's decoder: the block straight into a buffer of its declared size. */
const decompressWithKimg: LzoDecompress = (block, usize) => {
  const out = new Uint8Array(usize);
  decodeLzo1x(block, out);
  return out;
};

let loader: Promise<LzoDecompress> | undefined;
function loadLzoTs(): Promise<LzoDecompress> {
  loader ??= (async () => {
    const { LZO } = (await import('lzo-ts')) as unknown as { LZO: new () => Record<string, unknown> };
    // lzo-ts 0.2.3 grows its output through one internal method (minified name `b`, pinned version) whenever
    // the next write would pass the buffer end; wrapping it caps the output at the block's declared size, which
    // also stops its decoder loop on corrupt input (it otherwise runs past the input end without bound).
    return (block: Uint8Array, usize: number) => {
      const dec = new LZO() as Record<string, unknown> & { F(b: Uint8Array): Uint8Array | boolean; b(): void; l: number };
      const grow = dec.b;
      if (typeof grow !== 'function' || typeof dec.F !== 'function') throw new Error('unexpected lzo-ts internals (version changed?)');
      dec.b = function (this: typeof dec) {
        if (this.l > usize + 3) throw new Error(`output runs past the declared ${usize} bytes`);
        grow.call(this);
      };
      const r = dec.F(block);
      if (!(r instanceof Uint8Array)) throw new Error('no end-of-stream marker');
      // A copy: lzo-ts's result is a view of its larger working buffer.
      return r.slice();
    };
  })();
  loader.catch(() => (loader = undefined));
  return loader;
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

async function* decodeLzop(implementation: LzoImplementation, source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let decompress: LzoDecompress;
  const zlib = process.getBuiltinModule('node:zlib');
  const crc32 = (d: Uint8Array, init = 0) => zlib.crc32(d, init) >>> 0;
  switch (implementation) {
    case 'kimg':
      decompress = decompressWithKimg;
      break;
    case 'lzo-ts':
      try {
        decompress = await loadLzoTs();
      } catch (e) {
        throw new CodecError('lzop', `lzop: cannot load LZO1X decoder (lzo-ts): ${(e as Error).message}`, undefined, { cause: e });
      }
      break;
  }
  const r = new ByteReader(source);
  const fail = (msg: string, at: number): never => {
    throw new CodecError('lzop', `lzop: ${msg} at input offset ${at}`, at);
  };
  const need = async (n: number, what: string): Promise<Uint8Array> => {
    const at = r.offset;
    const b = await r.read(n);
    if (b.length < n) throw new CodecError('lzop', `lzop: stream truncated at input offset ${r.offset} (in the ${what} at ${at})`, r.offset);
    return b;
  };
  try {
    const magic = await need(9, 'magic');
    if (!MAGIC.every((b, i) => magic[i] === b)) fail('bad magic (not an lzop file)', 0);
    // Header, kept for its checksum (which covers everything from the version field to the name).
    const parts: Uint8Array[] = [];
    const take = async (n: number, what: string) => {
      const b = (await need(n, what)).slice();
      parts.push(b);
      return b;
    };
    const v = await take(4, 'header');
    const version = (v[0]! << 8) | v[1]!;
    if (version < 0x0900) fail(`unsupported lzop version 0x${version.toString(16)}`, 9);
    if (version >= 0x0940) {
      const vn = await take(2, 'header');
      if (((vn[0]! << 8) | vn[1]!) > 0x1040) fail('file needs a newer lzop to extract', 13);
    }
    const mh = await take(version >= 0x0940 ? 2 : 1, 'header');
    const method = mh[0]!;
    if (method < 1 || method > 3) fail(`unsupported method ${method} (only LZO1X methods 1-3)`, r.offset - mh.length);
    const flags = be32(await take(4, 'header'), 0);
    if (flags & F_MULTIPART) fail('multipart lzop files are not supported', r.offset - 4);
    if (flags & F_H_FILTER) await take(4, 'header');
    await take(version >= 0x0940 ? 12 : 8, 'header'); // mode, mtime low, [mtime high]
    const nl = (await take(1, 'header'))[0]!;
    await take(nl, 'header name');
    const headerBytes = Buffer.concat(parts);
    const hsumAt = r.offset;
    const hsum = be32(await need(4, 'header checksum'), 0);
    const want = flags & F_H_CRC32 ? crc32(headerBytes) : adler32(headerBytes);
    if (hsum !== want) fail('header checksum mismatch', hsumAt);
    if (flags & F_H_EXTRA_FIELD) {
      const len = be32(await need(4, 'extra field'), 0);
      await need(len + 4, 'extra field');
    }
    let produced = 0;
    for (;;) {
      const at = r.offset;
      const usize = be32(await need(4, 'block header'), 0);
      if (usize === 0) {
        options.onStreamEnd?.(r.offset); // end marker; trailing bytes are not read
        return;
      }
      if (usize > MAX_BLOCK) fail(`block size ${usize} exceeds 64 MiB`, at);
      const csize = be32(await need(4, 'block header'), 0);
      if (csize === 0 || csize > usize) fail(`bad compressed size ${csize} for ${usize}-byte block`, at);
      const dAdler = flags & F_ADLER32_D ? be32(await need(4, 'block checksum'), 0) : undefined;
      const dCrc = flags & F_CRC32_D ? be32(await need(4, 'block checksum'), 0) : undefined;
      let cAdler: number | undefined;
      let cCrc: number | undefined;
      if (csize < usize) {
        if (flags & F_ADLER32_C) cAdler = be32(await need(4, 'block checksum'), 0);
        if (flags & F_CRC32_C) cCrc = be32(await need(4, 'block checksum'), 0);
      }
      const dataAt = r.offset;
      const data = await need(csize, 'block data');
      if (cAdler !== undefined && adler32(data) !== cAdler) fail('compressed block checksum (adler32) mismatch', dataAt);
      if (cCrc !== undefined && crc32(data) !== cCrc) fail('compressed block checksum (crc32) mismatch', dataAt);
      let out: Uint8Array;
      if (csize === usize) out = data.slice(); // stored block
      else {
        try {
          out = decompress(data, usize);
        } catch (e) {
          // kimg's decoder says where in the block the failing instruction starts.
          const at = e instanceof LzoFormatError ? dataAt + e.at : dataAt;
          throw new CodecError('lzop', `lzop: corrupt LZO1X block at input offset ${at}: ${(e as Error).message}`, at, { cause: e });
        }
        if (out.length !== usize) fail(`block decoded to ${out.length} bytes, header says ${usize}`, dataAt);
      }
      if (dAdler !== undefined && adler32(out) !== dAdler) fail('block checksum (adler32) mismatch', dataAt);
      if (dCrc !== undefined && crc32(out) !== dCrc) fail('block checksum (crc32) mismatch', dataAt);
      produced += out.length;
      yield out;
      if (produced > options.maxOutput) return;
      await yieldToEventLoop();
    }
  } finally {
    await r.close();
  }
}
