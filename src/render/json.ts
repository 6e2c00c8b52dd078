/**
 * JSON text with exact integers: a bigint is written as its digits (a JSON number, never rounded,
 * never quoted), and keys keep their insertion order (the schema's declaration order).
 */
import type { Json } from './annotate.js';

export function stringifyJson(value: Json, indent = 2): string {
  const parts: string[] = [];
  write(value, 0, indent, parts);
  return parts.join('');
}

/**
 * JSON.stringify escapes C0 and lone surrogates; DEL and the C1 controls (U+0080..U+009F, 8-bit CSI on
 * some terminals) are escaped too, so that `kimg --json | less` or a log viewer cannot be driven by a
 * crafted file. The result is still plain JSON with the same value.
 */
function jsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

function write(v: Json, depth: number, indent: number, out: string[]): void {
  if (v === null) {
    out.push('null');
    return;
  }
  switch (typeof v) {
    case 'bigint':
      out.push(v.toString());
      return;
    case 'number':
      out.push(Number.isFinite(v) ? String(v) : 'null');
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'string':
      out.push(jsonString(v));
      return;
  }
  const pad = indent ? '\n' + ' '.repeat(indent * (depth + 1)) : '';
  const end = indent ? '\n' + ' '.repeat(indent * depth) : '';
  const sep = indent ? ': ' : ':';
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[');
    v.forEach((x, i) => {
      out.push(i ? ',' + pad : pad);
      write(x, depth + 1, indent, out);
    });
    out.push(end + ']');
    return;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) {
    out.push('{}');
    return;
  }
  out.push('{');
  keys.forEach((k, i) => {
    out.push((i ? ',' : '') + pad + jsonString(k) + sep);
    write(v[k]!, depth + 1, indent, out);
  });
  out.push(end + '}');
}
