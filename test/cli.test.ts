/**
 * The command line as a user meets it: output shapes, exit codes, one-line errors, output safety.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, kimg, SAMPLES, sha256File } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-cli-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ZBOOT = join(SAMPLES, 'arm64-gzip.efi');
const KERNEL_SHA = '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0';

function text(r: { stdout: Buffer; stderr: Buffer }): { out: string; err: string } {
  return { out: r.stdout.toString(), err: r.stderr.toString() };
}

test('--help works for kimg and every command, with exit 0', () => {
  for (const args of [['--help'], ['info', '--help'], ['dump', '--help'], ['parse', '--help'], ['extract', '--help'], ['schemas', '--help'], ['codecs', '--help']]) {
    const r = kimg(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(text(r).out, /Options:|Commands:/);
  }
  assert.match(text(kimg(['--help'])).out, /Exit codes: 0 ok, 2 usage error, 3 invalid or unrecognised input/);
});

test('info: one line per layer, banner and checks; --json carries the same', () => {
  const r = kimg(['info', ZBOOT]);
  assert.equal(r.status, 0, text(r).err);
  const lines = text(r).out.split('\n');
  // Layer 0 is one line although two schemas describe it (zboot refines PE): an arrow is a layer.
  assert.match(lines[1]!, /^ {3}EFI zboot, gzip, payload 859 KiB at 0xb4e8; PE32\+ EFI_APPLICATION, ARM64, 2 sections$/);
  assert.match(lines[2]!, /^-> arm64 kernel Image, 2\.44 MiB, text offset 0x0, 4K pages, little-endian$/);
  assert.match(lines[3]!, /^banner: Linux version 7\.2\.13 /);
  assert.equal(lines.filter((l) => l.startsWith('-> ')).length, 1, 'two layers: one arrow');
  assert.ok(lines.some((l) => /^ok +layer 1 decoded_size$/.test(l)));
  const j = JSON.parse(text(kimg(['info', '--json', '--sha256', ZBOOT])).out);
  assert.equal(j.ok, true);
  assert.deepEqual(j.layers.map((l: { detections: string[] }) => l.detections[0]), ['linux-zboot', 'arm64-image']);
  assert.equal(j.layers[1].codec.header, 'gzip');
  assert.equal(j.layers[1].sha256, KERNEL_SHA);
  assert.match(j.banner, /^Linux version 7\.2\.13/);
  assert.ok(j.checks.every((c: { status: string }) => c.status === 'ok'));
});

test('dump --json: exact integers above 2^53, never rounded, never quoted; enums and flags named', () => {
  const b = new Uint8Array(readFileSync(join(SAMPLES, 'riscv-gzip.Image')));
  new DataView(b.buffer).setBigUint64(0x08, 0xfffffffffffff001n, true); // text_offset
  const path = join(work, 'big.Image');
  writeFileSync(path, b);
  const r = kimg(['dump', '--json', path]);
  assert.equal(r.status, 0, text(r).err);
  const raw = text(r).out;
  assert.match(raw, /"text_offset": 18446744073709547521,/);
  const j = JSON.parse(raw);
  const h = j.layers[0].headers['riscv-image'];
  assert.deepEqual(h.pe.coff.machine, { value: 0x5064, name: 'RISCV64' });
  assert.deepEqual(h.pe.coff.characteristics.flags, ['EXECUTABLE_IMAGE', 'LINE_NUMS_STRIPPED', 'DEBUG_STRIPPED']);
  assert.deepEqual(h.version, { value: 2, minor: 2, major: 0 });
  assert.equal(h.pe.optional_header.data_directories[4].entry.name, 'CERTIFICATE');
});

test('dump: text view with hex offsets, and the inner layer', () => {
  const r = kimg(['dump', ZBOOT]);
  assert.equal(r.status, 0);
  const out = text(r).out;
  assert.match(out, /^ +0x18 +compress_type = "gzip"$/m);
  assert.match(out, /^ +0x44 +machine = 0xaa64 \(43620\) ARM64$/m);
  assert.match(out, /^layer 1 \(decoded from linux-zboot payload at 0xb4e8, decoded by gzip\)$/m);
  assert.match(out, /^ +0x18 +flags = 0xa \(10\) \[be_kernel=false page_size=4K phys_placement=true\]$/m);
});

test('dump --schema and parse apply one schema (by id or path) at an offset', () => {
  const r = kimg(['dump', '--schema', 'dos-mz', '--json', ZBOOT]);
  assert.equal(JSON.parse(text(r).out).value.e_lfanew, 64);
  const p = kimg(['parse', 'schemas/pe.yaml', ZBOOT, '--json']);
  assert.equal(p.status, 0, text(p).err);
  assert.equal(JSON.parse(text(p).out).value.coff.machine.name, 'ARM64');
  const at = kimg(['parse', 'dos-mz', ZBOOT, '--offset', '0x10']);
  assert.equal(at.status, 3);
  assert.match(text(at).err, /^kimg: error: .*schema dos-mz, field e_magic, offset 0x10: not an MZ executable \(expected "MZ", found "\\x00\\x00"\)$/m);
});

test('schemas and codecs list what is built in', () => {
  const s = JSON.parse(text(kimg(['schemas', '--json'])).out).map((x: { id: string }) => x.id);
  assert.deepEqual(s, ['android-boot', 'android-vendor-boot', 'arm64-image', 'cpio-newc', 'dos-mz', 'elf', 'fdt', 'linux-zboot', 'loongarch-image', 'pe', 'riscv-image', 'uimage', 'uki', 'x86-bzimage']);
  const c = JSON.parse(text(kimg(['codecs', '--json'])).out).map((x: { name: string }) => x.name);
  for (const name of ['gzip', 'zstd', 'xz', 'lzma', 'lz4-legacy', 'lz4-frame', 'lzop', 'bzip2']) assert.ok(c.includes(name), name);
});

test('exit codes: usage 2, invalid input 3, I/O 4, schema 5; one line, no stack trace', () => {
  const usage = kimg(['info']);
  assert.equal(usage.status, 2);
  const bogus = kimg(['frobnicate']);
  assert.equal(bogus.status, 2);
  const notKernel = join(work, 'text.txt');
  writeFileSync(notKernel, 'hello\n'.repeat(20));
  const invalid = kimg(['info', notKernel]);
  assert.equal(invalid.status, 3);
  assert.match(text(invalid).err, /^kimg: error: .*text\.txt, layer 0: no schema and no codec recognises this file \(expected one of: /);
  const missing = kimg(['info', join(work, 'does-not-exist')]);
  assert.equal(missing.status, 4);
  assert.match(text(missing).err, /^kimg: error: .*does-not-exist: cannot open file: no such file or directory/);
  const badSchema = join(work, 'bad.yaml');
  writeFileSync(badSchema, 'kimg: 1\nid: bad\ntitle: x\nroot: t\ntypes:\n  t:\n    fields:\n      - { id: a, type: u33 }\n');
  const schema = kimg(['parse', badSchema, ZBOOT]);
  assert.equal(schema.status, 5);
  assert.match(text(schema).err, /bad\.yaml:8:24: .*unknown type 'u33' \(hint: integer types are u8, u16, u32, u64/);
  for (const r of [usage, invalid, missing, schema]) assert.doesNotMatch(text(r).err, /\n\s+at /, 'no stack trace');
});

test('--json errors are JSON objects on stderr', () => {
  const r = kimg(['info', '--json', join(work, 'nope')]);
  assert.equal(r.status, 4);
  const e = JSON.parse(text(r).err);
  assert.equal(e.kind, 'io');
  assert.equal(e.error, 'ENOENT');
});

test('extract: atomic, never clobbers without --force, refuses the input as output, no temp files left', () => {
  const out = join(work, 'Image');
  const r = kimg(['extract', ZBOOT, '-o', out]);
  assert.equal(r.status, 0, text(r).err);
  assert.equal(sha256File(out), KERNEL_SHA);
  assert.match(text(r).err, /wrote layer 1 \(arm64 Linux kernel Image, decoded from gzip\), 2555904 bytes/);
  writeFileSync(out, 'precious');
  const again = kimg(['extract', ZBOOT, '-o', out]);
  assert.equal(again.status, 4);
  assert.match(text(again).err, /exists \(use --force to replace it\)/);
  assert.equal(readFileSync(out, 'utf8'), 'precious');
  assert.equal(kimg(['extract', ZBOOT, '-o', out, '--force']).status, 0);
  assert.equal(sha256File(out), KERNEL_SHA);
  const self = join(work, 'self.efi');
  writeFileSync(self, readFileSync(ZBOOT));
  const over = kimg(['extract', self, '-o', self, '--force']);
  assert.equal(over.status, 2);
  assert.match(text(over).err, /refusing to write the output over the input file/);
  assert.equal(statSync(self).size, statSync(ZBOOT).size);
  assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('.kimg-')), []);
});

test('extract --raw, --layer 0 and --max-size', () => {
  const raw = join(work, 'payload.gz');
  assert.equal(kimg(['extract', ZBOOT, '--raw', '-o', raw]).status, 0);
  const gz = readFileSync(raw);
  assert.equal(gz.length, 879630);
  assert.deepEqual([...gz.subarray(0, 2)], [0x1f, 0x8b]);
  const l0 = join(work, 'layer0');
  assert.equal(kimg(['extract', ZBOOT, '--layer', '0', '-o', l0]).status, 0);
  assert.equal(sha256File(l0), sha256File(ZBOOT));
  const bomb = kimg(['extract', ZBOOT, '--max-size', '1M', '-o', join(work, 'bomb')]);
  assert.equal(bomb.status, 3);
  assert.match(text(bomb).err, /limit maxDecodedSize \(1048576\) exceeded/);
  assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('.kimg-') || f === 'bomb'), []);
});

test('extract -o - streams to stdout and stops cleanly when the reader goes away', () => {
  const full = kimg(['extract', ZBOOT, '-o', '-']);
  assert.equal(full.status, 0);
  assert.equal(full.stdout.length, 2555904);
  const head = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" extract "${ZBOOT}" -o - | head -c 10 | wc -c`], { encoding: 'utf8' });
  assert.equal(head.stdout.trim(), '10');
  assert.equal(head.stderr, '', 'nothing on stderr when the pipe closes');
  const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" extract "${ZBOOT}" -o - | head -c 10 >/dev/null; echo "\${PIPESTATUS:-}"`], { encoding: 'utf8' });
  assert.equal(piped.stderr, '');
});

test('common options may come before the command', () => {
  const r = kimg(['--json', 'schemas']);
  assert.equal(r.status, 0, text(r).err);
  assert.ok(Array.isArray(JSON.parse(text(r).out)));
  const dir = join(work, 'opts-before');
  const s = kimg(['-S', dir, 'codecs']);
  assert.equal(s.status, 0, text(s).err);
  const bad = kimg(['--force', 'info', ZBOOT]);
  assert.equal(bad.status, 2);
  assert.match(text(bad).err, /unknown option '--force' before the command/);
});

test('each error class: its exit code, one line, --verbose adds the cause, --json the fields', () => {
  // codec: a stream corrupt halfway
  const b = new Uint8Array(readFileSync(ZBOOT));
  const v = new DataView(b.buffer);
  const off = v.getUint32(8, true);
  for (let i = 0; i < 64; i++) b[off + 400_000 + i]! ^= 0xff;
  const corrupt = join(work, 'corrupt.efi');
  writeFileSync(corrupt, b);
  const codec = kimg(['info', corrupt]);
  assert.equal(codec.status, 3);
  const line = text(codec).err.split('\n').find((l) => l.startsWith('kimg: error:'))!;
  assert.match(line, /corrupt\.efi, layer 0, offset 0x[0-9a-f]+: gzip stream is corrupt: .* \(expected a valid gzip stream, found [\d.]+ [KM]iB decoded before the failure\)$/);
  const verbose = kimg(['info', '--verbose', corrupt]);
  assert.match(text(verbose).err, /\n {2}cause: /);
  const json = kimg(['info', '--json', corrupt]);
  const e = JSON.parse(text(json).err.trim().split('\n').pop()!);
  assert.equal(e.kind, 'codec');
  assert.equal(typeof e.offset, 'number');
  // limit
  const limit = kimg(['info', '--limit', 'maxDecodedSize=1000', ZBOOT]);
  assert.equal(limit.status, 3);
  assert.match(text(limit).err, /limit maxDecodedSize \(1000\) exceeded/);
  const badLimit = kimg(['info', '--limit', 'maxBogus=1', ZBOOT]);
  assert.equal(badLimit.status, 2);
  assert.match(text(badLimit).err, /--limit maxBogus=1: expected NAME=NUMBER with NAME one of maxArrayCount/);
  // schema errors as JSON carry file, line, col and the hint
  const badSchema = join(work, 'bad2.yaml');
  writeFileSync(badSchema, 'kimg: 1\nid: bad2\ntitle: x\nroot: t\ntypes:\n  t:\n    feilds: []\n');
  const sj = kimg(['parse', '--json', badSchema, ZBOOT]);
  assert.equal(sj.status, 5);
  const se = JSON.parse(text(sj).err);
  assert.equal(se.error, 'unknown-key');
  assert.equal(se.line, 7);
  assert.equal(se.col, 5);
  assert.match(se.hint, /did you mean 'fields'/);
  // warnings are labelled and do not change the exit code
  const warn = kimg(['info', join(SAMPLES, 'arm64-lzo.efi')]);
  assert.equal(warn.status, 0);
  assert.match(text(warn).out, /^warning layer 0 linux-zboot:linux_pe_magic: LINUX_PE_MAGIC missing/m);
});

test('info and scan print the scans a schema declares, by its own ids (no scan name is built into the CLI)', () => {
  const dir = mkdtempSync(join(work, 'scan-schema-'));
  writeFileSync(join(dir, 'tagged.yaml'), 'kimg: 1\nid: tagged\ntitle: a tagged blob\nroot: r\ndetect:\n  magic:\n    - { at: 0, bytes: "TAGD" }\ntypes:\n  r:\n    fields:\n      - { id: magic, type: bytes, const: "TAGD" }\nscans:\n  - { id: marker, prefix: "BUILD ", terminator: 0x0a, short_words: 2 }\n  - { id: note, prefix: "NOTE:" }\n');
  const file = join(dir, 'blob.bin');
  writeFileSync(file, Buffer.from('TAGD....BUILD 42 on a tuesday\n....'));
  const info = kimg(['info', '-S', dir, file]);
  assert.equal(info.status, 0, info.stderr.toString());
  assert.match(info.stdout.toString(), /^marker: BUILD 42 on a tuesday$/m);
  assert.match(info.stdout.toString(), /^note: \(none found\)$/m);
  assert.doesNotMatch(info.stdout.toString(), /^banner:/m, 'no built-in scan name appears');
  const scan = kimg(['scan', '-S', dir, dir]);
  assert.match(scan.stdout.toString(), /blob\.bin: a tagged blob.*: BUILD 42$/m, 'one-line reports show short_words words');
});
