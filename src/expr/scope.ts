import type { Scope } from './evaluate.js';

/** The scope expressions see at the root of a parsed layer (regions, summaries, detection). */
export function rootScope(root: Record<string, unknown>, size: number): Scope {
  return {
    obj: root,
    parent: null,
    root,
    offset: 0,
    pos: 0,
    region: { offset: 0, size },
    file: { size },
    index: null,
    elem: null,
  };
}
