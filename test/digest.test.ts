/**
 * src/core/digest.ts against Node's own implementations (node:crypto for sha1/sha256, zlib.crc32 for CRC-32),
 * published check values ("123456789": CRC-32 0xCBF43926, CRC-32C 0xE3069283, Adler-32 0x091E01DE) and
 * zlib's own Adler-32 (the trailer of a zlib stream), incremental over every split of the input as well as
 * one-shot, through both SHA implementations (noble, and hash-wasm once preloaded).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { DIGEST_NAMES, digest, digester, type DigestName, hex, isDigestName, preloadWasmHashes, shaImplementation } from '../src/core/digest.js';
import { SAMPLES } from './helpers.js';

const check = Buffer.from('123456789');
/** Node's value of a digest, as hex (adler32: the big-endian trailer zlib writes after a zlib stream). */
function reference(name: DigestName, b: Uint8Array): string {
  switch (name) {
    case 'crc32':
      return hex(zlib.crc32(b) >>> 0);
    case 'adler32': {
      const z = zlib.deflateSync(b, { level: 0 });
      return z.subarray(z.length - 4).toString('hex');
    }
    case 'crc32c':
      return crc32cBitwise(b);
    case 'sha1':
    case 'sha256':
      return createHash(name).update(b).digest('hex');
  }
}

/** CRC-32C bit by bit from its definition (reflected polynomial 0x82F63B78): slow, obviously right. */
function crc32cBitwise(b: Uint8Array): string {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return hex((c ^ 0xffffffff) >>> 0);
}

test('check values of "123456789" (the CRC catalogue\'s) and of no bytes', () => {
  assert.equal(digest('crc32', check), 0xcbf43926);
  assert.equal(digest('crc32c', check), 0xe3069283);
  assert.equal(digest('adler32', check), 0x091e01de);
  assert.equal(hex(digest('sha1', check)), 'f7c3bc1d808e04732adf679965ccc34ca7ae3441');
  assert.equal(hex(digest('sha256', check)), '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225');
  const none = new Uint8Array(0);
  assert.equal(digest('crc32', none), 0);
  assert.equal(digest('crc32c', none), 0);
  assert.equal(digest('adler32', none), 1);
  assert.equal(hex(digester('sha256').final()), createHash('sha256').digest('hex'));
  assert.equal(hex(digester('adler32').final()), '00000001');
});

// A real kernel (1 MB) with its odd tail, plus small inputs around the 8/16-byte strides of the CRC loops.
const kernel = readFileSync(join(SAMPLES, 'riscv-gzip.Image')).subarray(0, 1_000_003);
const smalls = Array.from({ length: 40 }, (_, n) => kernel.subarray(1000, 1000 + n));

function incremental(name: DigestName, b: Uint8Array, cuts: number[]): string {
  const d = digester(name);
  let at = 0;
  for (const c of [...cuts, b.length]) {
    d.update(b.subarray(at, c));
    at = c;
  }
  return hex(d.final());
}

async function allAgree(label: string): Promise<void> {
  for (const name of DIGEST_NAMES) {
    for (const b of [kernel, ...smalls]) assert.equal(hex(digest(name, b)), reference(name, b), `${label} ${name} one-shot, ${b.length} bytes`);
    // chunks of every size from 1 to 33 bytes, then large uneven ones
    for (let size = 1; size <= 33; size += 4) {
      const b = kernel.subarray(0, 3000 + size);
      const cuts = Array.from({ length: Math.floor(b.length / size) }, (_, i) => (i + 1) * size);
      assert.equal(incremental(name, b, cuts), reference(name, b), `${label} ${name} in ${size}-byte updates`);
    }
    assert.equal(incremental(name, kernel, [1, 7, 65536, 65537, 300001, 999999]), reference(name, kernel), `${label} ${name} uneven updates`);
    assert.equal(incremental(name, kernel, [0, 0, 5, 5]), reference(name, kernel), `${label} ${name} empty updates`);
  }
}

test('every digest equals node:crypto / zlib / the bitwise definition, one-shot and over any split (noble SHAs)', async () => {
  assert.equal(shaImplementation('sha256'), '@noble/hashes', 'before preloading');
  await allAgree('noble');
});

test('with hash-wasm preloaded the SHAs are the same; a second concurrent digester falls back to noble', async () => {
  assert.equal(await preloadWasmHashes(), true);
  assert.equal(shaImplementation('sha1'), 'hash-wasm');
  await allAgree('hash-wasm');
  const a = digester('sha256');
  assert.equal(shaImplementation('sha256'), '@noble/hashes', 'the wasm instance is held by a');
  const b = digester('sha256');
  a.update(kernel.subarray(0, 1000));
  b.update(kernel.subarray(0, 2000));
  a.update(kernel.subarray(1000, 2000));
  assert.equal(hex(a.final()), hex(b.final()));
  assert.equal(shaImplementation('sha256'), 'hash-wasm', 'released by final()');
});

test('a finished digester refuses more input; names are checked', () => {
  const d = digester('crc32');
  d.update(check);
  assert.equal(d.final(), 0xcbf43926);
  assert.throws(() => d.update(check), /already finished/);
  assert.throws(() => d.final(), /already finished/);
  assert.ok(isDigestName('sha256') && !isDigestName('md5') && !isDigestName('toString'));
  assert.equal(hex(0x1), '00000001');
  assert.equal(hex(Uint8Array.of(0, 255)), '00ff');
});

test('U-Boot\'s CRC-32: a real uImage header checksum (ih_hcrc over the header with the field zeroed) and data checksum', () => {
  const u = Buffer.from(readFileSync(join(SAMPLES, 'boot/uImage-stub-gzip')));
  const hcrc = u.readUInt32BE(4);
  const dcrc = u.readUInt32BE(24);
  assert.equal(digest('crc32', u.subarray(64)), dcrc);
  u.writeUInt32BE(0, 4);
  assert.equal(digest('crc32', u.subarray(0, 64)), hcrc);
});
