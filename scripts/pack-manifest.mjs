#!/usr/bin/env node
// `npm pack` / `npm publish` helper: the packed package.json carries no lifecycle scripts. The checkout needs
// `prepare` (npm ci builds dist/), but in an installed tarball npm 11 lists it as an install script not covered
// by allowScripts, although dist/ is already built and nothing needs to run. `strip` (prepack) saves
// package.json and removes `scripts`; `restore` (postpack) puts the original back byte for byte.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const MANIFEST = 'package.json';
const SAVED = '.package.json.prepack';
const mode = process.argv[2];
if (mode === 'strip') {
  if (existsSync(SAVED)) throw new Error(`${SAVED} exists: a previous pack did not restore package.json; run "node scripts/pack-manifest.mjs restore"`);
  const text = readFileSync(MANIFEST, 'utf8');
  writeFileSync(SAVED, text);
  const manifest = JSON.parse(text);
  delete manifest.scripts;
  writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
} else if (mode === 'restore') {
  if (existsSync(SAVED)) renameSync(SAVED, MANIFEST);
} else {
  throw new Error('usage: pack-manifest.mjs strip|restore');
}
