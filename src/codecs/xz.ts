import type { Codec } from './types.js';
import { liblzmaDecode } from './_liblzma.js';

/**
 * .xz container (zboot "xzkern": CRC32 check, LZMA2 with a large dictionary, and since Linux 6.12 the ARM64
 * or RISC-V BCJ filter in front). Library: liblzma 5.8.2 compiled to WebAssembly, shipped in node-liblzma
 * (pure files, no native build needed), so ARM64 (liblzma >= 5.4) and RISC-V (>= 5.6) BCJ both decode
 * whatever the system's liblzma is.
 *
 * Trailing data: liblzma's stream decoder stops after the first stream's footer; following bytes (stream
 * padding, the kernel's le32 size trailer) are not read.
 */
export const xz: Codec = {
  name: 'xz',
  description: '.xz stream, any filter chain of liblzma 5.8 (LZMA2, BCJ x86/ARM/ARM64/RISC-V...)',
  library: 'node-liblzma@4.0.2 (liblzma 5.8.2 wasm)',
  sniff: (head) => head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0,
  decode: (source, options) => liblzmaDecode('xz', 'xz', source, options),
};
