import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader } from './_util.js';

/**
 * bzip2 stream(s) (x86 bzImage with CONFIG_KERNEL_BZIP2; never offered for zboot). Library: unbzip2-stream
 * (pure JS, a true streaming decoder: memory is bounded by the 900 kB block size).
 *
 * Trailing data: unbzip2-stream decodes concatenated bzip2 streams; after the end-of-stream marker it looks
 * for another "BZh" header and reports an error if the next bytes are something else. We treat that
 * "No magic number found" error, which it raises only after a completed stream whose CRC it checked, as the
 * end of data, so a
 * kernel's le32 size trailer after the stream is ignored.
 */
export const bzip2: Codec = {
  name: 'bzip2',
  description: 'bzip2 stream(s) (x86 bzImage payloads)',
  library: 'unbzip2-stream@1.4.3',
  sniff: (head) => head.length >= 4 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39,
  decode: decodeBzip2,
};

interface Through {
  write(c: Uint8Array): boolean;
  end(): void;
  destroy?(): void;
  on(ev: string, f: (...a: any[]) => void): void;
}

async function* decodeBzip2(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  let make: () => Through;
  try {
    make = ((await import('unbzip2-stream')) as unknown as { default: () => Through }).default;
  } catch (e) {
    throw new CodecError('bzip2', `bzip2: cannot load decoder (unbzip2-stream): ${(e as Error).message}`, undefined, { cause: e });
  }
  const r = new ByteReader(source);
  const t = make();
  const queue: Uint8Array[] = [];
  let error: unknown;
  let ended = false;
  t.on('data', (c: Uint8Array) => queue.push(c));
  t.on('error', (e: unknown) => (error ??= e));
  t.on('end', () => (ended = true));
  let produced = 0;
  try {
    for (;;) {
      const at = r.offset;
      const c = await r.chunk(64 * 1024);
      // unbzip2-stream decodes synchronously inside write()/end(): output and errors are queued right here.
      try {
        if (c) t.write(Buffer.from(c));
        else t.end();
      } catch (e) {
        error ??= e;
      }
      while (queue.length) {
        const o = queue.shift()!;
        produced += o.length;
        yield o;
        if (produced > options.maxOutput) return;
      }
      if (error) {
        // Raised only when looking for a following stream's header, i.e. after a complete, CRC-checked stream.
        if (produced > 0 && error instanceof Error && error.message === 'No magic number found') return;
        const msg = error instanceof Error ? error.message : String(error);
        throw new CodecError('bzip2', `bzip2: ${msg} (input chunk at offset ${at})`, at, { cause: error });
      }
      if (!c) {
        if (!ended && produced === 0) throw new CodecError('bzip2', 'bzip2: no data decoded (truncated stream?)', at);
        return;
      }
    }
  } finally {
    t.destroy?.();
    await r.close();
  }
}
