#!/usr/bin/env node
// Bundles the CLI into one ESM file, dist/src/cli/kimg.mjs (`bin` in package.json), from tsc's output.
// One file instead of ~70 modules and yargs' ~25 is most of kimg's start-up (bench/startup.mjs).
// The bundle sits beside the unbundled entry, so every path the code finds from import.meta.url
// (schemas/, dist/schemas.snapshot.json, package.json, docs/) resolves the same in both.
//   node scripts/bundle.mjs            (part of `npm run build`)
import { build } from 'esbuild';
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/src/cli/kimg.mjs');

await build({
  entryPoints: [join(root, 'dist/src/cli/main.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native (N-API) and WebAssembly decoders load files of their own at run time: they stay packages.
  // yaml and ajv are loaded lazily through createRequire (only for user schemas), so they stay too.
  external: ['lz4-napi', 'zstddec', 'zstddec/*', 'xxhash-wasm', 'hash-wasm', 'lzo-ts', 'yaml', 'ajv'],
  // CommonJS parts of dependencies may call require(); an ESM bundle has none of its own.
  banner: { js: "import { createRequire as __kimgCreateRequire } from 'node:module'; const require = __kimgCreateRequire(import.meta.url);" },
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
process.stdout.write(`kimg: CLI bundled into ${outfile.slice(root.length + 1)} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)\n`);
