/**
 * The lz4-frame codec against the lz4 CLI (the reference implementation of the frame format): every block
 * size (-B4..-B7), linked blocks (-BD), content size, no content checksum, block checksums, stored
 * (incompressible) blocks, skippable frames; single-byte corruptions decided as `lz4 -t` decides them;
 * every truncation an error with its offset; a dictionary frame refused; the pipeline finding it by magic.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import xxhash from 'xxhash-wasm';
import { CodecError } from '../src/codecs/errors.js';
import { defaultCodecs, lz4Frame } from '../src/codecs/registry.js';
import { hasCommand, kimg, SAMPLES } from './helpers.js';
import { realKernel, workDir } from './inputs.js';

const NO_LZ4 = 'lz4 is not installed (Debian package lz4; .ci/run installs it): skipped';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function lz4(args: string[], input: Uint8Array): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('lz4', args, { input, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

interface Decoded {
  readonly out?: Buffer;
  readonly error?: CodecError;
  readonly end?: number;
}
async function decode(data: Uint8Array, options: { chunk?: number; maxOutput?: number } = {}): Promise<Decoded> {
  const parts: Uint8Array[] = [];
  let end: number | undefined;
  try {
    for await (const p of lz4Frame.decode(chunked(data, options.chunk ?? 65536), { maxOutput: options.maxOutput ?? 1 << 30, onStreamEnd: (n) => (end = n) })) parts.push(p);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    return { error: e };
  }
  return { out: Buffer.concat(parts), ...(end !== undefined ? { end } : {}) };
}

/** A real kernel's first 1.2 MB (several blocks at every block size), and 300 KB of incompressible bytes. */
const kernel = readFileSync(realKernel().path).subarray(0, 1_200_000);
const noise = (() => {
  const out = Buffer.alloc(300_000);
  let h = Buffer.from('kimg lz4 noise');
  for (let i = 0; i < out.length; i += 32) {
    h = createHash('sha256').update(h).digest();
    h.copy(out, i);
  }
  return out;
})();

const OPTIONS = [[], ['-B4'], ['-B5'], ['-B6'], ['-B7'], ['-BD'], ['-BD', '-B4'], ['--content-size'], ['--no-frame-crc'], ['-BX'], ['-BX', '-BD', '-B5', '--content-size'], ['-BX', '--no-frame-crc', '-B4'], ['-1'], ['-12', '-BD']];

for (const opts of OPTIONS) {
  test(`lz4 ${opts.join(' ') || '(defaults)'}: decodes to the input, as lz4 -d does; onStreamEnd = the frame's length`, async (t) => {
    if (!hasCommand('lz4')) return t.skip(NO_LZ4);
    for (const [what, src] of [
      ['kernel', kernel],
      ['incompressible', noise],
    ] as const) {
      const z = lz4(['-q', '-c', ...opts], src).stdout;
      assert.equal(z.readUInt32LE(0), 0x184d2204);
      assert.equal(defaultCodecs().sniff(z)?.name, 'lz4-frame');
      const ref = lz4(['-d', '-c'], z);
      assert.equal(ref.status, 0);
      const d = await decode(z, { chunk: 7777 });
      assert.equal(d.error, undefined, d.error?.message);
      assert.equal(sha(d.out!), sha(src), `${what}: kimg's output is the input`);
      assert.equal(sha(d.out!), sha(ref.stdout), `${what}: kimg = lz4 -d`);
      assert.equal(d.end, z.length);
      // Data after the frame is trailing: not decoded, the end still exact.
      const tail = await decode(Buffer.concat([z, Buffer.from([1, 2, 3, 4]), z]));
      assert.equal(tail.end, z.length);
      assert.equal(sha(tail.out!), sha(src));
    }
  });
}

test('skippable frames before the frame are skipped, as lz4 -d skips them', async (t) => {
  if (!hasCommand('lz4')) return t.skip(NO_LZ4);
  const z = lz4(['-q', '-c'], kernel).stdout;
  const skip = (magicLow: number, n: number) => {
    const b = Buffer.alloc(8 + n, 0xab);
    b.writeUInt32LE(0x184d2a50 | magicLow, 0);
    b.writeUInt32LE(n, 4);
    return b;
  };
  const input = Buffer.concat([skip(0, 10), skip(0xf, 70_000), z]);
  assert.equal(sha(lz4(['-d', '-c'], input).stdout), sha(kernel));
  const d = await decode(input, { chunk: 5000 });
  assert.equal(sha(d.out!), sha(kernel));
  assert.equal(d.end, input.length);
});

/** Runs `lz4 -t` on bytes: its verdict. */
function lz4Accepts(bytes: Uint8Array): boolean {
  return lz4(['-t', '-q'], bytes).status === 0;
}

for (const opts of [['-BX', '--content-size', '-B4'], ['-B4'], ['--no-frame-crc', '-B4', '-BD']]) {
  test(`corruptions of a frame made with lz4 ${opts.join(' ')}: kimg rejects exactly what lz4 -t rejects`, async (t) => {
    if (!hasCommand('lz4')) return t.skip(NO_LZ4);
    const src = kernel.subarray(0, 300_000);
    const z = lz4(['-q', '-c', ...opts], src).stdout;
    // Every byte of the header and of the first two block headers and checksums, then a stride through the rest.
    const positions = new Set<number>();
    for (let i = 0; i < 40; i++) positions.add(i);
    for (let i = 0; i < z.length; i += Math.ceil(z.length / 150)) positions.add(i);
    for (let i = z.length - 12; i < z.length; i++) positions.add(i);
    let rejected = 0;
    let zeroOffsets = 0;
    const disagreements: string[] = [];
    for (const at of [...positions].sort((a, b) => a - b)) {
      for (const mask of [0x01, 0x80]) {
        const bad = Buffer.from(z);
        bad[at] = bad[at]! ^ mask;
        const ref = lz4Accepts(bad);
        const d = await decode(bad);
        // kimg ends the frame early and calls the rest trailing data where lz4 reads the rest as a next frame.
        const kimgAccepts = d.error === undefined && d.end === bad.length;
        if (!kimgAccepts) rejected++;
        if (d.error) assert.ok(d.error.inputOffset !== undefined && d.error.inputOffset <= bad.length, `an offset with the error: ${d.error.message}`);
        // The one known difference: the block format says "the presence of a 0 offset value denotes an
        // invalid (corrupted) block"; lz4_flex (kimg's block decoder) refuses it, liblz4 1.9.4 does not check.
        if (ref && !kimgAccepts && /0 is not a valid match offset/.test(d.error?.message ?? '')) {
          zeroOffsets++;
          continue;
        }
        if (ref !== kimgAccepts) disagreements.push(`byte ${at} ^ 0x${mask.toString(16)}: lz4 -t ${ref ? 'accepts' : 'rejects'}, kimg ${d.error ? `rejects (${d.error.message})` : `accepts (end ${d.end} of ${bad.length})`}`);
        else if (ref) assert.equal(sha(d.out!), sha(lz4(['-d', '-c'], bad).stdout), `byte ${at}: accepted by both, the same output`);
      }
    }
    assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length} disagreements`);
    assert.ok(rejected > 0);
    t.diagnostic(`${positions.size * 2} corruptions, ${rejected} rejected by kimg: ${rejected - zeroOffsets} by lz4 -t too, ${zeroOffsets} with a zero match offset that lz4 -t accepts`);
  });
}

test('every truncation of a small frame is a CodecError with the offset where input ran out, as lz4 -t fails', async (t) => {
  if (!hasCommand('lz4')) return t.skip(NO_LZ4);
  const z = lz4(['-q', '-c', '-BX', '--content-size', '-B4'], kernel.subarray(0, 140_000)).stdout;
  for (let cut = 0; cut < z.length; cut += cut < 64 ? 1 : 997) {
    const d = await decode(z.subarray(0, cut), { chunk: 333 });
    assert.ok(d.error, `cut at ${cut}: an error`);
    assert.match(d.error.message, /truncated|magic/);
    assert.ok(d.error.inputOffset! <= cut, `cut at ${cut}: offset ${d.error.inputOffset}`);
    if (cut > 0 && cut % 4 === 0) assert.equal(lz4Accepts(z.subarray(0, cut)), false, `lz4 -t also refuses the cut at ${cut}`);
  }
});

test('a frame that needs a dictionary is refused, naming the dictionary id', async () => {
  const { h32Raw } = await xxhash();
  // FLG: version 01, independent blocks, dictionary id; BD: 64 KiB; then the id, HC, an empty frame.
  const descriptor = Buffer.from([0x61, 0x40, 0x78, 0x56, 0x34, 0x12]);
  const frame = Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([(h32Raw(descriptor, 0) >>> 8) & 0xff]), Buffer.alloc(4)]);
  const d = await decode(frame);
  assert.match(d.error!.message, /dictionary id 0x12345678/);
  // the same descriptor without the id flag decodes (to nothing): the refusal is the dictionary's
  const plain = Buffer.from([0x60, 0x40]);
  const empty = await decode(Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18]), plain, Buffer.from([(h32Raw(plain, 0) >>> 8) & 0xff]), Buffer.alloc(4)]));
  assert.equal(empty.error, undefined);
  assert.equal(empty.out!.length, 0);
});

test('maxOutput: a 256 MiB frame of zeros stops within one 4 MiB block of the limit', async (t) => {
  if (!hasCommand('lz4')) return t.skip(NO_LZ4);
  const z = spawnSync('sh', ['-c', 'head -c 268435456 /dev/zero | lz4 -q -B7 -c'], { maxBuffer: 1 << 28 }).stdout;
  let produced = 0;
  let pulled = 0;
  async function* counting() {
    for await (const c of chunked(z, 65536)) {
      pulled += c.length;
      yield c;
    }
  }
  const limit = 16 << 20;
  for await (const out of lz4Frame.decode(counting(), { maxOutput: limit })) produced += out.length;
  assert.ok(produced > limit && produced <= limit + (4 << 20), `${produced}`);
  assert.ok(pulled < z.length / 4, `stopped reading early (${pulled} of ${z.length})`);
});

test('kimg info / extract: a bare .lz4 frame of a kernel Image is found by its magic and extracted byte-exact', (t) => {
  if (!hasCommand('lz4')) return t.skip(NO_LZ4);
  const dir = workDir(t);
  const src = realKernel();
  const path = join(dir, 'Image.lz4');
  writeFileSync(path, lz4(['-q', '-c', '-BX', '--content-size'], readFileSync(src.path)).stdout);
  const r = kimg(['info', '--json', path]);
  assert.equal(r.status, 0, r.stderr.toString());
  const j = JSON.parse(r.stdout.toString()) as { layers: { codec?: { plugin: string } | null }[] };
  assert.equal(j.layers[1]?.codec?.plugin, 'lz4-frame');
  const out = join(dir, 'Image');
  const x = kimg(['extract', path, '-o', out]);
  assert.equal(x.status, 0, x.stderr.toString());
  assert.equal(sha(readFileSync(out)), sha(readFileSync(src.path)));
});

test('the U-Boot lz4 sample\'s payload (after its 64-byte header) is an LZ4 frame this codec decodes', async () => {
  const u = readFileSync(join(SAMPLES, 'boot/uImage-stub-lz4'));
  const d = await decode(u.subarray(64));
  assert.equal(sha(d.out!), sha(readFileSync(join(SAMPLES, 'riscv-gzip.Image')).subarray(0, 4096)));
  assert.equal(defaultCodecs().sniff(u.subarray(64))?.name, 'lz4-frame');
});
