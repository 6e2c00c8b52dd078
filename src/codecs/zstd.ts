import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, throughZlibStream, yieldToEventLoop, type ZlibStream } from './_util.js';

/**
 * Zstandard, one frame as `zstd -22 --ultra` writes it from a pipe: no content size, window up to 128 MiB.
 *
 * Two implementations of the same decoder (libzstd), chosen at run time:
 * - `zlib`: libzstd built into node:zlib (`createZstdDecompress`, Node >= 22.15 / 23.8), native code on libuv's
 *   thread pool. node:zlib decodes frame after frame and only stops early when a write holds bytes past the
 *   frame, so kimg walks the frame's header and block headers itself (RFC 8878 §3.1.1) and feeds it exactly
 *   the frame: the frame's end is known without the library, trailing bytes are never read, truncation is
 *   seen before the library is told the input ended.
 * - `wasm`: zstddec (the reference decoder compiled to WebAssembly, no install script), where node:zlib has
 *   no zstd (Node 20, 22 before 22.15). Its own `decodeStreaming()` never checks ZSTD_decompressStream's
 *   error code (it loops forever on a corrupt frame) and would start decoding trailing bytes as a new frame,
 *   so we drive the same wasm exports ourselves with `ZSTD_decompressStream`, checking every return value;
 *   its return value 0 marks the end of the frame.
 * `zlib` where available, else `wasm`; `KIMG_ZSTD=wasm` (or `zlib`) forces one, `zstdCodec('wasm')` too.
 * Both admit windows up to 2^27 = 128 MiB (libzstd's default limit, which zstd -22 --ultra needs, set
 * explicitly for node:zlib as ZSTD_d_windowLogMax); memory is bounded by the window, not by the image.
 *
 * Frames: like the kernel's lib/decompress_unzstd.c (its streaming loop ends when ZSTD_decompressStream
 * returns 0, i.e. after one frame) we decode one frame; skippable frames (magic 0x184D2A50..5F) before it are
 * skipped, as `zstd -d` does. The bytes up to the end of that frame are reported through onStreamEnd;
 * what follows (the kernel's le32 size trailer, further frames) is not read.
 */
export type ZstdImplementation = 'zlib' | 'wasm';

/** The environment variable that forces an implementation: `auto` (the default), `zlib` or `wasm`. */
export const ZSTD_IMPLEMENTATION_ENV = 'KIMG_ZSTD';

const WASM_LIBRARY = 'zstddec@0.3.4 (libzstd wasm)';
/** libzstd's default window limit, ZSTD_WINDOWLOG_LIMIT_DEFAULT: 128 MiB, what `zstd -22 --ultra` uses. */
const WINDOW_LOG_MAX = 27;
/** ZSTD_BLOCKSIZE_MAX: no block decodes to more, none may be stored larger. */
const BLOCK_SIZE_MAX = 128 * 1024;

/** What node:zlib offers for zstd where it has it (typed here: kimg's @types/node is Node 20's). */
interface ZlibWithZstd {
  createZstdDecompress(options: { chunkSize?: number; params?: Record<number, number> }): ZlibStream & { readonly bytesWritten: number };
  constants: { ZSTD_d_windowLogMax: number };
}

/** node:zlib when it has zstd, else undefined. Synchronous and cheap: node:zlib is built in. */
function zlibWithZstd(): ZlibWithZstd | undefined {
  const zlib = process.getBuiltinModule('node:zlib') as unknown as Partial<ZlibWithZstd>;
  return typeof zlib.createZstdDecompress === 'function' && zlib.constants?.ZSTD_d_windowLogMax !== undefined ? (zlib as ZlibWithZstd) : undefined;
}

const NO_ZSTD_IN_ZLIB = `node:zlib of Node ${process.version} has no zstd (it needs Node >= 22.15 or >= 23.8)`;

/** The implementations this Node can run: node:zlib's where it has zstd, and the wasm one always. */
export function zstdImplementations(): ZstdImplementation[] {
  return zlibWithZstd() ? ['zlib', 'wasm'] : ['wasm'];
}

/** The implementation a decode started now uses: KIMG_ZSTD if set, else node:zlib where it has zstd. */
export function zstdImplementation(): ZstdImplementation {
  const wanted = process.env[ZSTD_IMPLEMENTATION_ENV] ?? '';
  switch (wanted) {
    case '':
    case 'auto':
      return zlibWithZstd() ? 'zlib' : 'wasm';
    case 'wasm':
      return 'wasm';
    case 'zlib':
      if (!zlibWithZstd()) throw new CodecError('zstd', `zstd: ${ZSTD_IMPLEMENTATION_ENV}=zlib, but ${NO_ZSTD_IN_ZLIB}`);
      return 'zlib';
    default:
      throw new CodecError('zstd', `zstd: ${ZSTD_IMPLEMENTATION_ENV}=${JSON.stringify(wanted)} is not one of auto, zlib, wasm`);
  }
}

function libraryOf(implementation: ZstdImplementation): string {
  switch (implementation) {
    case 'zlib':
      return `node:zlib (libzstd ${process.versions['zstd'] ?? ''}, native)`;
    case 'wasm':
      return WASM_LIBRARY;
  }
}

/**
 * The zstd codec with a fixed implementation, or (without an argument) the one `zstdImplementation()` picks
 * at each decode. `library` says which one that is.
 */
export function zstdCodec(implementation?: ZstdImplementation): Codec {
  return {
    name: 'zstd',
    description: 'Zstandard frame (zboot "zstd" / "zstd22", Image.zst)',
    get library(): string {
      if (implementation) return libraryOf(implementation);
      try {
        const chosen = zstdImplementation();
        return process.env[ZSTD_IMPLEMENTATION_ENV] ? `${libraryOf(chosen)}, ${ZSTD_IMPLEMENTATION_ENV}=${chosen}` : libraryOf(chosen);
      } catch (e) {
        return (e as Error).message;
      }
    },
    sniff: (head) => isZstdMagic(head) || isSkippableMagic(head),
    decode: (source, options) => decodeZstd(implementation, source, options),
  };
}

export const zstd: Codec = zstdCodec();

async function* decodeZstd(fixed: ZstdImplementation | undefined, source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  const implementation = fixed ?? zstdImplementation();
  switch (implementation) {
    case 'zlib': {
      const zlib = zlibWithZstd();
      if (!zlib) throw new CodecError('zstd', `zstd: ${NO_ZSTD_IN_ZLIB}`);
      return yield* decodeWithZlib(zlib, source, options);
    }
    case 'wasm':
      return yield* decodeWithWasm(source, options);
  }
}

function isZstdMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;
}

/** Skippable frame magic: 0x184D2A50..0x184D2A5F, little-endian. */
function isSkippableMagic(b: Uint8Array): boolean {
  return b.length >= 4 && (b[0]! & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18;
}

/** Skip any skippable frames; returns the first 4 bytes of the real frame (or fewer at end of input). */
async function skipSkippableFrames(reader: ByteReader): Promise<Uint8Array> {
  for (;;) {
    const at = reader.offset;
    const magic = (await reader.read(4)).slice();
    if (!isSkippableMagic(magic)) return magic;
    const size = await reader.read(4);
    if (size.length < 4) throw new CodecError('zstd', `zstd: stream truncated at input offset ${reader.offset} (skippable frame header at ${at})`, reader.offset);
    let left = (size[0]! | (size[1]! << 8) | (size[2]! << 16) | (size[3]! << 24)) >>> 0;
    while (left > 0) {
      const c = await reader.chunk(Math.min(left, 1 << 20));
      if (!c) throw new CodecError('zstd', `zstd: stream truncated at input offset ${reader.offset} (inside the skippable frame at ${at})`, reader.offset);
      left -= c.length;
    }
  }
}

interface ZstdExports {
  memory: { buffer: ArrayBuffer };
  malloc(n: number): number;
  free(p: number): void;
  ZSTD_createDCtx(): number;
  ZSTD_freeDCtx(p: number): number;
  ZSTD_DStreamInSize(): number;
  ZSTD_DStreamOutSize(): number;
  ZSTD_decompressStream(dctx: number, out: number, inp: number): number;
}

let exportsPromise: Promise<ZstdExports> | undefined;
function loadZstd(): Promise<ZstdExports> {
  exportsPromise ??= (async () => {
    const { ZSTDDecoder } = await import('zstddec/stream');
    const dec = new ZSTDDecoder();
    let inst: { exports: unknown } | undefined;
    const d = dec as unknown as { _init(r: { instance: { exports: unknown } }): void };
    const orig = d._init.bind(dec);
    // `_init` is part of zstddec's public typings: it receives the instantiated module, which we keep.
    d._init = (r) => {
      inst = r.instance;
      orig(r);
    };
    await initWithoutFetch(dec);
    if (!inst) throw new Error('zstddec did not expose its wasm instance');
    return inst.exports as unknown as ZstdExports;
  })();
  return exportsPromise;
}

/**
 * zstddec's init() fetches its wasm from a data: URL when a global `fetch` exists, else instantiates the same
 * bytes from a Buffer. Node's fetch is undici, whose first use loads more code than decoding a kernel takes
 * (bench/startup.mjs: `kimg info` on a zstd zboot kernel), so fetch is hidden for the synchronous call that
 * makes the choice.
 */
function initWithoutFetch(dec: { init(): Promise<void> }): Promise<void> {
  const fetch = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  if (!fetch?.configurable) return dec.init();
  Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
  try {
    return dec.init();
  } finally {
    Object.defineProperty(globalThis, 'fetch', fetch);
  }
}

/** libzstd error codes (zstd_errors.h) that matter for messages; node:zlib reports the same code as `errno`. */
const ZSTD_ERRORS: Record<number, string> = {
  1: 'generic error',
  10: 'unknown frame descriptor (not a zstd frame)',
  12: 'unsupported version',
  14: 'unsupported frame parameter',
  16: 'frame requires too much memory (window too large)',
  20: 'corrupted block detected',
  22: 'content checksum mismatch',
  24: 'literals header corrupted',
  30: 'dictionary corrupted',
  32: 'dictionary mismatch',
  40: 'unsupported parameter',
  64: 'allocation failed',
  70: 'destination buffer too small',
  72: 'source size wrong',
};
const zstdErrorText = (code: number): string => ZSTD_ERRORS[code] ?? `error ${code}`;
const truncated = (at: number): CodecError => new CodecError('zstd', `zstd: stream truncated at input offset ${at} (frame not finished)`, at);

async function* decodeWithWasm(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let z: ZstdExports;
  try {
    z = await loadZstd();
  } catch (e) {
    throw new CodecError('zstd', `zstd: cannot load decoder (zstddec): ${(e as Error).message}`, undefined, { cause: e });
  }
  const reader = new ByteReader(source);
  const inCap = z.ZSTD_DStreamInSize();
  const outCap = z.ZSTD_DStreamOutSize();
  const dctx = z.ZSTD_createDCtx();
  const inBuf = z.malloc(inCap);
  const outBuf = z.malloc(outCap);
  const inStruct = z.malloc(12); // ZSTD_inBuffer { src, size, pos } (wasm32)
  const outStruct = z.malloc(12); // ZSTD_outBuffer { dst, size, pos }
  const view = () => new DataView(z.memory.buffer);
  let produced = 0;
  let consumedBefore = 0; // input offset of the start of the current input buffer
  let frameDone = false;
  try {
    let pending: Uint8Array | undefined = await skipSkippableFrames(reader);
    consumedBefore = reader.offset - pending.length;
    if (pending.length === 0) pending = undefined;
    while (!frameDone) {
      const chunk = pending ?? (await reader.chunk(inCap));
      pending = undefined;
      if (!chunk) throw truncated(consumedBefore);
      new Uint8Array(z.memory.buffer).set(chunk, inBuf);
      let v = view();
      v.setUint32(inStruct, inBuf, true);
      v.setUint32(inStruct + 4, chunk.length, true);
      v.setUint32(inStruct + 8, 0, true);
      for (;;) {
        v = view();
        v.setUint32(outStruct, outBuf, true);
        v.setUint32(outStruct + 4, outCap, true);
        v.setUint32(outStruct + 8, 0, true);
        const ret = z.ZSTD_decompressStream(dctx, outStruct, inStruct) >>> 0;
        v = view(); // memory may have grown
        const inPos = v.getUint32(inStruct + 8, true);
        if (ret > 0xffffff80) {
          const code = 0x100000000 - ret;
          const at = consumedBefore + inPos;
          throw new CodecError('zstd', `zstd: ${zstdErrorText(code)} near input offset ${at}`, at);
        }
        const outPos = v.getUint32(outStruct + 8, true);
        if (outPos > 0) {
          const out = new Uint8Array(z.memory.buffer, outBuf, outPos).slice();
          produced += outPos;
          yield out;
          if (produced > options.maxOutput) return;
          await yieldToEventLoop();
        }
        if (ret === 0) {
          frameDone = true; // end of frame: whatever follows is trailing data, left unread
          options.onStreamEnd?.(consumedBefore + inPos);
          break;
        }
        if (inPos >= chunk.length && outPos < outCap) break; // needs more input
      }
      consumedBefore += chunk.length;
    }
  } finally {
    z.ZSTD_freeDCtx(dctx);
    z.free(inBuf);
    z.free(outBuf);
    z.free(inStruct);
    z.free(outStruct);
    await reader.close();
  }
}

/**
 * Output chunk of node:zlib's zstd stream. Larger chunks mean fewer thread-pool round trips (the default
 * 16 KiB is slower: docs/codecs.md); it is also how far past maxOutput a decode can go.
 */
const ZLIB_OUTPUT_CHUNK = 1 << 20;
/** Input is handed to node:zlib in writes of about one block (block headers alone would be 3-byte writes). */
const ZLIB_INPUT_WRITE = BLOCK_SIZE_MAX;

async function* decodeWithZlib(zlib: ZlibWithZstd, source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  const stream = zlib.createZstdDecompress({ chunkSize: ZLIB_OUTPUT_CHUNK, params: { [zlib.constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX } });
  try {
    const magic = await skipSkippableFrames(reader);
    const frame = new FrameWalker(reader, reader.offset - magic.length);
    let produced = 0;
    try {
      for await (const out of throughZlibStream(stream, frame.bytes(magic))) {
        produced += out.length;
        yield out;
        if (produced > options.maxOutput) return;
        await yieldToEventLoop();
      }
    } catch (e) {
      if (e instanceof CodecError) throw e;
      // node:zlib counts in bytesWritten the input libzstd consumed before the call that failed.
      const at = frame.start + stream.bytesWritten;
      const code = (e as { errno?: unknown }).errno;
      const what = typeof code === 'number' && code > 0 ? zstdErrorText(code) : (e as Error).message;
      throw new CodecError('zstd', `zstd: ${what} near input offset ${at}`, at, { cause: e });
    }
    // The stream ended after its input did, which is exactly the frame: libzstd must have used all of it.
    if (frame.end === undefined || stream.bytesWritten !== frame.end - frame.start)
      throw new CodecError('zstd', `zstd: internal: libzstd consumed ${stream.bytesWritten} bytes of the frame at input offset ${frame.start}, its block headers span ${(frame.end ?? reader.offset) - frame.start}`, frame.start);
    options.onStreamEnd?.(frame.end);
  } finally {
    stream.destroy();
    await reader.close();
  }
}

/**
 * Reads one zstd frame from a ByteReader by its own structure (RFC 8878 §3.1.1): the frame header, then
 * blocks (3-byte header: last-block bit, type, size) up to the last one, then the optional 4-byte content
 * checksum. What it yields is exactly the frame, in copies (zlib reads them later, on its thread); it never
 * reads past the frame. It checks only what it needs to find the frame's end; libzstd checks the rest.
 */
class FrameWalker {
  /** Input offset just past the frame, once its last byte was read. */
  end: number | undefined;

  constructor(
    private readonly reader: ByteReader,
    /** Input offset of the frame's magic number. */
    readonly start: number,
  ) {}

  async *bytes(magic: Uint8Array): AsyncGenerator<Uint8Array> {
    const pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const take = (b: Uint8Array) => {
      pending.push(b.slice());
      pendingBytes += b.length;
    };
    const flush = (): Uint8Array => {
      const out = pending.length === 1 ? pending[0]! : concat(pending, pendingBytes);
      pending.length = 0;
      pendingBytes = 0;
      return out;
    };
    if (magic.length < 4) throw truncated(this.reader.offset);
    if (!isZstdMagic(magic)) throw new CodecError('zstd', `zstd: ${zstdErrorText(10)} near input offset ${this.start}`, this.start);
    take(magic);
    const descriptor = (await this.exactly(1))[0]!;
    if (descriptor & 0x08) throw new CodecError('zstd', `zstd: ${zstdErrorText(14)} near input offset ${this.start + 4} (reserved bit of the frame header descriptor set)`, this.start + 4);
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!;
    const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
    take(Uint8Array.of(descriptor));
    take(await this.exactly((singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes));
    for (;;) {
      const at = this.reader.offset;
      const header = await this.exactly(3);
      take(header);
      const word = header[0]! | (header[1]! << 8) | (header[2]! << 16);
      const last = (word & 1) === 1;
      const size = word >>> 3;
      let body: number;
      const type = (word >> 1) & 3;
      switch (type) {
        case 0: // raw: the bytes themselves
        case 2: // compressed
          body = size;
          break;
        case 1: // RLE: one byte, repeated `size` times
          body = 1;
          break;
        default: // 3 is reserved
          throw new CodecError('zstd', `zstd: ${zstdErrorText(20)} near input offset ${at} (reserved block type)`, at);
      }
      if (size > BLOCK_SIZE_MAX) throw new CodecError('zstd', `zstd: ${zstdErrorText(20)} near input offset ${at} (block size ${size} above ${BLOCK_SIZE_MAX})`, at);
      for (let left = body; left > 0; ) {
        const c = await this.reader.chunk(Math.min(left, ZLIB_INPUT_WRITE));
        if (!c) throw truncated(this.reader.offset);
        take(c);
        left -= c.length;
        if (pendingBytes >= ZLIB_INPUT_WRITE) yield flush();
      }
      if (last) {
        if (hasChecksum) take(await this.exactly(4));
        this.end = this.reader.offset;
        yield flush();
        return;
      }
    }
  }

  private async exactly(n: number): Promise<Uint8Array> {
    const b = await this.reader.read(n);
    if (b.length < n) throw truncated(this.reader.offset);
    return b;
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
