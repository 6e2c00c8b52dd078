/**
 * The JSON view of a parse: plain values as they are, enums as {value, name}, flag sets as
 * {value, flags, unknown}, bit fields with their parts named. Hidden fields are left out.
 */
import { hex } from '../core/bytes.js';
import type { FieldLayout, StructLayout, Struct } from '../engine.js';
import type { EnumDef, FieldDef, FlagSetDef } from '../types.js';

export type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

export interface AnnotateOptions {
  /** Wrap every field as {offset, size, value}. */
  readonly offsets?: boolean;
}

/** `value`: a parse result's value, typed (builtin-schemas.ts, `kimg types`) or a plain Struct. */
export function annotateStruct(value: object, layout: StructLayout, options: AnnotateOptions = {}): { [key: string]: Json } {
  const struct = value as Struct;
  const out: { [key: string]: Json } = {};
  const fields = layout.type.fields;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.hidden) continue;
    const fl = layout.fields[i] ?? null;
    out[f.id] = annotateField(f, struct[f.id], fl, options);
  }
  return out;
}

function annotateField(f: FieldDef, v: unknown, fl: FieldLayout | null, options: AnnotateOptions): Json {
  if (v === null || v === undefined) return null;
  if (f.repeat && Array.isArray(v)) {
    return v.map((item, i) => annotateOne(f, item, fl?.elements?.[i] ?? null, options));
  }
  return annotateOne(f, v, fl, options);
}

function annotateOne(f: FieldDef, v: unknown, fl: FieldLayout | null, options: AnnotateOptions): Json {
  let out: Json;
  if (fl?.struct) out = annotateStruct(v as Struct, fl.struct, options);
  else out = scalar(f, v);
  if (options.offsets && fl && f.kind !== 'value' && !fl.struct) return { offset: fl.offset, size: fl.size, value: out };
  return out;
}

function scalar(f: FieldDef, v: unknown): Json {
  if (f.kind === 'int' && f.bits) {
    const obj = v as Struct;
    const out: { [key: string]: Json } = { value: obj['value'] as number | bigint };
    for (const b of f.bits) {
      const x = obj[b.id] as number | boolean;
      out[b.id] = b.enumRef ? enumJson(b.enumRef, x as number) : x;
    }
    return out;
  }
  if ((f.kind === 'int' || f.kind === 'value') && f.enumRef && isIntLike(v)) return enumJson(f.enumRef, v);
  if ((f.kind === 'int' || f.kind === 'value') && f.flagsRef && isIntLike(v)) return flagsJson(f.flagsRef, v);
  return plain(v);
}

function isIntLike(v: unknown): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

export function enumName(e: EnumDef, v: number | bigint): string | null {
  return e.byValue.get(BigInt(v)) ?? null;
}

export function flagNames(f: FlagSetDef, v: number | bigint): { names: string[]; unknown: bigint } {
  const big = BigInt(v);
  let rest = big;
  const names: string[] = [];
  for (const fl of f.flags) {
    if ((big & fl.mask) === fl.mask) {
      names.push(fl.name);
      rest &= ~fl.mask;
    }
  }
  return { names, unknown: rest };
}

function enumJson(e: EnumDef, v: number | bigint): Json {
  return { value: v, name: enumName(e, v) };
}

function flagsJson(f: FlagSetDef, v: number | bigint): Json {
  const { names, unknown } = flagNames(f, v);
  return { value: v, flags: names, unknown: unknown <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(unknown) : unknown };
}

/** Values without schema meaning: bytes as hex, structs and arrays recursively. */
export function plain(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v as Json;
}
