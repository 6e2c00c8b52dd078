/**
 * What generated parsers call at run time. They receive this object as their one argument and take
 * every helper from it by a fixed name: nothing is looked up by a name that came from a schema.
 *
 * Errors mirror the interpreter's exactly (class, code, message, where, expected, found). Field paths
 * are built lazily: an error is created with its path relative to the struct that raised it and
 * registered here; every nested-struct call site that it passes through prefixes its own segment.
 */
import { latin1 } from '../core/bytes.js';
import { KimgError, LimitError, ParseError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import { formatValue, hexInt, quoteBytes } from '../expr/format.js';
import { callPure } from '../expr/functions.js';
import { arith, compare, equals, ExprTypeError, extreme, indexed, invert, isInt, length, member, negate, norm, quantify, truthy } from '../expr/values.js';
import { bitsOf } from '../interp/bits.js';
import type { CheckOutcome } from '../engine.js';
import type { ByteSource } from '../core/bytes.js';

/** The per-parse state every generated function gets as `C`. */
export interface Ctx {
  s: number;
  readonly ms: number;
  readonly md: number;
  readonly ma: number;
  /** maxFields, and the values read so far (counted as the interpreter does). */
  readonly mf: number;
  nf: number;
  readonly ml: number;
  readonly lim: Limits;
  readonly schema: string;
  readonly checks: CheckOutcome[];
  readonly size: number;
  readonly file: { readonly size: number } | null;
  readonly S: ByteSource;
  readonly V: DataView | null;
  readonly U: Uint8Array | null;
  /** End cursor of the struct a call just parsed. */
  end: number;
  /** Its layout (layout variants only). */
  lay: unknown;
}

interface Pending {
  rel: string;
  check: string | null;
}

const PENDING = new WeakMap<object, Pending>();

function pathText(p: Pending): string {
  if (p.check === null) return p.rel;
  return p.rel ? `${p.rel} (check ${p.check})` : `check ${p.check}`;
}

function register<E extends KimgError>(e: E, rel: string, check: string | null = null): E {
  PENDING.set(e, { rel, check });
  return e;
}

/** Thrown by generated code when the expression step budget runs out. */
export class StepLimit extends Error {}
const STEP = new StepLimit('step limit');

export function fail(C: Ctx, code: string, message: string, path: string, offset: number, detail?: { expected?: string; found?: string }): ParseError {
  return register(new ParseError(code, message, { schema: C.schema, path, offset }, detail), path);
}

function located<E extends KimgError>(C: Ctx, e: E, path: string, offset: number): E {
  return register(e.locate({ schema: C.schema, path, offset }), path);
}

export const runtime = Object.freeze({
  // value semantics (src/expr/values.ts), shared with the interpreter
  arith, compare, equals, truthy, member, indexed, negate, invert, length, extreme, norm, isInt, callPure,
  formatValue, hexInt, quoteBytes, latin1, bitsOf,
  ExprTypeError,

  /** One expression step (checked mode). */
  st(C: Ctx): void {
    if (++C.s > C.ms) throw STEP;
  },
  stepFail(): never {
    throw STEP;
  },
  /** The sentinel exprError turns into the maxExprSteps LimitError. */
  stepError: STEP,
  unbound(enumName: string, memberName: string): never {
    throw new ExprTypeError(`unbound enum reference ${enumName}::${memberName}`);
  },
  json(s: string): string {
    return JSON.stringify(s);
  },
  sameBytes(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  },

  /** Converts what an expression threw, as the interpreter's Run.eval does. */
  exprError(C: Ctx, err: unknown, source: string, path: string, pos: number): unknown {
    if (err === STEP) return located(C, new LimitError('maxExprSteps', C.lim.maxExprSteps), path, pos);
    if (err instanceof ExprTypeError) return fail(C, 'expression', `in '${source}': ${err.message}`, path, pos);
    if (err instanceof KimgError) return err;
    if (err instanceof RangeError) return fail(C, 'expression', `in '${source}': ${err.message}`, path, pos);
    return err;
  },

  noParent(): never {
    throw new ExprTypeError('_parent used in the root struct');
  },
  noIndex(): never {
    throw new ExprTypeError('_index used outside an array');
  },

  /** any / all / count / find over an array; `body` gives the predicate's value. */
  loop: quantify,

  depth(C: Ctx, pos: number): LimitError {
    return located(C, new LimitError('maxDepth', C.lim.maxDepth), '', pos);
  },
  arrayLimit(C: Ctx, path: string, pos: number): LimitError {
    return located(C, new LimitError('maxArrayCount', C.lim.maxArrayCount), path, pos);
  },
  fieldLimit(C: Ctx, path: string, pos: number): LimitError {
    return located(C, new LimitError('maxFields', C.lim.maxFields), path, pos);
  },
  stringLimit(C: Ctx, path: string, pos: number): LimitError {
    return located(C, new LimitError('maxStringLength', C.lim.maxStringLength), path, pos);
  },

  need(C: Ctx, pos: number, n: number, rs: number, re: number, path: string): ParseError {
    const inFile = re === C.size && rs === 0;
    return fail(C, 'out-of-bounds', `${n} bytes at ${hexInt(pos)} run past the end of the ${inFile ? 'input' : 'region'} (${hexInt(re)})`, path, pos, {
      expected: `${n} bytes`,
      found: `${Math.max(0, re - pos)}`,
    });
  },
  position(C: Ctx, source: string, v: unknown, size: number, path: string, pos: number): ParseError {
    return fail(C, 'out-of-bounds', `position ${source} = ${formatValue(v, 'hex')} is outside the region (0..${hexInt(size)})`, path, pos, {
      expected: `0..${hexInt(size)}`,
      found: formatValue(v, 'hex'),
    });
  },
  /** A size expression's value as a number, or the interpreter's bad-size error. */
  size(C: Ctx, source: string, v: unknown, path: string, pos: number): number {
    if (!isInt(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
      throw fail(C, 'bad-size', `size ${source} = ${formatValue(v, 'auto')} is not a valid size`, path, pos, { expected: 'an integer >= 0', found: formatValue(v, 'auto') });
    }
    return Number(v);
  },
  badCount(C: Ctx, v: unknown, path: string, pos: number): ParseError {
    return fail(C, 'bad-count', `count must be a non-negative integer, got ${formatValue(v, 'auto')}`, path, pos, { expected: 'an integer >= 0' });
  },
  badEndian(C: Ctx, source: string, v: unknown, pos: number): ParseError {
    return fail(C, 'bad-endian', `endian_expr ${source} = ${formatValue(v, 'auto')} is neither "le" nor "be"`, '', pos, { expected: '"le" or "be"', found: formatValue(v, 'auto') });
  },
  /** The padding after a field (`p`: where it would end) is past the region; reported at the field's end. */
  alignFail(C: Ctx, end: number, padded: number, re: number, n: number, path: string): ParseError {
    return fail(C, 'out-of-bounds', `padding to a multiple of ${n} runs past the end of the region (${hexInt(re)})`, path, end, {
      expected: `${padded - end} bytes of padding`,
      found: `${Math.max(0, re - end)}`,
    });
  },
  noProgress(C: Ctx, path: string, pos: number, kind: string): ParseError {
    return fail(C, 'no-progress', `an element of ${kind === 'until' ? 'an until' : 'a to-end'} array read no bytes`, path, pos);
  },
  unterminated(C: Ctx, re: number, path: string, pos: number): ParseError {
    return fail(C, 'out-of-bounds', 'NUL-terminated string runs past the end of the region', path, pos, { expected: 'a NUL byte', found: `end of region at ${hexInt(re)}` });
  },
  noCase(C: Ctx, source: string, on: unknown, expected: string, path: string, pos: number): ParseError {
    return fail(C, 'no-case', `no case for ${source} = ${formatValue(on, 'hex')}`, path, pos, { expected, found: formatValue(on, 'hex') });
  },
  constError(C: Ctx, text: string, expected: string, found: string, path: string, pos: number): ParseError {
    return fail(C, 'const-mismatch', text, path, pos, { expected, found });
  },
  constWarning(C: Ctx, id: string, path: string, text: string, expected: string, found: string): void {
    C.checks.push({ id, path, severity: 'warning', ok: false, message: `${text} (expected ${expected}, found ${found})` });
  },
  /** A warning-level constant that holds is a passed check. */
  constPass(C: Ctx, id: string, path: string): void {
    C.checks.push({ id, path, severity: 'warning', ok: true, message: '' });
  },
  /** A switch case compared as the interpreter does: a type error is a parse error. */
  caseEquals(C: Ctx, on: unknown, match: unknown, onSource: string, matchSource: string, path: string, pos: number): boolean {
    try {
      return equals(on, match);
    } catch (err) {
      if (err instanceof ExprTypeError) throw fail(C, 'expression', `in switch on '${onSource}', case '${matchSource}': ${err.message}`, path, pos);
      throw err;
    }
  },
  assertion(C: Ctx, message: string, id: string, pos: number): ParseError {
    const e = new ParseError('assertion', message, { schema: C.schema, path: `check ${id}`, offset: pos });
    return register(e, '', id);
  },

  /** Adds the caller's path segment to an error raised inside a nested struct. */
  prefix(err: unknown, seg: string): unknown {
    if (err !== null && typeof err === 'object') {
      const p = PENDING.get(err);
      if (p) {
        p.rel = p.rel === '' ? seg : `${seg}.${p.rel}`;
        (err as KimgError).where.path = pathText(p);
      }
    }
    return err;
  },
  /** Adds the caller's path segment to the check outcomes a nested struct recorded. */
  prefixChecks(C: Ctx, from: number, seg: string): void {
    for (let i = from; i < C.checks.length; i++) {
      const c = C.checks[i] as { path: string };
      c.path = c.path === '' ? seg : `${seg}.${c.path}`;
    }
  },

  /** Bytes as latin1 text up to the first NUL (or `end`), like latin1(slice) of the interpreter. */
  latin1z(u: Uint8Array, start: number, end: number, stopAtNul: boolean): string {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = u[i]!;
      if (c === 0 && stopAtNul) break;
      s += String.fromCharCode(c);
    }
    return s;
  },
  utf8: new TextDecoder('utf-8'),
  /** The index of the first NUL in u[start, end), or -1. */
  nul(u: Uint8Array, start: number, end: number): number {
    const at = u.subarray(start, end).indexOf(0);
    return at;
  },
});

export type Runtime = typeof runtime;
