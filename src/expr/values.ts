/**
 * The value semantics of the expression language, shared by the interpreter and generated code:
 * integers are exact (number while safe, bigint beyond), never wrap at 32 bits.
 */
import { latin1 } from '../core/bytes.js';

export type Int = number | bigint;

export class ExprTypeError extends Error {}

/** A bigint as the canonical integer: a number when it is a safe integer. */
export function norm(v: bigint): Int {
  return v >= -0x1fffffffffffffn && v <= 0x1fffffffffffffn ? Number(v) : v;
}

export function isInt(v: unknown): v is Int {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

function big(v: Int): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function int(v: unknown, op: string): Int {
  if (isInt(v)) return v;
  throw new ExprTypeError(`'${op}' needs integers, got ${describeValue(v)}`);
}

export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null (an absent field)';
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (isInt(v)) return `integer ${v}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `array of ${v.length}`;
  return 'a struct';
}

const SMALL = 0x7fffffff;
function small(a: Int, b: Int): boolean {
  return typeof a === 'number' && typeof b === 'number' && a >= 0 && a <= SMALL && b >= 0 && b <= SMALL;
}

export function arith(op: string, av: unknown, bv: unknown): Int {
  const a = int(av, op);
  const b = int(bv, op);
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '+': {
        const r = a + b;
        if (Number.isSafeInteger(r)) return r;
        break;
      }
      case '-': {
        const r = a - b;
        if (Number.isSafeInteger(r)) return r;
        break;
      }
      case '*': {
        const r = a * b;
        if (Number.isSafeInteger(r)) return r;
        break;
      }
      case '/':
        if (b === 0) throw new ExprTypeError('division by zero');
        return Math.trunc(a / b);
      case '%':
        if (b === 0) throw new ExprTypeError('division by zero');
        return a % b;
      case '&':
        if (small(a, b)) return a & b;
        break;
      case '|':
        if (small(a, b)) return a | b;
        break;
      case '^':
        if (small(a, b)) return a ^ b;
        break;
    }
  }
  const x = big(a);
  const y = big(b);
  switch (op) {
    case '+': return norm(x + y);
    case '-': return norm(x - y);
    case '*': return norm(x * y);
    case '/':
      if (y === 0n) throw new ExprTypeError('division by zero');
      return norm(x / y);
    case '%':
      if (y === 0n) throw new ExprTypeError('division by zero');
      return norm(x % y);
    case '&': return norm(x & y);
    case '|': return norm(x | y);
    case '^': return norm(x ^ y);
    case '<<':
      if (y < 0n || y > 1024n) throw new ExprTypeError(`shift count ${y} out of range 0..1024`);
      return norm(x << y);
    case '>>':
      if (y < 0n || y > 1024n) throw new ExprTypeError(`shift count ${y} out of range 0..1024`);
      return norm(x >> y);
  }
  throw new ExprTypeError(`unknown operator ${op}`);
}

export function compare(op: string, a: unknown, b: unknown): boolean {
  if (op === '==' || op === '!=') {
    const eq = equals(a, b);
    return op === '==' ? eq : !eq;
  }
  let c: number;
  if (isInt(a) && isInt(b)) c = a < b ? -1 : a > b ? 1 : 0;
  else if (typeof a === 'string' && typeof b === 'string') c = a < b ? -1 : a > b ? 1 : 0;
  else throw new ExprTypeError(`'${op}' cannot compare ${describeValue(a)} with ${describeValue(b)}`);
  switch (op) {
    case '<': return c < 0;
    case '<=': return c <= 0;
    case '>': return c > 0;
    default: return c >= 0;
  }
}

export function equals(a: unknown, b: unknown): boolean {
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (isInt(a) && isInt(b)) return typeof a === typeof b ? a === b : big(a) === big(b);
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b;
  if (a instanceof Uint8Array && typeof b === 'string') return latin1(a) === b;
  if (typeof a === 'string' && b instanceof Uint8Array) return a === latin1(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  throw new ExprTypeError(`cannot compare ${describeValue(a)} with ${describeValue(b)}`);
}

export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (v === null || v === undefined) return false;
  throw new ExprTypeError(`expected a condition, got ${describeValue(v)}`);
}

export function negate(v: unknown): Int {
  const a = int(v, '-');
  return typeof a === 'number' && a !== 0 ? -a : norm(-big(a));
}

export function invert(v: unknown): Int {
  return norm(~big(int(v, '~')));
}

export function length(v: unknown): number {
  if (Array.isArray(v) || v instanceof Uint8Array || typeof v === 'string') return v.length;
  throw new ExprTypeError(`len() needs an array, bytes or a string, got ${describeValue(v)}`);
}

/** Own data properties only: no prototype, no accessors reachable from a schema. */
export function member(obj: unknown, name: string): unknown {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && !(obj instanceof Uint8Array) && Object.hasOwn(obj, name)) {
    return (obj as Record<string, unknown>)[name];
  }
  if (obj === null || obj === undefined) throw new ExprTypeError(`cannot read '${name}' of an absent field`);
  throw new ExprTypeError(`${describeValue(obj)} has no field '${name}'`);
}

export function indexed(obj: unknown, index: unknown): unknown {
  if (!isInt(index)) throw new ExprTypeError(`index must be an integer, got ${describeValue(index)}`);
  if (Array.isArray(obj) || obj instanceof Uint8Array) {
    const n = Number(index);
    if (n < 0 || n >= obj.length) throw new ExprTypeError(`index ${index} out of range 0..${obj.length - 1}`);
    return obj[n];
  }
  throw new ExprTypeError(`cannot index ${describeValue(obj)}`);
}

export function extreme(which: 'min' | 'max', values: unknown[]): Int {
  let best = int(values[0], which);
  for (let i = 1; i < values.length; i++) {
    const v = int(values[i], which);
    if (which === 'min' ? v < best : v > best) best = v;
  }
  return best;
}

export type Quantifier = 'any' | 'all' | 'count' | 'find';

/** any / all / count / find over an array; `test(elem, index)` gives the predicate's value. */
export function quantify(fn: Quantifier, arr: unknown, test: (elem: unknown, index: number) => unknown): unknown {
  if (!Array.isArray(arr)) throw new ExprTypeError(`${fn}() needs an array as its first argument`);
  let n = 0;
  for (let i = 0; i < arr.length; i++) {
    const hit = truthy(test(arr[i], i));
    if (fn === 'any' && hit) return true;
    if (fn === 'all' && !hit) return false;
    if (fn === 'find' && hit) return arr[i];
    if (hit) n++;
  }
  return fn === 'any' ? false : fn === 'all' ? true : fn === 'find' ? null : n;
}
