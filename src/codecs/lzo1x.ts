/**
 * LZO1X block decoder (the format of lzop's methods 1-3 and of the kernel's CONFIG_KERNEL_LZO), written
 * from the format as the kernel's Documentation/staging/lzo.rst describes it. One call decodes one block
 * into a buffer of exactly the size the container declares; every read of the input, every write of the
 * output and every back-reference is bounds-checked, so corrupt input ends in an LzoFormatError, never in a
 * read or write outside the buffers.
 *
 * Instructions (the byte `t` that starts each one; `state` is the number of literals the previous instruction
 * copied, 4 meaning "4 or more"):
 * - first byte > 17: a run of t - 17 literals;
 * - 0..15, state 0: a run of t + 3 literals (t = 0: 18 + 255 per zero byte + the next byte);
 * - 0..15, state 1..3: a 2-byte match at distance 1 + (t >> 2) + (next << 2);
 * - 0..15, state 4: a 3-byte match at distance 2049 + (t >> 2) + (next << 2);
 * - 64..255 (M2): length 3 + (t >> 5) - 2 + ... (3..8), distance 1 + ((t >> 2) & 7) + (next << 3);
 * - 32..63 (M3): length 2 + (t & 31) (0: 33 + 255 per zero byte + the next byte), distance 1 + (le16 >> 2);
 * - 16..31 (M4): length 2 + (t & 7) (likewise from 9), distance 16384 + ((t & 8) << 11) + (le16 >> 2);
 *   distance 16384 exactly is the end-of-stream marker (11 00 00).
 * The low two bits of the instruction's last distance byte (of `t` for M2 and the short matches) are the
 * number of literals (0..3) that follow the match.
 */

export class LzoFormatError extends Error {
  constructor(
    message: string,
    /** Offset in the block's compressed data where the instruction that failed starts. */
    readonly at: number,
  ) {
    super(message);
    this.name = 'LzoFormatError';
  }
}

/** A zero-extended length: each 0 byte adds 255, the first non-zero byte ends it. Its index (src.length if none). */
function afterZeros(src: Uint8Array, from: number): number {
  let i = from;
  while (i < src.length && src[i] === 0) i++;
  return i;
}

/** Decodes one LZO1X block `src` into `dst`, which it must fill exactly; returns dst.length. */
export function decodeLzo1x(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  let state = 0;
  let t = 0;
  let start = 0;
  let dist = 0;
  let len = 0;
  let next = 0;

  if (inEnd === 0) throw new LzoFormatError('empty block', 0);
  if (src[0]! > 17) {
    t = src[0]! - 17;
    ip = 1;
    if (ip + t > inEnd) throw new LzoFormatError(`input overrun in a run of ${t} literals`, 0);
    if (op + t > outEnd) throw new LzoFormatError(`output overrun in a run of ${t} literals (block holds ${outEnd} bytes)`, 0);
    for (let k = 0; k < t; k++) dst[op++] = src[ip++]!;
    state = Math.min(t, 4);
  }
  for (;;) {
    start = ip;
    if (ip >= inEnd) throw new LzoFormatError('input ends without the end-of-stream marker', ip);
    t = src[ip++]!;
    if (t < 16) {
      if (state === 0) {
        // A literal run.
        if (t === 0) {
          const last = afterZeros(src, ip);
          if (last >= inEnd) throw new LzoFormatError('input overrun in a literal run length', start);
          t = 15 + 255 * (last - ip) + src[last]!;
          ip = last + 1;
        }
        t += 3;
        if (ip + t > inEnd) throw new LzoFormatError(`input overrun in a run of ${t} literals`, start);
        if (op + t > outEnd) throw new LzoFormatError(`output overrun in a run of ${t} literals (block holds ${outEnd} bytes)`, start);
        if (t > 32) {
          dst.set(src.subarray(ip, ip + t), op);
          op += t;
          ip += t;
        } else for (let k = 0; k < t; k++) dst[op++] = src[ip++]!;
        state = 4;
        continue;
      }
      if (ip >= inEnd) throw new LzoFormatError('input overrun in a match', start);
      next = t & 3;
      if (state === 4) {
        dist = 2049 + (t >>> 2) + (src[ip++]! << 2);
        len = 3;
      } else {
        dist = 1 + (t >>> 2) + (src[ip++]! << 2);
        len = 2;
      }
    } else if (t >= 64) {
      if (ip >= inEnd) throw new LzoFormatError('input overrun in a match', start);
      next = t & 3;
      dist = 1 + ((t >>> 2) & 7) + (src[ip++]! << 3);
      len = (t >>> 5) + 1;
    } else {
      // M3 (32..63) and M4 (16..31): a length, possibly zero-extended, then a little-endian 16-bit distance.
      const m3 = t >= 32;
      len = m3 ? t & 31 : t & 7;
      if (len === 0) {
        const last = afterZeros(src, ip);
        if (last >= inEnd) throw new LzoFormatError('input overrun in a match length', start);
        len = (m3 ? 31 : 7) + 255 * (last - ip) + src[last]!;
        ip = last + 1;
      }
      len += 2;
      if (ip + 2 > inEnd) throw new LzoFormatError('input overrun in a match distance', start);
      const d16 = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
      next = d16 & 3;
      if (m3) dist = 1 + (d16 >>> 2);
      else {
        dist = ((t & 8) << 11) + (d16 >>> 2);
        if (dist === 0) {
          // The end-of-stream marker: it must be 11 00 00, end the input and come when the block is full.
          if (len !== 3) throw new LzoFormatError('malformed end-of-stream marker', start);
          if (ip !== inEnd) throw new LzoFormatError(`${inEnd - ip} bytes of input after the end-of-stream marker`, start);
          if (op !== outEnd) throw new LzoFormatError(`block ends after ${op} bytes, its header declares ${outEnd}`, start);
          return op;
        }
        dist += 16384;
      }
    }
    // The match: `len` bytes from `dist` back (overlapping copies repeat the pattern, hence byte by byte).
    if (dist > op) throw new LzoFormatError(`match distance ${dist} reaches before the start of the block (${op} bytes decoded)`, start);
    if (op + len > outEnd) throw new LzoFormatError(`output overrun in a match of ${len} bytes (block holds ${outEnd} bytes)`, start);
    let from = op - dist;
    if (dist >= len && len > 32) {
      dst.copyWithin(op, from, from + len);
      op += len;
    } else {
      const end = op + len;
      while (op < end) dst[op++] = dst[from++]!;
    }
    // Then 0..3 literals.
    state = next;
    if (next > 0) {
      if (ip + next > inEnd) throw new LzoFormatError('input overrun in the literals after a match', start);
      if (op + next > outEnd) throw new LzoFormatError(`output overrun in the literals after a match (block holds ${outEnd} bytes)`, start);
      dst[op++] = src[ip++]!;
      if (next > 1) dst[op++] = src[ip++]!;
      if (next > 2) dst[op++] = src[ip++]!;
    }
  }
}
