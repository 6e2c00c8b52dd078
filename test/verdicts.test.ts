/**
 * Honest verdicts (issue 8 §1): a format that claims the input by its magic and then fails is a damaged
 * match, an error; exit 0 and `ok` mean every layer was recognised and every error-level check passed;
 * a default extract writes only a recognised inner layer; layers must agree on the machine.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { BufferSource } from '../src/core/bytes.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { Kimg } from '../src/kimg.js';
import { SchemaRegistry } from '../src/schema/registry.js';
import { detect } from '../src/detect/detect.js';
import { kimg, SAMPLES } from './helpers.js';
import { buildPe } from './pe-builder.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-verdicts-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ZBOOT = join(SAMPLES, 'arm64-gzip.efi');
const RISCV_ZBOOT = join(SAMPLES, 'riscv-zstd-linux6.1.efi');
const IMAGE = join(SAMPLES, 'riscv-gzip.Image');

let n = 0;
function write(bytes: Uint8Array, name: string): string {
  const p = join(work, `${n++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}

function patchedZboot(name: string, patch: (v: DataView, peOffset: number) => void): string {
  const b = new Uint8Array(readFileSync(ZBOOT));
  const v = new DataView(b.buffer);
  patch(v, v.getUint32(0x3c, true));
  return write(b, name);
}

interface InfoJson {
  ok: boolean;
  layers: { detections: string[]; damaged: { schema: string; error: { error: string; path?: string; limit?: string } }[]; rejected: { schema: string; reason: string }[] }[];
  error: { error: string; kind: string; schema?: string; path?: string; offset?: number; limit?: string; message: string } | null;
}

function infoJson(path: string, extra: string[] = []): { status: number | null; j: InfoJson } {
  const r = kimg(['info', '--json', ...extra, path]);
  return { status: r.status, j: JSON.parse(r.stdout.toString()) as InfoJson };
}

/** `kimg extract` must refuse and leave nothing behind. */
function assertExtractRefuses(path: string, pattern: RegExp, extra: string[] = []): void {
  const out = join(work, `out-${n++}`);
  const r = kimg(['extract', ...extra, path, '-o', out]);
  assert.equal(r.status, 3, `extract ${path}: ${r.stderr}`);
  assert.match(r.stderr.toString(), pattern);
  assert.ok(!existsSync(out), 'nothing written');
  assert.deepEqual(readdirSync(work).filter((f) => f.includes('.kimg-')), [], 'no temp file left');
}

const damagedZboots: [string, (v: DataView, pe: number) => void, RegExp][] = [
  ['NumberOfSections 0xFFFF', (v, pe) => v.setUint16(pe + 6, 0xffff, true), /maxArrayCount/],
  ['e_lfanew 0xFFFFFFFC', (v) => v.setUint32(0x3c, 0xfffffffc, true), /e_lfanew|outside the region/],
  ['NumberOfRvaAndSizes 0xFFFFFFFF', (v, pe) => v.setUint32(pe + 24 + 108, 0xffffffff, true), /maxArrayCount/],
  ['PE signature destroyed', (v, pe) => v.setUint32(pe, 0x4141, true), /no PE signature/],
];

for (const [what, patch, why] of damagedZboots) {
  test(`damaged zboot (${what}): info exits 3 naming linux-zboot, JSON ok false, extract refuses`, () => {
    const path = patchedZboot(what.replace(/\W+/g, '_'), patch);
    const { status, j } = infoJson(path);
    assert.equal(status, 3);
    assert.equal(j.ok, false);
    assert.equal(j.error?.schema, 'linux-zboot');
    assert.match(j.error!.message, why);
    assert.ok(j.layers[0]!.damaged.some((d) => d.schema === 'linux-zboot'), 'layer 0 lists linux-zboot as damaged');
    const text = kimg(['info', path]);
    assert.equal(text.status, 3);
    assert.match(text.stdout.toString(), /damaged: linux-zboot/);
    assertExtractRefuses(path, /linux-zboot/);
  });
}

test('a 64-byte zboot file and a zboot file cut in half are errors, not "MZ executable"', () => {
  const whole = readFileSync(ZBOOT);
  for (const [name, bytes] of [['64', whole.subarray(0, 64)], ['half', whole.subarray(0, whole.length >> 1)]] as const) {
    const path = write(bytes, `${name}.efi`);
    const { status, j } = infoJson(path);
    assert.equal(status, 3, name);
    assert.equal(j.ok, false, name);
    assert.ok(j.error, name);
    assertExtractRefuses(path, /error/);
  }
});

test('a limit hit during detection names itself and exits 3 (maxExprSteps, maxDepth)', () => {
  for (const [spec, limit] of [['maxExprSteps=50', 'maxExprSteps'], ['maxDepth=2', 'maxDepth']] as const) {
    const { status, j } = infoJson(ZBOOT, ['--limit', spec]);
    assert.equal(status, 3, spec);
    assert.equal(j.ok, false);
    assert.equal(j.error?.kind, 'limit', JSON.stringify(j.error));
    assert.equal(j.error?.limit, limit);
    assertExtractRefuses(ZBOOT, new RegExp(limit), ['--limit', spec]);
  }
});

test('gzip of random text is "gzip -> unrecognised data": exit 3, and extract refuses', () => {
  const text = Buffer.from(Array.from({ length: 4000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(''));
  const path = write(gzipSync(text), 'text.gz');
  const { status, j } = infoJson(path);
  assert.equal(status, 3);
  assert.equal(j.ok, false);
  assert.equal(j.error?.error, 'unrecognised');
  assert.equal(j.layers.length, 2);
  assert.deepEqual(j.layers[1]!.detections, []);
  assertExtractRefuses(path, /layer 1.*decoded from gzip/);
  // --layer 1 still writes it, on purpose
  const out = join(work, 'text.out');
  const r = kimg(['extract', '--layer', '1', path, '-o', out]);
  assert.equal(r.status, 3, 'the analysis itself is still an error');
});

test('extract refuses when the innermost layer is the input itself; --layer 0 copies it on purpose', () => {
  assertExtractRefuses(IMAGE, /the file itself is the innermost layer/);
  const out = join(work, 'image.copy');
  const r = kimg(['extract', '--layer', '0', IMAGE, '-o', out]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(readFileSync(out), readFileSync(IMAGE));
});

test('--max-size bounds stored layers too (a plain layer larger than the limit is not written)', () => {
  const out = join(work, 'image.bounded');
  const r = kimg(['extract', '--layer', '0', '--max-size', '100K', IMAGE, '-o', out]);
  assert.equal(r.status, 3, r.stderr.toString());
  assert.match(r.stderr.toString(), /maxDecodedSize/);
  assert.ok(!existsSync(out));
});

test('a DOS MZ file that is not PE: pe is "not confirmed" (listed by --verbose), the MZ reading stands', () => {
  const b = new Uint8Array(512);
  b.set([0x4d, 0x5a]);
  new DataView(b.buffer).setUint32(0x3c, 0x80, true);
  const path = write(b, 'dos.exe');
  const { status, j } = infoJson(path);
  assert.equal(status, 0, JSON.stringify(j.error));
  assert.deepEqual(j.layers[0]!.detections, ['dos-mz']);
  assert.match(j.layers[0]!.rejected.find((r) => r.schema === 'pe')!.reason, /not confirmed: .*no PE signature/);
  const v = kimg(['info', '--verbose', path]).stdout.toString();
  assert.match(v, /tried dos-mz: matches/);
  assert.match(v, /tried pe: no: not confirmed/);
  assert.match(v, /tried linux-zboot: no: no magic at 0x4/);
});

test('--verbose lists every schema tried on every layer, with the reason', () => {
  const v = kimg(['info', '--verbose', ZBOOT]).stdout.toString();
  assert.match(v, /tried linux-zboot: matches/);
  assert.match(v, /tried uki: no: detect\.when is false: linux != null/);
  assert.match(v, /tried riscv-image: no: no magic at 0x38/);
  assert.match(v, /fact machine = 0xaa64 \(linux-zboot\)/);
});

test('a UKI for AMD64 carrying a RISC-V zboot kernel: the layers disagree on the machine, exit 3', () => {
  const { bytes } = buildPe({ machine: 0x8664, sections: [{ name: '.linux', data: readFileSync(RISCV_ZBOOT) }] });
  const path = write(bytes, 'uki-mixed.efi');
  const { status, j } = infoJson(path);
  assert.equal(status, 3);
  assert.equal(j.ok, false);
  assert.equal(j.error?.error, 'inconsistent-layers');
  assert.match(j.error!.message, /layer 0 \(uki\) says machine 0x8664, but layer 1 \(linux-zboot\) is for 0x5064/);
  assertExtractRefuses(path, /machine/);
  // the same UKI for RISCV64 is fine, and says why
  const good = buildPe({ machine: 0x5064, sections: [{ name: '.linux', data: readFileSync(RISCV_ZBOOT) }] }).bytes;
  const r = kimg(['info', write(good, 'uki-riscv.efi')]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.match(r.stdout.toString(), /ok +layer 1 facts:machine/);
  assert.match(r.stdout.toString(), /ok +layer 2 facts:machine/);
});

test('a zboot kernel whose Image is for another machine than its PE stub is an error (facts agree or fail)', async () => {
  // The RISC-V zboot's PE machine patched to ARM64: the outer layer chooses arm64-image, which is not there.
  const b = new Uint8Array(readFileSync(RISCV_ZBOOT));
  const v = new DataView(b.buffer);
  v.setUint16(v.getUint32(0x3c, true) + 4, 0xaa64, true);
  const a = await new Kimg().analyze(write(b, 'zboot-wrong-machine.efi'));
  assert.ok(a.error);
  assert.match(a.error.describe(), /arm64-image/);
});

// The detection rule itself, on the docs/schema-dsl.md example.
const SIGNED = `
kimg: 1
id: box-signed
title: a container whose signature sits where a header field points
root: r
detect:
  magic:
    - { at: 0, bytes: "BX" }
  confirm: [sig]
types:
  r:
    fields:
      - { id: magic, type: bytes, size: 2 }
      - { id: sig_at, type: u8 }
      - { id: sig, type: bytes, at: sig_at, const: "OK" }
      - { id: count, type: u8, at: sig_at + 2 }
      - { id: items, type: u8, count: count }
`;

test('detection: a failure on a confirm field is a non-match, any other failure after the magic is damage', () => {
  const dir = mkdtempSync(join(work, 'schemas-'));
  writeFileSync(join(dir, 'box-signed.yaml'), SIGNED);
  const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
  const detectBytes = (...b: number[]) => detect(reg, new BufferSource(Uint8Array.from(b)), DEFAULT_LIMITS);
  const good = detectBytes(0x42, 0x58, 3, 0x4f, 0x4b, 2, 9, 8);
  assert.deepEqual(good.matches.map((m) => m.schema.id), ['box-signed']);
  assert.deepEqual(good.damaged, []);
  const unsigned = detectBytes(0x42, 0x58, 3, 0x4e, 0x4f, 2, 9, 8);
  assert.deepEqual(unsigned.matches, []);
  assert.deepEqual(unsigned.damaged, []);
  assert.match(unsigned.rejected[0]!.reason, /^not confirmed: .*field sig/);
  const pointsOutside = detectBytes(0x42, 0x58, 200, 0, 0);
  assert.deepEqual(pointsOutside.damaged, [], 'a signature pointer outside the input is "not confirmed" too');
  const damaged = detectBytes(0x42, 0x58, 3, 0x4f, 0x4b, 5, 9);
  assert.deepEqual(damaged.matches, []);
  assert.equal(damaged.damaged.length, 1);
  assert.equal(damaged.damaged[0]!.error.where.path, 'items[1]');
  const noMagic = detectBytes(0x41, 0x41, 3);
  assert.deepEqual(noMagic.damaged, []);
  assert.equal(noMagic.rejected[0]!.reason, 'no magic at 0x0');
});

test('detection: a limit is never a non-match', () => {
  const dir = mkdtempSync(join(work, 'schemas-'));
  writeFileSync(join(dir, 'box-signed.yaml'), SIGNED);
  const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
  const out = detect(reg, new BufferSource(Uint8Array.from([0x42, 0x58, 3, 0x4f, 0x4b, 4, 1, 2, 3, 4])), { ...DEFAULT_LIMITS, maxArrayCount: 2 });
  assert.equal(out.damaged.length, 1);
  assert.equal(out.damaged[0]!.error.kind, 'limit');
});

test('detection: a detect.when that fails to evaluate is damage, and false is a non-match', () => {
  const dir = mkdtempSync(join(work, 'schemas-'));
  // `when` divides by a header field: 0 there makes the rule itself fail, not merely say "no".
  writeFileSync(join(dir, 'box-when.yaml'), `
kimg: 1
id: box-when
title: a container whose detection rule can fail to evaluate
root: r
detect:
  magic:
    - { at: 0, bytes: "BW" }
  when: 12 / divisor == 4
types:
  r:
    fields:
      - { id: magic, type: bytes, size: 2 }
      - { id: divisor, type: u8 }
`);
  const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
  const detectBytes = (...b: number[]) => detect(reg, new BufferSource(Uint8Array.from(b)), DEFAULT_LIMITS);
  assert.deepEqual(detectBytes(0x42, 0x57, 3).matches.map((m) => m.schema.id), ['box-when']);
  const no = detectBytes(0x42, 0x57, 2);
  assert.deepEqual(no.matches, []);
  assert.deepEqual(no.damaged, [], 'when == false: not this format');
  const broken = detectBytes(0x42, 0x57, 0);
  assert.deepEqual(broken.matches, []);
  assert.equal(broken.damaged.length, 1, 'when fails to evaluate: a damaged match');
  assert.match(broken.damaged[0]!.error.message, /division by zero|divide/i);
});

/** A minimal boot-protocol 2.15 bzImage (no EFI stub) around `payload`, with the le32 size word after it. */
function synthBzImage(payload: Uint8Array, decodedSize: number): Uint8Array {
  const setupSects = 1;
  const start = (setupSects + 1) * 512;
  const b = Buffer.alloc(start + payload.length + 4);
  b[0x1f1] = setupSects;
  b.writeUInt16LE(0xaa55, 0x1fe);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  b.writeUInt32LE(0, 0x248);
  b.writeUInt32LE(payload.length + 4, 0x24c);
  b.set(payload, start);
  b.writeUInt32LE(decodedSize, start + payload.length);
  return b;
}

test('bzImage: the payload codec is found by its magic (codec_by_magic); a payload no codec knows is unknown-codec', async () => {
  const elf = readFileSync('/bin/ls');
  const good = write(synthBzImage(gzipSync(elf), elf.length), 'synth-bzImage');
  const a = await new Kimg().analyze(good);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(a.layers.map((l) => l.detections[0]?.schema.id), ['x86-bzimage', 'elf']);
  assert.equal(a.layers[1]!.codec?.plugin, 'gzip');
  assert.equal(a.layers[1]!.codec?.header, null);
  const junk = write(synthBzImage(Buffer.from('not a compressed stream at all'), 1), 'junk-bzImage');
  const { status, j } = infoJson(junk);
  assert.equal(status, 3);
  assert.equal(j.error?.error, 'unknown-codec');
  assert.match(j.error!.message, /no codec recognises the payload of region payload by its magic/);
});
