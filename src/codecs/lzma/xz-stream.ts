/**
 * The .xz container (tukaani.org/xz/xz-file-format.txt): stream header, blocks (header, filter chain,
 * compressed data, padding, check), index, stream footer. Every CRC32, size, check and the index are
 * verified, as `xz -t` does. Decoding stops after the first stream's footer, like the kernel's xz_dec_run
 * without XZ_DEC_CONCATENATED: stream padding and what follows are left unread.
 */
import { LzmaFormatError, type InputBuffer } from './input.js';
import { Lzma2Decoder, lzma2DictionarySize } from './lzma2.js';
import { DELTA_ID, FILTERS, LZMA2_ID, StreamFilter } from './filters.js';
import { checkSize, crc32Of, makeIntegrity, type Integrity } from './integrity.js';
import { crc32 } from 'node:zlib';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const CHECK_NAMES: Record<number, string> = { 0: 'none', 1: 'CRC32', 4: 'CRC64', 10: 'SHA-256' };

type Phase = 'header' | 'block-or-index' | 'block' | 'block-end' | 'index' | 'footer' | 'done';

interface Block {
  headerSize: number;
  compressedSize: number | null;
  uncompressedSize: number | null;
  dataStart: number;
  lzma2: Lzma2Decoder;
  filters: StreamFilter[];
  check: Integrity;
  produced: number;
}

/** Reads one variable-length integer at `input.pos`; null when it is not complete in the buffer. */
function readVli(input: InputBuffer, what: string): number | null {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    if (input.available <= i) {
      input.has(i + 1, what);
      return null;
    }
    const b = input.buf[input.pos + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new LzmaFormatError(`${what}: variable-length integer with a redundant zero byte`, input.offset);
      if (value > Number.MAX_SAFE_INTEGER) throw new LzmaFormatError(`${what}: ${value} is beyond what kimg can count`, input.offset);
      input.pos += i + 1;
      return value;
    }
  }
  throw new LzmaFormatError(`${what}: variable-length integer longer than 9 bytes`, input.offset);
}

export class XzStreamDecoder {
  private phase: Phase = 'header';
  private checkId = 0;
  private flags = new Uint8Array(2);
  private block: Block | null = null;
  /** Blocks as decoded, compared with the index: count and a running CRC32 of (unpadded, uncompressed). */
  private blockCount = 0;
  private recordsCrc = 0;
  private indexStart = 0;
  private indexCrc = 0;
  private indexSize = 0;
  private indexRecordsCrc = 0;
  private indexLeft = -1;
  /** Input bytes the stream occupied, once the footer is read. */
  consumed: number | null = null;

  constructor(private readonly input: InputBuffer) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  /** The next decoded bytes (possibly none), or null when more input must be pushed first. */
  step(maxOut: number): Uint8Array | null {
    const input = this.input;
    switch (this.phase) {
      case 'header':
        return this.header() ? new Uint8Array(0) : null;
      case 'block-or-index': {
        if (!input.has(1, 'block header')) return null;
        if (input.buf[input.pos] === 0) {
          this.indexStart = input.offset;
          this.indexCrc = crc32(input.buf.subarray(input.pos, input.pos + 1));
          input.pos++;
          this.phase = 'index';
        } else if (!this.blockHeader()) return null;
        return new Uint8Array(0);
      }
      case 'block':
        return this.blockData(maxOut);
      case 'block-end':
        return this.blockEnd() ? new Uint8Array(0) : null;
      case 'index':
        return this.index() ? new Uint8Array(0) : null;
      case 'footer':
        return this.footer() ? new Uint8Array(0) : null;
      case 'done':
        return new Uint8Array(0);
    }
  }

  private header(): boolean {
    const input = this.input;
    if (!input.has(12, 'stream header')) return false;
    const b = input.buf;
    const p = input.pos;
    for (let i = 0; i < 6; i++) if (b[p + i] !== MAGIC[i]) throw new LzmaFormatError('not an .xz stream (bad magic)', input.offset);
    if (crc32Of(b.subarray(p + 6, p + 8)) !== input.le32(p + 8)) throw new LzmaFormatError('stream header CRC32 mismatch', input.offset + 8);
    if (b[p + 6] !== 0 || (b[p + 7]! & 0xf0) !== 0) throw new LzmaFormatError('stream header flags use reserved bits (a newer .xz format?)', input.offset + 6);
    this.checkId = b[p + 7]! & 0x0f;
    if (!makeIntegrity(this.checkId)) throw new LzmaFormatError(`unsupported integrity check type ${this.checkId} (kimg verifies none, CRC32, CRC64 and SHA-256)`, input.offset + 7);
    this.flags = b.slice(p + 6, p + 8);
    input.pos += 12;
    this.phase = 'block-or-index';
    return true;
  }

  private blockHeader(): boolean {
    const input = this.input;
    const at = input.offset;
    const size = (input.buf[input.pos]! + 1) * 4;
    if (!input.has(size, 'block header')) return false;
    const b = input.buf;
    const p = input.pos;
    if (crc32Of(b.subarray(p, p + size - 4)) !== input.le32(p + size - 4)) throw new LzmaFormatError('block header CRC32 mismatch', at);
    const flags = b[p + 1]!;
    if (flags & 0x3c) throw new LzmaFormatError('block header flags use reserved bits', at + 1);
    // Parse the fields through a cursor limited to the header.
    const end = p + size - 4;
    input.pos = p + 2;
    const field = (what: string): number => {
      const v = readVli(input, what);
      if (v === null || input.pos > end) throw new LzmaFormatError(`block header: ${what} runs past the header`, at);
      return v;
    };
    const compressedSize = flags & 0x40 ? field('compressed size') : null;
    const uncompressedSize = flags & 0x80 ? field('uncompressed size') : null;
    if (compressedSize === 0) throw new LzmaFormatError('block header: compressed size 0', at);
    const count = (flags & 3) + 1;
    const chain: { id: number; props: Uint8Array }[] = [];
    for (let i = 0; i < count; i++) {
      const id = field('filter ID');
      const propsSize = field('filter properties size');
      if (input.pos + propsSize > end) throw new LzmaFormatError('block header: filter properties run past the header', at);
      chain.push({ id, props: b.slice(input.pos, input.pos + propsSize) });
      input.pos += propsSize;
    }
    for (let i = input.pos; i < end; i++) if (b[i] !== 0) throw new LzmaFormatError('block header padding is not zero', input.offsetOf(i));
    input.pos = p + size;

    const last = chain[chain.length - 1]!;
    if (last.id !== LZMA2_ID) throw new LzmaFormatError(`block's last filter is 0x${last.id.toString(16)}, not LZMA2 (0x21)`, at);
    if (last.props.length !== 1) throw new LzmaFormatError('LZMA2 filter properties are not 1 byte', at);
    const dictSize = lzma2DictionarySize(last.props[0]!);
    if (dictSize === null) throw new LzmaFormatError(`LZMA2 dictionary size byte ${last.props[0]} > 40`, at);
    const filters: StreamFilter[] = [];
    for (const { id, props } of chain.slice(0, -1)) {
      const spec = FILTERS.get(id);
      if (!spec) throw new LzmaFormatError(`unsupported filter 0x${id.toString(16)}${id === LZMA2_ID ? ' (LZMA2 not last)' : ''}`, at);
      let param: number;
      if (id === DELTA_ID) {
        if (props.length !== 1) throw new LzmaFormatError('Delta filter properties are not 1 byte', at);
        param = props[0]! + 1;
      } else {
        if (props.length !== 0 && props.length !== 4) throw new LzmaFormatError(`${spec.name} properties are neither empty nor a 4-byte start offset`, at);
        param = props.length ? (props[0]! | (props[1]! << 8) | (props[2]! << 16) | (props[3]! << 24)) >>> 0 : 0;
        if (param % spec.alignment !== 0) throw new LzmaFormatError(`${spec.name} start offset ${param} is not a multiple of ${spec.alignment}`, at);
      }
      filters.push(new StreamFilter(spec, param));
    }
    this.block = {
      headerSize: size,
      compressedSize,
      uncompressedSize,
      dataStart: input.offset,
      lzma2: new Lzma2Decoder(dictSize),
      // Decoding runs the encoder's chain backwards: LZMA2 first, then the filters from last to first.
      filters: filters.reverse(),
      check: makeIntegrity(this.checkId)!,
      produced: 0,
    };
    this.phase = 'block';
    return true;
  }

  private blockData(maxOut: number): Uint8Array | null {
    const block = this.block!;
    const input = this.input;
    if (!block.lzma2.step(input, maxOut)) return null;
    let out = block.lzma2.dict.take();
    const ended = block.lzma2.ended;
    for (const f of block.filters) out = f.run(out, ended);
    block.check.update(out);
    block.produced += out.length;
    const compressed = input.offset - block.dataStart;
    if (block.compressedSize !== null && compressed > block.compressedSize) throw new LzmaFormatError(`block is larger than the ${block.compressedSize} compressed bytes its header declares`, input.offset);
    if (block.uncompressedSize !== null && block.produced > block.uncompressedSize) throw new LzmaFormatError(`block decodes to more than the ${block.uncompressedSize} bytes its header declares`, input.offset);
    if (ended) {
      if (block.compressedSize !== null && compressed !== block.compressedSize) throw new LzmaFormatError(`block's compressed size is ${compressed}, its header declares ${block.compressedSize}`, input.offset);
      if (block.uncompressedSize !== null && block.produced !== block.uncompressedSize) throw new LzmaFormatError(`block decoded to ${block.produced} bytes, its header declares ${block.uncompressedSize}`, input.offset);
      this.phase = 'block-end';
    }
    return out;
  }

  private blockEnd(): boolean {
    const block = this.block!;
    const input = this.input;
    const compressed = input.offset - block.dataStart;
    const padding = (4 - (compressed % 4)) % 4;
    const size = checkSize(this.checkId);
    if (!input.has(padding + size, 'block padding and check')) return false;
    for (let i = 0; i < padding; i++) if (input.buf[input.pos + i] !== 0) throw new LzmaFormatError('block padding is not zero', input.offset + i);
    input.pos += padding;
    const expected = block.check.digest();
    for (let i = 0; i < size; i++) {
      if (input.buf[input.pos + i] !== expected[i]) {
        const hex = (a: ArrayLike<number>): string => Array.from(a, (x) => x.toString(16).padStart(2, '0')).join('');
        throw new LzmaFormatError(`${CHECK_NAMES[this.checkId]} mismatch at input offset ${input.offset} (stored ${hex(input.buf.subarray(input.pos, input.pos + size))}, decoded data has ${hex(expected)})`, input.offset);
      }
    }
    input.pos += size;
    this.blockCount++;
    this.recordsCrc = this.recordCrc(this.recordsCrc, block.headerSize + compressed + size, block.produced);
    this.block = null;
    this.phase = 'block-or-index';
    return true;
  }

  private recordCrc(crc: number, unpadded: number, uncompressed: number): number {
    const rec = new Uint8Array(16);
    const v = new DataView(rec.buffer);
    v.setFloat64(0, unpadded, true);
    v.setFloat64(8, uncompressed, true);
    return crc32(rec, crc);
  }

  private index(): boolean {
    const input = this.input;
    const start = input.pos;
    const progress = (): void => {
      this.indexCrc = crc32(input.buf.subarray(start, input.pos), this.indexCrc);
    };
    if (this.indexLeft < 0) {
      const n = readVli(input, 'index record count');
      if (n === null) return false;
      if (n !== this.blockCount) throw new LzmaFormatError(`index lists ${n} blocks, the stream has ${this.blockCount}`, input.offset);
      this.indexLeft = n;
    }
    while (this.indexLeft > 0) {
      const save = input.pos;
      const unpadded = readVli(input, 'index record');
      const uncompressed = unpadded === null ? null : readVli(input, 'index record');
      if (unpadded === null || uncompressed === null) {
        input.pos = save;
        progress();
        return false;
      }
      this.indexRecordsCrc = this.recordCrc(this.indexRecordsCrc, unpadded, uncompressed);
      this.indexLeft--;
    }
    progress();
    if (this.indexRecordsCrc !== this.recordsCrc) throw new LzmaFormatError('index records do not match the blocks decoded (sizes differ)', input.offset);
    const size = input.offset - this.indexStart;
    const padding = (4 - (size % 4)) % 4;
    if (!input.has(padding + 4, 'index padding and CRC32')) return false;
    for (let i = 0; i < padding; i++) if (input.buf[input.pos + i] !== 0) throw new LzmaFormatError('index padding is not zero', input.offset + i);
    this.indexCrc = crc32(input.buf.subarray(input.pos, input.pos + padding), this.indexCrc);
    input.pos += padding;
    if (input.le32() !== this.indexCrc >>> 0) throw new LzmaFormatError('index CRC32 mismatch', input.offset);
    input.pos += 4;
    this.indexSize = input.offset - this.indexStart;
    this.phase = 'footer';
    return true;
  }

  private footer(): boolean {
    const input = this.input;
    if (!input.has(12, 'stream footer')) return false;
    const b = input.buf;
    const p = input.pos;
    const at = input.offset;
    if (b[p + 10] !== 0x59 || b[p + 11] !== 0x5a) throw new LzmaFormatError('stream footer magic "YZ" missing', at + 10);
    if (crc32Of(b.subarray(p + 4, p + 10)) !== input.le32(p)) throw new LzmaFormatError('stream footer CRC32 mismatch', at);
    const backward = (input.le32(p + 4) + 1) * 4;
    if (backward !== this.indexSize) throw new LzmaFormatError(`stream footer's backward size ${backward} is not the index size ${this.indexSize}`, at + 4);
    if (b[p + 8] !== this.flags[0] || b[p + 9] !== this.flags[1]) throw new LzmaFormatError('stream footer flags differ from the header', at + 8);
    input.pos += 12;
    this.consumed = input.offset;
    this.phase = 'done';
    return true;
  }
}
