#!/usr/bin/env node
// Checksum and digest implementations on the same bytes, in one process (docs/codecs.md, "Checksums and
// digests"): kimg's src/core/digest.ts against the npm candidates and Node's own (node:crypto, zlib.crc32:
// native, not usable in the browser-clean core, the baseline). Best of N runs, MiB/s, 64 KiB chunks for the
// incremental APIs. Every result is checked against the baseline's.
//   mkdir /tmp/digcand && cd /tmp/digcand && npm init -y && npm i --ignore-scripts hash-wasm@4.13.0 @aws-crypto/crc32c@5.2.0 @node-rs/crc32@1.10.8
//   npm run build && KIMG_DIGEST_CANDIDATES=/tmp/digcand node bench/digests.mjs [--runs 5] [FILE]
// (without the candidates directory only kimg and Node's baselines run)
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { defaultSource, root } from './inputs.mjs';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 5) || 5;
const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--runs') ?? defaultSource;
const data = readFileSync(file);
const CHUNK = 64 << 10;
const { digest, digester, hex, preloadWasmHashes } = await import(join(root, 'dist/src/core/digest.js'));

/** The hand-written candidate that lost to crc-32: slicing-by-8 over eight 256-entry tables. */
function slicing8(poly) {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) for (let k = 1, c = t[n]; k < 8; k++) t[k * 256 + n] = c = (t[c & 0xff] ^ (c >>> 8)) >>> 0;
  return (b, crc = 0) => {
    let c = ~crc;
    let i = 0;
    const end8 = b.length - (b.length & 7);
    for (; i < end8; i += 8) {
      const lo = c ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
      c = t[0x700 + (lo & 0xff)] ^ t[0x600 + ((lo >>> 8) & 0xff)] ^ t[0x500 + ((lo >>> 16) & 0xff)] ^ t[0x400 + (lo >>> 24)] ^ t[0x300 + b[i + 4]] ^ t[0x200 + b[i + 5]] ^ t[0x100 + b[i + 6]] ^ t[b[i + 7]];
    }
    for (; i < b.length; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  };
}
const candidates = process.env.KIMG_DIGEST_CANDIDATES ?? '/tmp/digcand';
const req = existsSync(join(candidates, 'node_modules')) ? createRequire(join(candidates, 'index.js')) : null;
const load = (name) => {
  try {
    return req?.(name) ?? null;
  } catch {
    return null;
  }
};

const chunks = (f) => {
  for (let i = 0; i < data.length; i += CHUNK) f(data.subarray(i, i + CHUNK));
};
const rows = [];
async function measure(algo, name, fn) {
  let best = Infinity;
  let result;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    result = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  rows.push({ algo, implementation: name, 'MiB/s': Math.round(data.length / 1048576 / (best / 1000)), result: typeof result === 'number' ? hex(result) : String(result) });
}
const nodeHash = (a) => createHash(a).update(data).digest('hex');

// sha1 / sha256
for (const algo of ['sha1', 'sha256']) {
  await measure(algo, 'node:crypto (OpenSSL, baseline)', () => nodeHash(algo));
  await measure(algo, 'kimg default (@noble/hashes 2.4.0), 64 KiB updates', () => {
    const d = digester(algo);
    chunks((c) => d.update(c));
    return hex(d.final());
  });
  const hw = load('hash-wasm');
  if (hw) {
    const create = algo === 'sha1' ? hw.createSHA1 : hw.createSHA256;
    const h = await create(); // creating is asynchronous (wasm instantiation); update/digest are not
    await measure(algo, 'hash-wasm 4.13.0 (wasm), 64 KiB updates', () => {
      h.init();
      chunks((c) => h.update(c));
      return h.digest('hex');
    });
  }
}

// kimg after preloadWasmHashes(): hash-wasm instances behind the same synchronous digester
if (await preloadWasmHashes())
  for (const algo of ['sha1', 'sha256'])
    await measure(algo, 'kimg after preloadWasmHashes() (hash-wasm), 64 KiB updates', () => {
      const d = digester(algo);
      chunks((c) => d.update(c));
      return hex(d.final());
    });

// crc32
const crc32s8 = slicing8(0xedb88320);
const crc32cs8 = slicing8(0x82f63b78);
await measure('crc32', 'zlib.crc32 (native, baseline)', () => zlib.crc32(data) >>> 0);
await measure('crc32', 'hand-written slicing-by-8, 64 KiB updates', () => {
  let c = 0;
  chunks((x) => (c = crc32s8(x, c)));
  return c;
});
await measure('crc32', 'kimg (crc-32 1.2.2), 64 KiB updates', () => {
  const d = digester('crc32');
  chunks((c) => d.update(c));
  return d.final();
});
const noderscrc = load('@node-rs/crc32');
if (noderscrc) await measure('crc32', '@node-rs/crc32 1.10.8 (native, SIMD)', () => noderscrc.crc32(data) >>> 0);

// crc32c
if (noderscrc) await measure('crc32c', '@node-rs/crc32 1.10.8 crc32c (native, SSE4.2; baseline)', () => noderscrc.crc32c(data) >>> 0);
await measure('crc32c', 'hand-written slicing-by-8, 64 KiB updates', () => {
  let c = 0;
  chunks((x) => (c = crc32cs8(x, c)));
  return c;
});
await measure('crc32c', 'kimg (crc-32 1.2.2 crc32c.js), one-shot', () => digest('crc32c', data));
const aws = load('@aws-crypto/crc32c');
if (aws)
  await measure('crc32c', '@aws-crypto/crc32c 5.2.0 (byte table)', () => {
    const c = new aws.Crc32c();
    chunks((x) => c.update(x));
    return c.digest() >>> 0;
  });

// adler32
await measure('adler32', 'kimg (adler-32 1.3.1), 64 KiB updates', () => {
  const d = digester('adler32');
  chunks((c) => d.update(c));
  return d.final();
});
const { adler32: utilAdler32 } = await import(join(root, 'dist/src/codecs/_util.js'));
await measure('adler32', "hand-written (zlib's NMAX-blocked loop: src/codecs/_util.ts's adler32), 64 KiB updates", () => {
  let a = 1;
  chunks((x) => (a = utilAdler32(x, a)));
  return a;
});

console.log(`${file} (${data.length} bytes), Node ${process.version}, best of ${runs}`);
console.table(rows);
// Every implementation of an algorithm must agree.
let bad = 0;
for (const algo of new Set(rows.map((r) => r.algo))) {
  const results = new Set(rows.filter((r) => r.algo === algo).map((r) => r.result));
  if (results.size !== 1) {
    console.error(`${algo}: implementations disagree: ${[...results].join(', ')}`);
    bad++;
  }
}
process.exitCode = bad ? 1 : 0;
