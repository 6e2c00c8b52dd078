import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, crc32 } from 'node:zlib';
import { CodecError } from '../src/codecs/errors.js';
import { defaultCodecs } from '../src/codecs/registry.js';
import type { Codec } from '../src/codecs/types.js';
import { implementationsOf } from './helpers.js';

// Codec-level bounds (output overshoot past maxOutput), stream ends and trailing data, per codec (gzip, zstd, lz4-legacy, lzop, bzip2);
// zstd through each of its implementations (node:zlib, wasm).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'codecs');
const reg = defaultCodecs();
const codec = (name: string): Codec => reg.get(name)!;
const MiB = 1 << 20;
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const sh = (cmd: string, input?: Uint8Array): Buffer => {
  const r = spawnSync('sh', ['-c', cmd], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
};
async function* chunked(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
async function decode(c: Codec, data: Uint8Array, maxOutput = 1 << 30) {
  const parts: Uint8Array[] = [];
  const ends: number[] = [];
  for await (const p of c.decode(chunked(data), { maxOutput, onStreamEnd: (n) => ends.push(n) })) parts.push(p);
  return { out: Buffer.concat(parts), ends };
}

// Bombs: 512 MiB of zeros made by the native tool at test time (bzip2: the committed 3 KB fixture of 4 GiB).
const BOMBS: Record<string, { tool: string; make: () => Buffer; slack: number }> = {
  gzip: { tool: 'gzip', make: () => sh('head -c 512M /dev/zero | gzip -1'), slack: MiB },
  zstd: { tool: 'zstd', make: () => sh('head -c 512M /dev/zero | zstd -q -1 -c'), slack: MiB },
  'lz4-legacy': { tool: 'lz4', make: () => sh('head -c 512M /dev/zero | lz4 -q -l -1 -c'), slack: 8 * MiB },
  'lz4-frame': { tool: 'lz4', make: () => sh('head -c 512M /dev/zero | lz4 -q -B7 -1 -c'), slack: 4 * MiB },
  lzop: { tool: 'lzop', make: () => sh('head -c 512M /dev/zero | lzop -1 -c'), slack: MiB },
  bzip2: { tool: 'sh', make: () => readFileSync(join(fixtures, 'zeros-4GiB.bz2')), slack: MiB },
};

for (const [name, bomb] of Object.entries(BOMBS)) for (const { label, codec: c, skip } of implementationsOf(name)) {
  test(`${label}: bomb stops within ${bomb.slack / MiB} MiB after maxOutput 100 MiB, event loop never blocked 500 ms`, { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(bomb.tool)) return t.skip(`${bomb.tool} not installed: skipped`);
    const z = bomb.make();
    const limit = 100 * MiB;
    let produced = 0;
    let worstGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    try {
      for await (const out of c.decode(chunked(z), { maxOutput: limit })) produced += out.length;
    } finally {
      clearInterval(timer);
    }
    assert.ok(produced > limit, `went past the limit (${produced})`);
    assert.ok(produced <= limit + bomb.slack, `stopped within ${bomb.slack} bytes of the limit (${produced - limit} over)`);
    // Issue 8 asks for signals honoured within a second; the suite runs test files side by side on two
    // cores, so a gap can include being descheduled: 500 ms keeps half the budget and does not flake.
    assert.ok(worstGap < 500, `worst event-loop gap ${worstGap.toFixed(0)} ms`);
  });
}

test('bzip2: the 4 GiB bomb with maxOutput 100 MiB peaks below 160 MiB RSS (child process)', { timeout: 120_000 }, () => {
  const script = `
    const { defaultCodecs } = await import(${JSON.stringify(join(root, 'dist', 'src', 'codecs', 'registry.js'))});
    const { readFileSync } = await import('node:fs');
    const data = readFileSync(${JSON.stringify(join(fixtures, 'zeros-4GiB.bz2'))});
    async function* src() { yield data; }
    let n = 0;
    for await (const c of defaultCodecs().get('bzip2').decode(src(), { maxOutput: 100 * 1024 * 1024 })) n += c.length;
    // VmHWM is this process's own peak. getrusage's maxRSS is not: on Linux a spawned child starts with the
    // high-water mark of the parent it was forked from (the test runner, after the in-process bombs above).
    let hwm = null;
    try { hwm = Number(/VmHWM:\\s*(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]); } catch {}
    console.log(JSON.stringify({ n, maxRssKiB: hwm || process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { n, maxRssKiB } = JSON.parse(r.stdout.trim()) as { n: number; maxRssKiB: number };
  assert.ok(n > 100 * MiB && n <= 101 * MiB, `decoded ${n}`);
  assert.ok(maxRssKiB < 160 * 1024, `peak RSS ${(maxRssKiB / 1024).toFixed(0)} MiB`);
});

// Where each stream ends, with data after it: exact byte counts through onStreamEnd.
const sample = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
const ENDERS: Record<string, { tool: string; cmd: string }> = {
  gzip: { tool: 'gzip', cmd: 'gzip -n -9' },
  zstd: { tool: 'zstd', cmd: 'zstd -q -19 -c' },
  'lz4-legacy': { tool: 'lz4', cmd: 'lz4 -q -l -9 -c' },
  'lz4-frame': { tool: 'lz4', cmd: 'lz4 -q -9 -c' },
  lzop: { tool: 'lzop', cmd: 'lzop -9 -c' },
  bzip2: { tool: 'bzip2', cmd: 'bzip2 -9 -c' },
};
for (const [name, e] of Object.entries(ENDERS)) for (const { label, codec: c, skip } of implementationsOf(name)) {
  test(`${label}: onStreamEnd reports the stream's exact length; a le32 size trailer after it is not decoded`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(e.tool)) return t.skip(`${e.tool} not installed: skipped`);
    const z = sh(e.cmd, sample);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(sample.length);
    const { out, ends } = await decode(c, Buffer.concat([z, trailer, Buffer.alloc(60, 0xee)]));
    assert.ok(out.equals(sample));
    assert.deepEqual(ends, [z.length]);
  });
}

// lz4-legacy with several 8 MiB blocks: with blocks in flight the size trailer can only be recognised once
// the blocks before it are decoded, and a corrupt block must fail after the good ones before it were yielded.
for (const { label, codec: c } of implementationsOf('lz4-legacy')) {
  test(`${label}: 3 blocks of 8 MiB and a short one, then the size trailer: exact output and stream end; a corrupt 2nd block fails after the 1st`, { timeout: 60_000 }, async (t) => {
    if (!have('lz4')) return t.skip('lz4 not installed: skipped');
    const data = Buffer.alloc(3 * 8 * MiB + 300_000);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const z = sh('lz4 -q -l -1 -c', data);
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(data.length);
    const { out, ends } = await decode(c, Buffer.concat([z, trailer, Buffer.alloc(16, 0xee)]));
    assert.ok(out.equals(data), 'decoded bytes equal the input');
    assert.deepEqual(ends, [z.length]);
    // Corrupt the second block's first sequence (after magic, size word, block 1, size word).
    const second = 4 + 4 + z.readUInt32LE(4) + 4;
    const bad = Buffer.from(z);
    bad.fill(0xff, second, second + 8);
    const parts: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const p of c.decode(chunked(bad), { maxOutput: 1 << 30 })) parts.push(p.length);
      })(),
      (e: unknown) => e instanceof CodecError && e.message.includes(`corrupt block at input offset ${second - 4}`),
    );
    assert.deepEqual(parts, [8 * MiB], 'the good first block came out before the error');
  });
}

test('gzip: two members decode to the first (kernel decompress_inflate.c); the second is trailing', async () => {
  const a = gzipSync(Buffer.from('first member '.repeat(1000)));
  const b = gzipSync(Buffer.from('second'));
  const { out, ends } = await decode(codec('gzip'), Buffer.concat([a, b]));
  assert.equal(out.toString(), 'first member '.repeat(1000));
  assert.deepEqual(ends, [a.length]);
});

test('gzip: wrong CRC32, wrong ISIZE and a cut trailer each say what failed', async () => {
  const data = Buffer.from('kernel '.repeat(5000));
  const z = gzipSync(data);
  const badCrc = Buffer.from(z);
  badCrc.writeUInt32LE((crc32(data) ^ 1) >>> 0, z.length - 8);
  await assert.rejects(decode(codec('gzip'), badCrc), (e: unknown) => e instanceof CodecError && /^gzip: CRC32 mismatch at input offset \d+/.test(e.message) && e.inputOffset === z.length - 8);
  const badSize = Buffer.from(z);
  badSize.writeUInt32LE(data.length + 1, z.length - 4);
  await assert.rejects(decode(codec('gzip'), badSize), (e: unknown) => e instanceof CodecError && e.message === `gzip: ISIZE mismatch at input offset ${z.length - 4} (stored ${data.length + 1}, decoded ${data.length} bytes mod 2^32)`);
  await assert.rejects(decode(codec('gzip'), z.subarray(0, z.length - 3)), (e: unknown) => e instanceof CodecError && e.message.startsWith(`gzip: stream truncated at input offset ${z.length - 3}`));
});

for (const { label, codec: zstd, skip: notHere } of implementationsOf('zstd')) test(`${label}: skippable frames before the frame are skipped (as zstd -d does); the length covers them`, async (t) => {
  if (notHere) return t.skip(notHere);
  if (!have('zstd')) return t.skip('zstd not installed: skipped');
  const z = sh('zstd -q -3 -c', sample);
  const skip = (magicLow: number, n: number) => {
    const h = Buffer.alloc(8 + n, 0xab);
    h.writeUInt32LE(0x184d2a50 + magicLow, 0);
    h.writeUInt32LE(n, 4);
    return h;
  };
  const input = Buffer.concat([skip(0, 10), skip(0xf, 70_000), z, z]);
  assert.equal(reg.sniff(input)?.name, 'zstd');
  const { out, ends } = await decode(zstd, input);
  assert.ok(out.equals(sample), 'the first real frame only (kernel decompress_unzstd.c decodes one frame)');
  assert.deepEqual(ends, [18 + 70_008 + z.length]);
  await assert.rejects(decode(zstd, skip(0, 100).subarray(0, 50)), (e: unknown) => e instanceof CodecError && /stream truncated at input offset 50/.test(e.message));
});

// Signals during a bomb's decode: test/codec-bounds.test.ts.

for (const [name, e] of Object.entries(ENDERS)) for (const { label, codec: c, skip } of implementationsOf(name)) {
  test(`${label}: a stream cut in half reads "stream truncated at input offset <cut>" (not corruption)`, { timeout: 60_000 }, async (t) => {
    if (skip) return t.skip(skip);
    if (!have(e.tool)) return t.skip(`${e.tool} not installed: skipped`);
    const z = sh(e.cmd, sample);
    const cut = (z.length >> 1) + 3;
    await assert.rejects(decode(c, z.subarray(0, cut)), (err: unknown) => {
      assert.ok(err instanceof CodecError, String(err));
      assert.ok(err.message.startsWith(`${name}: stream truncated at input offset ${cut}`), err.message);
      assert.equal(err.inputOffset, cut);
      return true;
    });
  });
}
