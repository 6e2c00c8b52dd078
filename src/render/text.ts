/**
 * The human view of a parse: one line per field, with its offset, size, value in hex and decimal,
 * and enum / flag names.
 */
import type { FieldLayout, Struct, StructLayout } from '../engine.js';
import { formatValue, hexInt, quoteBytes } from '../expr/format.js';
import type { FieldDef } from '../types.js';
import { enumName, flagNames } from './annotate.js';

export function renderStruct(value: Struct, layout: StructLayout, indent = '  '): string[] {
  const lines: string[] = [];
  walk(value, layout, indent, lines);
  return lines;
}

function walk(value: Struct, layout: StructLayout, indent: string, lines: string[]): void {
  const fields = layout.type.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.hidden) continue;
    const fl = layout.fields[i] ?? null;
    const v = value[f.id];
    if (v === null || v === undefined) {
      lines.push(`${indent}${' '.repeat(10)} ${f.id}: (absent)`);
      continue;
    }
    if (Array.isArray(v) && !(f.kind === 'struct' || f.kind === 'switch')) {
      const shown = v.slice(0, 16).map((x) => describe(f, x));
      lines.push(`${prefix(fl, f)}${indent}${f.id} = [${shown.join(', ')}${v.length > 16 ? `, … ${v.length - 16} more` : ''}]`);
      continue;
    }
    if (Array.isArray(v)) {
      lines.push(`${prefix(fl, f)}${indent}${f.id}: [${v.length}]`);
      v.forEach((item, n) => {
        one(f, item, fl?.elements?.[n] ?? null, `${f.id}[${n}]`, indent + '  ', lines);
      });
      continue;
    }
    one(f, v, fl, f.id, indent, lines);
  }
}

function one(f: FieldDef, v: unknown, fl: FieldLayout | null, label: string, indent: string, lines: string[]): void {
  if (fl?.struct) {
    lines.push(`${prefix(fl, f)}${indent}${label}: ${fl.struct.type.name}`);
    walk(v as Struct, fl.struct, indent + '  ', lines);
    return;
  }
  lines.push(`${prefix(fl, f)}${indent}${label} = ${describe(f, v)}`);
}

function prefix(fl: FieldLayout | null, f: FieldDef): string {
  if (!fl || f.kind === 'value') return ' '.repeat(10) + ' ';
  return `${hexInt(fl.offset).padStart(10)} `;
}

export function describe(f: FieldDef, v: unknown): string {
  if (f.kind === 'int' && f.bits) {
    const obj = v as Struct;
    const parts = f.bits.map((b) => {
      const x = obj[b.id] as number | boolean;
      const name = b.enumRef && typeof x === 'number' ? enumName(b.enumRef, x) : null;
      return `${b.id}=${name ?? String(x)}`;
    });
    return `${num(obj['value'] as number | bigint)} [${parts.join(' ')}]`;
  }
  if (typeof v === 'number' || typeof v === 'bigint') {
    const enumRef = f.kind === 'int' || f.kind === 'value' ? f.enumRef : null;
    const flagsRef = f.kind === 'int' || f.kind === 'value' ? f.flagsRef : null;
    if (enumRef) return `${num(v)} ${enumName(enumRef, v) ?? '(unknown)'}`;
    if (flagsRef) {
      const { names, unknown } = flagNames(flagsRef, v);
      return `${num(v)} [${names.join(' | ')}${unknown ? `${names.length ? ' | ' : ''}${hexInt(unknown)}` : ''}]`;
    }
    return num(v);
  }
  if (v instanceof Uint8Array) return v.length <= 32 ? quoteBytes(v) : `${v.length} bytes`;
  if (typeof v === 'string') {
    const quoted = JSON.stringify(v);
    // An `ascii` string holds bytes 0x80..0xff as the characters U+0080..U+00FF: show the bytes, not
    // letters like "ÿ" the file never contained.
    return f.kind === 'str' && f.encoding === 'ascii' ? quoted.replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`) : quoted;
  }
  return formatValue(v, 'auto');
}

function num(v: number | bigint): string {
  return v >= 0 && v < 10 ? String(v) : `${hexInt(v)} (${v})`;
}
