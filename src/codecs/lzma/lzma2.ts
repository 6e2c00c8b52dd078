/**
 * LZMA2: a sequence of chunks, each either stored bytes or one LZMA chunk with its own range coder, the
 * control byte saying which of dictionary, properties and state are reset. Ends at a 0x00 control byte.
 */
import { Dictionary, LzmaDecoder, decodeProperties } from './lzma-decoder.js';
import { type InputBuffer, LzmaFormatError } from './input.js';

/** Dictionary size from the LZMA2 filter's properties byte (0..40). */
export function lzma2DictionarySize(prop: number): number | null {
  if (prop > 40) return null;
  if (prop === 40) return 0xffffffff;
  return (2 | (prop & 1)) * 2 ** ((prop >>> 1) + 11);
}

type Phase = 'control' | 'lzma' | 'stored' | 'end';

export class Lzma2Decoder {
  readonly dict: Dictionary;
  private readonly lzma: LzmaDecoder;
  private phase: Phase = 'control';
  private needDictReset = true;
  private needProps = true;
  /** LZMA phase: stream offset of the chunk's end, and decoded bytes still to come. */
  private chunkEnd = 0;
  private left = 0;

  constructor(dictSize: number) {
    // The window never needs to exceed 4 GiB - 1, and never less than 4 KiB (liblzma's minimum).
    this.dict = new Dictionary(Math.max(4096, Math.min(dictSize, 0xffffffff)));
    this.lzma = new LzmaDecoder(this.dict);
  }

  get ended(): boolean {
    return this.phase === 'end';
  }

  /**
   * Decode into the dictionary, at most `maxOut` bytes (and the dictionary's room). Returns false when it
   * needs more input than is buffered (never when the input is finished: then truncation throws).
   */
  step(input: InputBuffer, maxOut: number): boolean {
    const limit = Math.min(maxOut, this.dict.room);
    const startPos = this.dict.pos;
    while (this.dict.pos - startPos < limit) {
      switch (this.phase) {
        case 'end':
          return true;
        case 'control':
          // A dictionary reset must wait until the bytes decoded so far have been taken out.
          if (this.dict.pos !== startPos && input.available > 0 && (input.buf[input.pos] === 1 || input.buf[input.pos]! >= 0xe0)) return true;
          if (!this.control(input)) return false;
          break;
        case 'stored': {
          if (!input.has(1, 'LZMA2 stored chunk')) return false;
          const n = Math.min(this.left, input.available, limit - (this.dict.pos - startPos));
          this.dict.write(input.buf, input.pos, n);
          input.pos += n;
          this.left -= n;
          if (this.left === 0) this.phase = 'control';
          break;
        }
        case 'lzma': {
          const want = Math.min(this.left, limit - (this.dict.pos - startPos));
          const before = this.dict.pos;
          const end = input.indexOf(this.chunkEnd);
          const stop = this.lzma.decode(input, want, end);
          this.left -= this.dict.pos - before;
          if (stop === 'end-marker') throw new LzmaFormatError('LZMA2 chunk contains an end-of-payload marker', input.offset);
          if (input.pos > end) throw new LzmaFormatError(`LZMA2 chunk's compressed data is corrupt (decoding reads past the chunk's end at input offset ${this.chunkEnd})`, this.chunkEnd);
          if (this.left === 0) {
            if (this.lzma.pendingLen > 0) throw new LzmaFormatError('LZMA2 chunk ends inside a match', input.offset);
            if (input.pos !== end || this.lzma.code !== 0) {
              throw new LzmaFormatError(`LZMA2 chunk's compressed size does not match its data (${end - input.pos} bytes left over)`, input.offset);
            }
            this.phase = 'control';
          }
          break;
        }
      }
    }
    return true;
  }

  private control(input: InputBuffer): boolean {
    if (!input.has(1, 'LZMA2 chunk header')) return false;
    const at = input.offset;
    const control = input.buf[input.pos]!;
    if (control === 0) {
      input.pos++;
      this.phase = 'end';
      return true;
    }
    const lzmaChunk = control >= 0x80;
    if (!lzmaChunk && control > 2) throw new LzmaFormatError(`invalid LZMA2 control byte 0x${control.toString(16)}`, at);
    const headerSize = lzmaChunk ? (control >= 0xc0 ? 6 : 5) : 3;
    if (!input.has(headerSize, 'LZMA2 chunk header')) return false;
    const b = input.buf;
    const p = input.pos;
    const dictReset = control === 1 || control >= 0xe0;
    if (dictReset) {
      this.dict.reset();
      this.needDictReset = false;
      this.needProps = true;
    } else if (this.needDictReset) throw new LzmaFormatError('first LZMA2 chunk does not reset the dictionary', at);
    if (!lzmaChunk) {
      this.left = ((b[p + 1]! << 8) | b[p + 2]!) + 1;
      input.pos += 3;
      this.phase = 'stored';
      return true;
    }
    const unpacked = ((control & 0x1f) << 16) + ((b[p + 1]! << 8) | b[p + 2]!) + 1;
    const packed = ((b[p + 3]! << 8) | b[p + 4]!) + 1;
    if (!input.has(headerSize + packed, 'LZMA2 chunk')) return false;
    if (control >= 0xc0) {
      const props = decodeProperties(b[p + 5]!);
      if (!props || props.lc + props.lp > 4) throw new LzmaFormatError(`invalid LZMA2 properties byte 0x${b[p + 5]!.toString(16)}`, at + 5);
      this.lzma.resetState(props.lc, props.lp, props.pb);
      this.needProps = false;
    } else if (this.needProps) throw new LzmaFormatError('LZMA2 chunk without properties after a dictionary reset', at);
    else if (control >= 0xa0) this.lzma.resetStateKeepProps();
    input.pos += headerSize;
    if (packed < 5) throw new LzmaFormatError(`LZMA2 chunk of ${packed} compressed bytes is too small for its range coder`, at);
    this.chunkEnd = input.offset + packed;
    this.lzma.initRangeCoder(input);
    this.left = unpacked;
    this.phase = 'lzma';
    return true;
  }
}
