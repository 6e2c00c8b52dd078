import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { liblzmaDecode } from './_liblzma.js';

/**
 * Legacy "LZMA alone" (.lzma) stream: 13-byte header (properties byte, le32 dictionary size, le64
 * uncompressed size, all ones when unknown as the kernel's piped `lzma -9` writes it), then LZMA1 data
 * ending with an end marker. Library: liblzma 5.8.2 wasm (node-liblzma), through lzma_auto_decoder after we
 * check the header is an LZMA-alone one (auto would also accept .xz and .lz).
 *
 * Trailing data: decoding stops at the end-of-payload marker (or after the declared size); the bytes after
 * it (the kernel's le32 size trailer) are not read.
 */
export const lzma: Codec = {
  name: 'lzma',
  description: 'legacy .lzma ("LZMA alone") stream, known or unknown size',
  library: 'node-liblzma@4.0.2 (liblzma 5.8.2 wasm)',
  sniff: (head) => isLzmaAloneHeader(head),
  decode: decodeLzma,
};

/**
 * LZMA-alone has no magic, so claim only what xz and the kernel would write: properties byte < 225 with
 * lc + lp <= 4 (the kernel's and liblzma's LZMA1 limit), a dictionary that is a power of two or
 * 2^n + 2^(n-1) (the only sizes xz's presets and --lzma1=dict= round to) within 4 KiB..1.5 GiB, and an
 * uncompressed size that is unknown (all ones) or below 2^40. An ELF header or random bytes fail this.
 */
export function isLzmaAloneHeader(head: Uint8Array): boolean {
  if (head.length < 13) return false;
  const props = head[0]!;
  if (props >= 9 * 5 * 5) return false;
  const lc = props % 9;
  const lp = Math.floor(props / 9) % 5;
  if (lc + lp > 4) return false;
  const dict = (head[1]! | (head[2]! << 8) | (head[3]! << 16) | (head[4]! << 24)) >>> 0;
  if (dict < 4096 || dict > 0x60000000 || !isXzDictionarySize(dict)) return false;
  let allOnes = true;
  for (let i = 5; i < 13; i++) if (head[i] !== 0xff) allOnes = false;
  return allOnes || (head[10] === 0 && head[11] === 0 && head[12] === 0);
}

/** 2^n or 2^n + 2^(n-1). */
function isXzDictionarySize(dict: number): boolean {
  const top = 2 ** Math.floor(Math.log2(dict));
  return dict === top || dict === top + top / 2;
}

async function* decodeLzma(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  // Peek the header to refuse non-LZMA-alone input, then replay it in front of the rest.
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  while (have < 13) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    have += r.value.length;
  }
  const joined = new Uint8Array(have);
  let o = 0;
  for (const c of head) {
    joined.set(c, o);
    o += c.length;
  }
  if (have < 13) throw new CodecError('lzma', `lzma: stream truncated in the 13-byte header (${have} bytes)`, have);
  if (!isLzmaAloneHeader(joined)) throw new CodecError('lzma', 'lzma: not an LZMA-alone header (bad properties byte, dictionary size or size field)', 0);
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield joined;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  yield* liblzmaDecode('lzma', 'auto', replay(), options);
}
