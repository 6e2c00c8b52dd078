/**
 * The built-in cpio schema (schemas/cpio-newc.yaml) on archives made by GNU cpio (`-H newc`, `-H crc`),
 * against `cpio -t -v` (every entry's mode, nlink, uid, gid, size or device numbers, name) and `cpio -i`
 * (every member's bytes, written by `kimg extract --section NAME`); and an initramfs of an uncompressed
 * early archive followed by compressed ones, as the kernel reads it, against `lsinitramfs`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { kimg, SAMPLES } from './helpers.js';
import { buildPe } from './pe-builder.js';
import { makeCpio, makeInitramfs, workDir } from './inputs.js';
import { cpioExtract, cpioList, lsinitramfs, requireTools } from './oracles.js';

const k = new Kimg();

interface Entry {
  readonly name: string;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly filesize: number;
  readonly rdevmajor: number;
  readonly rdevminor: number;
  readonly file_type: number;
}

async function entriesOf(file: string, layer = 0): Promise<Entry[]> {
  const a = await k.analyze(file);
  assert.equal(a.error, null, a.error?.describe());
  const l = a.layers[layer]!;
  assert.equal(l.detections[0]?.schema.id, 'cpio-newc');
  return ((l.detections[0]!.result.value as { entries: Entry[] }).entries).filter((e) => e.name !== 'TRAILER!!!');
}

/** Every field `cpio -t -v` prints, compared; returns how many were compared. */
function compareWithCpioT(file: string, entries: readonly Entry[]): number {
  const listed = cpioList(file)!;
  assert.deepEqual(entries.map((e) => e.name), listed.entries.map((e) => e.name));
  let fields = 0;
  listed.entries.forEach((o, i) => {
    const e = entries[i]!;
    assert.equal(e.mode, o.mode, `${o.name}: mode`);
    assert.equal(e.nlink, o.nlink, `${o.name}: nlink`);
    assert.equal(e.uid, o.uid, `${o.name}: uid`);
    assert.equal(e.gid, o.gid, `${o.name}: gid`);
    fields += 5;
    if (o.rdevMajor !== undefined) {
      assert.equal(e.rdevmajor, o.rdevMajor, `${o.name}: rdev major`);
      assert.equal(e.rdevminor, o.rdevMinor, `${o.name}: rdev minor`);
      fields += 2;
    } else {
      assert.equal(e.filesize, o.size, `${o.name}: size`);
      fields++;
    }
  });
  return fields;
}

for (const format of ['newc', 'crc'] as const) {
  test(`cpio -H ${format}: every entry as cpio -t -v lists it, every member's bytes as cpio -i writes them`, async (t) => {
    if (!requireTools(t, 'cpio')) return;
    const dir = workDir(t, 'cpio');
    const made = makeCpio(dir, format)!;
    let outputs = 0;
    for (const file of [made.path, join(SAMPLES, 'boot', `tree.${format}.cpio`)]) {
      const entries = await entriesOf(file);
      const fields = compareWithCpioT(file, entries);
      t.diagnostic(`${file}: ${entries.length} entries, ${fields} fields equal to cpio -t -v`);
      const files = cpioExtract(file)!;
      let members = 0;
      for (const [name, got] of files.entries) {
        if (got.kind !== 'file' && got.kind !== 'symlink') continue;
        const out = join(dir, `member-${outputs++}`);
        members++;
        const r = kimg(['extract', '--section', name, '-o', out, file]);
        assert.equal(r.status, 0, r.stderr.toString());
        const bytes = readFileSync(out);
        if (got.kind === 'file') assert.ok(bytes.equals(Buffer.from(got.bytes)), `${name}: the bytes cpio -i wrote`);
        else assert.equal(bytes.toString('latin1'), got.target, name);
      }
      assert.ok(members >= 4, `members extracted: ${members}`);
      const info = kimg(['info', file]);
      assert.equal(info.status, 0, info.stderr.toString());
      assert.match(info.stdout.toString(), new RegExp(`cpio ${format} archive, ${entries.length} entries`));
      // Per-element checks are summarised: one line per check, not one per entry.
      assert.match(info.stdout.toString(), /^ok {6}layer 0 cpio-newc:entries\[\*\]\.name_size \(\d+ elements\)$/m);
    }
  });
}

test('cpio damage: a crc archive whose file data no longer sums to its checksum, a cut archive, a bad name size', async (t) => {
  if (!requireTools(t, 'cpio')) return;
  const dir = workDir(t, 'cpio-bad');
  const crc = readFileSync(makeCpio(dir, 'crc')!.path);
  const motd = crc.indexOf('etc/motd\0');
  const dataAt = motd + ((110 + 9 + 3) & ~3) - 110;
  const cases: [string, Buffer, RegExp][] = [
    ['flipped data byte', Buffer.from(crc.map((b, i) => (i === dataAt ? b ^ 1 : b))), /check data_checksum.*byte sum is/],
    ['cut before the trailer', crc.subarray(0, motd + 40), /run past the end of the input/],
    ['namesize too small', Buffer.from(crc.toString('latin1').replace('00000009', '00000004'), 'latin1'), /namesize|name_size|not a base-16|out-of-bounds/],
  ];
  for (const [what, bytes, message] of cases) {
    const f = join(dir, `bad-${what.replace(/ /g, '-')}.cpio`);
    writeFileSync(f, bytes);
    const r = kimg(['info', f]);
    assert.equal(r.status, 3, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr.toString(), message, what);
    assert.match(r.stderr.toString(), /cpio-newc/, what);
  }
});

test('a UKI whose .initrd is an initramfs (early cpio + a compressed cpio): the built-in uki schema lists every entry of every segment as lsinitramfs does', async (t) => {
  if (!requireTools(t, 'cpio', 'lsinitramfs', 'gzip', 'zstd', 'xz', 'llvm-objcopy')) return;
  const dir = workDir(t, 'initramfs');
  for (const codec of ['gzip', 'zstd', 'xz'] as const) {
    const img = makeInitramfs(dir, codec)!;
    const listed = lsinitramfs(img.path)!.entries.map((e) => e.name).filter((n) => n !== '.').sort();
    const stub = join(dir, `stub-${codec}.efi`);
    writeFileSync(stub, buildPe({ machine: 0xaa64, sections: [{ name: '.osrel', data: Buffer.from('ID=test\n') }, { name: '.linux', data: readFileSync(join(SAMPLES, 'arm64-gzip.efi')) }] }).bytes);
    const uki = join(dir, `uki-${codec}.efi`);
    execFileSync('llvm-objcopy', ['--add-section', `.initrd=${img.path}`, '--set-section-flags', '.initrd=data,readonly', stub, uki]);
    const a = await k.analyze(uki);
    assert.equal(a.error, null, a.error?.describe());
    const cpioLayers = a.layers.filter((l) => l.detections[0]?.schema.id === 'cpio-newc');
    assert.equal(cpioLayers.length, 2, `${codec}: the early and the main archive`);
    const names = cpioLayers
      .flatMap((l) => (l.detections[0]!.result.value as { entries: Entry[] }).entries.map((e) => e.name))
      .filter((n) => n !== 'TRAILER!!!' && n !== '.')
      .sort();
    assert.deepEqual(names, listed, codec);
    const info = kimg(['info', uki]);
    assert.equal(info.status, 0, info.stderr.toString());
    assert.match(info.stdout.toString(), /cpio newc archive/);
  }
});
