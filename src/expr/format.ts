/**
 * How values read in messages, summaries and the text dump: hex offsets, human sizes, exact integers.
 */
import type { TemplateFormat } from '../types.js';
import { hex as hexBytes, latin1 } from '../core/bytes.js';
import { isInt } from './values.js';

export function hexInt(v: number | bigint): string {
  return v < 0 ? `-0x${(-BigInt(v)).toString(16)}` : `0x${v.toString(16)}`;
}

/** "8.3 MiB", "26 MiB", "512 KiB", "100 B" (binary units, up to 2 significant decimals). */
export function humanSize(v: number | bigint): string {
  const n = Number(v);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = n;
  let u = 0;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  if (u === 0) return `${n} B`;
  const text = x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text} ${units[u]}`;
}

/** Printable ASCII shown as text, anything else as \xNN. */
export function quoteBytes(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  return `"${s}"`;
}

export function formatValue(v: unknown, format: TemplateFormat): string {
  if (v === null || v === undefined) return 'null';
  if (isInt(v)) {
    if (format === 'hex') return hexInt(v);
    if (format === 'size') return humanSize(v);
    // File modes as ls, stat and cpio's headers write them: 0755, 0100644 (negative: -07).
    if (format === 'oct') return v === 0 || v === 0n ? '0' : v < 0 ? `-0${(-BigInt(v)).toString(8)}` : `0${v.toString(8)}`;
    return v.toString();
  }
  if (v instanceof Uint8Array) return format === 'hex' ? hexBytes(v) : quoteBytes(v);
  if (typeof v === 'string') return format === 'raw' ? v : v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.length} items]`;
  return '{…}';
}

export { latin1 };
