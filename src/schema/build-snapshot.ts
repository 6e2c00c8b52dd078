/** `npm run build` step: validate the built-in schemas against docs/kimg-schema.json and snapshot them (see snapshot.ts). */
import { join } from 'node:path';
import { SchemaError } from '../core/errors.js';
import { BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT } from './loader.js';
import { writeSnapshot } from './snapshot.js';
import { validationError } from './validate.js';

try {
  const n = writeSnapshot(BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT, (tree, file) => {
    const error = validationError(tree, file);
    if (error) throw error;
  });
  process.stdout.write(`kimg: ${n} built-in schemas validated, snapshot written to ${join('dist', 'schemas.snapshot.json')}\n`);
} catch (e) {
  if (!(e instanceof SchemaError)) throw e;
  process.stderr.write(`kimg: build: ${e.describe()}\n`);
  process.exitCode = 1;
}
