import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, yieldToEventLoop } from './_util.js';

/**
 * bzip2 stream (x86 bzImage with CONFIG_KERNEL_BZIP2; never offered for zboot). Decoder: kimg's own, pull
 * based (docs/codecs.md has the measurement that rejected unbzip2-stream, which decodes a whole small input
 * synchronously inside end(), past any output limit). One block (at most 900 kB of BWT data) is decoded at a
 * time; its output is produced in chunks of at most OUT_CHUNK bytes, so decoding stops right after
 * maxOutput and memory is bounded by the block size, whatever the output size.
 *
 * Checked like the kernel's lib/decompress_bunzip2.c: each block's CRC, the stream's combined CRC, and
 * randomised blocks (obsolete since bzip2 0.9.5) are refused. Like the kernel it decodes one stream: what
 * follows the end-of-stream marker is trailing data (reported through onStreamEnd, not read).
 */
export const bzip2: Codec = {
  name: 'bzip2',
  description: 'bzip2 stream (x86 bzImage payloads)',
  library: 'kimg (own pull-based decoder)',
  sniff: (head) =>
    head.length >= 10 &&
    head[0] === 0x42 &&
    head[1] === 0x5a &&
    head[2] === 0x68 &&
    head[3]! >= 0x31 &&
    head[3]! <= 0x39 &&
    (startsWith(head, 4, BLOCK_MAGIC) || startsWith(head, 4, END_MAGIC)),
  decode: decodeBzip2,
};

const BLOCK_MAGIC = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
const END_MAGIC = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
/** Decoded bytes handed out per chunk: bounds the work between two yields and the overshoot past maxOutput. */
const OUT_CHUNK = 1 << 20;
/**
 * Input kept ahead of the decoder before a block is decoded synchronously. No compressed block is larger:
 * at most 900 000 + 1 symbols of at most 20 bits (2.25 MB), plus at most 32 767 selectors and 6 tables.
 */
const WINDOW = 3 << 20;
const MAX_GROUPS = 6;
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;
/** bzip2 1.0.8 reads up to 32767 selectors but uses at most this many (BZ_MAX_SELECTORS). */
const MAX_SELECTORS = 18002;

function startsWith(b: Uint8Array, at: number, magic: number[]): boolean {
  return magic.every((m, i) => b[at + i] === m);
}

/** bzip2's CRC32: polynomial 0x04C11DB7, most significant bit first (unlike zlib's reflected CRC32). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Thrown inside the synchronous block decoder when the buffered input runs out. */
class OutOfInput extends Error {}

/** MSB-first bit reader over the buffered input window. */
class Bits {
  data: Uint8Array = new Uint8Array(0);
  /** Input offset of data[0]. */
  base = 0;
  pos = 0;
  private acc = 0;
  private count = 0;

  /** Input offset of the next unread bit's byte (bits already in the accumulator are counted as read). */
  get offset(): number {
    return this.base + this.pos - (this.count >> 3);
  }

  bits(n: number): number {
    // n <= 24: the accumulator never holds more than 31 bits.
    while (this.count < n) {
      if (this.pos >= this.data.length) throw new OutOfInput();
      this.acc = ((this.acc << 8) | this.data[this.pos++]!) >>> 0;
      this.count += 8;
    }
    this.count -= n;
    const v = (this.acc >>> this.count) & ((1 << n) - 1);
    this.acc &= (1 << this.count) - 1;
    return v;
  }

  bit(): number {
    return this.bits(1);
  }

  /** Drop to the next byte boundary (the stream's padding after its CRC). */
  align(): void {
    this.count -= this.count & 7;
    this.acc &= (1 << this.count) - 1;
  }

  /** Unread bytes (whole bytes not yet in the accumulator). */
  get buffered(): number {
    return this.data.length - this.pos;
  }

  /** Keep only the unread bytes, then append `more`. */
  append(more: Uint8Array): void {
    const rest = this.data.subarray(this.pos);
    const next = new Uint8Array(rest.length + more.length);
    next.set(rest);
    next.set(more, rest.length);
    this.base += this.pos;
    this.pos = 0;
    this.data = next;
  }
}

/** The state of one decoded block while its output is handed out chunk by chunk. */
interface Block {
  tt: Uint32Array;
  /** BWT bytes still to be read out. */
  left: number;
  tPos: number;
  /** Run-length (RLE1) state: the previous byte, how many times in a row, and pending copies. */
  last: number;
  run: number;
  copies: number;
  crc: number;
  expectedCrc: number;
  at: number;
}

/**
 * Decode one block's entropy-coded part (after its 48-bit magic) into `tt` and set up the inverse BWT.
 * Synchronous; bounded by the block size.
 */
function readBlock(b: Bits, tt: Uint32Array, blockMax: number, fail: (m: string, at: number) => never): Block {
  const at = b.offset - 6;
  const expectedCrc = ((b.bits(16) << 16) | b.bits(16)) >>> 0;
  if (b.bit()) fail('randomised block (obsolete bzip2 < 0.9.5 format, refused like the kernel does)', at);
  const origPtr = b.bits(24);
  // Symbol map: which byte values occur.
  const seqToUnseq: number[] = [];
  const used16 = b.bits(16);
  for (let i = 0; i < 16; i++)
    if (used16 & (0x8000 >> i)) {
      const bits = b.bits(16);
      for (let j = 0; j < 16; j++) if (bits & (0x8000 >> j)) seqToUnseq.push(i * 16 + j);
    }
  if (seqToUnseq.length === 0) fail('block uses no symbols', at);
  const alphaSize = seqToUnseq.length + 2;
  const nGroups = b.bits(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) fail(`bad number of Huffman tables ${nGroups}`, at);
  const nSelectors = b.bits(15);
  if (nSelectors < 1) fail('no Huffman table selectors', at);
  const mtfGroups = Array.from({ length: nGroups }, (_, i) => i);
  const selectors = new Uint8Array(Math.min(nSelectors, MAX_SELECTORS));
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (b.bit()) if (++j >= nGroups) fail('bad Huffman table selector', at);
    const g = mtfGroups[j]!;
    mtfGroups.splice(j, 1);
    mtfGroups.unshift(g);
    if (i < selectors.length) selectors[i] = g;
  }
  // Code lengths (delta coded), then canonical decoding tables per group.
  const limit: Int32Array[] = [];
  const baseTab: Int32Array[] = [];
  const perm: Int32Array[] = [];
  const minLens: number[] = [];
  for (let g = 0; g < nGroups; g++) {
    const lens = new Uint8Array(alphaSize);
    let len = b.bits(5);
    for (let s = 0; s < alphaSize; s++) {
      for (;;) {
        if (len < 1 || len > MAX_CODE_LEN) fail(`bad Huffman code length ${len}`, at);
        if (!b.bit()) break;
        len += b.bit() ? -1 : 1;
      }
      lens[s] = len;
    }
    let minLen = MAX_CODE_LEN;
    let maxLen = 0;
    for (const l of lens) {
      if (l < minLen) minLen = l;
      if (l > maxLen) maxLen = l;
    }
    const p = new Int32Array(alphaSize);
    let pp = 0;
    for (let l = minLen; l <= maxLen; l++) for (let s = 0; s < alphaSize; s++) if (lens[s] === l) p[pp++] = s;
    const count = new Int32Array(MAX_CODE_LEN + 2);
    for (const l of lens) count[l]!++;
    const lim = new Int32Array(MAX_CODE_LEN + 2).fill(-1);
    const bs = new Int32Array(MAX_CODE_LEN + 2);
    let code = 0;
    let index = 0;
    for (let l = minLen; l <= maxLen; l++) {
      bs[l] = code - index; // symbol index = code - bs[l]
      code += count[l]!;
      index += count[l]!;
      lim[l] = code - 1;
      code <<= 1;
    }
    limit.push(lim);
    baseTab.push(bs);
    perm.push(p);
    minLens.push(minLen);
  }
  // Symbols: RUNA/RUNB run lengths, MTF indexes, end of block.
  const eob = alphaSize - 1;
  const mtf = new Uint8Array(256);
  for (let i = 0; i < 256; i++) mtf[i] = i;
  const byteCount = new Int32Array(256);
  let n = 0;
  let runLen = 0;
  let runBit = 1;
  let group = 0;
  let left = 0;
  let lim = limit[0]!;
  let bs = baseTab[0]!;
  let pm = perm[0]!;
  let minLen = 0;
  for (;;) {
    if (left === 0) {
      if (group >= selectors.length) fail('more symbols than Huffman table selectors', at);
      const g = selectors[group++]!;
      lim = limit[g]!;
      bs = baseTab[g]!;
      pm = perm[g]!;
      minLen = minLens[g]!;
      left = GROUP_SIZE;
    }
    left--;
    let len = minLen;
    let code = b.bits(len);
    while (code > lim[len]!) {
      if (++len > MAX_CODE_LEN) fail('invalid Huffman code', at);
      code = (code << 1) | b.bit();
    }
    const sym = pm[code - bs[len]!]!;
    if (sym <= 1) {
      // RUNA (1) / RUNB (2) digits of a bijective base-2 run length of the front MTF symbol.
      runLen += runBit << sym;
      runBit <<= 1;
      if (runLen > blockMax) fail('run longer than the block size', at);
      continue;
    }
    if (runLen) {
      if (n + runLen > blockMax) fail('block longer than its declared size', at);
      const v = seqToUnseq[mtf[0]!]!;
      byteCount[v]! += runLen;
      tt.fill(v, n, n + runLen);
      n += runLen;
      runLen = 0;
      runBit = 1;
    }
    if (sym === eob) break;
    if (n >= blockMax) fail('block longer than its declared size', at);
    const idx = sym - 1;
    const m = mtf[idx]!;
    mtf.copyWithin(1, 0, idx);
    mtf[0] = m;
    const v = seqToUnseq[m]!;
    byteCount[v]!++;
    tt[n++] = v;
  }
  if (origPtr >= n) fail(`BWT origin ${origPtr} outside the block (${n} bytes)`, at);
  // Inverse BWT: link each position to the next in the original order (high 24 bits).
  const start = new Int32Array(256);
  for (let i = 0, sum = 0; i < 256; i++) {
    start[i] = sum;
    sum += byteCount[i]!;
  }
  for (let i = 0; i < n; i++) {
    const v = tt[i]! & 0xff;
    tt[start[v]!]! |= i << 8;
    start[v]!++;
  }
  return { tt, left: n, tPos: tt[origPtr]! >>> 8, last: -1, run: 0, copies: 0, crc: 0xffffffff, expectedCrc, at };
}

/** Fill `out` with the block's next decoded bytes (undoing the initial RLE); returns how many were written. */
function readOut(k: Block, out: Uint8Array): number {
  const tt = k.tt;
  let o = 0;
  let crc = k.crc;
  while (o < out.length) {
    if (k.copies > 0) {
      const n = Math.min(k.copies, out.length - o);
      const v = k.last;
      out.fill(v, o, o + n);
      for (let i = 0; i < n; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ v) & 0xff]!) >>> 0;
      o += n;
      k.copies -= n;
      continue;
    }
    if (k.left === 0) break;
    const e = tt[k.tPos]!;
    const v = e & 0xff;
    k.tPos = e >>> 8;
    k.left--;
    if (k.run === 4) {
      // After four equal bytes comes a count of further copies.
      k.copies = v;
      k.run = 0;
      continue;
    }
    if (v === k.last) k.run++;
    else {
      k.last = v;
      k.run = 1;
    }
    out[o++] = v;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ v) & 0xff]!) >>> 0;
  }
  k.crc = crc;
  return o;
}

async function* decodeBzip2(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  const b = new Bits();
  let inputEnded = false;
  const fail = (m: string, at: number): never => {
    throw new CodecError('bzip2', `bzip2: ${m} at input offset ${at}`, at);
  };
  /** Buffer input until WINDOW bytes are ahead of the decoder or the input has ended. */
  const topUp = async () => {
    const parts: Uint8Array[] = [];
    let have = b.buffered;
    while (!inputEnded && have < WINDOW) {
      const c = await reader.chunk(WINDOW - have);
      if (!c) inputEnded = true;
      else {
        parts.push(c.slice());
        have += c.length;
      }
    }
    if (parts.length) b.append(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  };
  /** Run a synchronous step over the buffered window; running out of it is truncation (or a corrupt size). */
  const sync = <T>(step: () => T): T => {
    const at = b.offset;
    try {
      return step();
    } catch (e) {
      if (!(e instanceof OutOfInput)) throw e;
      if (inputEnded) throw new CodecError('bzip2', `bzip2: stream truncated at input offset ${b.base + b.data.length}`, b.base + b.data.length);
      return fail(`block larger than any valid bzip2 block`, at);
    }
  };
  let produced = 0;
  try {
    await topUp();
    const level = sync(() => {
      if (b.bits(8) !== 0x42 || b.bits(8) !== 0x5a || b.bits(8) !== 0x68) fail('bad magic (not a bzip2 stream)', 0);
      return b.bits(8) - 0x30;
    });
    if (level < 1 || level > 9) fail(`bad block size digit ${level}`, 3);
    const blockMax = level * 100_000;
    let tt: Uint32Array | undefined;
    let combined = 0;
    const out = new Uint8Array(OUT_CHUNK);
    for (;;) {
      await topUp();
      const at = b.offset;
      const magic = sync(() => b.bits(24) * 0x1000000 + b.bits(24));
      if (magic === 0x177245385090) {
        const streamCrc = sync(() => ((b.bits(16) << 16) | b.bits(16)) >>> 0);
        if (streamCrc !== combined) fail(`stream CRC mismatch (stored ${hex(streamCrc)}, computed ${hex(combined)})`, at + 6);
        b.align();
        options.onStreamEnd?.(b.offset);
        return;
      }
      if (magic !== 0x314159265359) fail('bad block magic (corrupt stream)', at);
      tt ??= new Uint32Array(blockMax);
      const blockTt = tt;
      const block = sync(() => readBlock(b, blockTt, blockMax, fail));
      await yieldToEventLoop();
      for (;;) {
        const n = readOut(block, out);
        if (n === 0) break;
        produced += n;
        yield out.slice(0, n);
        if (produced > options.maxOutput) return;
        await yieldToEventLoop();
      }
      const crc = ~block.crc >>> 0;
      if (crc !== block.expectedCrc) fail(`block CRC mismatch (stored ${hex(block.expectedCrc)}, computed ${hex(crc)})`, block.at);
      combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
    }
  } finally {
    await reader.close();
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
