/**
 * Streaming search for declared strings (the "Linux version ..." banner) in a layer's bytes, across
 * chunk boundaries, keeping only a small tail between chunks.
 */
import type { ScanDecl } from '../types.js';
import { utf8Visible } from '../core/bytes.js';

export interface ScanHit {
  readonly id: string;
  /** Offset of the prefix in the layer. */
  readonly offset: number;
  /** From the prefix up to (not including) the terminator, as UTF-8 text, invalid bytes shown as \xNN. */
  readonly text: string;
  /** The first `short_words` words of it, for one-line reports (all of it when the scan names no count). */
  readonly short: string;
}

function hit(d: ScanDecl, offset: number, text: string): ScanHit {
  return { id: d.id, offset, text, short: d.shortWords === null ? text : text.split(' ').slice(0, d.shortWords).join(' ') };
}

export class StreamScanner {
  private readonly pending: ScanDecl[];
  readonly hits: ScanHit[] = [];
  private tail = Buffer.alloc(0);
  /** Layer offset of tail[0]. */
  private tailAt = 0;
  private readonly keep: number;

  constructor(decls: readonly ScanDecl[]) {
    // One search per distinct id (several schemas may declare the same banner scan).
    const seen = new Set<string>();
    this.pending = decls.filter((d) => {
      if (seen.has(d.id)) return false;
      seen.add(d.id);
      return true;
    });
    this.keep = Math.max(0, ...this.pending.map((d) => d.prefix.length + d.maxLength));
  }

  get done(): boolean {
    return this.pending.length === 0;
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const base = this.tailAt + this.tail.length;
    // Matches that straddle the previous chunk and this one: only this small edge is copied.
    if (this.tail.length) this.search(Buffer.concat([this.tail, buf.subarray(0, this.keep)]), this.tailAt, this.tail.length);
    this.search(buf, base, buf.length);
    if (buf.length >= this.keep) {
      this.tail = Buffer.from(buf.subarray(buf.length - this.keep));
      this.tailAt = base + buf.length - this.keep;
    } else {
      const joined = Buffer.concat([this.tail, buf]);
      const from = Math.max(0, joined.length - this.keep);
      this.tail = Buffer.from(joined.subarray(from));
      this.tailAt += from;
    }
  }

  /**
   * Reports each pending string that starts before `startBefore` in `buf` and is complete there. An
   * incomplete one at the end of a chunk is found again in the next edge, which starts with it.
   */
  private search(buf: Buffer, base: number, startBefore: number): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const d = this.pending[i]!;
      const at = buf.indexOf(d.prefix);
      if (at < 0 || at >= startBefore) continue;
      const limit = at + d.prefix.length + d.maxLength;
      const end = buf.indexOf(d.terminator, at + d.prefix.length);
      if ((end < 0 || end > limit) && buf.length < limit) continue;
      const stop = end < 0 || end > limit ? limit : end;
      this.hits.push(hit(d, base + at, utf8Visible(buf.subarray(at, stop))));
      this.pending.splice(i, 1);
    }
  }

  /** At the end of the stream: a prefix found but never terminated is reported as far as it goes. */
  finish(): void {
    for (const d of this.pending) {
      const at = this.tail.indexOf(d.prefix);
      if (at >= 0) this.hits.push(hit(d, this.tailAt + at, utf8Visible(this.tail.subarray(at))));
    }
    this.pending.length = 0;
  }
}
