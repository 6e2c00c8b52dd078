#!/usr/bin/env node
/**
 * The `kimg` command (package.json `bin`, bundled by scripts/bundle.mjs into dist/src/cli/kimg.mjs): runs
 * the CLI bundle, dist/src/cli/kimg-main.cjs, through a V8 code cache.
 *
 * Why: compiling the bundle's functions was a third of kimg's own start-up on every Node (bench/startup.mjs).
 * Node >= 22's module.enableCompileCache() keeps only what V8 compiled eagerly (the top level), which saved
 * little; a cache made at the end of a run holds every function the run compiled, so the next run compiles
 * none of them (docs/performance.md, "Start-up").
 *
 * The cache is code, so it is read only from a directory that is the user's own and that no one else can
 * write to: $KIMG_CACHE_DIR, else $XDG_CACHE_HOME/kimg, else ~/.cache/kimg (created 0700). One file per
 * bundle build (its hash, fixed at build time), Node version and architecture; V8 itself refuses a cache from
 * another V8 or other flags, and then a new one is written. A run that only asks yargs (help, --version,
 * completion) writes a cache only if there is none; a command's run replaces such a cache (it compiles far
 * more). Any failure to read or write the cache only means compiling as usual. KIMG_CODE_CACHE=0 turns it off.
 *
 * Built-in modules come from process.getBuiltinModule: an ESM `import` of node:fs evaluates every lazy
 * export of it (fs.promises, the stream classes), which cost more than this whole file.
 */
import type * as Fs from 'node:fs';

declare const KIMG_BUNDLE_ID: string | undefined;

const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const vm = process.getBuiltinModule('node:vm');
const nodeModule = process.getBuiltinModule('node:module');

const BUNDLE = path.join(import.meta.dirname, 'kimg-main.cjs');
/** Set when scripts/bundle.mjs bundles this file; the unbundled launch.js runs without a cache. */
const BUNDLE_ID = typeof KIMG_BUNDLE_ID === 'string' ? KIMG_BUNDLE_ID : null;
/** The first byte of a cache file: which kind of run made it. */
const MADE_BY_YARGS = 0;
const MADE_BY_COMMAND = 1;
const STALE_MS = 30 * 24 * 3600 * 1000;

/**
 * Packages the bundle loads on demand (decoders), through this module's own `import()`: a function compiled
 * from a code cache has lost V8's dynamic-import callback. scripts/bundle.mjs rewrites each `import('x')` of
 * the bundle to `__kimgImport('x')` and checks that no other is left.
 */
const IMPORTS: Readonly<Record<string, () => Promise<unknown>>> = {
  'zstddec/stream': () => import('zstddec/stream'),
  'lz4-napi': () => import('lz4-napi'),
  'xxhash-wasm': () => import('xxhash-wasm'),
  // A devDependency: only for KIMG_LZO=lzo-ts, the tests' and the benchmark's second LZO decoder.
  'lzo-ts': () => import('lzo-ts'),
};

function kimgImport(specifier: string): Promise<unknown> {
  const load = IMPORTS[specifier];
  return load ? load() : Promise.reject(new Error(`kimg launcher: no import of '${specifier}' is provided`));
}

function cacheDir(): string | null {
  const env = process.env;
  if (env['KIMG_CODE_CACHE'] === '0' || BUNDLE_ID === null) return null;
  if (env['KIMG_CACHE_DIR']) return env['KIMG_CACHE_DIR'];
  if (env['XDG_CACHE_HOME'] && path.isAbsolute(env['XDG_CACHE_HOME'])) return path.join(env['XDG_CACHE_HOME'], 'kimg');
  const home = env['HOME'] ?? env['USERPROFILE'];
  return home && path.isAbsolute(home) ? path.join(home, '.cache', 'kimg') : null;
}

/** The user's own, not a symbolic link, writable by no one else (where there are uids). */
function isPrivate(st: Fs.Stats): boolean {
  if (typeof process.getuid !== 'function') return true;
  return st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

function readCache(file: string): Buffer | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !isPrivate(st) || st.size < 2) return null;
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    for (let r = 0; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, n)) > 0; ) n += r;
    return n === buf.length ? buf : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function writeCache(dir: string, file: string, madeBy: number, data: Buffer): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivate(fs.lstatSync(dir))) return;
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Uint8Array.of(madeBy), data]), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
    // Caches not rewritten for a month belong to builds or Nodes gone by (several installs of kimg, a
    // checkout and a global one, share the directory, each with its own cache).
    const old = Date.now() - STALE_MS;
    for (const name of fs.readdirSync(dir)) {
      const other = path.join(dir, name);
      if (name.endsWith('.v8cache') && other !== file && fs.statSync(other).mtimeMs < old) fs.rmSync(other, { force: true });
    }
  } catch {
    // no cache this time
  }
}

/** A command's run (`kimg info f`, `kimg -S dir dump f`), not one only yargs answers. */
function commandRun(argv: readonly string[]): boolean {
  const first = argv.find((a) => !a.startsWith('-'));
  return first !== undefined && first !== 'help' && first !== 'completion';
}

const dir = cacheDir();
const dirOk = dir !== null && (() => {
  try {
    return isPrivate(fs.lstatSync(dir));
  } catch {
    return true; // not there yet: made private when first written
  }
})();
const cacheFile = dir && dirOk ? path.join(dir, `${process.version}-${process.arch}-${BUNDLE_ID}.v8cache`) : null;
const cached = cacheFile ? readCache(cacheFile) : null;

const source = fs.readFileSync(BUNDLE, 'utf8');
// The bundle is CommonJS (so built-in modules come from require(), not ESM facades), run with CommonJS's
// arguments and the import function above.
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __kimgImport) {${source}\n})`, {
  filename: BUNDLE,
  ...(cached ? { cachedData: cached.subarray(1) } : {}),
});

if (cacheFile && dir) {
  const madeBy = commandRun(process.argv.slice(2)) ? MADE_BY_COMMAND : MADE_BY_YARGS;
  if (!cached || script.cachedDataRejected || cached[0]! < madeBy) {
    process.once('exit', () => writeCache(dir, cacheFile, madeBy, script.createCachedData()));
  }
}

const bundleModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(bundleModule.exports, bundleModule.exports, nodeModule.createRequire(BUNDLE), bundleModule, BUNDLE, path.dirname(BUNDLE), kimgImport);
