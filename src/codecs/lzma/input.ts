/**
 * Input side of kimg's LZMA-family decoders: one growable buffer of compressed bytes that the async
 * driver fills and the synchronous decoders read by index (hot loops index `buf` directly).
 */

/** A malformed stream: what is wrong and the input offset (from the start of the stream) where. */
export class LzmaFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly truncated = false,
  ) {
    super(message);
    this.name = 'LzmaFormatError';
  }
}

const SLACK = 256;

export class InputBuffer {
  /** Bytes [pos, end) are unread; buf[end..] is scratch. */
  buf = new Uint8Array(256 * 1024);
  pos = 0;
  end = 0;
  /** Stream offset of buf[0]. */
  private base = 0;
  /** No more input will come. */
  finished = false;

  get available(): number {
    return this.end - this.pos;
  }

  /** Stream offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Buffer index of stream offset `offset` (valid until the next push). */
  indexOf(offset: number): number {
    return offset - this.base;
  }

  /** Stream offset of buffer index `i`. */
  offsetOf(i: number): number {
    return this.base + i;
  }

  push(chunk: Uint8Array): void {
    // SLACK bytes stay allocated past `end`: the LZMA decoder may read that far past its limit before it checks.
    if (this.end + chunk.length + SLACK > this.buf.length) {
      const live = this.end - this.pos;
      const need = live + chunk.length + SLACK;
      const target = this.pos > 0 && need <= this.buf.length ? this.buf : new Uint8Array(Math.max(this.buf.length * 2, need));
      if (target === this.buf) target.copyWithin(0, this.pos, this.end);
      else target.set(this.buf.subarray(this.pos, this.end));
      this.base += this.pos;
      this.buf = target;
      this.end = live;
      this.pos = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Throws a truncation error unless `n` bytes are available; returns false when more input may come. */
  has(n: number, what: string): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.finished) throw new LzmaFormatError(`stream truncated at input offset ${this.base + this.end} (${what})`, this.base + this.end, true);
    return false;
  }

  byte(): number {
    return this.buf[this.pos++]!;
  }

  le32(at = this.pos): number {
    const b = this.buf;
    return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  }
}
