/**
 * Message and summary templates: literal text with `${expr}` or `${expr:format}` holes.
 * The holes are parsed as expressions like any other; text is never evaluated.
 */
import type { Expr, Template, TemplateFormat } from '../types.js';
import { evaluate, type Budget, type Scope } from './evaluate.js';
import { formatValue } from './format.js';

export interface RawHole {
  readonly source: string;
  readonly format: TemplateFormat;
  /** Offset of the expression inside the template text. */
  readonly at: number;
}

export type RawPart = { k: 'text'; text: string } | { k: 'hole'; hole: RawHole };

const FORMATS: readonly TemplateFormat[] = ['hex', 'dec', 'oct', 'size', 'raw'];

export class TemplateSyntaxError extends Error {
  constructor(message: string, readonly at: number) {
    super(message);
  }
}

export function splitTemplate(src: string): RawPart[] {
  const parts: RawPart[] = [];
  let i = 0;
  let text = '';
  while (i < src.length) {
    if (src.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (!src.startsWith('${', i)) {
      text += src[i++];
      continue;
    }
    const end = findClose(src, i + 2);
    if (end < 0) throw new TemplateSyntaxError('unterminated ${ in template', i);
    if (text) parts.push({ k: 'text', text });
    text = '';
    let inner = src.slice(i + 2, end);
    let format: TemplateFormat = 'auto';
    const m = /:([a-z]+)\s*$/.exec(inner);
    if (m && (FORMATS as readonly string[]).includes(m[1]!) && !inner.slice(0, m.index).endsWith(':')) {
      format = m[1] as TemplateFormat;
      inner = inner.slice(0, m.index);
    }
    parts.push({ k: 'hole', hole: { source: inner, format, at: i + 2 } });
    i = end + 1;
  }
  if (text) parts.push({ k: 'text', text });
  return parts;
}

/** The matching `}`, skipping quoted strings inside the expression. */
function findClose(src: string, from: number): number {
  let quote: string | null = null;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}') return i;
  }
  return -1;
}

/**
 * Renders a template off the hot path (summaries, region-check messages): every hole evaluated in `scope`
 * against one shared step budget; a hole that fails to evaluate prints `?` (a message must not hide the
 * failure it reports). `show` may name a hole's value itself (enum and flag names); else `format` applies.
 */
export function renderTemplate(t: Template, scope: Scope, budget: Budget, show?: (expr: Expr, value: unknown, format: TemplateFormat) => string | null): string {
  let s = '';
  for (const p of t.parts) {
    if (p.k === 'text') {
      s += p.text;
      continue;
    }
    let v: unknown;
    try {
      v = evaluate(p.expr.ast, scope, budget);
    } catch {
      s += '?';
      continue;
    }
    s += show?.(p.expr.ast, v, p.format) ?? formatValue(v, p.format);
  }
  return s;
}
