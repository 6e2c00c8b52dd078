#!/usr/bin/env node
// Bundles the CLI, from tsc's output, into two files beside the unbundled entry (so that every path the code
// finds from import.meta.url, such as schemas/, dist/schemas.snapshot.json and package.json, resolves the same):
//   dist/src/cli/kimg-main.cjs  the whole CLI, one CommonJS file: built-in modules come from require(), where an
//                               ESM import would evaluate each one's lazy exports (node:fs loads the streams);
//   dist/src/cli/kimg.mjs       `bin` in package.json: src/cli/launch.ts, which runs kimg-main.cjs through a
//                               V8 code cache, with the bundle's hash fixed in it as the cache's key.
// One file instead of ~70 modules and yargs' ~25, and the code cache, are most of kimg's start-up
// (bench/startup.mjs; docs/performance.md).
//   node scripts/bundle.mjs            (part of `npm run build`)
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli');
const mainFile = join(cli, 'kimg-main.cjs');
const launcherFile = join(cli, 'kimg.mjs');

// Native (N-API) and WebAssembly decoders load files of their own at run time: they stay packages, imported
// through the launcher (a function run from a code cache has lost V8's dynamic-import callback).
// yaml and ajv are loaded lazily through createRequire (only for user schemas), so they stay too.
const IMPORTED = ['zstddec/stream', 'lz4-napi', 'xxhash-wasm', 'lzo-ts'];
const external = ['lz4-napi', 'zstddec', 'zstddec/*', 'xxhash-wasm', 'hash-wasm', 'lzo-ts', 'yaml', 'ajv'];

const main = await build({
  entryPoints: [join(cli, 'main.js')],
  outfile: mainFile,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external,
  // import.meta has no meaning in CommonJS: the bundle's own URL stands for every module's.
  define: { 'import.meta.url': 'importMetaUrl' },
  inject: [join(root, 'scripts/import-meta-url.cjs')],
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

let code = null;
for (const out of main.outputFiles) {
  if (!out.path.endsWith('.cjs')) {
    writeAtomically(out.path, out.contents);
    continue;
  }
  // The launcher wraps the bundle in a function: a hashbang there would be a syntax error. A comment keeps
  // the line numbers of the source map.
  code = out.text.replace(/^#!/, '//');
  let rewritten = 0;
  for (const specifier of IMPORTED) {
    let found = false;
    code = code.replaceAll(`import(${JSON.stringify(specifier)})`, () => {
      found = true;
      return `__kimgImport(${JSON.stringify(specifier)})`;
    });
    if (found) rewritten++;
  }
  const left = code.match(/(?<![\w$.])import\s*\([^)]*\)/g);
  if (left) throw new Error(`bundle: dynamic imports the launcher does not provide: ${[...new Set(left)].join(', ')}`);
  if (rewritten !== IMPORTED.length) throw new Error(`bundle: expected import()s of each of ${IMPORTED.join(', ')}, found ${rewritten} of them`);
  writeAtomically(mainFile, code);
}
if (code === null) throw new Error('bundle: esbuild wrote no .cjs file');

// Left by builds before the launcher, when kimg.mjs was the bundle itself.
for (const stale of ['kimg.mjs.map', 'kimg.mjs.LEGAL.txt']) rmSync(join(cli, stale), { force: true });

const bundleId = createHash('sha256').update(code).digest('hex').slice(0, 16);
await build({
  entryPoints: [join(cli, 'launch.js')],
  outfile: launcherFile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: IMPORTED,
  define: { KIMG_BUNDLE_ID: JSON.stringify(bundleId) },
  logLevel: 'warning',
});

process.stdout.write(`kimg: CLI bundled into ${mainFile.slice(root.length + 1)} (${(statSync(mainFile).size / 1024).toFixed(0)} KiB, build ${bundleId}), run by ${launcherFile.slice(root.length + 1)}\n`);

function writeAtomically(file, data) {
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
}
