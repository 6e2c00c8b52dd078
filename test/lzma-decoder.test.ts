/**
 * kimg's own .xz / LZMA-alone decoder (src/codecs/lzma/) against the native xz 5.x as the oracle: every
 * filter and check it can write, multi-block streams, every chunking of the input, and single-byte
 * corruptions, where `xz -t` and kimg must agree on "intact" vs "corrupt".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, gunzipSync } from 'node:zlib';
import { lzma, xz } from '../src/codecs/registry.js';
import { CodecError } from '../src/codecs/errors.js';
import type { Codec } from '../src/codecs/types.js';
import { hasCommand, REPO, SAMPLES } from './helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
async function decode(c: Codec, data: Uint8Array, chunk = 65536): Promise<{ out: Buffer; end: number | null }> {
  const parts: Uint8Array[] = [];
  let end: number | null = null;
  for await (const p of c.decode(chunked(data, chunk), { maxOutput: 1 << 30, onStreamEnd: (n) => (end = n) })) parts.push(p);
  return { out: Buffer.concat(parts), end };
}
function run(cmd: string, input: Uint8Array): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('sh', ['-c', cmd], { input, maxBuffer: 1 << 28 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}
function compress(cmd: string, input: Uint8Array): Buffer {
  const r = run(cmd, input);
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

const HAVE_XZ = hasCommand('xz');
const NO_XZ = 'the native xz is not installed (apt-get install xz-utils): skipped';

/**
 * Test data: the bundled arm64 kernel Image (decompressed from samples/arm64-gzip.efi's gzip payload,
 * real AArch64 code), the x86-64 node binary, and, for the architectures with no binary on the machine,
 * words shaped like each one's call instruction, so every converter really rewrites something.
 */
function arm64Image(): Buffer {
  const efi = readFileSync(join(SAMPLES, 'arm64-gzip.efi'));
  // zboot header: le32 payload offset at 8, size at 12.
  const payload = efi.subarray(efi.readUInt32LE(8), efi.readUInt32LE(8) + efi.readUInt32LE(12));
  return gunzipSync(payload).subarray(0, 1 << 20);
}
function callShapedWords(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const shapes = [
    (w: number) => [0xe8, w & 0xff, (w >> 8) & 0xff, 0, 0], // x86 call rel32 (msbyte 0)
    (w: number) => [0x48 | (w & 3), (w >> 8) & 0xff, (w >> 16) & 0xff, ((w >> 24) & 0xfc) | 1], // PowerPC bl
    (w: number) => [w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, 0xeb], // ARM bl
    (w: number) => [w & 0xff, 0xf0 | (w & 7), (w >> 8) & 0xff, 0xf8 | ((w >> 11) & 7)], // Thumb bl pair
    (w: number) => [0x40, (w >> 8) & 0x3f, (w >> 16) & 0xff, w & 0xff], // SPARC call
    (w: number) => [0xef, (w & 0xf0) | 0x00, (w >> 8) & 0xff, (w >> 16) & 0xff], // RISC-V jal ra
    (w: number) => [0x97, 0x00 | ((w & 0xf) << 4), (w >> 8) & 0xff, (w >> 16) & 0xff], // RISC-V auipc ra
  ];
  for (let i = 0; i + 8 <= n; ) {
    const w = next();
    const bytes = w % 3 === 0 ? [w & 0xff, (w >> 8) & 0xff, (w >> 16) & 0xff, (w >> 24) & 0xff] : shapes[w % shapes.length]!(next());
    for (const b of bytes) out[i++] = b;
  }
  return out;
}
function nodeBinary(): Buffer {
  return readFileSync(process.execPath).subarray(1 << 20, 3 << 20);
}

test('xz: every filter and check xz writes, decoded byte for byte', { skip: !HAVE_XZ && NO_XZ, timeout: 240_000 }, async (t) => {
  const inputs: [string, Buffer][] = [
    ['arm64 Image', arm64Image()],
    ['x86-64 code', nodeBinary()],
    ['call-shaped words', callShapedWords(12345, 1 << 19)],
  ];
  const filters = ['', '--x86', '--powerpc', '--ia64', '--arm', '--armthumb', '--sparc', '--arm64', '--delta=dist=4', '--x86=start=4096 --delta=dist=2'];
  const checks = ['none', 'crc32', 'crc64', 'sha256'];
  for (const [what, data] of inputs) {
    for (const f of filters) {
      // xz 5.4 knows --arm64; older xz does not: skip just that filter then.
      if (f === '--arm64' && run('xz --arm64 --lzma2 -c', Buffer.from('x')).status !== 0) continue;
      const check = checks[(filters.indexOf(f) + inputs.findIndex(([w]) => w === what)) % checks.length]!;
      const cmd = `xz -c -T1 --check=${check} ${f} --lzma2=preset=6`;
      const z = compress(cmd, data);
      const { out, end } = await decode(xz, z, 4093);
      assert.equal(sha(out), sha(data), `${what}: ${cmd}`);
      assert.equal(end, z.length, `${what}: ${cmd}: end of stream`);
    }
  }
  t.diagnostic(`${inputs.length * filters.length} streams decoded`);
});

test('xz: multi-block streams, stored chunks, every input chunking', { skip: !HAVE_XZ && NO_XZ, timeout: 120_000 }, async () => {
  const data = Buffer.concat([arm64Image().subarray(0, 300_000), Buffer.alloc(70_000, 0x55), callShapedWords(7, 50_000)]);
  for (const cmd of ['xz -c -T1 --block-size=65536', 'xz -c -T1 -0', 'xz -c -T1 -9e', 'xz -c -T1 --lzma2=lc=0,lp=4,pb=0', 'xz -c -T1 --lzma2=lc=4,lp=0,pb=4,mode=fast']) {
    const z = compress(cmd, data);
    for (const chunk of [1, 7, 4096, 1 << 20]) {
      if (chunk === 1 && z.length > 200_000) continue;
      const { out, end } = await decode(xz, z, chunk);
      assert.equal(sha(out), sha(data), `${cmd}, chunks of ${chunk}`);
      assert.equal(end, z.length);
    }
  }
  // Incompressible data: xz stores LZMA2 uncompressed chunks.
  const random = callShapedWords(99, 200_000).map((b, i) => (b * 2654435761 + i) & 0xff);
  const z = compress('xz -c -T1', random);
  assert.equal(sha((await decode(xz, z, 1000)).out), sha(random));
});

test('lzma (LZMA-alone): unknown size as the kernel writes it, and a known size', { skip: !HAVE_XZ && NO_XZ, timeout: 60_000 }, async () => {
  const data = arm64Image();
  const z = compress('xz --format=lzma -9 -c', data);
  assert.ok(z.subarray(5, 13).every((b) => b === 0xff), 'xz writes an unknown size');
  const r = await decode(lzma, z, 999);
  assert.equal(sha(r.out), sha(data));
  assert.equal(r.end, z.length);
  // The same stream with its size declared (then the end marker is optional, as liblzma accepts it).
  const known = Buffer.from(z);
  known.writeBigUInt64LE(BigInt(data.length), 5);
  const k = await decode(lzma, known);
  assert.equal(sha(k.out), sha(data));
  const tooSmall = Buffer.from(z);
  tooSmall.writeBigUInt64LE(BigInt(data.length - 1000), 5);
  await assert.rejects(decode(lzma, tooSmall), /data continues past the declared uncompressed size/);
});

/** Does the native xz accept this stream? (`xz -t`, single stream: trailing garbage is refused by xz too.) */
const xzAccepts = (z: Uint8Array, format: 'xz' | 'lzma'): boolean => run(`xz --format=${format} -t -c`, z).status === 0;

for (const format of ['xz', 'lzma'] as const) {
  test(`${format}: single-byte corruptions — kimg fails exactly when xz -t fails, and never returns wrong bytes`, { skip: !HAVE_XZ && NO_XZ, timeout: 240_000 }, async () => {
    const data = arm64Image().subarray(0, 200_000);
    const z = compress(format === 'xz' ? 'xz -c -T1 --check=crc32 --block-size=100000' : 'xz --format=lzma -6 -c', data);
    let x = 2024;
    let agreed = 0;
    for (let n = 0; n < 150; n++) {
      x = (x * 1103515245 + 12345) >>> 0;
      // Corrupt the headers, index and footer often, the compressed body sometimes.
      const at = n % 3 === 0 ? x % z.length : n % 3 === 1 ? x % 64 : z.length - 1 - (x % 64);
      // LZMA-alone's size/dictionary fields are sniffed more strictly than xz reads them: skip those.
      if (format === 'lzma' && at < 13) continue;
      const bad = Buffer.from(z);
      bad[at]! ^= 1 << (x >>> 29);
      const native = xzAccepts(bad, format);
      let ours: Buffer | CodecError;
      try {
        ours = (await decode(format === 'xz' ? xz : lzma, bad, 8192)).out;
      } catch (e) {
        assert.ok(e instanceof CodecError, `byte ${at}: ${String(e)}`);
        ours = e;
      }
      if (native) {
        assert.ok(!(ours instanceof CodecError), `byte ${at}: xz -t accepts, kimg says ${ours instanceof CodecError ? ours.message : ''}`);
        assert.equal(sha(ours), sha(run(`xz --format=${format} -dc`, bad).stdout), `byte ${at}: same bytes as xz -dc`);
      } else {
        // LZMA-alone has no checksum: a flipped bit may decode "successfully" to other bytes in both tools.
        assert.ok(ours instanceof CodecError, `byte ${at}: xz -t refuses, kimg decoded ${(ours as Buffer).length} bytes`);
      }
      agreed++;
    }
    assert.ok(agreed > 100);
  });

  test(`${format}: truncated at any point -> "stream truncated", with the offset`, { skip: !HAVE_XZ && NO_XZ, timeout: 120_000 }, async () => {
    const data = arm64Image().subarray(0, 100_000);
    const z = compress(format === 'xz' ? 'xz -c -T1' : 'xz --format=lzma -c', data);
    for (const cut of [1, 5, 12, 13, 20, 100, z.length >> 1, z.length - 40, z.length - 12, z.length - 1]) {
      await assert.rejects(decode(format === 'xz' ? xz : lzma, z.subarray(0, cut)), (e: unknown) => {
        assert.ok(e instanceof CodecError, String(e));
        if (cut > 13 || format === 'xz') assert.match(e.message, /truncated|not an LZMA-alone header/, `cut at ${cut}: ${e.message}`);
        return true;
      });
    }
  });
}

test('xz: header fields it cannot honour are refused with a reason', async () => {
  const good = readFileSync(join(REPO, 'test/fixtures/codecs/arm64-bcj.xz'));
  const withCheck = (id: number): Buffer => {
    const b = Buffer.from(good);
    b[7] = id;
    // Recompute the header CRC32 so only the check type is "wrong".
    b.writeUInt32LE(crc32(b.subarray(6, 8)), 8);
    return b;
  };
  await assert.rejects(decode(xz, withCheck(2)), /unsupported integrity check type 2/);
  const flagged = Buffer.from(good);
  flagged[6] = 1;
  await assert.rejects(decode(xz, flagged), /stream header CRC32 mismatch/);
});
