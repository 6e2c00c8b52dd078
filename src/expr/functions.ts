/**
 * The expression language's pure functions: each declared once here (its arity, what it returns, its
 * implementation), and every evaluator (src/expr/evaluate.ts, the interpreter's closures, the compiled
 * engine through its runtime) calls the same implementation. So a function cannot mean one thing in one
 * engine and another in the other, and adding one is one entry in this table.
 *
 * Arguments arrive evaluated; a value of the wrong kind is an ExprTypeError, which each engine reports as a
 * parse error of the field or check that used it.
 */
import { latin1 } from '../core/bytes.js';
import { digest, type DigestName } from '../core/digest.js';
import type { PureFn } from '../types.js';
import { describeValue, ExprTypeError, isInt } from './values.js';

/** What a function returns, for the compiler's static types. */
export type FnResult = 'u32' | 'int' | 'bytes' | 'str';

export interface FunctionDef {
  readonly min: number;
  readonly max: number;
  readonly result: FnResult;
  /** One line for docs/schema-dsl.md. */
  readonly doc: string;
  readonly impl: (args: readonly unknown[]) => unknown;
}

function bytesArg(fn: string, v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new ExprTypeError(`${fn}() needs bytes, got ${describeValue(v)}`);
}

function textArg(fn: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return latin1(v);
  throw new ExprTypeError(`${fn}() needs a string or bytes, got ${describeValue(v)}`);
}

function intArg(fn: string, what: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (!isInt(v) || v < 0 || v > max) throw new ExprTypeError(`${fn}() needs ${what} as an integer in 0..${max}, got ${describeValue(v)}`);
  return Number(v);
}

const checksum = (name: DigestName, doc: string): FunctionDef => ({
  min: 1,
  max: 1,
  result: name === 'sha1' || name === 'sha256' ? 'bytes' : 'u32',
  doc,
  impl: ([b]) => digest(name, bytesArg(name, b)),
});

const DIGITS: Readonly<Record<number, RegExp>> = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ };

export const FUNCTIONS: { readonly [F in PureFn]: FunctionDef } = {
  crc32: checksum('crc32', '`crc32(b)`: CRC-32 (IEEE 802.3, as zlib, gzip and U-Boot compute it) of bytes `b`, an unsigned 32-bit number'),
  crc32c: checksum('crc32c', '`crc32c(b)`: CRC-32C (Castagnoli) of bytes `b`'),
  adler32: checksum('adler32', '`adler32(b)`: Adler-32 (RFC 1950, as lzop uses it) of bytes `b`'),
  sha1: checksum('sha1', '`sha1(b)`: SHA-1 of bytes `b`, as 20 bytes'),
  sha256: checksum('sha256', '`sha256(b)`: SHA-256 of bytes `b`, as 32 bytes'),
  sum32: {
    min: 1,
    max: 1,
    result: 'u32',
    doc: '`sum32(b)`: the sum of the bytes of `b` modulo 2^32 (the checksum of a cpio "crc" archive member, which is no CRC)',
    impl: ([b]) => {
      const bytes = bytesArg('sum32', b);
      let sum = 0;
      for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]!) >>> 0;
      return sum;
    },
  },
  parse_int: {
    min: 2,
    max: 2,
    result: 'int',
    doc: '`parse_int(s, base)`: the number written in string or bytes `s` in base 2, 8, 10 or 16 (cpio\'s `"000001ED"`), surrounding spaces and NULs ignored; anything else in `s` is an error',
    impl: ([s, base]) => {
      const b = intArg('parse_int', 'the base', base, 16);
      const re = DIGITS[b];
      if (!re) throw new ExprTypeError(`parse_int() base must be 2, 8, 10 or 16, got ${b}`);
      const text = textArg('parse_int', s).replace(/^[ \0]+|[ \0]+$/g, '');
      if (!re.test(text)) throw new ExprTypeError(`parse_int(): ${JSON.stringify(text)} is not a base-${b} number`);
      const prefix = b === 16 ? '0x' : b === 8 ? '0o' : b === 2 ? '0b' : '';
      const n = BigInt(prefix + text);
      return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    },
  },
  zeroed: {
    min: 3,
    max: 3,
    result: 'bytes',
    doc: '`zeroed(b, offset, length)`: a copy of bytes `b` with `length` bytes from `offset` set to zero (a header checksummed with its own checksum field as zero: uImage, GPT)',
    impl: ([b, offset, length]) => {
      const bytes = bytesArg('zeroed', b);
      const o = intArg('zeroed', 'the offset', offset, bytes.length);
      const n = intArg('zeroed', 'the length', length, bytes.length - o);
      const copy = bytes.slice();
      copy.fill(0, o, o + n);
      return copy;
    },
  },
  slice: {
    min: 2,
    max: 3,
    result: 'bytes',
    doc: '`slice(b, start[, end])`: bytes `start` up to (not including) `end` of bytes `b` (default: to its end)',
    impl: ([b, start, end]) => {
      const bytes = bytesArg('slice', b);
      const s = intArg('slice', 'the start', start, bytes.length);
      const e = end === undefined ? bytes.length : intArg('slice', 'the end', end, bytes.length);
      if (e < s) throw new ExprTypeError(`slice(): end ${e} is before start ${s}`);
      return bytes.subarray(s, e);
    },
  },
  cstr: {
    min: 2,
    max: 2,
    result: 'str',
    doc: '`cstr(b, offset)`: the NUL-terminated string at `offset` in bytes `b` (a string table: ELF section names, FDT property names); no NUL before the end is an error',
    impl: ([b, offset]) => {
      const bytes = bytesArg('cstr', b);
      const o = intArg('cstr', 'the offset', offset, bytes.length);
      const end = bytes.indexOf(0, o);
      if (end < 0) throw new ExprTypeError(`cstr(): no NUL after offset ${o} (${bytes.length} bytes)`);
      return latin1(bytes.subarray(o, end));
    },
  },
};

export const PURE_FNS = Object.keys(FUNCTIONS) as PureFn[];

export function isPureFn(name: string): name is PureFn {
  return Object.hasOwn(FUNCTIONS, name);
}

/** Calls a pure function on evaluated arguments (the one implementation every engine uses). */
export function callPure(fn: PureFn, args: readonly unknown[]): unknown {
  return FUNCTIONS[fn].impl(args);
}
