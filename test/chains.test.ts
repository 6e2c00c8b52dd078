/**
 * Chains of segments on real initramfs images: archives made by `cpio -o -H newc`, compressed by the real
 * tools with the options the kernel's build and dracut use, concatenated with zero padding as the kernel's
 * init/initramfs.c reads them, and put in a UKI's .initrd with llvm-objcopy. Oracles: `cpio -t` / `cpio -i`
 * for each archive, `lsinitramfs` (initramfs-tools) for a whole early + main image.
 * The UKI and cpio schemas are the built-in ones (schemas/uki.yaml, schemas/cpio-newc.yaml).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpioOfFiles } from './inputs.js';
import { Kimg } from '../src/kimg.js';
import { extract, type ExtractTarget } from '../src/pipeline/extract.js';
import { AtomicFile } from '../src/pipeline/output.js';
import { hasCommand, kimg, REPO, SAMPLES } from './helpers.js';
import { buildPe } from './pe-builder.js';

const FIXTURES = join(REPO, 'test', 'fixtures', 'schemas');
const work = mkdtempSync(join(tmpdir(), 'kimg-chains-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(work, `${n++}-${name}`);
const k = new Kimg({ schemaPath: [FIXTURES] });

const cpioOf = (files: Record<string, Uint8Array | string>): { archive: Buffer; names: string[] } => cpioOfFiles(fresh('tree'), files);

/** The kernel's compressors for an initramfs (usr/Makefile, dracut), each as its tool writes it. */
const COMPRESSORS: [plugin: string, tool: string, args: string[]][] = [
  ['gzip', 'gzip', ['-9', '-n']],
  ['zstd', 'zstd', ['-q', '-19']],
  ['xz', 'xz', ['--check=crc32', '--lzma2=dict=1MiB']],
  ['bzip2', 'bzip2', ['-9']],
  ['lzma', 'lzma', ['-9']],
  ['lz4-legacy', 'lz4', ['-q', '-l', '-9']],
  ['lzop', 'lzop', ['-9']],
];

const compress = (tool: string, args: string[], data: Buffer): Buffer => execFileSync(tool, args, { input: data, maxBuffer: 64 << 20 });

/** A UKI (an arm64 zboot kernel in .linux) whose .initrd section llvm-objcopy adds. */
function ukiWith(initrd: Buffer): string {
  const stub = fresh('uki0.efi');
  writeFileSync(stub, buildPe({ machine: 0xaa64, sections: [{ name: '.osrel', data: Buffer.from('ID=test\n') }, { name: '.linux', data: readFileSync(join(SAMPLES, 'arm64-gzip.efi')) }] }).bytes);
  const initrdFile = fresh('initrd.img');
  writeFileSync(initrdFile, initrd);
  const uki = fresh('uki.efi');
  execFileSync('llvm-objcopy', ['--add-section', `.initrd=${initrdFile}`, '--set-section-flags', '.initrd=data,readonly', stub, uki]);
  return uki;
}

async function extracted(input: string, target: ExtractTarget): Promise<Buffer> {
  const out = fresh('out');
  await extract(k, input, target, new AtomicFile(out, false, [input]));
  return readFileSync(out);
}

const missing = (...tools: string[]): string | null => {
  const absent = tools.filter((t) => !hasCommand(t));
  return absent.length ? `not installed: ${absent.join(', ')}` : null;
};

test('a UKI whose .initrd is early microcode + a zstd cpio (as dracut writes it): entries as lsinitramfs lists them', async (t) => {
  const why = missing('cpio', 'zstd', 'llvm-objcopy', 'lsinitramfs');
  if (why) return t.skip(why);
  const early = cpioOf({ 'kernel/x86/microcode/AuthenticAMD.bin': Buffer.alloc(5000, 0xa5) });
  const big = Buffer.from(execFileSync('head', ['-c', String(1536 * 1024), '/dev/urandom'], { maxBuffer: 8 << 20 }));
  const main = cpioOf({ 'etc/motd': 'hello from the initramfs\n', 'usr/lib/firmware/blob.bin': big, 'init': '#!/bin/sh\nexec /sbin/init\n' });
  const initrd = Buffer.concat([early.archive, compress('zstd', ['-q', '-19'], main.archive)]);
  const initrdFile = fresh('initrd.img');
  writeFileSync(initrdFile, initrd);
  const listed = execFileSync('lsinitramfs', [initrdFile], { encoding: 'utf8' }).trim().split('\n').filter((x) => x !== '.' && x !== '');
  const uki = ukiWith(initrd);

  const a = await k.analyze(uki);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(a.layers.map((l) => [l.index, l.detections[0]?.schema.id, l.parent, l.main, l.origin]), [
    [0, 'uki', null, true, 'file'],
    [1, 'linux-zboot', 0, true, 'region'],
    [2, 'arm64-image', 1, true, 'decoded'],
    [3, 'cpio-newc', 0, false, 'segment'],
    [4, 'cpio-newc', 0, false, 'decoded'],
  ]);
  assert.equal(a.layers[4]!.codec?.plugin, 'zstd');
  const ours = a.layers.slice(3).flatMap((l) => l.regions.map((r) => r.name!));
  assert.deepEqual(ours.sort(), [...listed].sort(), 'the same entries as lsinitramfs');
  // The segment layers say where they are: offset in the UKI's layer 0 and in the file.
  const section = a.layers[0]!.regions.find((r) => r.name === '.initrd')!;
  assert.equal(a.layers[3]!.from!.fileOffset, section.fileOffset);
  assert.equal(a.layers[4]!.from!.offset, section.offset + early.archive.length);

  // Files from either segment by name; the kernel is still the default extract; .initrd itself by its section.
  assert.equal((await extracted(uki, { kind: 'section', name: 'etc/motd' })).toString(), 'hello from the initramfs\n');
  assert.ok((await extracted(uki, { kind: 'section', name: 'usr/lib/firmware/blob.bin' })).equals(big));
  assert.ok((await extracted(uki, { kind: 'section', name: 'kernel/x86/microcode/AuthenticAMD.bin' })).equals(Buffer.alloc(5000, 0xa5)));
  assert.ok((await extracted(uki, { kind: 'section', name: '.initrd' })).subarray(0, initrd.length).equals(initrd));
  assert.equal((await extracted(uki, { kind: 'innermost' })).length, a.layers[2]!.size);
  assert.ok((await extracted(uki, { kind: 'layer', index: 4 })).equals(main.archive), '--layer 4: the decoded archive, as zstd -dc gives it');

  // kimg info lists the initramfs after the kernel, each segment where it lies; JSON has parent and main.
  const r = kimg(['info', '-S', FIXTURES, uki]);
  assert.equal(r.status, 0, r.stderr.toString());
  const out = r.stdout.toString();
  assert.match(out, /^ \+ layer 3 in layer 0 initramfs segment 0: cpio newc archive, 4 entries/m);
  assert.match(out, /^ \+ layer 4 in layer 0 initramfs segment 1 \(zstd\): cpio newc archive, 7 entries/m);
  const j = JSON.parse(kimg(['info', '--json', '-S', FIXTURES, uki]).stdout.toString());
  assert.deepEqual(j.layers.map((l: { parent: number | null; main: boolean }) => [l.parent, l.main]), [[null, true], [0, true], [1, true], [0, false], [0, false]]);
  assert.equal(j.ok, true);
});

test('a chain with a segment of every codec the kernel unpacks, zero padding between: each as cpio -t lists it', async (t) => {
  const why = missing('cpio', 'llvm-objcopy', ...COMPRESSORS.map(([, tool]) => tool));
  if (why) return t.skip(why);
  const early = cpioOf({ 'kernel/x86/microcode/GenuineIntel.bin': 'microcode' });
  const parts: Buffer[] = [early.archive, Buffer.alloc(512)];
  const expected: { codec: string | null; names: string[] }[] = [{ codec: null, names: early.names }];
  for (const [plugin, tool, args] of COMPRESSORS) {
    const c = cpioOf({ [`etc/${plugin}.conf`]: `made by ${tool}\n`, [`usr/share/${plugin}/data`]: Buffer.alloc(70000, plugin.length) });
    parts.push(compress(tool, args, c.archive), Buffer.alloc(4 * (plugin.length % 3)));
    expected.push({ codec: plugin, names: c.names });
  }
  const uki = ukiWith(Buffer.concat(parts));
  const a = await k.analyze(uki);
  assert.equal(a.error, null, a.error?.describe());
  const segments = a.layers.filter((l) => !l.main);
  assert.deepEqual(segments.map((l) => [l.from!.segment, l.codec?.plugin ?? null, l.regions.map((r) => r.name)]), expected.map((e, i) => [i, e.codec, e.names.filter((x) => x !== '.')]));
  for (const [plugin] of COMPRESSORS) {
    assert.equal((await extracted(uki, { kind: 'section', name: `etc/${plugin}.conf` })).toString(), `made by ${COMPRESSORS.find((c) => c[0] === plugin)![1]}\n`);
  }
});

test('damaged chains are errors, never a shorter listing: a truncated stream, junk between segments, a broken archive', async (t) => {
  const why = missing('cpio', 'gzip', 'xz', 'llvm-objcopy');
  if (why) return t.skip(why);
  const early = cpioOf({ 'early.bin': 'e' });
  const main = cpioOf({ 'etc/motd': 'm\n', 'data': Buffer.alloc(200000, 7) });
  const xz = compress('xz', ['--check=crc32'], main.archive);
  const cases: [string, Buffer, RegExp][] = [
    ['truncated xz segment', Buffer.concat([early.archive, xz.subarray(0, xz.length - 100)]), /xz stream is corrupt/],
    ['junk after a segment', Buffer.concat([early.archive, Buffer.from('JUNKJUNK')]), /segment 1 at 0x[0-9a-f]+ of region initramfs \(layer 0\) is neither cpio-newc nor a stream of/],
    ['an archive whose magic is broken', Buffer.concat([early.archive, Buffer.from(main.archive.toString('latin1').replace('070701', '070799'), 'latin1')]), /is neither cpio-newc nor a stream/],
    ['an archive cut short', Buffer.concat([early.archive, main.archive.subarray(0, 1000)]), /damaged/],
    ['a gzip stream inside the decoded segment', Buffer.concat([early.archive, compress('gzip', ['-n'], Buffer.concat([main.archive, compress('gzip', ['-n'], early.archive)]))]), /is neither cpio-newc nor zero padding/],
  ];
  for (const [what, initrd, message] of cases) {
    const uki = ukiWith(initrd);
    const a = await k.analyze(uki);
    assert.ok(a.error, `${what}: an error`);
    assert.match(a.error.describe(), message, `${what}: ${a.error.describe()}`);
    const r = kimg(['info', '-S', FIXTURES, uki]);
    assert.equal(r.status, 3, `${what}: exit 3`);
    const out = fresh('kernel');
    assert.equal(kimg(['extract', '-S', FIXTURES, uki, '-o', out]).status, 3, `${what}: extract refuses too`);
  }
});
