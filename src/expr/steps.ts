/**
 * The step-counting contract every engine keeps: `evaluate` counts one step per AST node it visits, and the
 * limit error is raised at the same node in every engine. Fast engines charge a whole expression at once
 * when its node count is fixed (no short-circuit, no loop), and count node by node otherwise.
 */
import type { Expr } from '../types.js';

/** Whether the expression has short-circuits or loops (then steps are counted node by node). */
export function needsChecked(e: Expr): boolean {
  switch (e.k) {
    case 'member': return needsChecked(e.object);
    case 'index': return needsChecked(e.object) || needsChecked(e.index);
    case 'unary': return needsChecked(e.arg);
    case 'binary': return e.op === 'and' || e.op === 'or' || needsChecked(e.left) || needsChecked(e.right);
    case 'cond': return true;
    case 'call': return e.fn === 'any' || e.fn === 'all' || e.fn === 'count' || e.fn === 'find' || e.args.some(needsChecked);
    default: return false;
  }
}

/** Steps `evaluate` takes for an expression without short-circuits or loops. */
export function stepCount(e: Expr): number {
  switch (e.k) {
    case 'member':
      if (e.object.k === 'special' && e.object.name === '_parent') return 1;
      return 1 + stepCount(e.object);
    case 'index': return 1 + stepCount(e.object) + stepCount(e.index);
    case 'unary': return 1 + stepCount(e.arg);
    case 'binary': return 1 + stepCount(e.left) + stepCount(e.right);
    case 'cond': return 1 + stepCount(e.test) + stepCount(e.then) + stepCount(e.else);
    case 'call': return 1 + e.args.reduce((n, a) => n + stepCount(a), 0);
    default: return 1;
  }
}
