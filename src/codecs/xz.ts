import type { Codec, DecodeOptions } from './types.js';
import { driveDecoder } from './lzma/drive.js';

/**
 * .xz container (zboot "xzkern": CRC32 check, LZMA2 with a large dictionary, and since Linux 6.12 the ARM64
 * or RISC-V BCJ filter in front; x86 bzImage: x86 BCJ). Library: kimg's own decoder (./lzma/), which reads
 * every filter of the .xz specification (LZMA2, Delta, BCJ x86/PowerPC/IA-64/ARM/ARM-Thumb/SPARC/ARM64/
 * RISC-V) and verifies every CRC32, the CRC64/SHA-256 checks, the index and the footer.
 *
 * Trailing data: decoding stops after the first stream's footer; following bytes (stream padding, the
 * kernel's le32 size trailer) are not read.
 */
export const xz: Codec = {
  name: 'xz',
  description: '.xz stream: LZMA2 with Delta and every BCJ filter (x86, PowerPC, IA-64, ARM, ARM-Thumb, SPARC, ARM64, RISC-V)',
  library: 'kimg lzma decoder (TypeScript)',
  sniff: (head) => head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0,
  decode: decodeXz,
};

async function* decodeXz(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  // Loaded on first use: the .xz container's modules need node:zlib and node:crypto (CRC32, SHA-256 checks),
  // which cost a run that decodes no xz a few ms to load.
  const { XzStreamDecoder } = await import('./lzma/xz-stream.js');
  yield* driveDecoder('xz', source, options, (input) => new XzStreamDecoder(input));
}
