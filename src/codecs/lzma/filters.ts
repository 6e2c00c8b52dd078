/**
 * The .xz format's non-last filters, decoding direction: the branch/call converters ("BCJ", which turn
 * absolute addresses the encoder wrote back into relative ones) and Delta. Each converter is a pure
 * function of (bytes, stream position) as the .xz specification and liblzma define them; `StreamFilter`
 * runs one over a stream of chunks, holding back the few bytes at a chunk's end that may start an
 * instruction, and passes the last unconvertible bytes through unchanged at the end of the block.
 */

/** Converts what it can of `buf` (in place) for stream position `pos`; returns how many bytes are final. */
type Converter = (buf: Uint8Array, pos: number, state: { x86Mask: number; x86PrevPos: number }) => number;

export interface FilterSpec {
  /** Filter ID in the block header. */
  readonly id: number;
  readonly name: string;
  /** Start offset alignment of the BCJ filter (its instruction size); 0 for Delta. */
  readonly alignment: number;
  readonly convert?: Converter;
}

const le32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const setLe32 = (b: Uint8Array, i: number, v: number): void => {
  b[i] = v;
  b[i + 1] = v >>> 8;
  b[i + 2] = v >>> 16;
  b[i + 3] = v >>> 24;
};

/** x86: E8 (CALL) / E9 (JMP) rel32, with the "previous E8/E9 within 5 bytes" mask the encoder used. */
const x86: Converter = (buf, pos, st) => {
  const size = buf.length;
  if (size < 5) return 0;
  const bitsForMask = [0, 1, 2, 2, 3];
  const msByte = (b: number): boolean => b === 0 || b === 0xff;
  let mask = st.x86Mask;
  let prevPos = st.x86PrevPos;
  if (((pos - prevPos) >>> 0) > 5) prevPos = (pos - 5) >>> 0;
  let i = 0;
  while (i <= size - 5) {
    const op = buf[i]!;
    if (op !== 0xe8 && op !== 0xe9) {
      i++;
      continue;
    }
    const here = (pos + i) >>> 0;
    const gap = (here - prevPos) >>> 0;
    prevPos = here;
    if (gap > 5) mask = 0;
    else for (let k = 0; k < gap; k++) mask = ((mask & 0x77) << 1) & 0xff;
    let b = buf[i + 4]!;
    if (msByte(b) && mask >>> 1 <= 4 && mask >>> 1 !== 3) {
      let src = ((b << 24) | (buf[i + 3]! << 16) | (buf[i + 2]! << 8) | buf[i + 1]!) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (here + 5)) >>> 0;
        if (mask === 0) break;
        const j = bitsForMask[mask >>> 1]! * 8;
        b = (dest >>> (24 - j)) & 0xff;
        if (!msByte(b)) break;
        src = (dest ^ (2 ** (32 - j) - 1)) >>> 0;
      }
      buf[i + 4] = ~(((dest >>> 24) & 1) - 1);
      buf[i + 3] = dest >>> 16;
      buf[i + 2] = dest >>> 8;
      buf[i + 1] = dest;
      i += 5;
      mask = 0;
    } else {
      i++;
      mask |= 1;
      if (msByte(b)) mask |= 0x10;
    }
  }
  st.x86Mask = mask;
  st.x86PrevPos = prevPos;
  return i;
};

/** PowerPC: big-endian `bl` (opcode 18 with AA=0, LK=1). */
const powerpc: Converter = (buf, pos) => {
  const size = buf.length & ~3;
  for (let i = 0; i < size; i += 4) {
    if (buf[i]! >>> 2 !== 0x12 || (buf[i + 3]! & 3) !== 1) continue;
    const src = (((buf[i]! & 3) << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | (buf[i + 3]! & ~3)) >>> 0;
    const dest = (src - pos - i) >>> 0;
    buf[i] = 0x48 | ((dest >>> 24) & 3);
    buf[i + 1] = dest >>> 16;
    buf[i + 2] = dest >>> 8;
    buf[i + 3] = (buf[i + 3]! & 3) | (dest & 0xfc);
  }
  return size;
};

/** IA-64: 128-bit bundles; branch slots chosen by the template, 21-bit IP-relative targets. */
const ia64: Converter = (buf, pos) => {
  const slotsByTemplate = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 6, 6, 0, 0, 7, 7, 4, 4, 0, 0, 4, 4, 0, 0];
  const size = buf.length & ~15;
  for (let i = 0; i < size; i += 16) {
    const slots = slotsByTemplate[buf[i]! & 0x1f]!;
    for (let slot = 0, bitPos = 5; slot < 3; slot++, bitPos += 41) {
      if (((slots >>> slot) & 1) === 0) continue;
      const bytePos = i + (bitPos >>> 3);
      const shift = BigInt(bitPos & 7);
      let instruction = 0n;
      for (let j = 0; j < 6; j++) instruction |= BigInt(buf[bytePos + j]!) << BigInt(8 * j);
      let norm = instruction >> shift;
      if (((norm >> 37n) & 0xfn) !== 5n || ((norm >> 9n) & 7n) !== 0n) continue;
      let src = Number((norm >> 13n) & 0xfffffn);
      src |= Number((norm >> 36n) & 1n) << 20;
      const dest = (((src << 4) >>> 0) - pos - i) >>> 4;
      norm &= ~(0x8fffffn << 13n);
      norm |= BigInt(dest & 0xfffff) << 13n;
      norm |= BigInt(dest & 0x100000) << 16n;
      instruction = (instruction & ((1n << shift) - 1n)) | (norm << shift);
      for (let j = 0; j < 6; j++) buf[bytePos + j] = Number((instruction >> BigInt(8 * j)) & 0xffn);
    }
  }
  return size;
};

/** ARM: little-endian BL (condition "always", 0xEB). */
const arm: Converter = (buf, pos) => {
  const size = buf.length & ~3;
  for (let i = 0; i < size; i += 4) {
    if (buf[i + 3] !== 0xeb) continue;
    const src = ((buf[i + 2]! << 16) | (buf[i + 1]! << 8) | buf[i]!) << 2;
    const dest = ((src - (pos + i + 8)) >>> 0) >>> 2;
    buf[i + 2] = dest >>> 16;
    buf[i + 1] = dest >>> 8;
    buf[i] = dest;
  }
  return size;
};

/** ARM Thumb: the BL instruction pair (F000 F800 prefixes). */
const armThumb: Converter = (buf, pos) => {
  if (buf.length < 4) return 0;
  const last = buf.length - 4;
  let i = 0;
  for (; i <= last; i += 2) {
    if ((buf[i + 1]! & 0xf8) !== 0xf0 || (buf[i + 3]! & 0xf8) !== 0xf8) continue;
    const src = (((buf[i + 1]! & 7) << 19) | (buf[i]! << 11) | ((buf[i + 3]! & 7) << 8) | buf[i + 2]!) << 1;
    const dest = ((src - (pos + i + 4)) >>> 0) >>> 1;
    buf[i + 1] = 0xf0 | ((dest >>> 19) & 7);
    buf[i] = dest >>> 11;
    buf[i + 3] = 0xf8 | ((dest >>> 8) & 7);
    buf[i + 2] = dest;
    i += 2;
  }
  return i;
};

/** SPARC: big-endian CALL with a displacement that fits 22 bits sign-extended. */
const sparc: Converter = (buf, pos) => {
  const size = buf.length & ~3;
  for (let i = 0; i < size; i += 4) {
    const b0 = buf[i]!;
    const b1 = buf[i + 1]!;
    if (!((b0 === 0x40 && (b1 & 0xc0) === 0) || (b0 === 0x7f && (b1 & 0xc0) === 0xc0))) continue;
    const src = ((b0 << 24) | (b1 << 16) | (buf[i + 2]! << 8) | buf[i + 3]!) << 2;
    let dest = ((src - pos - i) >>> 0) >>> 2;
    dest = ((((0 - ((dest >>> 22) & 1)) << 22) & 0x3fffffff) | (dest & 0x3fffff) | 0x40000000) >>> 0;
    buf[i] = dest >>> 24;
    buf[i + 1] = dest >>> 16;
    buf[i + 2] = dest >>> 8;
    buf[i + 3] = dest;
  }
  return size;
};

/** ARM64: BL (26-bit word offset) and ADRP (21-bit page offset, only within +-512 MiB as encoded). */
const arm64: Converter = (buf, pos) => {
  const size = buf.length & ~3;
  for (let i = 0; i < size; i += 4) {
    let instr = le32(buf, i);
    const pc = (pos + i) >>> 0;
    if (instr >>> 26 === 0x25) {
      instr = (0x94000000 | ((instr - (pc >>> 2)) & 0x03ffffff)) >>> 0;
      setLe32(buf, i, instr);
    } else if (((instr & 0x9f000000) >>> 0) === 0x90000000) {
      const src = ((instr >>> 29) & 3) | ((instr >>> 3) & 0x001ffffc);
      if ((src + 0x00020000) & 0x001c0000) continue;
      const dest = (src - (pc >>> 12)) >>> 0;
      instr &= 0x9000001f;
      instr |= (dest & 3) << 29;
      instr |= (dest & 0x0003fffc) << 3;
      instr |= (0 - (dest & 0x00020000)) & 0x00e00000;
      setLe32(buf, i, instr >>> 0);
    }
  }
  return size;
};

/** RISC-V: JAL with rd = ra/t0, and AUIPC pairs the encoder rewrote into its special form. */
const riscv: Converter = (buf, pos) => {
  if (buf.length < 8) return 0;
  const last = buf.length - 8;
  let i = 0;
  for (; i <= last; i += 2) {
    let inst = buf[i]!;
    if (inst === 0xef) {
      const b1 = buf[i + 1]!;
      if ((b1 & 0x0d) !== 0) continue;
      const b2 = buf[i + 2]!;
      const b3 = buf[i + 3]!;
      const addr = ((((b1 & 0xf0) << 13) | (b2 << 9) | (b3 << 1)) - ((pos + i) >>> 0)) >>> 0;
      buf[i + 1] = (b1 & 0x0f) | ((addr >>> 8) & 0xf0);
      buf[i + 2] = ((addr >>> 16) & 0x0f) | ((addr >>> 7) & 0x10) | ((addr << 4) & 0xe0);
      buf[i + 3] = ((addr >>> 4) & 0x7f) | ((addr >>> 13) & 0x80);
      i += 2;
    } else if ((inst & 0x7f) === 0x17) {
      inst = le32(buf, i);
      let inst2: number;
      if (inst & 0xe80) {
        // rd is not x0/x2: possibly a "fake" pair the encoder swapped; undo the swap.
        inst2 = le32(buf, i + 4);
        if ((((inst << 8) ^ (inst2 - 3)) & 0xf8003) !== 0) {
          i += 4;
          continue;
        }
        const addr = ((inst & 0xfffff000) + (inst2 >>> 20)) >>> 0;
        inst = (0x17 | (2 << 7) | (inst2 << 12)) >>> 0;
        inst2 = addr;
      } else {
        // rd is x0/x2: the encoder's special format carrying a big-endian absolute address.
        const rs1 = inst >>> 27;
        if (((((inst - 0x3117) << 18) >>> 0) >= (rs1 & 0x1d))) {
          i += 2;
          continue;
        }
        const addr = ((((buf[i + 4]! << 24) | (buf[i + 5]! << 16) | (buf[i + 6]! << 8) | buf[i + 7]!) >>> 0) - ((pos + i) >>> 0)) >>> 0;
        inst2 = ((inst >>> 12) | (addr << 20)) >>> 0;
        inst = (0x17 | (rs1 << 7) | ((addr + 0x800) & 0xfffff000)) >>> 0;
      }
      setLe32(buf, i, inst);
      setLe32(buf, i + 4, inst2);
      i += 6;
    }
  }
  return i;
};

export const DELTA_ID = 0x03;
export const LZMA2_ID = 0x21;

/** Non-last filters kimg decodes, by ID (every filter of the .xz specification and liblzma 5.8). */
export const FILTERS: ReadonlyMap<number, FilterSpec> = new Map(
  [
    { id: DELTA_ID, name: 'Delta', alignment: 0 },
    { id: 0x04, name: 'x86 BCJ', alignment: 1, convert: x86 },
    { id: 0x05, name: 'PowerPC BCJ', alignment: 4, convert: powerpc },
    { id: 0x06, name: 'IA-64 BCJ', alignment: 16, convert: ia64 },
    { id: 0x07, name: 'ARM BCJ', alignment: 4, convert: arm },
    { id: 0x08, name: 'ARM-Thumb BCJ', alignment: 2, convert: armThumb },
    { id: 0x09, name: 'SPARC BCJ', alignment: 4, convert: sparc },
    { id: 0x0a, name: 'ARM64 BCJ', alignment: 4, convert: arm64 },
    { id: 0x0b, name: 'RISC-V BCJ', alignment: 2, convert: riscv },
  ].map((f) => [f.id, f]),
);

/** One filter over a stream of chunks (decoding direction). */
export class StreamFilter {
  private held = new Uint8Array(0);
  private pos: number;
  private readonly x86State = { x86Mask: 0, x86PrevPos: 0xfffffffb };
  private readonly history = new Uint8Array(256);
  private historyPos = 0;

  /** `param`: the BCJ start offset, or the Delta distance (1..256). */
  constructor(
    readonly spec: FilterSpec,
    private readonly param: number,
  ) {
    this.pos = spec.convert ? param : 0;
  }

  /** The next chunk of decoded bytes (in place where possible); `final` flushes what is held back. */
  run(chunk: Uint8Array, final: boolean): Uint8Array {
    const convert = this.spec.convert;
    if (!convert) return this.delta(chunk);
    let data = chunk;
    if (this.held.length) {
      data = new Uint8Array(this.held.length + chunk.length);
      data.set(this.held);
      data.set(chunk, this.held.length);
    }
    const done = Math.min(convert(data, this.pos >>> 0, this.x86State), data.length);
    this.pos += done;
    if (final) {
      this.held = new Uint8Array(0);
      return data;
    }
    this.held = data.slice(done);
    return data.subarray(0, done);
  }

  private delta(chunk: Uint8Array): Uint8Array {
    const distance = this.param;
    const h = this.history;
    let p = this.historyPos;
    for (let i = 0; i < chunk.length; i++) {
      const v = (chunk[i]! + h[(p + 256 - distance) & 255]!) & 0xff;
      chunk[i] = v;
      h[p] = v;
      p = (p + 1) & 255;
    }
    this.historyPos = p;
    return chunk;
  }
}
