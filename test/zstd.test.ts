/**
 * zstd's two implementations (src/codecs/zstd.ts): libzstd from node:zlib, fed exactly the frame that kimg
 * finds by walking the frame's header and block headers, and zstddec's wasm build driven by its own loop.
 * Frames of every shape the zstd CLI writes, with the CLI as the oracle for content and for where the frame
 * ends; the window limit, checksums, and how the implementation is chosen (KIMG_ZSTD, `kimg codecs`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodecError } from '../src/codecs/errors.js';
import type { Codec } from '../src/codecs/types.js';
import { zstd, zstdImplementation, zstdImplementations, ZSTD_IMPLEMENTATION_ENV } from '../src/codecs/zstd.js';
import { CLI, CORPUS, hasCommand, implementationsOf } from './helpers.js';

const NO_ZSTD = 'the zstd CLI is not installed (apt-get install zstd): skipped';
const sh = (cmd: string, input: Uint8Array): Buffer => {
  const r = spawnSync('sh', ['-c', cmd], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
};
async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
async function decode(c: Codec, data: Uint8Array, chunk = 65536) {
  const parts: Uint8Array[] = [];
  const ends: number[] = [];
  for await (const p of c.decode(chunked(data, chunk), { maxOutput: 1 << 30, onStreamEnd: (n) => ends.push(n) })) parts.push(p);
  return { out: Buffer.concat(parts), ends };
}

// 300 kB of a real kernel Image where the corpus is present, else text-like synthetic bytes.
const kernel = join(CORPUS, 'arm64-gzip-linux6.1.Image');
const text = existsSync(kernel)
  ? readFileSync(kernel).subarray(0, 300_000)
  : Buffer.from(Array.from({ length: 300_000 }, (_, i) => 0x41 + ((i * 7 + (i >> 9)) % 26)));
let seed = 1;
const random = Buffer.from(Array.from({ length: 300_000 }, () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24)));
const zeros = Buffer.alloc(1 << 20);

/** The frame shapes: [what, input, zstd command, frame header descriptor bits the shape must have]. */
const SHAPES: [what: string, input: Buffer, cmd: string, descriptor: (fhd: number) => boolean][] = [
  ['from a pipe, checksum, no content size (the kernel build)', text, 'zstd -q -19 -c', (d) => (d & 0x04) !== 0 && d >> 6 === 0 && (d & 0x20) === 0],
  ['no checksum', text, 'zstd -q -3 --no-check -c', (d) => (d & 0x04) === 0],
  ['content size in a single segment', text, 'zstd -q -3 --stream-size=300000 -c', (d) => d >> 6 === 2 && (d & 0x20) !== 0],
  ['incompressible: raw blocks', random, 'zstd -q -3 -c', () => true],
  ['zeros: RLE blocks', zeros, 'zstd -q -19 -c', () => true],
  ['zstd22 (-22 --ultra), 128 MiB window', text, 'zstd -q --ultra -22 -c', () => true],
];

for (const { label, codec, skip } of implementationsOf('zstd')) {
  for (const [what, input, cmd, descriptor] of SHAPES) {
    test(`${label}: ${what} (${cmd}): content and frame end as the zstd CLI has them, size trailer unread`, { timeout: 60_000 }, async (t) => {
      if (skip) return t.skip(skip);
      if (!hasCommand('zstd')) return t.skip(NO_ZSTD);
      const z = sh(cmd, input);
      assert.ok(descriptor(z[4]!), `frame header descriptor 0x${z[4]!.toString(16)} is the shape this case is about`);
      const trailer = Buffer.alloc(4);
      trailer.writeUInt32LE(input.length);
      for (const chunk of [65536, 1000, 7]) {
        if (chunk === 7 && input.length > 300_000) continue; // 7-byte chunks: headers split everywhere, on the smaller inputs
        const { out, ends } = await decode(codec, Buffer.concat([z, trailer, Buffer.from('not zstd')]), chunk);
        assert.ok(out.equals(input), `decoded content, chunks of ${chunk}`);
        assert.deepEqual(ends, [z.length], `frame end, chunks of ${chunk}`);
      }
    });
  }

  test(`${label}: a 128 MiB window (zstd22) is accepted, a 256 MiB one refused as zstd -d refuses it`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!hasCommand('zstd')) return t.skip(NO_ZSTD);
    // Window_Descriptor (RFC 8878 §3.1.1.1.2): exponent in the top 5 bits, window = 2^(10 + exponent) here.
    const z22 = sh('zstd -q --ultra -22 -c', text);
    assert.equal(z22[5]!, (27 - 10) << 3, 'zstd -22 --ultra from a pipe declares a 2^27 window');
    assert.ok((await decode(codec, z22)).out.equals(text));
    const z28 = sh('zstd -q --long=28 -c', text);
    assert.equal(z28[5]!, (28 - 10) << 3);
    assert.notEqual(spawnSync('zstd', ['-q', '-dc'], { input: z28 }).status, 0, 'zstd -d refuses it without --long=28');
    await assert.rejects(decode(codec, z28), (e: unknown) => e instanceof CodecError && /^zstd: frame requires too much memory \(window too large\) near input offset \d+/.test(e.message));
  });

  test(`${label}: a wrong content checksum, a reserved block type and a corrupt block are CodecErrors with input offsets`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!hasCommand('zstd')) return t.skip(NO_ZSTD);
    const z = sh('zstd -q -19 -c', text);
    const badSum = Buffer.from(z);
    badSum[z.length - 1]! ^= 1;
    assert.notEqual(spawnSync('zstd', ['-q', '-t'], { input: badSum }).status, 0, 'zstd -t sees it');
    await assert.rejects(decode(codec, badSum), (e: unknown) => e instanceof CodecError && /^zstd: content checksum mismatch near input offset \d+/.test(e.message) && e.inputOffset! <= z.length);
    // The first block header follows the 6-byte frame header (magic, descriptor, window): type bits 1-2 = 3.
    const reserved = Buffer.from(z);
    reserved[6]! |= 0x06;
    await assert.rejects(decode(codec, reserved), (e: unknown) => e instanceof CodecError && /^zstd: corrupted block detected near input offset \d+/.test(e.message) && e.inputOffset! <= 9);
    const corrupt = Buffer.from(z);
    for (let i = 0; i < 16; i++) corrupt[(z.length >> 1) + i]! ^= 0x5a;
    await assert.rejects(decode(codec, corrupt), (e: unknown) => {
      assert.ok(e instanceof CodecError, String(e));
      assert.match(e.message, /^zstd: .* near input offset \d+/);
      assert.ok(e.inputOffset !== undefined && e.inputOffset >= 0 && e.inputOffset <= z.length, `offset ${e.inputOffset} inside the frame`);
      return true;
    });
  });

  test(`${label}: an empty input and a bare magic number are truncated streams, not errors of another kind`, async (t) => {
    if (skip) return t.skip(skip);
    for (const input of [Buffer.alloc(0), Buffer.from([0x28, 0xb5, 0x2f, 0xfd])]) {
      await assert.rejects(decode(codec, input), (e: unknown) => e instanceof CodecError && e.message === `zstd: stream truncated at input offset ${input.length} (frame not finished)`);
    }
  });
}

test(`${ZSTD_IMPLEMENTATION_ENV} picks the implementation at run time; the default is node:zlib where Node has zstd`, { timeout: 30_000 }, async () => {
  const saved = process.env[ZSTD_IMPLEMENTATION_ENV];
  try {
    delete process.env[ZSTD_IMPLEMENTATION_ENV];
    const hasZlib = typeof (process.getBuiltinModule('node:zlib') as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
    assert.equal(zstdImplementation(), hasZlib ? 'zlib' : 'wasm');
    assert.deepEqual(zstdImplementations(), hasZlib ? ['zlib', 'wasm'] : ['wasm']);
    assert.match(zstd.library, hasZlib ? /^node:zlib \(libzstd \d+\.\d+\.\d+, native\)$/ : /^zstddec@/);
    process.env[ZSTD_IMPLEMENTATION_ENV] = 'wasm';
    assert.equal(zstdImplementation(), 'wasm');
    assert.equal(zstd.library, `zstddec@0.3.4 (libzstd wasm), ${ZSTD_IMPLEMENTATION_ENV}=wasm`);
    process.env[ZSTD_IMPLEMENTATION_ENV] = 'zlib';
    if (hasZlib) assert.equal(zstdImplementation(), 'zlib');
    else await assert.rejects(decode(zstd, Buffer.alloc(8)), (e: unknown) => e instanceof CodecError && /KIMG_ZSTD=zlib, but node:zlib of Node v\S+ has no zstd/.test(e.message));
    process.env[ZSTD_IMPLEMENTATION_ENV] = 'fast';
    await assert.rejects(decode(zstd, Buffer.alloc(8)), (e: unknown) => e instanceof CodecError && e.message === 'zstd: KIMG_ZSTD="fast" is not one of auto, zlib, wasm');
    assert.equal(zstd.library, 'zstd: KIMG_ZSTD="fast" is not one of auto, zlib, wasm');
  } finally {
    if (saved === undefined) delete process.env[ZSTD_IMPLEMENTATION_ENV];
    else process.env[ZSTD_IMPLEMENTATION_ENV] = saved;
  }
});

test('kimg codecs names the zstd library in use, and KIMG_ZSTD=wasm switches it', () => {
  const env = { ...process.env };
  delete env[ZSTD_IMPLEMENTATION_ENV];
  const codecs = (args: string[], extra: Record<string, string> = {}): string => {
    const r = spawnSync(process.execPath, [CLI, 'codecs', ...args], { env: { ...env, ...extra }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const line = (extra: Record<string, string>) => (JSON.parse(codecs(['--json'], extra)) as { name: string; library: string }[]).find((c) => c.name === 'zstd')!.library;
  assert.equal(line({}), zstdImplementations()[0] === 'zlib' ? `node:zlib (libzstd ${process.versions['zstd']}, native)` : 'zstddec@0.3.4 (libzstd wasm)');
  assert.equal(line({ [ZSTD_IMPLEMENTATION_ENV]: 'wasm' }), `zstddec@0.3.4 (libzstd wasm), ${ZSTD_IMPLEMENTATION_ENV}=wasm`);
  assert.match(codecs([], { [ZSTD_IMPLEMENTATION_ENV]: 'wasm' }), /^zstd +zstddec@0\.3\.4 \(libzstd wasm\), KIMG_ZSTD=wasm /m);
});
