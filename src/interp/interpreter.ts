/**
 * The reference engine: applies a schema's type model to a byte source and builds plain objects.
 * It knows nothing of any format; everything it does is said by the schema. The compiled engine
 * (../codegen) must agree with it on every input, errors included.
 *
 * It generates no code (it is also the `jitless` engine): at first use of a type, ./plan.ts turns
 * the type into closures, one per field and per expression node (./expr.ts), which a parse runs.
 * What a struct parse does, in order:
 *   - depth check; an object with every field key (null), in declaration order;
 *   - for each field: `_pos` is the cursor; `if:` false -> the field stays null (layout null);
 *     `at:` moves the cursor (region-relative, within the region); then the element, or for
 *     `count:` / `repeat: to-end` each element in turn (errors carry `field[i]`); the cursor moves
 *     to its end (a value field reads nothing);
 *   - `_pos` is the end cursor; the checks run in order (a failed error check throws, anything
 *     else is recorded in `checks` with the struct's path).
 * Expressions count one step per AST node visited (`maxExprSteps`), exactly as src/expr/evaluate.ts.
 */
import type { ByteSource } from '../core/bytes.js';
import { ParseError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import { hexInt } from '../expr/format.js';
import type { SchemaDef, Severity, TypeDef } from '../types.js';
import { parseStruct, planOf } from './plan.js';
import { Run } from './run.js';

export { bitsOf } from './bits.js';

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

export function interpret(schema: SchemaDef, source: ByteSource, options: ParseOptions = {}): ParseResult {
  const start = options.offset ?? 0;
  if (start < 0 || start > source.size) {
    throw new ParseError('out-of-bounds', `start offset ${hexInt(start)} is outside the input (${source.size} bytes)`, { schema: schema.id, offset: start });
  }
  const run = new Run(schema, source, options);
  const value = parseStruct(run, planOf(schema.root.target!), 0, source.size, { offset: 0, size: source.size }, start, null, null);
  return { schema, value, layout: run.withLayout ? run.slay : null, checks: run.checks };
}
