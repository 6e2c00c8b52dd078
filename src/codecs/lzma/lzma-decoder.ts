/**
 * LZMA (LZMA1) decoding: the range decoder, the probability model and the sliding dictionary, shared by
 * the LZMA-alone container and LZMA2 chunks. Written from the format as liblzma and the kernel's
 * xz_dec_lzma2.c decode it; the model constants are the format's.
 *
 * Synchronous and resumable between symbols: `decode` stops when the dictionary step is full or the input
 * cursor passes the caller's limit, keeping the rest of an interrupted match in `pendingLen`.
 */
import { type InputBuffer, LzmaFormatError } from './input.js';

// Offsets into one Uint16Array of adaptive probabilities.
const IS_MATCH = 0; // [state << 4 | posState]
const IS_REP = 192;
const IS_REP_G0 = 204;
const IS_REP_G1 = 216;
const IS_REP_G2 = 228;
const IS_REP0_LONG = 240; // [state << 4 | posState]
const POS_SLOT = 432; // [lenState][64]
const SPEC_POS = 688; // 114 reverse bit-tree probabilities for distance slots 4..13
const ALIGN = 802; // 16
const LEN = 818; // length decoder for matches
const REP_LEN = LEN + 514; // length decoder for repeated matches
const LITERAL = REP_LEN + 514; // 0x300 per literal context
// Inside a length decoder.
const CHOICE = 0;
const CHOICE2 = 1;
const LOW = 2; // [posState][8]
const MID = 130; // [posState][8]
const HIGH = 258; // [256]

const TOP = 1 << 24;
const MATCH_MIN_LEN = 2;
/** Bytes of input one symbol can consume at most (about 60 bit decodes, each normalising once). */
export const MAX_SYMBOL_INPUT = 64;

/** lc/lp/pb from an LZMA properties byte; null when the byte is not valid. */
export function decodeProperties(props: number): { lc: number; lp: number; pb: number } | null {
  if (props >= 9 * 5 * 5) return null;
  return { lc: props % 9, lp: Math.floor(props / 9) % 5, pb: Math.floor(props / 45) };
}

/**
 * Dictionaries up to this size are allocated whole at once. A fresh zero-filled ArrayBuffer comes from
 * calloc, whose large blocks are new mappings of zero pages: they cost RSS only once written, so a 64 MiB
 * dictionary holding 26 MiB of output costs 26 MiB, as in liblzma. Growing by doubling instead held the
 * old and the new buffer during each copy (32 + 64 MiB for `lzma -9`'s 64 MiB dictionary): measured peak
 * RSS of `kimg extract` on the 52 MiB image, lzma: 162 -> 122 MiB (docs/codecs.md, Memory).
 */
const WHOLE_DICTIONARY_MAX = 256 << 20;

/**
 * The sliding window, which is also where decoded bytes wait to be handed out. Up to WHOLE_DICTIONARY_MAX
 * it is allocated whole (untouched pages cost nothing); above, it starts at 1 MiB and doubles as output
 * accumulates, so a header claiming a 1.5 GiB dictionary costs memory only when that much is really decoded.
 */
export class Dictionary {
  buf: Uint8Array;
  pos = 0;
  /** The window has wrapped at least once: every byte of `buf` is history. */
  wrapped = false;
  /** Bytes written since the last reset (position bits of the model use it). */
  total = 0;
  private flushed = 0;

  /** `whole`: allocate the whole window now (the default up to WHOLE_DICTIONARY_MAX); a sniffer's trial decode passes false. */
  constructor(
    readonly size: number,
    whole = size <= WHOLE_DICTIONARY_MAX,
  ) {
    this.buf = new Uint8Array(whole ? size : Math.min(size, 1 << 20));
  }

  reset(): void {
    this.pos = 0;
    this.flushed = 0;
    this.total = 0;
    this.wrapped = false;
  }

  /** Bytes of history a distance may reach back over. */
  get history(): number {
    return this.wrapped ? this.buf.length : this.pos;
  }

  /** Room left before the next `take` must run. */
  get room(): number {
    return this.buf.length - this.pos;
  }

  /** A copy of the bytes written since the last take; makes room (grows or wraps) when the buffer is full. */
  take(): Uint8Array {
    const out = this.buf.slice(this.flushed, this.pos);
    this.flushed = this.pos;
    if (this.pos === this.buf.length) {
      if (this.buf.length < this.size) {
        const bigger = new Uint8Array(Math.min(this.size, this.buf.length * 2));
        bigger.set(this.buf);
        this.buf = bigger;
      } else {
        this.pos = 0;
        this.flushed = 0;
        this.wrapped = true;
      }
    }
    return out;
  }

  /** Copy stored bytes (an LZMA2 uncompressed chunk) in, at most `room` of them. */
  write(src: Uint8Array, from: number, n: number): void {
    this.buf.set(src.subarray(from, from + n), this.pos);
    this.pos += n;
    this.total += n;
  }
}

export type DecodeStop = 'limit' | 'end-marker';

export class LzmaDecoder {
  private probs = new Uint16Array(LITERAL + 0x300);
  private lc = 0;
  private lp = 0;
  private pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** Bytes of the last match still to copy (the output step ended inside it). */
  pendingLen = 0;
  range = 0;
  code = 0;

  constructor(readonly dict: Dictionary) {}

  /** Reset the model (new lc/lp/pb). */
  resetState(lc: number, lp: number, pb: number): void {
    this.lc = lc;
    this.lp = lp;
    this.pb = pb;
    const size = LITERAL + (0x300 << (lc + lp));
    if (this.probs.length !== size) this.probs = new Uint16Array(size);
    this.probs.fill(1024);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pendingLen = 0;
  }

  /** Reset the model, keeping lc/lp/pb (LZMA2's state reset). */
  resetStateKeepProps(): void {
    this.resetState(this.lc, this.lp, this.pb);
  }

  /** Start the range decoder on 5 bytes at the input cursor (the caller checked they are there). */
  initRangeCoder(input: InputBuffer): void {
    if (input.buf[input.pos] !== 0) throw new LzmaFormatError('range coder does not start with a zero byte', input.offset);
    const b = input.buf;
    const p = input.pos;
    this.code = (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
    this.range = -1; // 0xffffffff as int32
    input.pos += 5;
    if (this.code === -1) throw new LzmaFormatError('range coder starts with an impossible code', input.offset - 4);
  }

  /**
   * Decode symbols into the dictionary until `outLimit` bytes of it are filled (at most `dict.room`) or the
   * input cursor passes `inLimit`. Reads past `inLimit` by at most MAX_SYMBOL_INPUT bytes (as zeros past the
   * buffer's end); the caller decides whether that is an error. Returns 'end-marker' when the LZMA1
   * end-of-payload marker was read.
   */
  decode(input: InputBuffer, outLimit: number, inLimit: number): DecodeStop {
    const dict = this.dict;
    const out = dict.buf;
    const outLen = out.length;
    const start = dict.pos;
    const outEnd = start + Math.min(outLimit, outLen - start);
    // Only the low 4 bits of the position matter to the model (lp, pb <= 4).
    const posBase = (dict.total - start) & 15;
    const wrapped = dict.wrapped;
    const probs = this.probs;
    const inBuf = input.buf;
    const lc = this.lc;
    const lpMask = (1 << this.lp) - 1;
    const pbMask = (1 << this.pb) - 1;
    let pos = start;
    let inPos = input.pos;
    // The range decoder's registers: unsigned 32-bit values held in int32 variables (compared with `>>> 0`),
    // so V8 keeps them in machine registers as word32. Every bit decode below is written out in place (no
    // helper closure, which would force them into a heap context).
    let range = this.range;
    let code = this.code;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let len = this.pendingLen;
    let stop: DecodeStop = 'limit';
    let p = 0;
    let bound = 0;
    let b = 0;

    for (;;) {
      // Copy (the rest of) the current match.
      if (len > 0) {
        const history = wrapped ? outLen : pos;
        if (rep0 >= history) {
          this.pendingLen = 0;
          // Past the end of the input the decoder read stale bytes: that is truncation, not this distance.
          if (inPos > input.end) throw new LzmaFormatError(`stream truncated at input offset ${input.offsetOf(input.end)} (LZMA data not finished)`, input.offsetOf(input.end), true);
          throw new LzmaFormatError(`match distance ${rep0 + 1} reaches before the start of the dictionary (${history} bytes)`, input.offsetOf(inPos));
        }
        const n = Math.min(len, outEnd - pos);
        let src = pos - rep0 - 1;
        if (src < 0) src += outLen;
        if (src + n <= outLen) {
          // The usual case: the source does not wrap, so no per-byte wrap check (short matches dominate).
          if (n > 32 && rep0 + 1 >= n) {
            out.copyWithin(pos, src, src + n);
            pos += n;
          } else {
            const end = pos + n;
            while (pos < end) out[pos++] = out[src++]!;
          }
        } else {
          for (let k = 0; k < n; k++) {
            out[pos++] = out[src++]!;
            if (src === outLen) src = 0;
          }
        }
        len -= n;
        if (len > 0) break;
      }
      if (pos >= outEnd || inPos > inLimit) break;

      const total = posBase + pos;
      const posState = total & pbMask;
      const stateIndex = (state << 4) + posState;
      p = probs[IS_MATCH + stateIndex]!;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[IS_MATCH + stateIndex] = p + ((2048 - p) >>> 5);
        b = 0;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[IS_MATCH + stateIndex] = p - (p >>> 5);
        b = 1;
      }
      if (range >>> 0 < TOP) {
        range <<= 8;
        code = (code << 8) | inBuf[inPos++]!;
      }
      if (b === 0) {
        const prev = pos > 0 ? out[pos - 1]! : wrapped ? out[outLen - 1]! : 0;
        const base = LITERAL + 0x300 * (((total & lpMask) << lc) + (prev >>> (8 - lc)));
        let sym = 1;
        if (state < 7) {
          do {
            p = probs[base + sym]!;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[base + sym] = p + ((2048 - p) >>> 5);
              sym <<= 1;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[base + sym] = p - (p >>> 5);
              sym = (sym << 1) | 1;
            }
            if (range >>> 0 < TOP) {
              range <<= 8;
              code = (code << 8) | inBuf[inPos++]!;
            }
          } while (sym < 0x100);
        } else {
          let src = pos - rep0 - 1;
          if (src < 0) src += outLen;
          let matchByte = out[src]!;
          let offs = 0x100;
          do {
            matchByte <<= 1;
            const matchBit = matchByte & offs;
            p = probs[base + offs + matchBit + sym]!;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[base + offs + matchBit + sym] = p + ((2048 - p) >>> 5);
              b = 0;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[base + offs + matchBit + sym] = p - (p >>> 5);
              b = 1;
            }
            if (range >>> 0 < TOP) {
              range <<= 8;
              code = (code << 8) | inBuf[inPos++]!;
            }
            sym = (sym << 1) | b;
            offs &= b ? matchBit : ~matchBit;
          } while (sym < 0x100);
        }
        out[pos++] = sym & 0xff;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }

      let lenBase: number;
      p = probs[IS_REP + state]!;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[IS_REP + state] = p + ((2048 - p) >>> 5);
        b = 0;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[IS_REP + state] = p - (p >>> 5);
        b = 1;
      }
      if (range >>> 0 < TOP) {
        range <<= 8;
        code = (code << 8) | inBuf[inPos++]!;
      }
      const isRep = b === 1;
      if (!isRep) {
        lenBase = LEN;
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
      } else {
        lenBase = REP_LEN;
        p = probs[IS_REP_G0 + state]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[IS_REP_G0 + state] = p + ((2048 - p) >>> 5);
          b = 0;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[IS_REP_G0 + state] = p - (p >>> 5);
          b = 1;
        }
        if (range >>> 0 < TOP) {
          range <<= 8;
          code = (code << 8) | inBuf[inPos++]!;
        }
        if (b === 0) {
          p = probs[IS_REP0_LONG + stateIndex]!;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[IS_REP0_LONG + stateIndex] = p + ((2048 - p) >>> 5);
            b = 0;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[IS_REP0_LONG + stateIndex] = p - (p >>> 5);
            b = 1;
          }
          if (range >>> 0 < TOP) {
            range <<= 8;
            code = (code << 8) | inBuf[inPos++]!;
          }
          if (b === 0) {
            // Short rep: one byte from distance rep0.
            state = state < 7 ? 9 : 11;
            len = 1;
            continue;
          }
        } else {
          let dist: number;
          p = probs[IS_REP_G1 + state]!;
          bound = Math.imul(range >>> 11, p);
          if (code >>> 0 < bound >>> 0) {
            range = bound;
            probs[IS_REP_G1 + state] = p + ((2048 - p) >>> 5);
            b = 0;
          } else {
            range = (range - bound) | 0;
            code = (code - bound) | 0;
            probs[IS_REP_G1 + state] = p - (p >>> 5);
            b = 1;
          }
          if (range >>> 0 < TOP) {
            range <<= 8;
            code = (code << 8) | inBuf[inPos++]!;
          }
          if (b === 0) dist = rep1;
          else {
            p = probs[IS_REP_G2 + state]!;
            bound = Math.imul(range >>> 11, p);
            if (code >>> 0 < bound >>> 0) {
              range = bound;
              probs[IS_REP_G2 + state] = p + ((2048 - p) >>> 5);
              b = 0;
            } else {
              range = (range - bound) | 0;
              code = (code - bound) | 0;
              probs[IS_REP_G2 + state] = p - (p >>> 5);
              b = 1;
            }
            if (range >>> 0 < TOP) {
              range <<= 8;
              code = (code << 8) | inBuf[inPos++]!;
            }
            if (b === 0) dist = rep2;
            else {
              dist = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = dist;
        }
      }

      // Match length: choice bits, then a 3- or 8-bit tree.
      let treeBase: number;
      let treeBits: number;
      let lenAdd: number;
      p = probs[lenBase + CHOICE]!;
      bound = Math.imul(range >>> 11, p);
      if (code >>> 0 < bound >>> 0) {
        range = bound;
        probs[lenBase + CHOICE] = p + ((2048 - p) >>> 5);
        b = 0;
      } else {
        range = (range - bound) | 0;
        code = (code - bound) | 0;
        probs[lenBase + CHOICE] = p - (p >>> 5);
        b = 1;
      }
      if (range >>> 0 < TOP) {
        range <<= 8;
        code = (code << 8) | inBuf[inPos++]!;
      }
      if (b === 0) {
        treeBase = lenBase + LOW + (posState << 3);
        treeBits = 3;
        lenAdd = 0;
      } else {
        p = probs[lenBase + CHOICE2]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[lenBase + CHOICE2] = p + ((2048 - p) >>> 5);
          b = 0;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[lenBase + CHOICE2] = p - (p >>> 5);
          b = 1;
        }
        if (range >>> 0 < TOP) {
          range <<= 8;
          code = (code << 8) | inBuf[inPos++]!;
        }
        if (b === 0) {
          treeBase = lenBase + MID + (posState << 3);
          treeBits = 3;
          lenAdd = 8;
        } else {
          treeBase = lenBase + HIGH;
          treeBits = 8;
          lenAdd = 16;
        }
      }
      let m = 1;
      for (let i = 0; i < treeBits; i++) {
        p = probs[treeBase + m]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[treeBase + m] = p + ((2048 - p) >>> 5);
          b = 0;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[treeBase + m] = p - (p >>> 5);
          b = 1;
        }
        if (range >>> 0 < TOP) {
          range <<= 8;
          code = (code << 8) | inBuf[inPos++]!;
        }
        m = (m << 1) | b;
      }
      const lenCode = m - (1 << treeBits) + lenAdd;
      len = lenCode + MATCH_MIN_LEN;

      if (isRep) {
        state = state < 7 ? 8 : 11;
        continue;
      }
      state = state < 7 ? 7 : 10;

      // Distance: a 6-bit slot, then reverse-tree or direct bits plus 4 aligned bits.
      const slotBase = POS_SLOT + ((Math.min(lenCode , 3)) << 6);
      m = 1;
      for (let i = 0; i < 6; i++) {
        p = probs[slotBase + m]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[slotBase + m] = p + ((2048 - p) >>> 5);
          b = 0;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[slotBase + m] = p - (p >>> 5);
          b = 1;
        }
        if (range >>> 0 < TOP) {
          range <<= 8;
          code = (code << 8) | inBuf[inPos++]!;
        }
        m = (m << 1) | b;
      }
      const slot = m - 64;
      if (slot < 4) {
        rep0 = slot;
        continue;
      }
      const direct = (slot >>> 1) - 1;
      // An integer shift, not `2 ** direct` (a float power); slot 63 gives 3 << 30, hence the unsigned view.
      let dist = ((2 | (slot & 1)) << direct) >>> 0;
      let revBase: number;
      let revBits: number;
      if (slot < 14) {
        revBase = SPEC_POS + dist - slot - 1;
        revBits = direct;
      } else {
        let d = 0;
        for (let i = direct - 4; i > 0; i--) {
          range >>>= 1;
          if (code >>> 0 >= range) {
            code = (code - range) | 0;
            d = d * 2 + 1;
          } else d *= 2;
          if (range < TOP) {
            range <<= 8;
            code = (code << 8) | inBuf[inPos++]!;
          }
        }
        dist += d * 16;
        revBase = ALIGN;
        revBits = 4;
      }
      m = 1;
      for (let i = 0; i < revBits; i++) {
        p = probs[revBase + m]!;
        bound = Math.imul(range >>> 11, p);
        if (code >>> 0 < bound >>> 0) {
          range = bound;
          probs[revBase + m] = p + ((2048 - p) >>> 5);
          b = 0;
        } else {
          range = (range - bound) | 0;
          code = (code - bound) | 0;
          probs[revBase + m] = p - (p >>> 5);
          b = 1;
        }
        if (range >>> 0 < TOP) {
          range <<= 8;
          code = (code << 8) | inBuf[inPos++]!;
        }
        m = (m << 1) | b;
        dist += b * (1 << i);
      }
      if (dist === 0xffffffff) {
        stop = 'end-marker';
        len = 0;
        break;
      }
      rep0 = dist;
    }

    dict.total += pos - start;
    dict.pos = pos;
    input.pos = inPos;
    this.pendingLen = len;
    this.range = range;
    this.code = code;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    return stop;
  }
}
