/** `npm run build` step: snapshot the built-in schemas (see snapshot.ts). */
import { join } from 'node:path';
import { BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT } from './loader.js';
import { writeSnapshot } from './snapshot.js';

const n = writeSnapshot(BUILTIN_SCHEMA_DIR, BUILTIN_SNAPSHOT);
process.stdout.write(`kimg: snapshot of ${n} built-in schemas written to ${join('dist', 'schemas.snapshot.json')}\n`);
