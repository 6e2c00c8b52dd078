/**
 * A pull-based bzip2 decoder. Written for kimg because no decoder on npm stops early: unbzip2-stream (and
 * seek-bzip, compressjs) decode whole blocks into per-byte arrays inside one synchronous call, so a 3 KB
 * bomb of zeros became 4 GiB of JS numbers before anyone could look at the size (docs/codecs.md).
 *
 * Here a block's Huffman/MTF stage fills one Uint32Array of at most 900 k entries (the block size), the
 * inverse BWT runs in place, and the final run-length stage is resumable: it writes into an output buffer
 * of at most `chunk` bytes and returns, so the caller sees output in bounded chunks and can stop, yield to
 * the event loop or check a limit between them. Memory is bounded by the block size, never by the output.
 * Block CRCs and the stream CRC are checked (bzip2's CRC-32: polynomial 0x04c11db7, MSB first).
 *
 * Format: the bzip2 1.0 file format as the reference implementation writes it (see bzip2's
 * decompress.c and the kernel's lib/decompress_bunzip2.c for the same algorithm); randomised blocks
 * (bzip2 0.9.0, obsolete) are refused, as the kernel refuses them.
 */

const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const END_MAGIC_HI = 0x177245;
const END_MAGIC_LO = 0x385090;
const MAX_GROUPS = 6;
const MAX_ALPHA = 258;
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;
const MAX_SELECTORS = 18002;

// Int32Array, not Uint32Array: entries >= 2^31 would be read as doubles; the CRC is kept in int32 and made
// unsigned once per call.
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

/** The input ran out inside a block: more bytes are needed (or the stream is truncated). */
export class NeedInput extends Error {}

/** A malformed stream: what is wrong, and the byte offset where it was seen. */
export class Bzip2FormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** MSB-first bit reader over a byte buffer that the owner may extend. */
class Bits {
  buf: Uint8Array = new Uint8Array(0);
  /** Index of the next byte to load into `acc`. */
  pos = 0;
  acc = 0;
  n = 0;

  /** `count` bits, 1..24. */
  bits(count: number): number {
    while (this.n < count) {
      if (this.pos >= this.buf.length) throw new NeedInput();
      this.acc = ((this.acc << 8) | this.buf[this.pos++]!) >>> 0;
      this.n += 8;
    }
    this.n -= count;
    const v = (this.acc >>> this.n) & ((1 << count) - 1);
    this.acc &= (1 << this.n) - 1;
    return v;
  }

  bit(): number {
    if (this.n === 0) {
      if (this.pos >= this.buf.length) throw new NeedInput();
      this.acc = this.buf[this.pos++]!;
      this.n = 8;
    }
    this.n--;
    const v = (this.acc >>> this.n) & 1;
    this.acc &= (1 << this.n) - 1;
    return v;
  }

  /** Byte offset of the next unread bit (for messages and for the stream's end). */
  get byteOffset(): number {
    return this.pos - (this.n >> 3);
  }
}

interface Mark {
  pos: number;
  acc: number;
  n: number;
}

/** Canonical Huffman decoding tables for one group (bzip2's limit/base/perm scheme). */
interface Table {
  minLen: number;
  limit: Int32Array;
  base: Int32Array;
  perm: Uint16Array;
}

function buildTable(lengths: Uint8Array, alphaSize: number): Table {
  let minLen = MAX_CODE_LEN;
  let maxLen = 1;
  const count = new Int32Array(MAX_CODE_LEN + 1);
  for (let i = 0; i < alphaSize; i++) {
    const l = lengths[i]!;
    count[l]!++;
    if (l > maxLen) maxLen = l;
    if (l < minLen) minLen = l;
  }
  // Symbols sorted by code length, then by value: the order canonical codes are assigned in.
  const perm = new Uint16Array(alphaSize);
  let pp = 0;
  for (let l = minLen; l <= maxLen; l++) for (let s = 0; s < alphaSize; s++) if (lengths[s] === l) perm[pp++] = s;
  // A code c of length l is perm[c + base[l]]; codes of length l are first[l] .. limit[l].
  const limit = new Int32Array(MAX_CODE_LEN + 1).fill(-1);
  const base = new Int32Array(MAX_CODE_LEN + 1);
  let first = 0;
  let index = 0;
  for (let l = minLen; l <= maxLen; l++) {
    base[l] = index - first;
    limit[l] = first + count[l]! - 1;
    index += count[l]!;
    first = (first + count[l]!) << 1;
  }
  return { minLen, limit, base, perm };
}

/** Resumable output of one decoded block: the inverse-BWT walk and the final run-length stage. */
interface BlockOut {
  tt: Uint32Array;
  pos: number;
  left: number;
  last: number;
  same: number;
  repeat: number;
  repeatByte: number;
  crc: number;
  expectedCrc: number;
}

export class Bzip2Decoder {
  private readonly bits = new Bits();
  private level = 0;
  private streamCrc = 0;
  private expectedStreamCrc = 0;
  private block: BlockOut | null = null;
  private tt: Uint32Array | null = null;
  private finished = false;
  /** Input bytes the stream occupied, once its end-of-stream marker and CRC were read. */
  consumed: number | null = null;
  /** Backing store of the input buffer; `bits.buf` views its first bytes. */
  private store = new Uint8Array(0);
  /** Bytes dropped from the front of the buffer (so offsets stay absolute). */
  private dropped = 0;

  get done(): boolean {
    return this.finished;
  }

  /** The largest compressed block a level can have, with room for the tables: buffer this much ahead. */
  get lookahead(): number {
    return (this.level || 9) * 100_000 + 64 * 1024;
  }

  /** Bytes buffered and not yet read. */
  get buffered(): number {
    return this.bits.buf.length - this.bits.pos;
  }

  /**
   * Appends input, dropping what has been read. The bytes live in one reused backing store (`bits.buf` is a
   * view of its filled part): a new buffer per push made ~2 MiB of garbage per 1 MiB read, which the
   * pipeline's periodic minor collections did not reclaim once promoted (peak RSS grew with the image).
   */
  push(chunk: Uint8Array): void {
    const b = this.bits;
    const keep = b.buf.length - b.pos;
    const need = keep + chunk.length;
    if (need > this.store.length) {
      const bigger = new Uint8Array(Math.max(need, this.store.length * 2));
      bigger.set(b.buf.subarray(b.pos));
      this.store = bigger;
    } else if (b.pos > 0) this.store.copyWithin(0, b.pos, b.buf.length);
    this.store.set(chunk, keep);
    this.dropped += b.pos;
    b.buf = this.store.subarray(0, need);
    b.pos = 0;
  }

  /** Absolute input offset of the next unread byte. */
  get offset(): number {
    return this.dropped + this.bits.byteOffset;
  }

  /**
   * Decodes up to `max` output bytes into `out` and returns how many; 0 with `done` set at the end of the
   * stream. Throws NeedInput when a whole block header and body are not buffered yet (nothing is
   * consumed then: push more and call again), Bzip2FormatError on a malformed stream.
   */
  read(out: Uint8Array): number {
    if (this.finished) return 0;
    if (!this.block) {
      if (!this.startBlock()) return 0;
    }
    const n = this.emit(this.block!, out);
    if (this.block!.left === 0 && this.block!.repeat === 0) {
      const blk = this.block!;
      const crc = ~blk.crc >>> 0;
      if (crc !== blk.expectedCrc) throw new Bzip2FormatError(`block CRC mismatch (stored 0x${blk.expectedCrc.toString(16)}, computed 0x${crc.toString(16)})`, this.offset);
      this.streamCrc = (((this.streamCrc << 1) | (this.streamCrc >>> 31)) ^ crc) >>> 0;
      this.block = null;
    }
    return n;
  }

  private mark(): Mark {
    return { pos: this.bits.pos, acc: this.bits.acc, n: this.bits.n };
  }

  private rewind(m: Mark): void {
    this.bits.pos = m.pos;
    this.bits.acc = m.acc;
    this.bits.n = m.n;
  }

  /** Reads the stream header if needed and the next block (or the end marker). False at the end. */
  private startBlock(): boolean {
    const m = this.mark();
    const level = this.level;
    try {
      return this.readBlock();
    } catch (e) {
      if (e instanceof NeedInput) {
        this.rewind(m);
        this.level = level;
      }
      throw e;
    }
  }

  private readBlock(): boolean {
    const b = this.bits;
    if (this.level === 0) {
      const at = this.offset;
      if (b.bits(8) !== 0x42 || b.bits(8) !== 0x5a || b.bits(8) !== 0x68) throw new Bzip2FormatError('not a bzip2 stream (no "BZh" signature)', at);
      const lv = b.bits(8) - 0x30;
      if (lv < 1 || lv > 9) throw new Bzip2FormatError(`bad block size level '${String.fromCharCode(lv + 0x30)}' (expected 1..9)`, at + 3);
      this.level = lv;
    }
    const at = this.offset;
    const hi = b.bits(24);
    const lo = b.bits(24);
    if (hi === END_MAGIC_HI && lo === END_MAGIC_LO) {
      this.expectedStreamCrc = ((b.bits(16) << 16) | b.bits(16)) >>> 0;
      if (this.expectedStreamCrc !== this.streamCrc) {
        throw new Bzip2FormatError(`stream CRC mismatch (stored 0x${this.expectedStreamCrc.toString(16)}, computed 0x${this.streamCrc.toString(16)})`, at);
      }
      // The stream ends at the next byte boundary.
      b.n = 0;
      b.acc = 0;
      this.consumed = this.dropped + b.pos;
      this.finished = true;
      return false;
    }
    if (hi !== BLOCK_MAGIC_HI || lo !== BLOCK_MAGIC_LO) throw new Bzip2FormatError('bad block header magic (expected 0x314159265359 or the end-of-stream marker)', at);
    const expectedCrc = ((b.bits(16) << 16) | b.bits(16)) >>> 0;
    if (b.bit()) throw new Bzip2FormatError('randomised block (bzip2 0.9.0, obsolete): not supported, as in the kernel', at);
    const origPtr = b.bits(24);

    // Symbol map: which byte values occur.
    const seqToUnseq = new Uint8Array(256);
    let nInUse = 0;
    const used16 = b.bits(16);
    for (let i = 0; i < 16; i++) {
      if (!(used16 & (0x8000 >> i))) continue;
      const bitsUsed = b.bits(16);
      for (let j = 0; j < 16; j++) if (bitsUsed & (0x8000 >> j)) seqToUnseq[nInUse++] = i * 16 + j;
    }
    if (nInUse === 0) throw new Bzip2FormatError('block uses no symbols', at);
    const alphaSize = nInUse + 2;

    const nGroups = b.bits(3);
    if (nGroups < 2 || nGroups > MAX_GROUPS) throw new Bzip2FormatError(`bad number of Huffman groups ${nGroups} (expected 2..6)`, at);
    const nSelectors = b.bits(15);
    if (nSelectors < 1) throw new Bzip2FormatError('no selectors', at);
    // MTF-decoded selectors; bzip2 1.0.8 ignores selectors beyond 18002.
    const mtfGroups = [0, 1, 2, 3, 4, 5].slice(0, nGroups);
    const selectors = new Uint8Array(Math.min(nSelectors, MAX_SELECTORS));
    for (let i = 0; i < nSelectors; i++) {
      let j = 0;
      while (b.bit()) {
        if (++j >= nGroups) throw new Bzip2FormatError('bad selector', at);
      }
      if (i >= MAX_SELECTORS) continue;
      const v = mtfGroups[j]!;
      for (; j > 0; j--) mtfGroups[j] = mtfGroups[j - 1]!;
      mtfGroups[0] = v;
      selectors[i] = v;
    }

    const tables: Table[] = [];
    const lengths = new Uint8Array(MAX_ALPHA);
    for (let g = 0; g < nGroups; g++) {
      let len = b.bits(5);
      for (let s = 0; s < alphaSize; s++) {
        for (;;) {
          if (len < 1 || len > MAX_CODE_LEN) throw new Bzip2FormatError(`bad Huffman code length ${len}`, at);
          if (!b.bit()) break;
          len += b.bit() ? -1 : 1;
        }
        lengths[s] = len;
      }
      tables.push(buildTable(lengths, alphaSize));
    }

    // Huffman -> RLE2/MTF -> the BWT'd block in tt (low byte), with byte counts.
    const blockMax = this.level * 100_000;
    if (!this.tt || this.tt.length < blockMax) this.tt = new Uint32Array(blockMax);
    const tt = this.tt;
    const counts = new Int32Array(256);
    const mtf = new Uint8Array(256);
    for (let i = 0; i < 256; i++) mtf[i] = i;
    const EOB = nInUse + 1;
    let nblock = 0;
    let groupIndex = -1;
    let groupLeft = 0;
    let table = tables[0]!;
    let runLength = 0;
    let runWeight = 1;
    for (;;) {
      if (groupLeft === 0) {
        groupIndex++;
        if (groupIndex >= selectors.length) throw new Bzip2FormatError('ran out of selectors', at);
        table = tables[selectors[groupIndex]!]!;
        groupLeft = GROUP_SIZE;
      }
      groupLeft--;
      // Canonical Huffman: read the shortest length, then one bit at a time.
      let l = table.minLen;
      let code = b.bits(l);
      while (l <= MAX_CODE_LEN && code > table.limit[l]!) {
        code = (code << 1) | b.bit();
        l++;
      }
      if (l > MAX_CODE_LEN) throw new Bzip2FormatError('bad Huffman code', this.offset);
      const idx = code + table.base[l]!;
      if (idx < 0 || idx >= alphaSize) throw new Bzip2FormatError('bad Huffman code', this.offset);
      const sym = table.perm[idx]!;
      if (sym <= 1) {
        // RUNA / RUNB: a bijective base-2 run length of the symbol at the MTF front.
        if (runWeight > blockMax) throw new Bzip2FormatError('run longer than the block', this.offset);
        runLength += (sym + 1) * runWeight;
        runWeight <<= 1;
        continue;
      }
      if (runLength) {
        if (nblock + runLength > blockMax) throw new Bzip2FormatError('block longer than its level allows', this.offset);
        const byte = seqToUnseq[mtf[0]!]!;
        counts[byte]! += runLength;
        tt.fill(byte, nblock, nblock + runLength);
        nblock += runLength;
        runLength = 0;
        runWeight = 1;
      }
      if (sym === EOB) break;
      if (nblock >= blockMax) throw new Bzip2FormatError('block longer than its level allows', this.offset);
      const k = sym - 1;
      const v = mtf[k]!;
      mtf.copyWithin(1, 0, k);
      mtf[0] = v;
      const byte = seqToUnseq[v]!;
      counts[byte]!++;
      tt[nblock++] = byte;
    }
    if (origPtr >= nblock) throw new Bzip2FormatError(`origin pointer ${origPtr} outside the block (${nblock} bytes)`, at);

    // Inverse BWT: link each position to the next, keeping the byte in the low 8 bits.
    const cumulative = new Int32Array(256);
    for (let i = 0, sum = 0; i < 256; i++) {
      cumulative[i] = sum;
      sum += counts[i]!;
    }
    for (let i = 0; i < nblock; i++) {
      const byte = tt[i]! & 0xff;
      tt[cumulative[byte]!]! |= i << 8;
      cumulative[byte]!++;
    }
    this.block = { tt, pos: tt[origPtr]! >>> 8, left: nblock, last: -1, same: 0, repeat: 0, repeatByte: 0, crc: 0xffffffff, expectedCrc };
    return true;
  }

  /** The final stage: undo the initial run-length encoding (4 equal bytes, then a count), into `out`. */
  private emit(s: BlockOut, out: Uint8Array): number {
    const tt = s.tt;
    let o = 0;
    const max = out.length;
    let crc = s.crc | 0;
    let { pos, left, last, same, repeat } = s;
    const repeatByte = s.repeatByte;
    while (repeat > 0 && o < max) {
      out[o++] = repeatByte;
      crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ repeatByte) & 0xff]!;
      repeat--;
    }
    let nextRepeatByte = repeatByte;
    while (left > 0 && o < max && repeat === 0) {
      const entry = tt[pos]!;
      const byte = entry & 0xff;
      pos = entry >>> 8;
      left--;
      if (same === 4) {
        // `byte` is a count of further copies of the last byte.
        same = 0;
        repeat = byte;
        nextRepeatByte = last;
        while (repeat > 0 && o < max) {
          out[o++] = last;
          crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ last) & 0xff]!;
          repeat--;
        }
        last = -1;
        continue;
      }
      if (byte === last) same++;
      else {
        same = 1;
        last = byte;
      }
      out[o++] = byte;
      crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!;
    }
    s.pos = pos;
    s.left = left;
    s.last = last;
    s.same = same;
    s.repeat = repeat;
    s.repeatByte = nextRepeatByte;
    s.crc = crc >>> 0;
    return o;
  }
}
