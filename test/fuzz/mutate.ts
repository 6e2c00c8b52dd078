/**
 * Mutation plans: small JSON objects that say how to turn one seed into a fuzz input. fast-check
 * generates (and shrinks) plans; `materialize` turns a plan into bytes, deterministically. A plan is
 * what a finding records, so any input can be rebuilt from it and the seed set.
 *
 * Two families of mutations:
 *  - random bytes: flip a bit, set a byte, insert, delete, truncate, overwrite from another seed,
 *    join the head of one seed to the tail of another;
 *  - structure-aware: the header fields the readers trust (e_lfanew, NumberOfSections,
 *    SizeOfOptionalHeader, NumberOfRvaAndSizes, a section's PointerToRawData / SizeOfRawData /
 *    VirtualSize, zboot payload_offset / payload_size), with values near 0, near 2^32, near the file
 *    size, inside the headers, or off by a little from the original; compress_type (every known name,
 *    unknown names, unterminated); the size trailer; the inner Image's magic (rebuilt through gzip
 *    into a zboot); codec stream bytes in the middle of the payload.
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { buildZboot } from '../pe-builder.js';
import type { SeedSet } from './seeds.js';

/** How a new field value is chosen: absolute, relative to the original, to the file size, or to 2^32. */
export interface Val {
  readonly b: 'abs' | 'orig' | 'size' | 'wrap' | 'hdr';
  readonly d: number;
}

export type Field =
  | 'e_lfanew'
  | 'number_of_sections'
  | 'size_of_optional_header'
  | 'number_of_rva_and_sizes'
  | 'optional_magic'
  | 'machine'
  | 'section.pointer_to_raw_data'
  | 'section.size_of_raw_data'
  | 'section.virtual_size'
  | 'zboot.payload_offset'
  | 'zboot.payload_size';

export type Op =
  | { readonly k: 'flip'; readonly at: number; readonly bit: number }
  | { readonly k: 'byte'; readonly at: number; readonly v: number }
  | { readonly k: 'insert'; readonly at: number; readonly bytes: readonly number[] }
  | { readonly k: 'delete'; readonly at: number; readonly n: number }
  | { readonly k: 'truncate'; readonly at: number }
  | { readonly k: 'splice'; readonly other: number; readonly from: number; readonly at: number; readonly n: number }
  | { readonly k: 'join'; readonly other: number; readonly at: number; readonly from: number }
  | { readonly k: 'field'; readonly f: Field; readonly i: number; readonly v: Val }
  | { readonly k: 'ctype'; readonly name: string; readonly unterminated: boolean }
  | { readonly k: 'trailer'; readonly v: Val }
  | { readonly k: 'stream'; readonly pos: number; readonly bytes: readonly number[] };

/** A kernel Image head with its magic changed, gzip-compressed into a zboot (or left bare). */
export interface Synth {
  readonly img: number;
  readonly len: number;
  readonly magic: 'keep' | 'arm64' | 'riscv' | 'zero' | 'bytes';
  readonly mb: readonly number[];
  readonly wrap: 'bare' | 'gzip' | 'zboot';
  readonly machine: number;
  readonly ctype: string;
  readonly trailer: 'right' | 'wrong' | 'none';
}

export interface Plan {
  /** Index of the seed (ignored when `synth` is set). */
  readonly seed: number;
  readonly synth: Synth | null;
  readonly ops: readonly Op[];
  /** Header target: record layouts (as detection does). Pipeline target: use the interpreter (--jitless). */
  readonly alt: boolean;
  /** Header target: limits (0 tiny, 63 default, else arrays capped at 1024) and source (odd: paged). Pipeline target: which extract target. */
  readonly mode: number;
}

export const KNOWN_COMPRESS_TYPES = ['gzip', 'zstd', 'zstd22', 'lzma', 'xzkern', 'lz4', 'lzo', 'bzip2'] as const;
const ODD_COMPRESS_TYPES = ['', 'GZIP', 'gzip ', ' gzip', 'xz', 'zst', 'lz4-legacy', 'lzop', 'none', 'bz2', 'gzip\n', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

const MACHINES = [0xaa64, 0x5064, 0x5032, 0x6264, 0x6232, 0x8664, 0x014c, 0x0000];

// ---------------------------------------------------------------------------------------------
// arbitraries

const byte = fc.integer({ min: 0, max: 255 });
/** A position: mostly in the headers, sometimes anywhere (taken modulo the length). */
const position = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 0x400 }), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 0x2000 }), weight: 1 }, { arbitrary: fc.nat(), weight: 2 });
const smallBytes = fc.array(byte, { minLength: 1, maxLength: 32 });

const BOUNDARY = [0, 1, 2, 3, 4, 7, 8, 0x10, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x200, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xfffffffe, 0xffffffff];

export const valArb: fc.Arbitrary<Val> = fc.oneof(
  fc.record({ b: fc.constant('abs' as const), d: fc.constantFrom(...BOUNDARY) }),
  fc.record({ b: fc.constant('abs' as const), d: fc.nat({ max: 0xffffffff }) }),
  fc.record({ b: fc.constant('orig' as const), d: fc.integer({ min: -64, max: 64 }) }),
  fc.record({ b: fc.constant('size' as const), d: fc.integer({ min: -16, max: 16 }) }),
  fc.record({ b: fc.constant('wrap' as const), d: fc.integer({ min: -16, max: 16 }) }),
  fc.record({ b: fc.constant('hdr' as const), d: fc.integer({ min: 0, max: 0x400 }) }),
);

const FIELDS: readonly Field[] = [
  'e_lfanew', 'number_of_sections', 'size_of_optional_header', 'number_of_rva_and_sizes', 'optional_magic', 'machine',
  'section.pointer_to_raw_data', 'section.size_of_raw_data', 'section.virtual_size', 'zboot.payload_offset', 'zboot.payload_size',
];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ k: fc.constant('byte' as const), at: position, v: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x01) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('insert' as const), at: position, bytes: smallBytes }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('delete' as const), at: position, n: fc.integer({ min: 1, max: 64 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('truncate' as const), at: position }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('splice' as const), other: fc.nat(), from: position, at: position, n: fc.integer({ min: 1, max: 0x400 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('join' as const), other: fc.nat(), at: position, from: position }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('field' as const), f: fc.constantFrom(...FIELDS), i: fc.integer({ min: 0, max: 7 }), v: valArb }), weight: 8 },
  {
    arbitrary: fc.record({
      k: fc.constant('ctype' as const),
      name: fc.oneof(fc.constantFrom(...KNOWN_COMPRESS_TYPES), fc.constantFrom(...ODD_COMPRESS_TYPES), fc.string({ maxLength: 40 })),
      unterminated: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ k: fc.constant('trailer' as const), v: valArb }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('stream' as const), pos: fc.integer({ min: 100, max: 900 }), bytes: smallBytes }), weight: 3 },
);

const synthArb: fc.Arbitrary<Synth> = fc.record({
  img: fc.nat(),
  len: fc.oneof(fc.constantFrom(0, 0x38, 0x3c, 0x40, 0x100, 0x1000), fc.integer({ min: 0, max: 256 * 1024 })),
  magic: fc.constantFrom('keep' as const, 'arm64' as const, 'riscv' as const, 'zero' as const, 'bytes' as const),
  mb: fc.array(byte, { minLength: 4, maxLength: 4 }),
  wrap: fc.constantFrom('bare' as const, 'gzip' as const, 'zboot' as const, 'zboot' as const),
  machine: fc.oneof(fc.constantFrom(...MACHINES), fc.integer({ min: 0, max: 0xffff })),
  ctype: fc.oneof({ arbitrary: fc.constant('gzip'), weight: 4 }, { arbitrary: fc.constantFrom(...KNOWN_COMPRESS_TYPES, ...ODD_COMPRESS_TYPES), weight: 1 }),
  trailer: fc.constantFrom('right' as const, 'wrong' as const, 'none' as const),
});

/**
 * Plans over a seed set; `largeAbove` keeps seeds over that size rare (the pipeline decodes whole files);
 * one plan in `synthOneIn` is a synthetic Image (its gzip costs ~2 ms: rarer for the fast header target).
 */
export function planArb(seeds: SeedSet, options: { maxOps: number; largeAbove: number; synthOneIn: number }): fc.Arbitrary<Plan> {
  const small: number[] = [];
  const large: number[] = [];
  seeds.seeds.forEach((s, i) => {
    (s.bytes.length > options.largeAbove ? large : small).push(i);
  });
  const seedArb = large.length
    ? fc.oneof({ arbitrary: fc.constantFrom(...small), weight: 30 }, { arbitrary: fc.constantFrom(...large), weight: 1 })
    : fc.constantFrom(...small);
  return fc.record({
    seed: seedArb,
    synth: fc.oneof({ arbitrary: fc.constant(null), weight: options.synthOneIn - 1 }, { arbitrary: synthArb, weight: 1 }),
    ops: fc.array(opArb, { minLength: 0, maxLength: options.maxOps }),
    alt: fc.boolean(),
    mode: fc.integer({ min: 0, max: 63 }),
  });
}

// ---------------------------------------------------------------------------------------------
// materialize

const u32 = (b: Uint8Array, at: number): number | null => (at >= 0 && at + 4 <= b.length ? (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0 : null);
const u16 = (b: Uint8Array, at: number): number | null => (at >= 0 && at + 2 <= b.length ? b[at]! | (b[at + 1]! << 8) : null);
function put32(b: Uint8Array, at: number, v: number): void {
  if (at < 0 || at + 4 > b.length) return;
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
function put16(b: Uint8Array, at: number, v: number): void {
  if (at < 0 || at + 2 > b.length) return;
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

interface Loc {
  readonly at: number;
  readonly width: 2 | 4;
}

/** Where a header field is in these bytes (following e_lfanew and the COFF header), or null. */
export function locate(b: Uint8Array, f: Field, i: number): Loc | null {
  if (f === 'e_lfanew') return { at: 0x3c, width: 4 };
  if (f === 'zboot.payload_offset') return { at: 8, width: 4 };
  if (f === 'zboot.payload_size') return { at: 12, width: 4 };
  const pe = u32(b, 0x3c);
  if (pe === null || pe + 24 > b.length) return null;
  if (f === 'machine') return { at: pe + 4, width: 2 };
  if (f === 'number_of_sections') return { at: pe + 6, width: 2 };
  if (f === 'size_of_optional_header') return { at: pe + 20, width: 2 };
  const opt = pe + 24;
  if (f === 'optional_magic') return { at: opt, width: 2 };
  if (f === 'number_of_rva_and_sizes') {
    const magic = u16(b, opt);
    return { at: opt + (magic === 0x10b ? 92 : 108), width: 4 };
  }
  const sizeOpt = u16(b, pe + 20) ?? 0;
  const n = u16(b, pe + 6) ?? 0;
  if (n === 0) return null;
  const sec = opt + sizeOpt + 40 * (i % n);
  if (f === 'section.virtual_size') return { at: sec + 8, width: 4 };
  if (f === 'section.size_of_raw_data') return { at: sec + 16, width: 4 };
  return { at: sec + 20, width: 4 };
}

function resolveVal(v: Val, orig: number, b: Uint8Array, f: string): number {
  switch (v.b) {
    case 'abs':
      return v.d >>> 0;
    case 'orig':
      return (orig + v.d) >>> 0;
    case 'size':
      return (b.length + v.d) >>> 0;
    case 'hdr':
      return v.d >>> 0;
    case 'wrap': {
      // payload_size so that payload_offset + payload_size lands near 2^32.
      const base = f === 'zboot.payload_size' ? (u32(b, 8) ?? 0) : 0;
      return (0x100000000 - base + v.d) >>> 0;
    }
  }
}

function payloadRange(b: Uint8Array): { off: number; size: number; gzip: boolean } {
  const isZboot = b.length >= 0x40 && b[0] === 0x4d && b[1] === 0x5a && b[4] === 0x7a && b[5] === 0x69 && b[6] === 0x6d && b[7] === 0x67;
  if (isZboot) {
    const off = u32(b, 8)!;
    const size = u32(b, 12)!;
    return { off, size, gzip: b[0x18] === 0x67 && b[0x19] === 0x7a && b[0x1a] === 0x69 && b[0x1b] === 0x70 && b[0x1c] === 0x00 };
  }
  return { off: Math.min(64, b.length), size: Math.max(0, b.length - 64), gzip: false };
}

/** Records the bytes about to be overwritten, so an input built in a seed's own memory can be undone. */
type Touch = (b: Uint8Array, at: number, n: number) => void;

function applyOp(b: Uint8Array, op: Op, seeds: SeedSet, touch: Touch): Uint8Array {
  const len = b.length;
  switch (op.k) {
    case 'flip':
      if (len) {
        touch(b, op.at % len, 1);
        b[op.at % len]! ^= 1 << op.bit;
      }
      return b;
    case 'byte':
      if (len) {
        touch(b, op.at % len, 1);
        b[op.at % len] = op.v;
      }
      return b;
    case 'insert': {
      const at = op.at % (len + 1);
      const out = new Uint8Array(len + op.bytes.length);
      out.set(b.subarray(0, at));
      out.set(op.bytes, at);
      out.set(b.subarray(at), at + op.bytes.length);
      return out;
    }
    case 'delete': {
      if (!len) return b;
      const at = op.at % len;
      const n = Math.min(op.n, len - at);
      const out = new Uint8Array(len - n);
      out.set(b.subarray(0, at));
      out.set(b.subarray(at + n), at);
      return out;
    }
    case 'truncate':
      return b.subarray(0, op.at % (len + 1));
    case 'splice': {
      const other = seeds.seeds[op.other % seeds.seeds.length]!.bytes;
      if (!len || !other.length) return b;
      const from = op.from % other.length;
      const at = op.at % len;
      const n = Math.min(op.n, other.length - from, len - at);
      touch(b, at, n);
      b.set(other.subarray(from, from + n), at);
      return b;
    }
    case 'join': {
      const other = seeds.seeds[op.other % seeds.seeds.length]!.bytes;
      const at = op.at % (len + 1);
      const from = other.length ? op.from % other.length : 0;
      const out = new Uint8Array(at + other.length - from);
      out.set(b.subarray(0, at));
      out.set(other.subarray(from), at);
      return out;
    }
    case 'field': {
      const loc = locate(b, op.f, op.i);
      if (!loc || loc.at + loc.width > len) return b;
      const orig = loc.width === 4 ? u32(b, loc.at)! : u16(b, loc.at)!;
      touch(b, loc.at, loc.width);
      const v = resolveVal(op.v, orig, b, op.f);
      if (loc.width === 4) put32(b, loc.at, v);
      else put16(b, loc.at, v & 0xffff);
      return b;
    }
    case 'ctype': {
      if (len < 0x38) return b;
      const name = new TextEncoder().encode(op.name).subarray(0, 32);
      touch(b, 0x18, 32);
      b.fill(op.unterminated ? 0x41 : 0, 0x18, 0x38);
      b.set(name, 0x18);
      return b;
    }
    case 'trailer': {
      const p = payloadRange(b);
      const at = p.gzip ? p.off + p.size - 4 : p.off + p.size;
      if (at < 0 || at + 4 > len) return b;
      touch(b, at, 4);
      put32(b, at, resolveVal(op.v, u32(b, at)!, b, 'trailer'));
      return b;
    }
    case 'stream': {
      // Bytes in the middle of the stored stream: the decoder must reject them, or decode something.
      const p = payloadRange(b);
      const end = Math.min(len, p.off + p.size);
      if (end <= p.off) return b;
      const at = p.off + Math.floor(((end - p.off) * op.pos) / 1000);
      touch(b, at, Math.min(op.bytes.length, len - at));
      b.set(op.bytes.slice(0, Math.max(0, len - at)), at);
      return b;
    }
  }
}

function synthesize(s: Synth, seeds: SeedSet): Uint8Array {
  const base = seeds.images[s.img % seeds.images.length]!.bytes;
  const img = base.slice(0, Math.min(s.len, base.length));
  const magic = s.magic === 'arm64' ? [0x41, 0x52, 0x4d, 0x64] : s.magic === 'riscv' ? [0x52, 0x53, 0x43, 0x05] : s.magic === 'zero' ? [0, 0, 0, 0] : s.magic === 'bytes' ? s.mb : null;
  if (magic) img.set(magic.slice(0, Math.max(0, img.length - 0x38)), Math.min(0x38, img.length));
  if (s.wrap === 'bare') return img;
  const gz = new Uint8Array(gzipSync(img, { level: 1 }));
  if (s.wrap === 'gzip') return gz;
  const trailer = s.trailer === 'none' ? null : s.trailer === 'right' ? img.length : img.length + 1;
  // gzip's own ISIZE is the trailer kimg reads for gzip; the extra word is what other codecs carry.
  return buildZboot(s.machine, gz, s.ctype, s.ctype === 'gzip' ? null : trailer);
}

const noTouch: Touch = () => {};

/** The input a plan describes. Always a fresh buffer: seeds are never changed. */
export function materialize(plan: Plan, seeds: SeedSet, cap = Infinity): Uint8Array {
  let b: Uint8Array;
  if (plan.synth) b = synthesize(plan.synth, seeds);
  else {
    const s = seeds.seeds[plan.seed % seeds.seeds.length]!.bytes;
    b = s.slice(0, Math.min(s.length, cap));
  }
  for (const op of plan.ops) b = applyOp(b, op, seeds, noTouch);
  return b;
}

/**
 * The same bytes as `materialize`, built in the seed's own memory where the plan only overwrites
 * (no copy of a megabyte per input); `undo` puts the seed back. Call `undo` before the next input.
 */
export function materializeInPlace(plan: Plan, seeds: SeedSet, cap = Infinity): { bytes: Uint8Array; undo: () => void } {
  const s = seeds.seeds[plan.seed % seeds.seeds.length]!.bytes;
  // A splice or join from the same memory (the seed itself, or its payload seen as a bare stream)
  // would read bytes already changed: build those in a copy.
  const readsSelf = plan.ops.some((o) => (o.k === 'splice' || o.k === 'join') && seeds.seeds[o.other % seeds.seeds.length]!.bytes.buffer === s.buffer);
  if (plan.synth || readsSelf) return { bytes: materialize(plan, seeds, cap), undo: () => {} };
  const journal: { arr: Uint8Array; at: number; old: Uint8Array }[] = [];
  const touch: Touch = (arr, at, n) => {
    if (arr.buffer === s.buffer && n > 0) journal.push({ arr, at, old: arr.slice(at, at + n) });
  };
  let b = s.subarray(0, Math.min(s.length, cap));
  try {
    for (const op of plan.ops) b = applyOp(b, op, seeds, touch);
  } catch (e) {
    undo();
    throw e;
  }
  function undo(): void {
    for (let i = journal.length - 1; i >= 0; i--) journal[i]!.arr.set(journal[i]!.old, journal[i]!.at);
    journal.length = 0;
  }
  return { bytes: b, undo };
}

export function describePlan(plan: Plan, seeds: SeedSet): string {
  const base = plan.synth ? `synth(${seeds.images[plan.synth.img % seeds.images.length]!.name}, ${plan.synth.wrap}, magic ${plan.synth.magic})` : seeds.seeds[plan.seed % seeds.seeds.length]!.name;
  return `${base} + [${plan.ops.map((o) => o.k + (o.k === 'field' ? `:${o.f}` : '')).join(', ')}]`;
}
