import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { driveDecoder } from './lzma/drive.js';
import { LzmaAloneDecoder, decodesAsLzmaAlone } from './lzma/lzma-alone.js';

/**
 * Legacy "LZMA alone" (.lzma) stream: 13-byte header (properties byte, le32 dictionary size, le64
 * uncompressed size, all ones when unknown as the kernel's piped `lzma -9` writes it), then LZMA1 data
 * ending with an end marker. Library: kimg's own decoder (./lzma/), after checking the header is one xz or
 * the kernel's `lzma -9` would write.
 *
 * Trailing data: decoding stops at the end-of-payload marker (or after the declared size); the bytes after
 * it (the kernel's le32 size trailer) are not read.
 */
export const lzma: Codec = {
  name: 'lzma',
  description: 'legacy .lzma ("LZMA alone") stream, known or unknown size',
  library: 'kimg lzma decoder (TypeScript)',
  // No magic: the header must be one xz writes, and the bytes available must decode without an error.
  sniff: (head) => isLzmaAloneHeader(head) && decodesAsLzmaAlone(head),
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
  let checked = false;
  yield* driveDecoder('lzma', source, options, (input) => {
    const decoder = new LzmaAloneDecoder(input);
    return {
      step(maxOut) {
        // Refuse input that is not an LZMA-alone header as xz would write it before decoding anything.
        if (!checked) {
          if (!input.has(13, 'LZMA header')) return null;
          if (!isLzmaAloneHeader(input.buf.subarray(input.pos, input.pos + 13))) {
            throw new CodecError('lzma', 'lzma: not an LZMA-alone header (bad properties byte, dictionary size or size field)', 0);
          }
          checked = true;
        }
        return decoder.step(maxOut);
      },
      get done() {
        return decoder.done;
      },
      get consumed() {
        return decoder.consumed;
      },
    };
  });
}
