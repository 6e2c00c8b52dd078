/** Shared driver for liblzma 5.8 compiled to WebAssembly (shipped inside node-liblzma). */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { CodecError } from './errors.js';
import { ByteReader } from './_util.js';
import type { DecodeOptions } from './types.js';

interface LzmaModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  _lzma_code(strm: number, action: number): number;
  _lzma_end(strm: number): void;
  /** i64 arguments are split in two i32 halves by the wasm build. */
  _lzma_stream_decoder(strm: number, memlimitLo: number, memlimitHi: number, flags: number): number;
  _lzma_auto_decoder(strm: number, memlimitLo: number, memlimitHi: number, flags: number): number;
  _lzma_version_string(): number;
}
interface WasmStream {
  readonly ptr: number;
  setInput(ptr: number, size: number): void;
  setOutput(ptr: number, size: number): void;
  readonly availIn: number;
  readonly availOut: number;
  free(): void;
}
interface WasmApi {
  module: LzmaModule;
  Stream: new (m: LzmaModule) => WasmStream;
}

let apiPromise: Promise<WasmApi> | undefined;
function loadLiblzma(): Promise<WasmApi> {
  apiPromise ??= (async () => {
    const w = (await import('node-liblzma/wasm')) as unknown as {
      initModule(loader?: () => Promise<LzmaModule>): Promise<LzmaModule>;
      WasmLzmaStream: new (m: LzmaModule) => WasmStream;
    };
    // node-liblzma's default loader fetch()es a file: URL, which Node 20's fetch refuses: hand it the bytes.
    const require = createRequire(import.meta.url);
    const module = await w.initModule(async () => {
      const factory = ((await import('node-liblzma/wasm/liblzma.js')) as unknown as { default: (o: object) => Promise<LzmaModule> }).default;
      const wasmBinary = await readFile(require.resolve('node-liblzma/wasm/liblzma.wasm'));
      return factory({ wasmBinary });
    });
    return { module, Stream: w.WasmLzmaStream };
  })();
  apiPromise.catch(() => (apiPromise = undefined));
  return apiPromise;
}

const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_RUN = 0;
const LZMA_FINISH = 3;
const LZMA_ERRORS: Record<number, string> = {
  2: 'no integrity check',
  3: 'unsupported integrity check',
  5: 'cannot allocate memory',
  6: 'memory usage limit reached',
  7: 'file format not recognized',
  8: 'unsupported options (e.g. an unknown filter)',
  9: 'compressed data is corrupt',
  10: 'unexpected end of input',
  11: 'programming error',
};

/**
 * Decode one .xz stream (`kind: 'xz'`) or one LZMA-alone stream (`kind: 'auto'` restricted by the caller).
 * liblzma stops at the end of the first stream (no LZMA_CONCATENATED), so trailing bytes are never read
 * as compressed data.
 */
export async function* liblzmaDecode(codec: string, kind: 'xz' | 'auto', source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let api: WasmApi;
  try {
    api = await loadLiblzma();
  } catch (e) {
    throw new CodecError(codec, `${codec}: cannot load liblzma (node-liblzma wasm): ${(e as Error).message}`, undefined, { cause: e });
  }
  const m = api.module;
  const reader = new ByteReader(source);
  const strm = new api.Stream(m);
  // memlimit 4 GiB (lo=0, hi=1): the kernel's dictionaries are <= 64 MiB; the limit only guards absurd headers.
  const init = kind === 'xz' ? m._lzma_stream_decoder(strm.ptr, 0, 1, 0) : m._lzma_auto_decoder(strm.ptr, 0, 1, 0);
  if (init !== LZMA_OK) {
    strm.free();
    throw new CodecError(codec, `${codec}: liblzma decoder init failed (${LZMA_ERRORS[init] ?? init})`);
  }
  const OUT = 1 << 20;
  const IN = 1 << 18;
  const outPtr = m._malloc(OUT);
  const inPtr = m._malloc(IN);
  let produced = 0;
  let consumedBefore = 0;
  let lastBreath = performance.now();
  try {
    for (;;) {
      const chunk = await reader.chunk(IN);
      const action = chunk ? LZMA_RUN : LZMA_FINISH;
      if (chunk) {
        m.HEAPU8.set(chunk, inPtr);
        strm.setInput(inPtr, chunk.length);
      } else strm.setInput(0, 0);
      const len = chunk?.length ?? 0;
      for (;;) {
        strm.setOutput(outPtr, OUT);
        const ret = m._lzma_code(strm.ptr, action);
        const n = OUT - strm.availOut;
        if (n > 0) {
          produced += n;
          yield m.HEAPU8.slice(outPtr, outPtr + n);
          if (produced > options.maxOutput) return;
        }
        // Each _lzma_code call is at most 1 MiB of output (a few ms); yielding to the event loop every
        // ~50 ms lets timers and signal handlers run even when the consumer never waits on I/O.
        if (performance.now() - lastBreath > 50) {
          await new Promise((resolve) => setImmediate(resolve));
          lastBreath = performance.now();
        }
        if (ret === LZMA_STREAM_END) {
          // Like the kernel's xz_dec_run (no XZ_DEC_CONCATENATED) and unlzma: the first stream ends at its
          // footer / end marker; stream padding and anything after it are trailing data, left unread.
          options.onStreamEnd?.(consumedBefore + len - strm.availIn);
          return;
        }
        if (ret !== LZMA_OK) {
          const at = consumedBefore + len - strm.availIn;
          const what = ret === 10 || (ret === 9 && !chunk) ? `stream truncated (${LZMA_ERRORS[ret]})` : (LZMA_ERRORS[ret] ?? `liblzma error ${ret}`);
          throw new CodecError(codec, `${codec}: ${what} near input offset ${at}`, at);
        }
        if (!chunk && n === 0) throw new CodecError(codec, `${codec}: stream truncated at input offset ${consumedBefore}`, consumedBefore);
        if (chunk && strm.availIn === 0 && strm.availOut > 0) break;
      }
      consumedBefore += len;
    }
  } finally {
    m._free(outPtr);
    m._free(inPtr);
    m._lzma_end(strm.ptr);
    strm.free();
    await reader.close();
  }
}

/** Reads liblzma's version string (for reports/tests). */
export async function liblzmaVersion(): Promise<string> {
  const { module: m } = await loadLiblzma();
  const p = m._lzma_version_string();
  let s = '';
  for (let i = p; m.HEAPU8[i]; i++) s += String.fromCharCode(m.HEAPU8[i]!);
  return s;
}
