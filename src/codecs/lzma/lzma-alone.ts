/**
 * The legacy "LZMA alone" (.lzma) container: a 13-byte header (properties byte, le32 dictionary size, le64
 * uncompressed size or all ones for "unknown, ends with the end-of-payload marker"), then one LZMA1 stream.
 */
import { Dictionary, LzmaDecoder, MAX_SYMBOL_INPUT, decodeProperties } from './lzma-decoder.js';
import { InputBuffer, LzmaFormatError } from './input.js';

export class LzmaAloneDecoder {
  private lzma: LzmaDecoder | null = null;
  /** Declared uncompressed size; null when unknown (end marker). */
  private size: number | null = null;
  private produced = 0;
  consumed: number | null = null;

  /** `probe`: a sniffer's trial decode, whose window grows with its few KiB of output instead of being allocated whole. */
  constructor(
    private readonly input: InputBuffer,
    private readonly probe = false,
  ) {}

  get done(): boolean {
    return this.consumed !== null;
  }

  step(maxOut: number): Uint8Array | null {
    const input = this.input;
    if (!this.lzma) return this.header() ? new Uint8Array(0) : null;
    if (this.done) return new Uint8Array(0);
    const dict = this.lzma.dict;
    const want = this.size === null ? maxOut : Math.min(maxOut, this.size - this.produced);
    const inLimit = input.finished ? input.end : input.end - MAX_SYMBOL_INPUT;
    if (inLimit < input.pos) {
      input.has(MAX_SYMBOL_INPUT, 'LZMA data');
      return null;
    }
    const stop = this.lzma.decode(input, want, inLimit);
    if (input.pos > input.end) throw new LzmaFormatError(`stream truncated at input offset ${input.offsetOf(input.end)} (LZMA data not finished)`, input.offsetOf(input.end), true);
    const out = dict.take();
    this.produced += out.length;
    if (stop === 'end-marker') {
      if (this.size !== null && this.produced !== this.size) throw new LzmaFormatError(`end-of-payload marker after ${this.produced} bytes, the header declares ${this.size}`, input.offset);
      if (this.lzma.code !== 0) throw new LzmaFormatError('data after the end-of-payload marker inside the range coder (corrupt stream)', input.offset);
      this.consumed = input.offset;
    } else if (this.size !== null && this.produced === this.size) {
      if (this.lzma.pendingLen > 0) throw new LzmaFormatError(`a match runs past the declared uncompressed size ${this.size}`, input.offset);
      // As liblzma: the stream may end here (range coder finished) or carry an end marker anyway.
      if (this.lzma.code !== 0) {
        const marker = this.lzma.decode(input, 1, input.finished ? input.end : input.end - MAX_SYMBOL_INPUT);
        if (input.pos > input.end) throw new LzmaFormatError(`stream truncated at input offset ${input.offsetOf(input.end)} (LZMA data not finished)`, input.offsetOf(input.end), true);
        if (marker !== 'end-marker' || this.lzma.code !== 0) throw new LzmaFormatError(`data continues past the declared uncompressed size ${this.size}`, input.offset);
      }
      this.consumed = input.offset;
    }
    return out;
  }

  private header(): boolean {
    const input = this.input;
    if (!input.has(13 + 5, 'LZMA header')) return false;
    const b = input.buf;
    const p = input.pos;
    const props = decodeProperties(b[p]!);
    if (!props) throw new LzmaFormatError(`invalid LZMA properties byte 0x${b[p]!.toString(16)}`, input.offset);
    const dictSize = input.le32(p + 1);
    const lo = input.le32(p + 5);
    const hi = input.le32(p + 9);
    if (lo !== 0xffffffff || hi !== 0xffffffff) {
      if (hi >= 0x200000) throw new LzmaFormatError('declared uncompressed size is beyond what kimg can count', input.offset + 5);
      this.size = hi * 2 ** 32 + lo;
    }
    // The window never needs to be larger than the declared output.
    const window = Math.max(4096, this.size === null ? dictSize : Math.min(dictSize, Math.max(this.size, 1)));
    this.lzma = new LzmaDecoder(this.probe ? new Dictionary(window, false) : new Dictionary(window));
    this.lzma.resetState(props.lc, props.lp, props.pb);
    input.pos += 13;
    this.lzma.initRangeCoder(input);
    if (this.size === 0) this.consumed = input.offset;
    return true;
  }
}

/**
 * Whether the first bytes of a stream decode as LZMA-alone data without an error (as far as they go).
 * LZMA-alone has no magic, so a sniffer that only checked the header would claim any bytes shaped like it.
 */
export function decodesAsLzmaAlone(head: Uint8Array): boolean {
  const input = new InputBuffer();
  input.push(head);
  const decoder = new LzmaAloneDecoder(input, true);
  try {
    for (let steps = 0; steps < 64 && !decoder.done; steps++) if (decoder.step(64 * 1024) === null) break;
    return true;
  } catch (e) {
    if (e instanceof LzmaFormatError) return false;
    throw e;
  }
}
