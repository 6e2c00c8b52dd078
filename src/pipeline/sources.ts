/**
 * Byte sources for inner layers: a slice of an outer layer (a PE section, a stored payload), or the
 * captured head of a decoded stream (whose bytes past the head are not kept, by design: memory
 * must not grow with the image).
 */
import type { ByteSource, Window } from '../core/bytes.js';
import { PipelineError } from '../core/errors.js';

export class SliceSource implements ByteSource {
  constructor(private readonly parent: ByteSource, readonly offset: number, readonly size: number) {}
  window(offset: number, length: number): Window {
    const w = this.parent.window(this.offset + offset, length);
    return { bytes: w.bytes, view: w.view, base: w.base - this.offset };
  }
  slice(offset: number, length: number): Uint8Array {
    return this.parent.slice(this.offset + offset, length);
  }
}

export class HeadSource implements ByteSource {
  private readonly whole: Window;
  constructor(readonly head: Uint8Array, readonly size: number) {
    this.whole = { bytes: head, view: new DataView(head.buffer, head.byteOffset, head.byteLength), base: 0 };
  }
  window(offset: number, length: number): Window {
    this.check(offset, length);
    return this.whole;
  }
  slice(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    return this.head.slice(offset, offset + length);
  }
  private check(offset: number, length: number): void {
    if (offset + length > this.head.length) {
      throw new PipelineError('beyond-head', `a header field at 0x${offset.toString(16)} lies beyond the first ${this.head.length} bytes kept of the decoded layer`, { offset }, {
        expected: `headers within the first ${this.head.length} bytes (raise with --head-size)`,
        found: `${length} bytes at 0x${offset.toString(16)}`,
      });
    }
  }
}
