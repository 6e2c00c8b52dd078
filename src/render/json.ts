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
      out.push(JSON.stringify(v));
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
    out.push((i ? ',' : '') + pad + JSON.stringify(k) + sep);
    write(v[k]!, depth + 1, indent, out);
  });
  out.push(end + '}');
}
