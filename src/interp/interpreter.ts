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
import { hexInt } from '../expr/format.js';
import type { SchemaDef } from '../types.js';
import type { ParseOptions, ParseResult } from '../engine.js';
import { parseStruct, planOf } from './plan.js';
import { Run } from './run.js';

export { bitsOf } from './bits.js';

export type { CheckOutcome, FieldLayout, ParseOptions, ParseResult, Struct, StructLayout } from '../engine.js';

export function interpret(schema: SchemaDef, source: ByteSource, options: ParseOptions = {}): ParseResult {
  const start = options.offset ?? 0;
  if (start < 0 || start > source.size) {
    throw new ParseError('out-of-bounds', `start offset ${hexInt(start)} is outside the input (${source.size} bytes)`, { schema: schema.id, offset: start });
  }
  const run = new Run(schema, source, options);
  const value = parseStruct(run, planOf(schema.root.target!), 0, source.size, { offset: 0, size: source.size }, start, null, null);
  return { schema, value, layout: run.withLayout ? run.slay : null, checks: run.checks };
}
