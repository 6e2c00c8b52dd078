/**
 * Message and summary templates: literal text with `${expr}` or `${expr:format}` holes.
 * The holes are parsed as expressions like any other; text is never evaluated.
 */
import type { TemplateFormat } from '../types.js';

export interface RawHole {
  readonly source: string;
  readonly format: TemplateFormat;
  /** Offset of the expression inside the template text. */
  readonly at: number;
}

export type RawPart = { k: 'text'; text: string } | { k: 'hole'; hole: RawHole };

const FORMATS: readonly TemplateFormat[] = ['hex', 'dec', 'size', 'raw'];

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
