import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CodecError } from '../src/codecs/errors.js';
import { decodeLzo1x, LzoFormatError } from '../src/codecs/lzo1x.js';
import { lzopCodec } from '../src/codecs/lzop.js';

// kimg's LZO1X decoder against lzop 1.04 (liblzo2's lzo1x_decompress_safe) as the oracle: streams made by
// `lzop -F` (no block checksums, so the decoder alone decides), then single-byte corruptions: kimg must fail
// exactly when `lzop -d` fails, and otherwise produce the same bytes.
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Kernel-like data: code-shaped words, text and zero runs (all three instruction families occur). */
function sampleData(size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = 12345;
  for (let i = 0; i < size; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const kind = (i >> 12) % 4;
    if (kind === 0) b.writeUInt32LE((0x94000000 | (x >>> 8)) >>> 0, i);
    else if (kind === 1) b.write('Linux version 6.12 ', i, 'latin1');
    else if (kind === 2) b.writeUInt32LE(x & 0xff, i);
  }
  return b;
}

async function kimgDecode(z: Uint8Array): Promise<{ ok: true; out: Buffer } | { ok: false; error: unknown }> {
  const parts: Uint8Array[] = [];
  try {
    async function* one() {
      yield z;
    }
    for await (const p of lzopCodec('kimg').decode(one(), { maxOutput: 1 << 30 })) parts.push(p);
    return { ok: true, out: Buffer.concat(parts) };
  } catch (error) {
    return { ok: false, error };
  }
}

test('lzo1x: every lzop level decodes byte-identically to the input', async (t) => {
  if (!have('lzop')) return t.skip('lzop not installed: skipped');
  const data = sampleData(700_000);
  for (const level of ['-1', '-3', '-7', '-9']) {
    const z = spawnSync('lzop', [level, '-F', '-c'], { input: data, maxBuffer: 1 << 26 }).stdout;
    const r = await kimgDecode(z);
    assert.ok(r.ok, `lzop ${level}: ${r.ok ? '' : (r.error as Error).message}`);
    assert.ok(r.out.equals(data), `lzop ${level}: output differs`);
  }
});

test('lzo1x: 200 single-byte corruptions fail exactly when lzop -d fails, else give lzop\'s bytes', { timeout: 120_000 }, async (t) => {
  if (!have('lzop')) return t.skip('lzop not installed: skipped');
  const data = sampleData(200_000);
  const z = spawnSync('lzop', ['-9', '-F', '-c'], { input: data, maxBuffer: 1 << 26 }).stdout;
  // The first block's data starts after the header (name empty): corrupt only block data and block headers.
  const headerEnd = 50;
  let x = 987654321;
  let agreedFailures = 0;
  for (let i = 0; i < 200; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const at = headerEnd + (x % (z.length - headerEnd - 4));
    const bad = Buffer.from(z);
    bad[at] = bad[at]! ^ (1 + ((x >>> 16) % 255));
    const native = spawnSync('lzop', ['-d', '-c'], { input: bad, maxBuffer: 1 << 26 });
    const kimg = await kimgDecode(bad);
    const nativeOk = native.status === 0;
    assert.equal(kimg.ok, nativeOk, `byte ${at}: lzop ${nativeOk ? 'succeeds' : `fails (${native.stderr.toString().trim()})`}, kimg ${kimg.ok ? 'succeeds' : `fails (${(kimg.error as Error).message})`}`);
    if (kimg.ok) assert.ok(kimg.out.equals(native.stdout), `byte ${at}: both succeed but the output differs`);
    else {
      assert.ok(kimg.error instanceof CodecError, `byte ${at}: not a CodecError: ${String(kimg.error)}`);
      agreedFailures++;
    }
  }
  assert.ok(agreedFailures > 50, `the corruptions exercised the error paths (${agreedFailures} failures)`);
});

test('lzo1x: bounds: output overrun, distance before the start, missing end marker, input after it', () => {
  // 4 literals "abcd" (first byte 17 + 4), then the end marker 11 00 00.
  const good = Uint8Array.from([21, 0x61, 0x62, 0x63, 0x64, 0x11, 0x00, 0x00]);
  const out = new Uint8Array(4);
  assert.equal(decodeLzo1x(good, out), 4);
  assert.equal(Buffer.from(out).toString(), 'abcd');
  const fails = (src: number[], size: number, re: RegExp) =>
    assert.throws(() => decodeLzo1x(Uint8Array.from(src), new Uint8Array(size)), (e: unknown) => e instanceof LzoFormatError && re.test(e.message));
  fails([21, 0x61, 0x62, 0x63, 0x64, 0x11, 0x00, 0x00], 3, /output overrun/);
  fails([21, 0x61, 0x62, 0x63, 0x64, 0x11, 0x00, 0x00], 5, /declares 5/);
  fails([21, 0x61, 0x62, 0x63, 0x64], 4, /without the end-of-stream marker/);
  fails([21, 0x61, 0x62, 0x63, 0x64, 0x11, 0x00, 0x00, 0x00], 4, /after the end-of-stream marker/);
  // An M2 match (t = 0x40 | distance bits) reaching 9 bytes back after 4 literals.
  fails([21, 0x61, 0x62, 0x63, 0x64, 0x40 | (0 << 2), 0x01, 0x11, 0x00, 0x00], 16, /reaches before the start/);
  fails([21, 0x61, 0x62], 4, /input overrun/);
});
