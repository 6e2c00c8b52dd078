/** xz and LZMA-alone: strict sniffing, the end of the first stream, bombs stopped early without starving the event loop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { defaultCodecs, lzma, xz } from '../src/codecs/registry.js';
import { isLzmaAloneHeader } from '../src/codecs/lzma.js';
import type { Codec } from '../src/codecs/types.js';
import { hasCommand } from './helpers.js';

async function* chunked(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Decode everything, returning the byte count and what onStreamEnd reported. */
async function drain(c: Codec, data: Uint8Array, maxOutput = 1 << 30): Promise<{ bytes: number; ends: number[] }> {
  const ends: number[] = [];
  let bytes = 0;
  for await (const chunk of c.decode(chunked(data), { maxOutput, onStreamEnd: (n) => ends.push(n) })) bytes += chunk.length;
  return { bytes, ends };
}

/** Deterministic pseudo-random bytes (xorshift32), so a failure reproduces. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const tools = hasCommand('xz');
const NO_XZ = 'the native xz is not installed (apt-get install xz-utils): skipped';

test('no codec sniff claims an ELF file or random data', () => {
  const registry = defaultCodecs();
  const elf = readFileSync('/bin/ls').subarray(0, 4096);
  assert.equal(registry.sniff(elf)?.name, undefined, 'ELF /bin/ls');
  for (let seed = 1; seed <= 2000; seed++) {
    const head = randomBytes(64, seed);
    assert.equal(registry.sniff(head)?.name, undefined, `random bytes, seed ${seed}`);
  }
});

test('LZMA-alone header check: the kernel/xz limits on props, dictionary and size', () => {
  const header = (props: number, dict: number, size: bigint | 'unknown'): Uint8Array => {
    const h = new Uint8Array(13);
    const v = new DataView(h.buffer);
    h[0] = props;
    v.setUint32(1, dict, true);
    if (size === 'unknown') h.fill(0xff, 5);
    else v.setBigUint64(5, size, true);
    return h;
  };
  assert.ok(isLzmaAloneHeader(header(0x5d, 64 << 20, 'unknown')), 'lzma -9 as the kernel runs it');
  assert.ok(isLzmaAloneHeader(header(0x5d, 3 << 20, 1234n)), '2^n + 2^(n-1) dictionary, known size');
  assert.equal(isLzmaAloneHeader(header(225, 1 << 20, 'unknown')), false, 'props >= 225');
  assert.equal(isLzmaAloneHeader(header(3 + 9 * 1, 1 << 20, 'unknown')), true, 'lc=3 lp=1: lc+lp = 4');
  assert.equal(isLzmaAloneHeader(header(4 + 9 * 1, 1 << 20, 'unknown')), false, 'lc=4 lp=1: lc+lp > 4');
  assert.equal(isLzmaAloneHeader(header(0x5d, (1 << 20) + 1, 'unknown')), false, 'dictionary not a size xz writes');
  assert.equal(isLzmaAloneHeader(header(0x5d, 2048, 'unknown')), false, 'dictionary below 4 KiB');
  assert.equal(isLzmaAloneHeader(header(0x5d, 2 ** 31, 'unknown')), false, 'dictionary above 1.5 GiB');
  assert.equal(isLzmaAloneHeader(header(0x5d, 1 << 20, 2n ** 40n)), false, 'size >= 2^40');
});

test('xz and lzma report where the first stream ended; trailing bytes are not decoded', { skip: !tools && NO_XZ, timeout: 60_000 }, async () => {
  const plain = Buffer.from('kimg '.repeat(50_000));
  const trailer = Buffer.from([0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]); // stream padding, then a kernel-style size
  for (const [codec, cmd] of [[xz, 'xz --check=crc32 -c'], [lzma, 'xz --format=lzma -c']] as const) {
    const stream = execSync(cmd, { input: plain });
    const { bytes, ends } = await drain(codec, Buffer.concat([stream, trailer, stream]));
    assert.equal(bytes, plain.length, `${codec.name}: the first stream only`);
    assert.deepEqual(ends, [stream.length], `${codec.name}: consumed bytes of the first stream`);
  }
});

for (const [name, codec, cmd] of [['xz', xz, 'xz -1 -T1 -c'], ['lzma', lzma, 'xz --format=lzma -1 -c']] as const) {
  test(`${name} bomb: 1 GiB of zeros stops soon after maxOutput, and timers keep running`, { skip: !tools && NO_XZ, timeout: 120_000 }, async () => {
    const bomb = execSync(`head -c 1G /dev/zero | ${cmd}`, { maxBuffer: 64 << 20 });
    const maxOutput = 100 << 20;
    let worstLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstLag = Math.max(worstLag, now - last - 10);
      last = now;
    }, 10);
    let bytes = 0;
    const started = performance.now();
    try {
      for await (const chunk of codec.decode(chunked(bomb), { maxOutput })) bytes += chunk.length;
    } finally {
      clearInterval(timer);
    }
    worstLag = Math.max(worstLag, performance.now() - last - 10); // a timer that never fired is the worst lag
    assert.ok(bytes > maxOutput, 'decoded past the limit, so the pipeline can report it');
    assert.ok(bytes <= maxOutput + (2 << 20), `stopped within 2 MiB of maxOutput (got ${bytes})`);
    const took = performance.now() - started;
    assert.ok(worstLag < 250, `event loop lag ${worstLag.toFixed(1)} ms in a ${took.toFixed(0)} ms decode`);
  });
}

test('LZMA-alone sniff: a valid-looking header followed by bytes that do not decode is not claimed', { skip: !tools && NO_XZ }, () => {
  const header = Buffer.from([0x5d, 0, 0, 0x80, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  let claimed = 0;
  for (let seed = 1; seed <= 200; seed++) {
    // The range coder's first byte is 0 in every real stream; give the trial decode a fair chance.
    const body = randomBytes(4096, seed);
    body[0] = 0;
    if (lzma.sniff!(Buffer.concat([header, body]))) claimed++;
  }
  assert.ok(claimed <= 2, `claimed ${claimed} of 200 random bodies`);
  const real = execSync('xz --format=lzma -9 -c', { input: readFileSync('/bin/ls') });
  assert.ok(lzma.sniff!(real.subarray(0, 4096)), 'a real lzma -9 stream is claimed');
  assert.ok(lzma.sniff!(real.subarray(0, 40)), 'and its first 40 bytes alone (truncation is not a reason to refuse)');
});
