/**
 * A byte source for a slice of an outer layer's bytes (a PE section, a stored payload, a chain segment).
 */
import type { ByteSource, Window } from '../core/bytes.js';

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
