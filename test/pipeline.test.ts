/**
 * The pipeline on every shape of kernel it must handle, and on each broken input the issue names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Kimg } from '../src/kimg.js';
import { extract } from '../src/pipeline/extract.js';
import { AtomicFile } from '../src/pipeline/output.js';
import type { Analysis } from '../src/pipeline/pipeline.js';
import { SAMPLES, sha256, sha256File } from './helpers.js';
import { buildLoongarchImage, buildPe, buildZboot } from './pe-builder.js';

const k = new Kimg();
const work = mkdtempSync(join(tmpdir(), 'kimg-pipeline-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const ARM64_GZIP = join(SAMPLES, 'arm64-gzip.efi');
const ARM64_ZSTD = join(SAMPLES, 'arm64-zstd-linux6.1.efi');
const RISCV_IMAGE = join(SAMPLES, 'riscv-gzip.Image');
const ARM64_KERNEL_SHA = '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0';

let n = 0;
function write(bytes: Uint8Array, name = 'f'): string {
  const p = join(work, `${name}-${n++}`);
  writeFileSync(p, bytes);
  return p;
}

/** A copy of a sample with some little-endian words patched. */
function patched(sample: string, patch: (v: DataView, b: Uint8Array) => void): string {
  const b = new Uint8Array(readFileSync(sample));
  patch(new DataView(b.buffer), b);
  return write(b, 'patched');
}

function ids(a: Analysis): string[][] {
  return a.layers.map((l) => l.detections.filter((d) => d.refinedBy.length === 0).map((d) => d.schema.id));
}

async function extractTo(path: string, target: Parameters<typeof extract>[2] = { kind: 'innermost' }): Promise<string> {
  const out = join(work, `out-${n++}`);
  await extract(k, path, target, new AtomicFile(out, false, [path]));
  return out;
}

test('bare Image.gz (a gzip stream found by its magic) -> riscv Image', async () => {
  const image = readFileSync(RISCV_IMAGE);
  const path = write(gzipSync(image, { level: 9 }), 'Image.gz');
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(ids(a), [[], ['riscv-image']]);
  assert.equal(a.layers[1]!.codec?.plugin, 'gzip');
  assert.equal(sha256File(await extractTo(path)), sha256(image));
});

test('Unified Kernel Image (synthetic PE with systemd-stub sections) holding a genuine zboot kernel', async () => {
  const zboot = readFileSync(ARM64_GZIP);
  // A real newc archive (GNU cpio -H newc, samples/boot): the .initrd region is followed as a chain of cpio archives.
  const initrd = readFileSync(join(SAMPLES, 'boot', 'tree.newc.cpio'));
  const cmdline = Buffer.from('console=ttyAMA0 root=/dev/vda2 ro\0');
  const { bytes } = buildPe({
    machine: 0xaa64,
    sections: [
      { name: '.osrel', data: Buffer.from('ID=debian\nVERSION_ID=12\n') },
      { name: '.cmdline', data: cmdline },
      { name: '.uname', data: Buffer.from('7.2.13') },
      { name: '.linux', data: zboot },
      { name: '.initrd', data: initrd },
    ],
  });
  const path = write(bytes, 'uki.efi');
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(ids(a), [['uki'], ['linux-zboot'], ['arm64-image'], ['cpio-newc']]);
  assert.match(a.layers[0]!.summary!, /^Unified Kernel Image, ARM64, kernel .* in \.linux, with \.initrd$/);
  assert.equal(a.layers[3]!.main, false);
  assert.equal(a.layers[1]!.origin, 'region');
  assert.equal(sha256File(await extractTo(path)), ARM64_KERNEL_SHA);
  assert.deepEqual(readFileSync(await extractTo(path, { kind: 'section', name: '.initrd' })), initrd);
  assert.deepEqual(readFileSync(await extractTo(path, { kind: 'section', name: '.cmdline' })), cmdline);
  assert.deepEqual(readFileSync(await extractTo(path, { kind: 'layer', index: 1 })), zboot);
  // --raw: the gzip member exactly as stored inside .linux.
  const raw = readFileSync(await extractTo(path, { kind: 'raw' }));
  assert.equal(raw[0], 0x1f);
  assert.equal(raw[1], 0x8b);
  await assert.rejects(extractTo(path, { kind: 'section', name: '.nope' }), /no section named "\.nope" \(sections: \.osrel, \.cmdline, \.uname, \.linux, \.initrd/);
});

test('a UKI whose .initrd starts like a cpio archive and is not one is damaged, not a silent success', async () => {
  const { bytes } = buildPe({
    machine: 0xaa64,
    sections: [
      { name: '.linux', data: readFileSync(ARM64_GZIP) },
      { name: '.initrd', data: Buffer.from('070701' + 'initrd-bytes'.repeat(100)) },
    ],
  });
  const a = await k.analyze(write(bytes, 'uki-bad-initrd.efi'));
  assert.ok(a.error, 'an error');
  assert.match(a.error.describe(), /cpio-newc.*damaged.*not a base-16 number/);
});

test('UKI whose .linux is a plain Image', async () => {
  const image = readFileSync(RISCV_IMAGE);
  const { bytes } = buildPe({ machine: 0x5064, sections: [{ name: '.linux', data: image }, { name: '.cmdline', data: Buffer.from('x') }] });
  const path = write(bytes, 'uki-plain.efi');
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(ids(a), [['uki'], ['riscv-image']]);
  assert.equal(sha256File(await extractTo(path)), sha256(image));
});

test('LoongArch zboot (synthetic: no genuine LoongArch kernel can be built here) -> loongarch Image by PE machine', async () => {
  const image = buildLoongarchImage(Buffer.from('Linux version 6.12.0-loong (synthetic)\n'.repeat(50)));
  const path = write(buildZboot(0x6264, gzipSync(image), 'gzip', null), 'loong.efi');
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(ids(a), [['linux-zboot'], ['loongarch-image']]);
  assert.match(a.layers[1]!.summary!, /^LoongArch kernel Image, .*load offset 0x200000, entry 0x9000000000200000$/);
  assert.match(a.layers[1]!.scans[0]!.text, /^Linux version 6\.12\.0-loong/);
  assert.equal(sha256File(await extractTo(path)), sha256(image));
  // The plain LoongArch Image is recognised on its own too, and is not mistaken for zboot.
  const plain = await k.analyze(write(image, 'loong.Image'));
  assert.deepEqual(ids(plain), [['loongarch-image']]);
});

test('the compress_type -> codec map is schema data: a schema dir can teach a new name, no code', async () => {
  const dir = mkdtempSync(join(work, 'schemas-'));
  const zbootSchema = readFileSync(new URL('../../schemas/linux-zboot.yaml', import.meta.url), 'utf8');
  // Teach the schema a new header name: map it to the gzip plugin, and read its size word as gzip's ISIZE.
  const taught = zbootSchema.replace('      gzip: gzip\n', '      gzip: gzip\n      gzip9: gzip\n').replaceAll('compress_type == "gzip"', '(compress_type == "gzip" or compress_type == "gzip9")');
  assert.notEqual(taught, zbootSchema);
  writeFileSync(join(dir, 'linux-zboot.yaml'), taught);
  const custom = new Kimg({ schemaPath: [dir] });
  const path = patched(ARM64_GZIP, (_v, b) => b.set(Buffer.from('gzip9\0'), 0x18));
  assert.equal((await k.analyze(path)).error?.code, 'unknown-codec');
  const a = await custom.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.equal(a.layers[1]?.codec?.header, 'gzip9');
  assert.equal(a.layers[1]?.codec?.plugin, 'gzip');
  assert.equal(a.checks.find((c) => c.id === 'decoded_size')?.status, 'ok');
});

// ---- error paths -------------------------------------------------------------------------------

test('unknown compress_type: names the header value and the known names', async () => {
  const path = patched(ARM64_GZIP, (_v, b) => b.set(Buffer.from('bogus\0\0'), 0x18));
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'unknown-codec');
  assert.equal(a.error?.found, '"bogus"');
  assert.match(a.error!.expected!, /"gzip".*"zstd22".*"xzkern"/);
  assert.match(a.error!.describe(), /compress_type "bogus" names no known codec/);
});

test('payload beyond EOF: the payload_in_file check fails with both ends in hex', async () => {
  const size = readFileSync(ARM64_GZIP).length;
  const path = patched(ARM64_GZIP, (v) => v.setUint32(8, size - 16, true));
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'check-failed');
  assert.match(a.error!.message, new RegExp(`payload 0x${(size - 16).toString(16)}\\.\\.0x[0-9a-f]+ runs past the end of the file \\(0x${size.toString(16)}\\)`));
  assert.equal(a.checks.find((c) => c.id === 'payload_in_file')?.status, 'error');
});

test('offset + size overflowing 32 bits is computed exactly, not wrapped', async () => {
  const path = patched(ARM64_GZIP, (v) => {
    v.setUint32(8, 0xfffff000, true);
    v.setUint32(12, 0x2000, true);
  });
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'check-failed');
  assert.match(a.error!.message, /payload 0xfffff000\.\.0x100001000 runs past the end of the file/);
});

test('truncated file: the payload runs past the end', async () => {
  const b = readFileSync(ARM64_GZIP);
  const path = write(b.subarray(0, 0xb4e8 + 1000), 'truncated');
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'check-failed');
  assert.ok(a.error!.where.file?.endsWith(path.replace(/.*\//, '')));
});

test('truncated payload (size field cut in half): the codec reports the broken stream', async () => {
  for (const sample of [ARM64_GZIP, ARM64_ZSTD]) {
    const path = patched(sample, (v) => v.setUint32(12, Math.floor(v.getUint32(12, true) / 2), true));
    const a = await k.analyze(path);
    assert.ok(a.error, `${sample}: an error`);
    assert.ok(a.error.kind === 'codec' || a.error.code === 'size-mismatch', `${sample}: ${a.error.describe()}`);
    assert.equal(a.error.where.layer, a.layers.length - 1);
  }
});

test('a codec stream corrupt halfway: a decode error with the file offset, no partial output left', async () => {
  for (const sample of [ARM64_GZIP, ARM64_ZSTD]) {
    const b = new Uint8Array(readFileSync(sample));
    const v = new DataView(b.buffer);
    const off = v.getUint32(8, true);
    const size = v.getUint32(12, true);
    for (let i = 0; i < 256; i++) b[off + Math.floor(size / 2) + i]! ^= 0x5a;
    const path = write(b, 'corrupt');
    const a = await k.analyze(path);
    assert.equal(a.error?.kind, 'codec', `${sample}: ${a.error?.describe()}`);
    assert.ok(a.error!.where.offset! >= off && a.error!.where.offset! <= off + size, `offset ${a.error!.where.offset} inside the payload`);
    const out = join(work, `never-${n++}`);
    await assert.rejects(extract(k, path, { kind: 'innermost' }, new AtomicFile(out, false)), (e: Error & { kind?: string }) => e.kind === 'codec');
    assert.throws(() => readFileSync(out), /ENOENT/);
    assert.deepEqual(readdirTmp(work), [], 'no temporary file left');
  }
});

test('size word disagreeing with the decoded size is an error', async () => {
  const path = patched(ARM64_ZSTD, (v) => {
    const end = v.getUint32(8, true) + v.getUint32(12, true);
    v.setUint32(end, v.getUint32(end, true) + 1, true);
  });
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'size-mismatch');
  assert.equal(a.error?.found, '1739264 (1.66 MiB)');
  assert.equal(a.error?.expected, '1739265 bytes (mod 0x100000000)');
});

test('inner magic mismatch: the outer PE machine says riscv, the payload is arm64', async () => {
  const path = patched(ARM64_GZIP, (v) => v.setUint16(0x44, 0x5064, true));
  const a = await k.analyze(path);
  assert.equal(a.error?.code, 'inner-mismatch');
  assert.match(a.error!.message, /linux-zboot \(pe\.coff\.machine == pe\.machine::RISCV64 or .*\) says this layer is riscv-image, but it is not: no magic at 0x38/);
  assert.match(a.error!.expected!, /RISC-V Linux kernel Image \("RSC\\x05" at 0x38\)/);
  assert.equal(a.error!.found, 'arm64-image');
});

test('maxDecodedSize stops a decompression bomb with a named limit', async () => {
  const small = new Kimg({ limits: { maxDecodedSize: 100_000 } });
  const a = await small.analyze(ARM64_ZSTD);
  assert.equal(a.error?.code, 'limit');
  assert.match(a.error!.describe(), /limit maxDecodedSize \(100000\) exceeded/);
});

test('a file nothing recognises', async () => {
  const a = await k.analyze(write(Buffer.from('just some text, not a kernel\n'.repeat(10)), 'text'));
  assert.equal(a.error?.code, 'unrecognised');
  assert.match(a.error!.found!, /^"just some text, "/);
});

function readdirTmp(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('.kimg-'));
}

test('banner scan finds a string split across chunk boundaries, at the right offset', async () => {
  const { StreamScanner } = await import('../src/pipeline/scan.js');
  const text = 'Linux version 6.99.0-test (x@y) #1 SMP\n';
  for (const split of [0, 1, 5, 13, 14, 20, text.length - 1]) {
    const s = new StreamScanner([{ id: 'banner', prefix: Buffer.from('Linux version '), terminator: 0x0a, maxLength: 512, shortWords: 3 }]);
    const before = Buffer.alloc(1000, 0x41);
    const all = Buffer.concat([before, Buffer.from(text), Buffer.alloc(10)]);
    const cut = before.length + split;
    // Uneven chunks: 7 bytes, then up to the split, then the rest.
    s.push(all.subarray(0, 7));
    s.push(all.subarray(7, cut));
    s.push(all.subarray(cut));
    s.finish();
    assert.deepEqual(s.hits, [{ id: 'banner', offset: 1000, text: text.slice(0, -1), short: 'Linux version 6.99.0-test' }], `split at ${split}`);
  }
});

test('a region that is its whole layer is refused, not followed forever', async () => {
  // A UKI whose .linux section claims to start at 0 and span the whole file: the file again.
  const { bytes } = buildPe({ machine: 0xaa64, sections: [{ name: '.linux', data: Buffer.alloc(0x400, 1) }] });
  const v = new DataView(bytes.buffer);
  const table = 0x40 + 24 + v.getUint16(0x40 + 20, true);
  v.setUint32(table + 8, bytes.length, true); // VirtualSize
  v.setUint32(table + 16, bytes.length, true); // SizeOfRawData
  v.setUint32(table + 20, 0, true); // PointerToRawData
  const a = await k.analyze(write(bytes, 'uki-loop'));
  assert.equal(a.error?.code, 'region-loop');
  assert.match(a.error!.describe(), /region linux is the whole layer it belongs to/);
});

test('maxLayers bounds nesting (a UKI inside a UKI inside a UKI...)', async () => {
  let inner: Uint8Array = readFileSync(ARM64_GZIP);
  for (let i = 0; i < 3; i++) inner = buildPe({ machine: 0xaa64, sections: [{ name: '.linux', data: inner }] }).bytes;
  const path = write(inner, 'uki-nest');
  const ok = await k.analyze(path);
  assert.equal(ok.error, null, ok.error?.describe());
  assert.equal(ok.layers.length, 5);
  const tight = new Kimg({ limits: { maxLayers: 3 } });
  const a = await tight.analyze(path);
  assert.equal(a.error?.code, 'limit');
  assert.match(a.error!.describe(), /limit maxLayers \(3\) exceeded/);
});

test('maxRegions bounds a family of regions (a PE with many sections)', async () => {
  const sections = Array.from({ length: 40 }, (_, i) => ({ name: `.s${i}`, data: Buffer.from([i]) }));
  const path = write(buildPe({ machine: 0xaa64, sections }).bytes, 'many-sections');
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.equal(a.layers[0]!.regions.filter((r) => r.id === 'section').length, 40);
  const tight = await new Kimg({ limits: { maxRegions: 16 } }).analyze(path);
  assert.equal(tight.error?.code, 'limit');
  assert.match(tight.error!.describe(), /limit maxRegions \(16\) exceeded/);
});
