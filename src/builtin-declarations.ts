/**
 * The built-in schemas' declarations, as committed in src/builtin-schemas.ts (scripts/builtin-types.mjs
 * writes it; test/types.test.ts checks it is current).
 */
import { Kimg } from './kimg.js';
import { declarationsFor } from './codegen/declarations.js';

export function builtinDeclarations(): string {
  return declarationsFor(new Kimg().schemas.all(), 'BuiltinSchemas');
}
