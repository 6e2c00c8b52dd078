/**
 * Tree-walking evaluation of a bound expression AST. No JavaScript is generated here: every node is
 * interpreted by this switch, and names resolve only to the parsed fields of the current struct.
 */
import type { Expr } from '../types.js';
import { callPure } from './functions.js';
import { arith, compare, ExprTypeError, extreme, indexed, invert, length, member, negate, quantify, truthy } from './values.js';

/** What expressions can see while a struct is parsed. */
export interface Scope {
  /** The struct being parsed (fields parsed so far; later ones are still null). */
  readonly obj: Record<string, unknown>;
  readonly parent: Scope | null;
  readonly root: Record<string, unknown>;
  /** Region-relative start of the struct. */
  readonly offset: number;
  /** Region-relative cursor. */
  pos: number;
  readonly region: { readonly offset: number; readonly size: number };
  readonly file: { readonly size: number };
  /** Index of the struct in its array, or of the element in any()/all(). */
  index: number | null;
  /** `_`: the element in any()/all()/find(), or the value being checked. */
  elem: unknown;
}

export interface Budget {
  steps: number;
  readonly maxSteps: number;
}

export class StepLimitError extends Error {}

export function evaluate(e: Expr, s: Scope, budget: Budget): unknown {
  if (++budget.steps > budget.maxSteps) throw new StepLimitError();
  switch (e.k) {
    case 'int':
      return Number.isSafeInteger(Number(e.value)) && BigInt(Number(e.value)) === e.value ? Number(e.value) : e.value;
    case 'str':
    case 'bool':
      return e.value;
    case 'null':
      return null;
    case 'name':
      return member(s.obj, e.name);
    case 'special':
      switch (e.name) {
        case '_root': return s.root;
        case '_parent':
          if (!s.parent) throw new ExprTypeError('_parent used in the root struct');
          return s.parent.obj;
        case '_': return s.elem;
        case '_index':
          if (s.index === null) throw new ExprTypeError('_index used outside an array');
          return s.index;
        case '_offset': return s.offset;
        case '_pos': return s.pos;
        case '_region': return s.region;
        case '_file': return s.file;
      }
      break;
    case 'member': {
      if (e.object.k === 'special' && e.object.name === '_parent') {
        if (!s.parent) throw new ExprTypeError('_parent used in the root struct');
        return member(s.parent.obj, e.name);
      }
      return member(evaluate(e.object, s, budget), e.name);
    }
    case 'index':
      return indexed(evaluate(e.object, s, budget), evaluate(e.index, s, budget));
    case 'enumref':
      throw new ExprTypeError(`unbound enum reference ${e.enumName}::${e.member}`);
    case 'unary': {
      const v = evaluate(e.arg, s, budget);
      return e.op === '-' ? negate(v) : e.op === '~' ? invert(v) : !truthy(v);
    }
    case 'binary': {
      if (e.op === 'and') return truthy(evaluate(e.left, s, budget)) && truthy(evaluate(e.right, s, budget));
      if (e.op === 'or') return truthy(evaluate(e.left, s, budget)) || truthy(evaluate(e.right, s, budget));
      const a = evaluate(e.left, s, budget);
      const b = evaluate(e.right, s, budget);
      switch (e.op) {
        case '==': case '!=': case '<': case '<=': case '>': case '>=':
          return compare(e.op, a, b);
        default:
          return arith(e.op, a, b);
      }
    }
    case 'cond':
      return truthy(evaluate(e.test, s, budget)) ? evaluate(e.then, s, budget) : evaluate(e.else, s, budget);
    case 'call':
      return call(e, s, budget);
    case 'apply':
      return callPure(e.fn, e.args.map((a) => evaluate(a, s, budget)));
  }
  throw new ExprTypeError('unknown expression node');
}

function call(e: Extract<Expr, { k: 'call' }>, s: Scope, budget: Budget): unknown {
  switch (e.fn) {
    case 'len':
      return length(evaluate(e.args[0]!, s, budget));
    case 'min':
    case 'max':
      return extreme(e.fn, e.args.map((a) => evaluate(a, s, budget)));
    case 'any':
    case 'all':
    case 'count':
    case 'find': {
      const arr = evaluate(e.args[0]!, s, budget);
      const savedElem = s.elem;
      const savedIndex = s.index;
      try {
        return quantify(e.fn, arr, (elem, i) => {
          s.elem = elem;
          s.index = i;
          return evaluate(e.args[1]!, s, budget);
        });
      } finally {
        s.elem = savedElem;
        s.index = savedIndex;
      }
    }
  }
}
