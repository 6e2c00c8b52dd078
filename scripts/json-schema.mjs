#!/usr/bin/env node
// Writes docs/kimg-schema.json from the keyword table (src/schema/keywords.ts; run after the build).
// test/validate.test.ts fails when the committed file is not what this writes.
import { writeFileSync } from 'node:fs';
import { buildJsonSchema } from '../dist/src/schema/keywords.js';

writeFileSync(new URL('../docs/kimg-schema.json', import.meta.url), `${JSON.stringify(buildJsonSchema(), null, 2)}\n`);
console.log('kimg: docs/kimg-schema.json written from src/schema/keywords.ts');
