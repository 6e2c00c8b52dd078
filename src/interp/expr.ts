/**
 * Closure compilation of bound expressions: each AST node becomes a JavaScript closure, built once
 * per expression (no code is generated). The result is exactly `evaluate` (src/expr/evaluate.ts):
 * same values, same errors, same step count.
 *
 * Steps: an expression without short-circuits or loops always visits all its nodes, so its `n`
 * steps are charged at once; when they would exceed the budget, the expression is evaluated by
 * `evaluate` itself, node by node, which raises the limit error at the exact node. Expressions with
 * `and`/`or`/`?:`/any/all/count/find are counted node by node (the closures below charge a step
 * before each node, in the order `evaluate` visits them).
 */
import { needsChecked, stepCount } from '../expr/steps.js';
import type { BinaryOp, Expr } from '../types.js';
import { callPure } from '../expr/functions.js';
import { evaluate, StepLimitError, type Budget, type Scope } from '../expr/evaluate.js';
import { arith, compare, ExprTypeError, extreme, indexed, invert, length, member, negate, quantify, truthy } from '../expr/values.js';

/** A compiled expression: evaluates and counts its steps. */
export type ExprFn = (s: Scope, b: Budget) => unknown;

const STEP = new StepLimitError();

/** Compiles an expression; `fields` are the field ids of the struct it runs in (null: unknown). */
export function compileExpr(e: Expr, fields: ReadonlySet<string> | null): ExprFn {
  if (needsChecked(e)) return node(e, fields, true);
  const n = stepCount(e);
  const fast = node(e, fields, false);
  return (s, b) => {
    if ((b.steps += n) > b.maxSteps) {
      b.steps -= n;
      return evaluate(e, s, b);
    }
    return fast(s, b);
  };
}

/** A node's closure; in checked mode it charges its own step first, as `evaluate` does. */
function node(e: Expr, fields: ReadonlySet<string> | null, checked: boolean): ExprFn {
  const f = bare(e, fields, checked);
  if (!checked) return f;
  return (s, b) => {
    if (++b.steps > b.maxSteps) throw STEP;
    return f(s, b);
  };
}

function noParent(): never {
  throw new ExprTypeError('_parent used in the root struct');
}

/** The node's work, its children's closures already built (in the same mode). */
function bare(e: Expr, fields: ReadonlySet<string> | null, checked: boolean): ExprFn {
  const sub = (x: Expr): ExprFn => node(x, fields, checked);
  switch (e.k) {
    case 'int': {
      const v = Number.isSafeInteger(Number(e.value)) && BigInt(Number(e.value)) === e.value ? Number(e.value) : e.value;
      return () => v;
    }
    case 'str':
    case 'bool': {
      const v = e.value;
      return () => v;
    }
    case 'null':
      return () => null;
    case 'name': {
      const name = e.name;
      // A field of the struct: its object always has the key (null until parsed), as member() reads it.
      if (fields?.has(name)) return (s) => s.obj[name];
      return (s) => member(s.obj, name);
    }
    case 'special':
      switch (e.name) {
        case '_root': return (s) => s.root;
        case '_parent': return (s) => (s.parent ? s.parent.obj : noParent());
        case '_': return (s) => s.elem;
        case '_index':
          return (s) => {
            if (s.index === null) throw new ExprTypeError('_index used outside an array');
            return s.index;
          };
        case '_offset': return (s) => s.offset;
        case '_pos': return (s) => s.pos;
        case '_region': return (s) => s.region;
        case '_file': return (s) => s.file;
      }
      break;
    case 'member': {
      const name = e.name;
      if (e.object.k === 'special' && e.object.name === '_parent') return (s) => member(s.parent ? s.parent.obj : noParent(), name);
      const o = sub(e.object);
      return (s, b) => member(o(s, b), name);
    }
    case 'index': {
      const o = sub(e.object);
      const i = sub(e.index);
      return (s, b) => {
        const ov = o(s, b);
        return indexed(ov, i(s, b));
      };
    }
    case 'enumref': {
      const text = `unbound enum reference ${e.enumName}::${e.member}`;
      return () => {
        throw new ExprTypeError(text);
      };
    }
    case 'unary': {
      const a = sub(e.arg);
      if (e.op === '-') return (s, b) => negate(a(s, b));
      if (e.op === '~') return (s, b) => invert(a(s, b));
      return (s, b) => !truthy(a(s, b));
    }
    case 'binary':
      return binary(e.op, sub(e.left), sub(e.right));
    case 'cond': {
      const t = sub(e.test);
      const x = sub(e.then);
      const y = sub(e.else);
      return (s, b) => (truthy(t(s, b)) ? x(s, b) : y(s, b));
    }
    case 'call':
      return call(e, sub);
    case 'apply':
      return apply(e, sub);
  }
  throw new ExprTypeError('unknown expression node');
}

function binary(op: BinaryOp, l: ExprFn, r: ExprFn): ExprFn {
  switch (op) {
    case 'and': return (s, b) => truthy(l(s, b)) && truthy(r(s, b));
    case 'or': return (s, b) => truthy(l(s, b)) || truthy(r(s, b));
    // Numbers are always integers in this language: the shortcuts below are what compare/arith do.
    case '==':
      return (s, b) => {
        const x = l(s, b);
        const y = r(s, b);
        return typeof x === 'number' && typeof y === 'number' ? x === y : compare('==', x, y);
      };
    case '!=':
      return (s, b) => {
        const x = l(s, b);
        const y = r(s, b);
        return typeof x === 'number' && typeof y === 'number' ? x !== y : compare('!=', x, y);
      };
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (s, b) => {
        const x = l(s, b);
        const y = r(s, b);
        if (typeof x === 'number' && typeof y === 'number') return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
        return compare(op, x, y);
      };
    case '+':
      return (s, b) => {
        const x = l(s, b);
        const y = r(s, b);
        if (typeof x === 'number' && typeof y === 'number') {
          const z = x + y;
          if (Number.isSafeInteger(z)) return z;
        }
        return arith('+', x, y);
      };
    case '-':
      return (s, b) => {
        const x = l(s, b);
        const y = r(s, b);
        if (typeof x === 'number' && typeof y === 'number') {
          const z = x - y;
          if (Number.isSafeInteger(z)) return z;
        }
        return arith('-', x, y);
      };
    default:
      return (s, b) => {
        const x = l(s, b);
        return arith(op, x, r(s, b));
      };
  }
}

function apply(e: Extract<Expr, { k: 'apply' }>, sub: (x: Expr) => ExprFn): ExprFn {
  const fn = e.fn;
  const args = e.args.map(sub);
  return (s, b) => callPure(fn, args.map((a) => a(s, b)));
}

function call(e: Extract<Expr, { k: 'call' }>, sub: (x: Expr) => ExprFn): ExprFn {
  const fn = e.fn;
  switch (fn) {
    case 'len': {
      const a = sub(e.args[0]!);
      return (s, b) => length(a(s, b));
    }
    case 'min':
    case 'max': {
      const args = e.args.map(sub);
      return (s, b) => extreme(fn, args.map((a) => a(s, b)));
    }
    case 'any':
    case 'all':
    case 'count':
    case 'find': {
      const arrFn = sub(e.args[0]!);
      const pred = sub(e.args[1]!);
      return (s, b) => {
        const arr = arrFn(s, b);
        const savedElem = s.elem;
        const savedIndex = s.index;
        try {
          return quantify(fn, arr, (elem, i) => {
            s.elem = elem;
            s.index = i;
            return pred(s, b);
          });
        } finally {
          s.elem = savedElem;
          s.index = savedIndex;
        }
      };
    }
  }
}
