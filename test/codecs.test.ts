import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodecError } from '../src/codecs/errors.js';
import { defaultCodecs, CodecRegistry } from '../src/codecs/registry.js';
import type { Codec } from '../src/codecs/types.js';
import { implementationsOf } from './helpers.js';

// dist/test/codecs.test.js -> repo root is two levels up
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = resolve(root, '..', 'shared');
const corpus = join(shared, 'corpus');
const fixtures = join(root, 'test', 'fixtures', 'codecs');
const reg = defaultCodecs();
const codec = (name: string): Codec => {
  const c = reg.get(name);
  assert.ok(c, `codec ${name} registered`);
  return c;
};
const BIG = 1 << 30;

async function* chunked(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
async function decodeAll(c: Codec, data: Uint8Array, maxOutput = BIG, chunk = 65536): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of c.decode(chunked(data, chunk), { maxOutput })) parts.push(p);
  return Buffer.concat(parts);
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
function compressWith(cmd: string, input: Uint8Array): Buffer {
  const r = spawnSync('sh', ['-c', cmd], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

// MANIFEST.md of ../shared/corpus, payload rows (data, hard-coded on purpose).
const MANIFEST: [file: string, codec: string, off: number, size: number, bytes: number, sha256: string][] = [
  ['arm64-gzip-linux6.1.efi', 'gzip', 13000, 752490, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-gzip.efi', 'gzip', 46312, 879630, 2555904, '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0'],
  ['arm64-lz4.efi', 'lz4-legacy', 13624, 850591, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-lzma.efi', 'lzma', 8840, 582456, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-lzo.efi', 'lzop', 7600, 810036, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-xz.efi', 'xz', 13536, 582584, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-zstd-linux6.1.efi', 'zstd', 43712, 661636, 1739264, 'ff44c1a1162489468cdc7644a45efbcf50803ffac69140da79db442777e6c265'],
  ['arm64-zstd.efi', 'zstd', 95512, 763065, 2555904, '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0'],
  ['riscv-gzip.efi', 'gzip', 38392, 545803, 1085440, 'b8cd47bb004b1cd4885b0df4ac27520a1d02346c60ab3d2cc7c0b8d2aec54413'],
  ['riscv-zstd-linux6.1.efi', 'zstd', 42808, 513896, 949248, '3f08d370356ca8ddb45259c9afdca47a8d79c6f54029672da2ad6318a555d8a1'],
];

for (const [file, name, off, size, bytes, expect] of MANIFEST) for (const { label, codec: c, skip } of implementationsOf(name)) {
  test(`corpus: ${file} (${label})`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const path = join(corpus, file);
    if (!existsSync(path)) return t.skip(`corpus not found at ${corpus} (../shared absent): skipped`);
    const img = readFileSync(path);
    const payload = img.subarray(off, off + size);
    assert.equal(reg.sniff(payload)?.name, name, 'sniffed codec');
    const out = await decodeAll(c, payload);
    assert.equal(out.length, bytes);
    assert.equal(sha(out), expect);
    // With the kernel's le32 size trailer (and anything after it) included, the decoder must stop cleanly.
    const withTrailer = img.subarray(off, off + size + 4 + 64);
    const out2 = await decodeAll(c, withTrailer);
    assert.equal(sha(out2), expect, 'trailing data after the stream is ignored');
  });
}

// A deterministic, compressible but not trivial test payload (~1.2 MiB), or a slice of a real kernel.
function samplePayload(): Buffer {
  const real = join(corpus, 'arm64-gzip-linux6.1.Image');
  if (existsSync(real)) return readFileSync(real).subarray(0, 1_200_000);
  const b = Buffer.alloc(1_200_000);
  let s = 7;
  for (let i = 0; i < b.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = (s >>> 24) % 7 === 0 ? s & 0xff : 0x41 + ((i >> 5) % 26);
  }
  return b;
}
const sample = samplePayload();

// How each codec's stream is made with the native tool (the kernel's options), and whether the format
// carries an integrity check (so that corruption must be detected).
const MAKERS: Record<string, { tool: string; cmd: string; checked: boolean }> = {
  gzip: { tool: 'gzip', cmd: 'gzip -n -9', checked: true },
  zstd: { tool: 'zstd', cmd: 'zstd -q -19 -c', checked: true },
  xz: { tool: 'xz', cmd: 'xz --check=crc32 --lzma2=dict=1MiB -c', checked: true },
  lzma: { tool: 'lzma', cmd: 'lzma -9 -c', checked: false },
  'lz4-legacy': { tool: 'lz4', cmd: 'lz4 -q -l -9 -c', checked: false },
  // the lz4 CLI's default frame: content checksum on, so corruption must be detected
  'lz4-frame': { tool: 'lz4', cmd: 'lz4 -q -9 -c', checked: true },
  lzop: { tool: 'lzop', cmd: 'lzop -9 -c', checked: true },
  bzip2: { tool: 'bzip2', cmd: 'bzip2 -9 -c', checked: true },
};

for (const [name, mk] of Object.entries(MAKERS)) for (const { label, codec: c, skip } of implementationsOf(name)) {
  const made = () => compressWith(mk.cmd, sample);
  test(`${label}: native-made stream round trip`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(mk.tool)) return t.skip(`${mk.tool} not installed: skipped`);
    const z = made();
    assert.equal(reg.sniff(z)?.name, name);
    const out = await decodeAll(c, z, BIG, 7777); // odd chunk size: headers span chunks
    assert.equal(sha(out), sha(sample));
  });

  test(`${label}: corrupt bytes halfway -> CodecError or (unchecked formats) wrong output, never a hang`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(mk.tool)) return t.skip(`${mk.tool} not installed: skipped`);
    const z = Buffer.from(made());
    const mid = z.length >> 1;
    for (let i = 0; i < 16; i++) z[mid + i] = z[mid + i]! ^ 0x5a;
    let out: Buffer | undefined;
    try {
      out = await decodeAll(c, z);
    } catch (e) {
      assert.ok(e instanceof CodecError, `expected CodecError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
      assert.equal(e.codec, name);
      return;
    }
    assert.ok(!mk.checked, `${name} has integrity checks: corruption must raise a CodecError`);
    assert.notEqual(sha(out), sha(sample), 'corruption went unnoticed and produced the original?');
  });

  test(`${label}: truncated stream -> CodecError`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(mk.tool)) return t.skip(`${mk.tool} not installed: skipped`);
    const z = made();
    const cut = z.subarray(0, (z.length >> 1) + 3);
    await assert.rejects(decodeAll(c, cut), (e: unknown) => e instanceof CodecError && e.codec === name);
  });

  test(`${label}: maxOutput stops early`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(mk.tool)) return t.skip(`${mk.tool} not installed: skipped`);
    const z = made();
    const limit = 100_000;
    let produced = 0;
    let pulled = 0;
    async function* counting() {
      for await (const c of chunked(z, 4096)) {
        pulled += c.length;
        yield c;
      }
    }
    for await (const out of c.decode(counting(), { maxOutput: limit })) produced += out.length;
    assert.ok(produced > limit, 'went past the limit (the signal for the pipeline)');
    // lz4-legacy decodes whole 8 MiB blocks: on this 1.2 MB sample it cannot stop earlier than the end of
    // the block holding the limit. The pipeline enforces the limit on what it receives either way
    // (test/pipeline.test.ts, maxDecodedSize). bzip2 stops within one 256 KiB output chunk of it.
    // lz4-frame's default block max size is 4 MiB: the same holds for it.
    const wholeBlocks = name === 'lz4-legacy' || name === 'lz4-frame';
    if (!wholeBlocks) assert.ok(produced < sample.length, `stopped before the end (${produced} of ${sample.length})`);
    if (name === 'bzip2') assert.ok(produced <= limit + 256 * 1024, `bzip2 stopped within one output chunk (${produced} for a limit of ${limit})`);
    if (!wholeBlocks && name !== 'bzip2') assert.ok(pulled < z.length, `did not read all input (${pulled} of ${z.length})`);
  });

  test(`${label}: garbage input -> CodecError`, { timeout: 30_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const junk = Buffer.alloc(4096, 0x77);
    await assert.rejects(decodeAll(c, junk), (e: unknown) => e instanceof CodecError && e.codec === name);
  });
}

test('xz: ARM64 BCJ stream made by the native xz --arm64', { timeout: 60_000 }, async (t) => {
  if (!have('xz') || spawnSync('xz', ['--arm64', '--lzma2', '-c'], { input: 'x' }).status !== 0) return t.skip('xz with --arm64 (>= 5.4) not installed: skipped');
  const z = compressWith('xz --check=crc32 --arm64 --lzma2=dict=32MiB -c', sample);
  assert.equal(sha(await decodeAll(codec('xz'), z)), sha(sample));
});

for (const f of ['arm64-bcj.xz', 'riscv-bcj.xz']) {
  test(`xz: committed fixture ${f} (BCJ filter made by liblzma 5.8.2)`, { timeout: 60_000 }, async () => {
    const z = readFileSync(join(fixtures, f));
    const want = readFileSync(join(fixtures, `${f}.sha256`), 'utf8').trim();
    const out = await decodeAll(codec('xz'), z);
    assert.equal(out.length, 98304);
    assert.equal(sha(out), want);
  });
}

test('bzip2: stream with a le32 size trailer after it: decoded, trailer reported through onStreamEnd', { timeout: 60_000 }, async (t) => {
  if (!have('bzip2')) return t.skip('bzip2 not installed: skipped');
  const z = compressWith('bzip2 -9 -c', sample);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(sample.length);
  const ends: number[] = [];
  const parts: Uint8Array[] = [];
  for await (const p of codec('bzip2').decode(chunked(Buffer.concat([z, trailer]), 999), { maxOutput: BIG, onStreamEnd: (n) => ends.push(n) })) parts.push(p);
  assert.equal(sha(Buffer.concat(parts)), sha(sample));
  assert.deepEqual(ends, [z.length]);
});

test('bzip2: truncation reads "stream truncated at input offset N" (like bzip2 -t: "file ends unexpectedly")', { timeout: 60_000 }, async (t) => {
  if (!have('bzip2')) return t.skip('bzip2 not installed: skipped');
  const z = compressWith('bzip2 -9 -c', sample);
  for (const cut of [5, 200, z.length >> 1, z.length - 3]) {
    await assert.rejects(decodeAll(codec('bzip2'), z.subarray(0, cut)), (e: unknown) => {
      assert.ok(e instanceof CodecError, String(e));
      assert.equal(e.message, `bzip2: stream truncated at input offset ${cut}`);
      assert.equal(e.inputOffset, cut);
      return true;
    });
  }
});

test('bzip2: a flipped byte fails the block CRC or the Huffman data, never a TypeError', { timeout: 60_000 }, async (t) => {
  if (!have('bzip2')) return t.skip('bzip2 not installed: skipped');
  const z = compressWith('bzip2 -9 -c', sample);
  for (const at of [12, 40, 1000, z.length >> 1, z.length - 8]) {
    const bad = Buffer.from(z);
    bad[at] = bad[at]! ^ 0x10;
    await assert.rejects(decodeAll(codec('bzip2'), bad), (e: unknown) => e instanceof CodecError && /at input offset \d+/.test(e.message));
  }
});

test('bzip2: sniff wants BZh1-9 then the block or end-of-stream magic', () => {
  const bz = codec('bzip2');
  assert.equal(bz.sniff!(Buffer.from('BZh91AY&SY')), true);
  assert.equal(bz.sniff!(Buffer.from([0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90])), true);
  assert.equal(bz.sniff!(Buffer.from('BZh9 hello')), false);
  assert.equal(bz.sniff!(Buffer.from('BZh01AY&SY')), false);
});

test('registry: names, get, sniff, register', () => {
  assert.deepEqual(reg.names().sort(), ['bzip2', 'gzip', 'lz4-frame', 'lz4-legacy', 'lzma', 'lzop', 'xz', 'zstd']);
  assert.equal(reg.sniff(Buffer.from('hello world, not compressed')), undefined);
  const r = new CodecRegistry();
  const fake: Codec = { name: 'fake', description: 'd', library: 'none', sniff: (h) => h[0] === 1, decode: async function* () {} };
  r.register(fake);
  assert.equal(r.get('fake'), fake);
  assert.equal(r.sniff(Uint8Array.of(1)), fake);
});

test('registry: importing it loads no decoder library', () => {
  const reg = join(root, 'dist', 'src', 'codecs', 'registry.js');
  const script = `import(${JSON.stringify(reg)}).then(() => { const { createRequire } = require('node:module');
    const loaded = Object.keys(require.cache).filter((k) => /node_modules[\\\\/](lz4-napi|lzo-ts|zstddec)/.test(k));
    console.log(JSON.stringify(loaded)); })`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), []);
});
