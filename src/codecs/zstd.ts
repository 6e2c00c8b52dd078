import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, yieldToEventLoop } from './_util.js';

/**
 * Zstandard, one frame as `zstd -22 --ultra` writes it from a pipe: no content size, window up to 128 MiB.
 *
 * Library: zstddec (the reference zstd decoder compiled to WebAssembly, no install script). Its own
 * `decodeStreaming()` never checks ZSTD_decompressStream's error code (it loops forever on a corrupt frame)
 * and would start decoding trailing bytes as a new frame, so we drive the same wasm exports ourselves with
 * `ZSTD_decompressStream`, checking every return value. The default window limit of libzstd (2^27 = 128 MiB)
 * admits the kernel's frames; memory is bounded by the window, not by the image.
 *
 * Frames: like the kernel's lib/decompress_unzstd.c (its streaming loop ends when ZSTD_decompressStream
 * returns 0, i.e. after one frame) we decode one frame; skippable frames (magic 0x184D2A50..5F) before it are
 * skipped, as `zstd -d` does. The bytes up to the end of that frame are reported through onStreamEnd;
 * what follows (the kernel's le32 size trailer, further frames) is not read.
 */
export const zstd: Codec = {
  name: 'zstd',
  description: 'Zstandard frame (zboot "zstd" / "zstd22", Image.zst)',
  library: 'zstddec@0.3.4 (libzstd wasm)',
  sniff: (head) => head.length >= 4 && ((head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) || isSkippableMagic(head)),
  decode: decodeZstd,
};

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
    await dec.init();
    if (!inst) throw new Error('zstddec did not expose its wasm instance');
    return inst.exports as unknown as ZstdExports;
  })();
  return exportsPromise;
}

/** libzstd error codes (zstd_errors.h) that matter for messages. */
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

async function* decodeZstd(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
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
      if (!chunk) throw new CodecError('zstd', `zstd: stream truncated at input offset ${consumedBefore} (frame not finished)`, consumedBefore);
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
          throw new CodecError('zstd', `zstd: ${ZSTD_ERRORS[code] ?? `error ${code}`} near input offset ${at}`, at);
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
