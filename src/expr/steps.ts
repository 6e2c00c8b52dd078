/**
 * The step-counting contract every engine keeps: `evaluate` counts one step per AST node it visits, and the
 * limit error is raised at the same node in every engine. Fast engines charge a whole expression at once
 * when its node count is fixed (no short-circuit, no loop), and count node by node otherwise.
 */
import type { Expr } from '../types.js';
import { forEachChild, someNode } from '../walk.js';

/** Whether the expression has short-circuits or loops (then steps are counted node by node). */
export function needsChecked(e: Expr): boolean {
  return someNode(e, (n) => n.k === 'cond' || (n.k === 'binary' && (n.op === 'and' || n.op === 'or')) || (n.k === 'call' && (n.fn === 'any' || n.fn === 'all' || n.fn === 'count' || n.fn === 'find')));
}

/** Steps `evaluate` takes for an expression without short-circuits or loops: one per node visited. */
export function stepCount(e: Expr): number {
  // `_parent.x` is one step: evaluate resolves the pair without visiting `_parent` on its own.
  if (e.k === 'member' && e.object.k === 'special' && e.object.name === '_parent') return 1;
  let n = 1;
  forEachChild(e, (c) => (n += stepCount(c)));
  return n;
}
