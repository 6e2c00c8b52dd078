/**
 * Where a layer's bytes are, with random access (for the engines) and in-order streaming (for decoders,
 * scans, hashes and outputs): a range of the input file, a slice of another layer, or a decoded layer,
 * kept whole: in memory while the analysis's memory budget (limits.maxDecodedInMemory) lasts, else in a
 * private temporary file (temp.ts). Measured against keeping only a head or decoding twice in
 * bench/decoded.mjs (docs/architecture.md, Decoded layers).
 */
import type { ByteSource, Window } from '../core/bytes.js';
import { LimitError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import { CHUNK, readFileRange } from './read.js';
import { SliceSource } from './sources.js';
import { TempFile } from './temp.js';

export interface ReadOptions {
  /** Called with the bytes read so far. */
  readonly onProgress?: (done: number) => void;
  /** Every chunk may be the same buffer, overwritten by the next: only for consumers done with a chunk at once. */
  readonly reuse?: boolean;
}

export interface LayerBytes {
  readonly source: ByteSource;
  readonly size: number;
  /** Offset of these bytes in the input file when they are a slice of it; null for decoded bytes. */
  readonly fileOffset: number | null;
  /** The bytes [offset, offset + size) in order, in chunks of at most CHUNK bytes. */
  read(offset: number, size: number, options?: ReadOptions): AsyncGenerator<Uint8Array>;
  slice(offset: number, size: number): LayerBytes;
}

/** The input file, or a range of it. */
export class FileBytes implements LayerBytes {
  constructor(private readonly path: string, readonly source: ByteSource, readonly fileOffset: number, readonly size: number) {}
  read(offset: number, size: number, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    return readFileRange(this.path, this.fileOffset + offset, size, options.onProgress, options.reuse ?? false);
  }
  slice(offset: number, size: number): LayerBytes {
    return new FileBytes(this.path, new SliceSource(this.source, offset, size), this.fileOffset + offset, size);
  }
}

/** A range of a decoded layer. */
class SliceBytes implements LayerBytes {
  readonly source: ByteSource;
  readonly fileOffset = null;
  constructor(private readonly parent: LayerBytes, private readonly offset: number, readonly size: number) {
    this.source = new SliceSource(parent.source, offset, size);
  }
  read(offset: number, size: number, options?: ReadOptions): AsyncGenerator<Uint8Array> {
    return this.parent.read(this.offset + offset, size, options);
  }
  slice(offset: number, size: number): LayerBytes {
    return new SliceBytes(this.parent, this.offset + offset, size);
  }
}

/** Random access to a decoded layer kept in memory, in blocks of CHUNK bytes (the last one shorter). */
class BlockSource implements ByteSource {
  private readonly views: (DataView | undefined)[] = [];
  private merged: Window | null = null;
  constructor(private readonly blocks: readonly Uint8Array[], readonly size: number) {}

  window(offset: number, length: number): Window {
    const i = Math.floor(offset / CHUNK);
    const block = this.blocks[i];
    if (block && offset + length <= i * CHUNK + block.length) {
      const view = (this.views[i] ??= new DataView(block.buffer, block.byteOffset, block.byteLength));
      return { bytes: block, view, base: i * CHUNK };
    }
    // A window across a block boundary: copied once, and kept for the reads that follow.
    const m = this.merged;
    if (m && offset >= m.base && offset + length <= m.base + m.bytes.length) return m;
    const bytes = this.slice(offset, Math.min(Math.max(length, WINDOW), this.size - offset));
    this.merged = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), base: offset };
    return this.merged;
  }

  slice(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const i = Math.floor(at / CHUNK);
      const block = this.blocks[i]!;
      const from = at - i * CHUNK;
      const n = Math.min(block.length - from, length - done);
      out.set(block.subarray(from, from + n), done);
      done += n;
    }
    return out;
  }
}

const WINDOW = 64 * 1024;

class MemoryBytes implements LayerBytes {
  readonly fileOffset = null;
  readonly source: ByteSource;
  constructor(private readonly blocks: readonly Uint8Array[], readonly size: number) {
    this.source = new BlockSource(blocks, size);
  }

  async *read(offset: number, size: number, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    let done = 0;
    while (done < size) {
      const at = offset + done;
      const i = Math.floor(at / CHUNK);
      const block = this.blocks[i]!;
      const from = at - i * CHUNK;
      const n = Math.min(block.length - from, size - done);
      done += n;
      options.onProgress?.(done);
      // Blocks are never written again, so even a decoder that keeps its input may hold these views.
      yield block.subarray(from, from + n);
    }
  }

  slice(offset: number, size: number): LayerBytes {
    return new SliceBytes(this, offset, size);
  }
}

/** Random access to a decoded layer in a temporary file, through one sliding window. */
class TempFileSource implements ByteSource {
  private current: Window = { bytes: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)), base: 0 };
  constructor(private readonly file: TempFile, readonly size: number) {}

  window(offset: number, length: number): Window {
    const c = this.current;
    if (offset >= c.base && offset + length <= c.base + c.bytes.length) return c;
    const base = offset - (offset % 4096);
    const bytes = new Uint8Array(Math.min(Math.max(WINDOW, offset + length - base), this.size - base));
    this.file.readInto(bytes, base);
    this.current = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), base };
    return this.current;
  }

  slice(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.file.readInto(out, offset);
    return out;
  }
}

class SpilledBytes implements LayerBytes {
  readonly fileOffset = null;
  readonly source: ByteSource;
  constructor(private readonly file: TempFile, readonly size: number) {
    this.source = new TempFileSource(file, size);
  }

  async *read(offset: number, size: number, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const shared = options.reuse ? new Uint8Array(Math.min(CHUNK, size)) : null;
    let done = 0;
    while (done < size) {
      const n = Math.min(CHUNK, size - done);
      const buf = shared ? shared.subarray(0, n) : new Uint8Array(n);
      this.file.readInto(buf, offset + done);
      done += n;
      options.onProgress?.(done);
      yield buf;
    }
  }

  slice(offset: number, size: number): LayerBytes {
    return new SliceBytes(this, offset, size);
  }
}

/**
 * The decoded layers of one analysis: the memory budget they share, the total every decoder may produce,
 * and the temporary files, closed (and so removed) by close().
 */
export class DecodedStore {
  private inMemory = 0;
  private decodedTotal = 0;
  private readonly temps: TempFile[] = [];
  constructor(private readonly limits: Limits) {}

  /** A capture for one decoded layer. */
  capture(): Capture {
    return new Capture(this);
  }

  /** Counts decoded bytes against maxDecodedTotal. */
  count(n: number): void {
    this.decodedTotal += n;
    if (this.decodedTotal > this.limits.maxDecodedTotal) throw new LimitError('maxDecodedTotal', this.limits.maxDecodedTotal);
  }

  /** Takes `n` bytes of the memory budget; false when they are not left. */
  reserve(n: number): boolean {
    if (this.inMemory + n > this.limits.maxDecodedInMemory) return false;
    this.inMemory += n;
    return true;
  }

  release(n: number): void {
    this.inMemory -= n;
  }

  tempFile(): TempFile {
    const t = new TempFile('a decoded layer');
    this.temps.push(t);
    return t;
  }

  close(): void {
    for (const t of this.temps.splice(0)) t.close();
  }
}

/**
 * Collects one decoded layer as it is decoded: memory blocks while the budget lasts, then a temporary file.
 * The first block starts small and doubles up to CHUNK, so that a small layer takes little of the budget.
 */
export class Capture {
  private readonly blocks: Uint8Array[] = [];
  private block: Uint8Array | null = null;
  private fill = 0;
  private reserved = 0;
  private file: TempFile | null = null;
  size = 0;
  constructor(private readonly store: DecodedStore) {}

  add(chunk: Uint8Array): void {
    this.store.count(chunk.length);
    this.size += chunk.length;
    if (this.file) {
      this.file.append(chunk);
      return;
    }
    let done = 0;
    while (done < chunk.length) {
      if (!this.block || this.fill === this.block.length) {
        if (!this.grow(chunk.length - done)) {
          this.spill(chunk.subarray(done));
          return;
        }
      }
      const block = this.block!;
      const n = Math.min(block.length - this.fill, chunk.length - done);
      block.set(chunk.subarray(done, done + n), this.fill);
      this.fill += n;
      done += n;
    }
  }

  /** Room for more bytes: a larger first block, or a new one; false when the budget does not allow it. */
  private grow(want: number): boolean {
    const first = this.blocks.length === 0;
    if (first && this.block && this.block.length < CHUNK) {
      let next = this.block.length;
      while (next < CHUNK && next - this.fill < want) next *= 2;
      next = Math.min(next, CHUNK);
      if (!this.store.reserve(next - this.block.length)) return false;
      this.reserved += next - this.block.length;
      const bigger = new Uint8Array(next);
      bigger.set(this.block.subarray(0, this.fill));
      this.block = bigger;
      return true;
    }
    const size = first && !this.block ? Math.min(CHUNK, Math.max(FIRST_BLOCK, want)) : CHUNK;
    if (!this.store.reserve(size)) return false;
    this.reserved += size;
    if (this.block) this.blocks.push(this.block);
    this.block = new Uint8Array(size);
    this.fill = 0;
    return true;
  }

  /** The memory budget is spent: everything so far, and all that follows, goes to a temporary file. */
  private spill(rest: Uint8Array): void {
    const file = this.store.tempFile();
    for (const b of this.blocks) file.append(b);
    if (this.block) file.append(this.block.subarray(0, this.fill));
    this.blocks.length = 0;
    this.block = null;
    this.store.release(this.reserved);
    this.reserved = 0;
    file.append(rest);
    this.file = file;
  }

  finish(): LayerBytes {
    if (this.file) return new SpilledBytes(this.file, this.size);
    if (this.block) this.blocks.push(this.block.subarray(0, this.fill));
    this.block = null;
    return new MemoryBytes(this.blocks, this.size);
  }
}

const FIRST_BLOCK = 64 * 1024;
