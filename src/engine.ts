/**
 * The engine contract: what a parse takes and gives, shared by the interpreter (src/interp), the compiled
 * engine (src/codegen) and everything that consumes their results (detection, pipeline, renderers).
 * Types only; depends on nothing but the model.
 */
import type { ByteSource } from './core/bytes.js';
import type { Limits } from './core/limits.js';
import type { SchemaDef, Severity, TypeDef } from './types.js';

export type Struct = Record<string, unknown>;

/** Where each field of a struct came from. */
export interface StructLayout {
  readonly type: TypeDef;
  /** Absolute offset of the struct. */
  readonly offset: number;
  size: number;
  /** Aligned with type.fields; null for a field that was absent (if: false). */
  readonly fields: (FieldLayout | null)[];
}

export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  /** The struct parsed for a struct or switch field. */
  readonly struct: StructLayout | null;
  /** One entry per element for arrays. */
  readonly elements: FieldLayout[] | null;
}

/** A check's outcome: failed error checks throw; warnings and passes are recorded here. */
export interface CheckOutcome {
  readonly id: string;
  readonly path: string;
  readonly severity: Severity;
  readonly ok: boolean;
  readonly message: string;
}

export interface ParseOptions {
  /** Absolute offset where the root struct starts (default 0). */
  readonly offset?: number;
  readonly limits?: Limits;
  /** Record offsets and sizes of every field (needed by dump; off for speed). */
  readonly layout?: boolean;
}

/** `T`: the value's type, from the schema's generated declarations (`kimg types`), else a plain Struct. */
export interface ParseResult<T = Struct> {
  readonly schema: SchemaDef;
  readonly value: T;
  readonly layout: StructLayout | null;
  readonly checks: CheckOutcome[];
}

/** An engine: the interpreter or the compiled code, interchangeable (the differential tests hold them equal). */
export type Engine = (schema: SchemaDef, source: ByteSource, options: { limits: Limits; layout: boolean; offset?: number }) => ParseResult;
