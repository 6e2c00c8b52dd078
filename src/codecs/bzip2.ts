import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { Bzip2Decoder, Bzip2FormatError, NeedInput } from './bzip2-decoder.js';
import { yieldToEventLoop } from './_util.js';

/**
 * bzip2 stream (x86 bzImage with CONFIG_KERNEL_BZIP2; never offered for zboot). Library: kimg's own
 * pull-based decoder (./bzip2-decoder.ts; why no npm decoder: docs/codecs.md). Output comes in chunks
 * of at most OUT_CHUNK bytes, so decoding stops right after `maxOutput` and memory stays bounded by the
 * 900 kB block size whatever the stream expands to.
 *
 * Trailing data: like the kernel's lib/decompress_bunzip2.c, one stream is decoded, up to its
 * end-of-stream marker and combined CRC; what follows (the kernel's le32 size word, another stream) is
 * reported through onStreamEnd, not decoded.
 */
export const bzip2: Codec = {
  name: 'bzip2',
  description: 'bzip2 stream (x86 bzImage payloads)',
  library: 'kimg bzip2-decoder (TypeScript)',
  // "BZh1".."BZh9", then a block header or the end-of-stream marker (an empty stream).
  sniff: (head) =>
    head.length >= 10 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39 &&
    ((head[4] === 0x31 && head[5] === 0x41 && head[6] === 0x59 && head[7] === 0x26 && head[8] === 0x53 && head[9] === 0x59) ||
      (head[4] === 0x17 && head[5] === 0x72 && head[6] === 0x45 && head[7] === 0x38 && head[8] === 0x50 && head[9] === 0x90)),
  decode: decodeBzip2,
};

const OUT_CHUNK = 256 * 1024;

async function* decodeBzip2(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  const d = new Bzip2Decoder();
  let ended = false;
  let produced = 0;
  const pull = async (): Promise<void> => {
    const r = await it.next();
    if (r.done) ended = true;
    else d.push(r.value);
  };
  try {
    for (;;) {
      while (!ended && d.buffered < d.lookahead) await pull();
      const out = new Uint8Array(OUT_CHUNK);
      let n: number;
      try {
        n = d.read(out);
      } catch (e) {
        if (e instanceof NeedInput) {
          if (ended) throw new CodecError('bzip2', `bzip2: stream truncated at input offset ${d.offset + d.buffered}`, d.offset + d.buffered);
          await pull();
          continue;
        }
        if (e instanceof Bzip2FormatError) throw new CodecError('bzip2', `bzip2: ${e.message} (at input offset ${e.offset})`, e.offset, { cause: e });
        throw e;
      }
      if (n > 0) {
        produced += n;
        yield out.subarray(0, n);
        if (produced > options.maxOutput) return;
      }
      if (d.done) {
        options.onStreamEnd?.(d.consumed!);
        return;
      }
      // A macrotask now and then, as every codec does: besides timers and signal handlers, V8 finishes
      // freeing dead ArrayBuffers (the 256 KiB chunks already consumed) in main-thread tasks; without a
      // turn a bomb's microtask-only loop kept them (the 4 GiB bomb peaked at 182 MiB on a loaded machine).
      await yieldToEventLoop();
    }
  } finally {
    await it.return?.();
  }
}
