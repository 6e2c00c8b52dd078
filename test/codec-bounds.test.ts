/**
 * Decompression bombs (issue 8 §2): every codec stops within a bounded number of bytes after the limit,
 * without blocking the event loop (so signals are handled), at bounded memory; SIGTERM during a decode
 * ends kimg at once with nothing left behind. Timings are not asserted (shared machines); the event
 * loop's longest gap and the child's peak RSS are facts about the run and get generous bounds.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LimitError } from '../src/core/errors.js';
import { Kimg } from '../src/kimg.js';
import { CLI, hasCommand, implementationsOf, registryWith, REPO, SAMPLES } from './helpers.js';
import { CodecError } from '../src/codecs/errors.js';
import { bzip2 } from '../src/codecs/registry.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-bombs-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const BZIP2_BOMB = join(REPO, 'test/fixtures/codecs/zeros-4GiB.bz2');
const LIMIT = 64 * 1024 * 1024;

/** 512 MiB of zeros compressed by the native tool, streamed from /dev/zero (never in memory). */
const BOMBS: Record<string, string> = {
  gzip: 'gzip -1',
  zstd: 'zstd -1 -q -c',
  xz: 'xz -0 -c',
  lzma: 'lzma -0 -c',
  'lz4-legacy': 'lz4 -l -q -c',
  'lz4-frame': 'lz4 -q -c',
  lzop: 'lzop -1 -c',
  bzip2: 'bzip2 -9 -c',
};

function bomb(name: string): string | null {
  const tool = BOMBS[name]!.split(' ')[0]!;
  if (!hasCommand(tool)) return null;
  const path = join(work, `zeros.${name}`);
  if (!existsSync(path)) execFileSync('sh', ['-c', `head -c ${512 * 1024 * 1024} /dev/zero | ${BOMBS[name]} > '${path}'`]);
  return path;
}

for (const name of Object.keys(BOMBS)) for (const { label, codec, skip } of implementationsOf(name)) {
  test(`${label} bomb (512 MiB of zeros): maxDecodedSize stops it at once, the event loop keeps turning`, { timeout: 120_000 }, async (t) => {
    if (skip) return t.skip(skip);
    const path = bomb(name);
    if (!path) return t.skip(`${BOMBS[name]!.split(' ')[0]} is not installed: cannot make the bomb`);
    const k = new Kimg({ limits: { maxDecodedSize: LIMIT }, codecs: registryWith(codec) });
    let worst = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      const now = Date.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    let decoded = 0;
    try {
      const a = await k.analyze(path, { sinkFor: () => ({ write: (c) => void (decoded += c.length) }) });
      assert.ok(a.error instanceof LimitError, `${name}: ${a.error?.describe()}`);
      assert.equal((a.error as LimitError).limit, 'maxDecodedSize');
    } finally {
      clearInterval(timer);
    }
    assert.ok(decoded <= LIMIT, `nothing past the limit reached the sink (${decoded})`);
    // One synchronous step of any decoder is a block or a chunk: far below what a signal may wait.
    assert.ok(worst < 500, `${name}: the event loop was blocked for ${worst} ms`);
  });
}

test('bzip2: the 3 KB bomb of 4 GiB of zeros stops at --max-size with bounded memory (child process RSS)', { timeout: 120_000 }, (t) => {
  if (!existsSync('/usr/bin/time')) return t.skip('GNU time is not installed: cannot measure the child\'s peak RSS');
  const out = join(work, 'bomb.out');
  const r = spawnSync('/usr/bin/time', ['-f', 'RSS_KB=%M', process.execPath, CLI, 'extract', '--max-size', '100M', BZIP2_BOMB, '-o', out], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /limit maxDecodedSize \(104857600\) exceeded/);
  const kb = Number(/RSS_KB=(\d+)/.exec(r.stderr)?.[1]);
  assert.ok(kb > 0 && kb < 160 * 1024, `peak RSS ${kb} KiB`);
  assert.ok(!existsSync(out));
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  test(`${sig} during a bomb's decode ends kimg by the signal, leaving no output and no temporary file`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(work, `sig-${sig}-`));
    const out = join(dir, 'Image');
    const child = spawn(process.execPath, [CLI, 'extract', '--max-size', '4G', BZIP2_BOMB, '-o', out], { stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
    await new Promise((r) => setTimeout(r, 700));
    const sent = Date.now();
    child.kill(sig);
    const { signal, at } = await exited;
    assert.equal(signal, sig);
    // Generous: the point is "not after the whole 4 GiB" (minutes), not a timing.
    assert.ok(at - sent < 5000, `exited ${at - sent} ms after ${sig}`);
    assert.deepEqual(readdirSync(dir), [], 'no output, no temporary file');
  });
}

test('bzip2: a truncated stream reads "stream truncated at input offset N"; trailing bytes are reported', async () => {
  const z = readFileSync(join(SAMPLES, 'riscv-gzip.Image.bz2'));
  const collect = async (input: Uint8Array, onStreamEnd?: (n: number) => void): Promise<number> => {
    let n = 0;
    async function* src(): AsyncGenerator<Uint8Array> {
      yield input;
    }
    for await (const c of bzip2.decode(src(), { maxOutput: 1 << 30, ...(onStreamEnd ? { onStreamEnd } : {}) })) n += c.length;
    return n;
  };
  await assert.rejects(collect(z.subarray(0, z.length >> 1)), (e: unknown) => e instanceof CodecError && /stream truncated at input offset \d+/.test(e.message));
  await assert.rejects(collect(z.subarray(0, z.length - 2)), (e: unknown) => e instanceof CodecError && /stream truncated/.test(e.message));
  let consumed = -1;
  const n = await collect(Buffer.concat([z, Buffer.from([1, 2, 3, 4])]), (c) => (consumed = c));
  assert.equal(n, 1011200);
  assert.equal(consumed, z.length);
  // a flipped byte inside a block: a CRC or format error, never silent
  const bad = Buffer.from(z);
  bad[z.length >> 1]! ^= 0x10;
  await assert.rejects(collect(bad), (e: unknown) => e instanceof CodecError && e.codec === 'bzip2');
  // the pipeline turns the trailing bytes into a warning naming their offset and size
  const p = join(work, 'trailing.bz2');
  writeFileSync(p, Buffer.concat([z, Buffer.from('JUNK')]));
  const a = await new Kimg().analyze(p);
  assert.equal(a.error, null, a.error?.describe());
  const tr = a.checks.find((c) => c.id === 'trailing_data');
  assert.equal(tr?.status, 'warning');
  assert.match(tr!.message, new RegExp(`^4 bytes after the end of the bzip2 stream, at file offset 0x${z.length.toString(16)}`));
});
