/**
 * `npm run build` step: validate the built-in schemas against docs/kimg-schema.json and snapshot them, as
 * located trees (snapshot.ts) and as built definitions (prebuilt.ts).
 */
import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SchemaError } from '../core/errors.js';
import { realpathOrSelf } from '../core/paths.js';
import { BUILTIN_PREBUILT, BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT, SchemaLoader } from './loader.js';
import { writePrebuilt } from './prebuilt.js';
import { writeSnapshot } from './snapshot.js';
import { validationError } from './validate.js';

try {
  const n = writeSnapshot(BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT, (tree, file) => {
    const error = validationError(tree, file);
    if (error) throw error;
  });
  // Built by a loader that sees the built-ins only, as at run time, from the trees just written: the last
  // build's definitions, made by the last build's loader, must not be what it adopts.
  rmSync(BUILTIN_PREBUILT, { force: true });
  const loader = new SchemaLoader({ searchPath: [] });
  const dir = realpathOrSelf(BUILTIN_SCHEMA_DIR);
  const defs = Object.fromEntries(loader.listIds().map((id) => loader.load(id)).map((d) => [basename(d.file), d]));
  const texts = Object.fromEntries(Object.keys(defs).map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
  writePrebuilt(BUILTIN_PREBUILT, dir, defs, texts);
  process.stdout.write(`kimg: ${n} built-in schemas validated, snapshot written to ${join('dist', 'schemas.snapshot.json')} (trees) and ${join('dist', 'schemas.prebuilt.bin')} (built)\n`);
} catch (e) {
  if (!(e instanceof SchemaError)) throw e;
  process.stderr.write(`kimg: build: ${e.describe()}\n`);
  process.exitCode = 1;
}
