/**
 * Renders a schema's `summary:` template for one parse. A hole that is a plain field path prints
 * enum and flag names (through the layout, which knows which switch case was taken).
 */
import type { Budget } from '../expr/evaluate.js';
import { formatValue } from '../expr/format.js';
import { renderTemplate } from '../expr/template.js';
import type { ParseResult, StructLayout } from '../engine.js';
import { rootScope } from '../expr/scope.js';
import type { Expr, FieldDef, Template } from '../types.js';
import { enumName, flagNames } from './annotate.js';

export function renderSummary(t: Template, result: ParseResult, size: number, maxSteps: number): string {
  const budget: Budget = { steps: 0, maxSteps };
  const layout = result.layout;
  const named = (e: Expr, v: unknown, format: string): string | null => (format === 'auto' && layout ? nameOf(e, layout, v) : null);
  return renderTemplate(t, rootScope(result.value, size), budget, named).replace(/\s+/g, ' ').trim();
}

/** The enum / flag name for a path expression's value, if the path ends at such a field. */
function nameOf(e: Expr, root: StructLayout, v: unknown): string | null {
  const path: string[] = [];
  let cur: Expr = e;
  while (cur.k === 'member') {
    path.unshift(cur.name);
    cur = cur.object;
  }
  if (cur.k !== 'name') return null;
  path.unshift(cur.name);
  let layout: StructLayout | null = root;
  let field: FieldDef | null = null;
  for (let i = 0; i < path.length; i++) {
    if (!layout) {
      // A bit of a bit-field integer.
      if (field?.kind === 'int' && field.bits && i === path.length - 1) {
        const bit = field.bits.find((b) => b.id === path[i]);
        return bit?.enumRef && typeof v === 'number' ? enumName(bit.enumRef, v) : null;
      }
      return null;
    }
    const idx: number = layout.type.fields.findIndex((f) => f.id === path[i]);
    if (idx < 0) return null;
    field = layout.type.fields[idx]!;
    layout = layout.fields[idx]?.struct ?? null;
  }
  if (!field || (typeof v !== 'number' && typeof v !== 'bigint')) return null;
  if ((field.kind === 'int' || field.kind === 'value') && field.enumRef) return enumName(field.enumRef, v) ?? formatValue(v, 'hex');
  if ((field.kind === 'int' || field.kind === 'value') && field.flagsRef) return flagNames(field.flagsRef, v).names.join('|');
  return null;
}
