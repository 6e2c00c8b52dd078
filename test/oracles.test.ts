/**
 * The oracle harness checked against itself: every input maker (test/inputs.ts) builds real inputs with the
 * real tools, every oracle (test/oracles.ts) reads them back, and each reading is compared with what went in
 * (payload sizes and bytes, names, hashes computed by node:crypto / zlib, the tree archived) and, where two
 * tools read the same thing, with the other tool (dumpimage vs mkimage, dtc vs fdtdump, readelf vs the cross
 * readelf, cpio vs lsinitramfs). The per-format schema tests build on these functions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { join } from 'node:path';
import { corpusPresent, CORPUS_ABSENT, SAMPLES } from './helpers.js';
import {
  BOOT_IMAGE_VERSIONS,
  COMPRESSORS,
  FIXED_EPOCH,
  INITRAMFS_COMPRESSIONS,
  makeBootImages,
  makeCpio,
  makeDtb,
  makeElfs,
  makeFit,
  makeIkconfigImage,
  makeInitramfs,
  makeMultiUImage,
  makeUImages,
  makeUki,
  makeVendorBootImages,
  needs,
  realDtbs,
  realX86Kernel,
  UIMAGE_TOOLS,
  ukiUnavailable,
  vmlinuxFromBzImage,
  workDir,
  type CpioTreeEntry,
} from './inputs.js';
import {
  cpioExtract,
  cpioList,
  dtcDecompile,
  dtNode,
  dtString,
  dumpimageExtract,
  dumpimageList,
  extractIkconfig,
  fdtdump,
  hasTool,
  lsinitramfs,
  mkimageList,
  parseDts,
  peSectionBytes,
  readelf,
  requireTools,
  unmkinitramfs,
  unpackBootimg,
  type DtNode,
  type FitImageRecord,
  type ReadelfResult,
} from './oracles.js';

const digest = (algo: string, b: Uint8Array) => createHash(algo).update(b).digest('hex');
const crc32hex = (b: Uint8Array) => (zlib.crc32(b) >>> 0).toString(16).padStart(8, '0');

/** Decompresses with the CLI (the inverse of COMPRESSORS). */
function decompress(codec: string, bytes: Uint8Array): Buffer {
  const cmd: Record<string, string[]> = {
    gzip: ['gzip', '-dc'],
    bzip2: ['bzip2', '-dc'],
    lzma: ['xz', '--format=lzma', '-dc'],
    lzo: ['lzop', '-dc'],
    lz4: ['lz4', '-dc'],
    zstd: ['zstd', '-dc', '-q'],
    xz: ['xz', '-dc'],
  };
  const c = cmd[codec];
  if (!c) return Buffer.from(bytes);
  const r = spawnSync(c[0]!, c.slice(1), { input: bytes, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, `${c.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------- ELF

function checkElf(r: ReadelfResult, path: string, bits: 32 | 64, endian: 'little' | 'big'): void {
  const file = readFileSync(path);
  assert.equal(r.header.bits, bits);
  assert.equal(r.header.endian, endian);
  assert.deepEqual(r.header.ident, [...file.subarray(0, 16)], 'e_ident as printed = the file bytes');
  const u16 = (o: number) => (endian === 'little' ? file.readUInt16LE(o) : file.readUInt16BE(o));
  // e_phnum / e_shnum / e_shstrndx at their ELF32 / ELF64 offsets, read from the bytes
  const [phnum, shnum, shstrndx] = bits === 64 ? [0x38, 0x3c, 0x3e] : [0x2c, 0x30, 0x32];
  assert.equal(r.header.phnum, u16(phnum!));
  assert.equal(r.header.shnum, u16(shnum!));
  assert.equal(r.header.shstrndx, u16(shstrndx!));
  assert.equal(r.programHeaders.length, r.header.phnum);
  assert.equal(r.sections.length, r.header.shnum);
  assert.equal(r.sections[0]!.name, '');
  assert.equal(r.sections[0]!.type, 'NULL');
  for (const s of r.sections) if (s.type !== 'NOBITS') assert.ok(s.offset + s.size <= file.length, `${s.name} inside the file`);
  assert.equal(r.segmentSections.length, r.header.phnum);
}

test('readelf reads every ELF the makers build, and /bin/ls; the cross readelf agrees with the host one', (t) => {
  if (!requireTools(t, 'readelf')) return;
  const dir = workDir(t);
  const elfs = makeElfs(dir);
  const made = elfs.filter((e) => e.linuxVersion);
  if (made.length < 3) t.diagnostic(`only ${made.length} of 3 ELF makers ran: ${missingTools(['as', 'ld', 's390x-linux-gnu-as', 's390x-linux-gnu-ld'])}`);
  assert.ok(elfs.length >= 1);
  for (const e of elfs) {
    const r = readelf(e.path)!;
    checkElf(r, e.path, e.bits, e.endian);
    if (e.linuxVersion) {
      assert.equal(r.linuxVersion, e.linuxVersion, `${e.what}: the Linux note`);
      const note = r.notes.find((n) => n.owner === 'Linux')!;
      assert.equal(note.section, '.note.Linux');
      assert.equal(note.typeNumber ?? 0x100, 0x100);
      const id = r.notes.find((n) => n.owner === 'GNU' && n.buildId)!;
      assert.match(id.buildId!, /^[0-9a-f]{40}$/);
      const sec = r.sections.find((s) => s.name === '.note.gnu.build-id')!;
      const bytes = readFileSync(e.path).subarray(sec.offset, sec.offset + sec.size);
      assert.equal(Buffer.from(bytes.subarray(16)).toString('hex'), id.buildId, 'the build id readelf prints is the note descriptor in the file');
      assert.ok(r.sections.some((s) => s.name === '.bss' && s.type === 'NOBITS'));
      assert.ok(r.programHeaders.some((p) => p.type === 'NOTE'));
      assert.ok(r.programHeaders.some((p) => p.type === 'LOAD' && p.flags === 'RE'));
    } else {
      assert.ok(r.programHeaders.some((p) => p.interpreter?.startsWith('/lib')), 'the host executable names its interpreter');
      assert.ok(r.notes.some((n) => n.buildId), 'a Debian binary has a build id');
    }
    if (e.readelf !== 'readelf') {
      const cross = readelf(e.path, { cross: e.readelf })!;
      assert.deepEqual({ ...cross, tool: null }, { ...r, tool: null }, `${e.readelf} and readelf read ${e.what} alike`);
    }
  }
});

test('readelf reads the vmlinux inside Debian\'s bzImage (cut and decoded as scripts/extract-vmlinux does)', (t) => {
  if (!corpusPresent) return t.skip(CORPUS_ABSENT);
  if (!requireTools(t, 'readelf', 'zstd')) return;
  const dir = workDir(t);
  const vmlinux = vmlinuxFromBzImage(dir)!;
  const r = readelf(vmlinux)!;
  checkElf(r, vmlinux, 64, 'little');
  assert.equal(r.header.type, 'EXEC');
  assert.match(r.header.machine, /X86-64/);
  // The Linux note's version is the bzImage's own version string's first word.
  const bz = readFileSync(realX86Kernel()!);
  const at = bz.readUInt16LE(0x20e) + 0x200;
  const versionString = bz.subarray(at, bz.indexOf(0, at)).toString('latin1');
  assert.equal(r.linuxVersion, versionString.split(' ')[0]);
  assert.ok(r.sections.length > 20 && r.sections.some((s) => s.name === '.text' && s.flags === 'AX'));
});

function missingTools(tools: string[]): string {
  return tools.filter((x) => !hasTool(x)).join(', ') || 'none missing';
}

// ---------------------------------------------------------------------------------------------- uImage

test('uImage for every mkimage -C: dumpimage and mkimage -l print what went in; the data is the payload; it decodes to the kernel', (t) => {
  if (!needs(t, UIMAGE_TOOLS)) return;
  const dir = workDir(t);
  const images = makeUImages(dir)!;
  assert.deepEqual(images.map((i) => i.compression).sort(), ['bzip2', 'gzip', 'lz4', 'lzma', 'lzo', 'none', 'zstd']);
  const kernel = readFileSync(images[0]!.kernel.path);
  for (const img of images) {
    const d = dumpimageList(img.path)!;
    const m = mkimageList(img.path)!;
    assert.equal(d.kind, 'legacy');
    if (d.kind !== 'legacy') continue;
    assert.deepEqual({ ...m, tool: null }, { ...d, tool: null }, 'mkimage -l = dumpimage -l');
    assert.equal(d.compression, img.compression);
    assert.equal(d.dataSize, img.payloadSize);
    assert.equal(d.name, img.name);
    assert.equal(d.arch, img.arch);
    assert.equal(d.os, 'linux');
    assert.equal(d.type, 'kernel');
    assert.equal(d.load, BigInt(img.load));
    assert.equal(d.entry, BigInt(img.entry));
    assert.equal(d.createdUnix, FIXED_EPOCH);
    const file = readFileSync(img.path);
    assert.equal(file.length, 64 + img.payloadSize);
    assert.equal(file.readUInt32BE(0), 0x27051956);
    const data = file.subarray(64);
    assert.deepEqual(data, readFileSync(img.payloadPath));
    assert.deepEqual(dumpimageExtract(img.path, 0, 'kernel'), data);
    if (img.compression === 'lz4') assert.equal(data.readUInt32LE(0), 0x184d2204, 'U-Boot lz4 = the LZ4 frame format');
    assert.equal(digest('sha256', decompress(img.compression, data)), digest('sha256', kernel), `${img.compression} payload decodes to the kernel`);
  }
});

test('multi-file uImage: dumpimage lists each part\'s size and extracts each part', (t) => {
  if (!requireTools(t, 'mkimage', 'dumpimage', 'cpio', 'dtc', 'gzip')) return;
  const dir = workDir(t);
  const multi = makeMultiUImage(dir)!;
  const d = dumpimageList(multi.path)!;
  assert.equal(d.kind, 'legacy');
  if (d.kind !== 'legacy') return;
  assert.equal(d.type, 'multi');
  assert.deepEqual(d.contents, multi.partSizes);
  for (const [i, p] of multi.parts.entries()) assert.deepEqual(dumpimageExtract(multi.path, i, 'multi'), readFileSync(p), `part ${i}`);
  // The data: a 0-terminated list of be32 sizes, then the parts, each padded to 4.
  const file = readFileSync(multi.path);
  for (const [i, s] of multi.partSizes.entries()) assert.equal(file.readUInt32BE(64 + 4 * i), s);
  assert.equal(file.readUInt32BE(64 + 4 * multi.partSizes.length), 0);
});

// ---------------------------------------------------------------------------------------------- FIT

for (const external of [false, true]) {
  test(`FIT${external ? ' with external data (mkimage -E)' : ''}: dumpimage lists images, hashes equal node:crypto's and zlib's, sub-images extract byte-exact`, (t) => {
    if (!requireTools(t, 'mkimage', 'dumpimage', 'dtc', 'cpio', 'gzip')) return;
    const dir = workDir(t);
    const fit = makeFit(dir, { external })!;
    const d = dumpimageList(fit.path)!;
    assert.equal(d.kind, 'fit');
    if (d.kind !== 'fit') return;
    assert.equal(d.description, 'kimg test FIT');
    assert.deepEqual(d.images.map((i) => i.name), fit.images.map((i) => i.name));
    for (const [i, want] of fit.images.entries()) {
      const got: FitImageRecord = d.images[i]!;
      const data = readFileSync(want.dataPath);
      assert.equal(got.type, want.type);
      assert.equal(got.compression, want.compression);
      assert.equal(got.dataSize, want.dataSize);
      assert.deepEqual(got.hashes.map((h) => h.algo), want.hashAlgos);
      for (const h of got.hashes) assert.equal(h.value, h.algo === 'crc32' ? crc32hex(data) : digest(h.algo, data), `${want.name} ${h.algo}`);
      assert.deepEqual(dumpimageExtract(fit.path, i, 'flat_dt'), data, `${want.name} extracts byte-exact`);
    }
    assert.equal(d.images[0]!.load, 0x80080000n);
    assert.equal(d.images[2]!.entry, undefined, 'the ramdisk has no entry ("unavailable")');
    assert.equal(d.defaultConfig, 'conf-1');
    assert.deepEqual(d.configurations.map((c) => [c.name, c.kernel, c.fdt, c.ramdisk]), [['conf-1', 'kernel-1', ['fdt-1'], 'ramdisk-1']]);
    // The FIT is an FDT: dtc reads the same images (data inline, or data-offset/data-size after the blob).
    const dt = dtcDecompile(fit.path)!;
    const kernelNode = dtNode(dt.root, '/images/kernel-1')!;
    const prop = (n: DtNode, name: string) => n.properties.find((p) => p.name === name)?.value;
    const kernelData = readFileSync(fit.images[0]!.dataPath);
    if (external) {
      const off = Buffer.from(prop(kernelNode, 'data-offset')!).readUInt32BE(0);
      const size = Buffer.from(prop(kernelNode, 'data-size')!).readUInt32BE(0);
      const file = readFileSync(fit.path);
      const base = (file.readUInt32BE(4) + 3) & ~3; // external data starts after the blob, 4-aligned
      assert.equal(size, kernelData.length);
      assert.deepEqual(file.subarray(base + off, base + off + size), kernelData);
    } else assert.deepEqual(prop(kernelNode, 'data'), new Uint8Array(kernelData));
    assert.equal(dtString(prop(dtNode(dt.root, '/images/kernel-1/hash-3')!, 'algo')!), 'sha256');
  });
}

// ---------------------------------------------------------------------------------------------- DTB

test('DTBs (dtc-made and Debian\'s): dtc and fdtdump read the same tree; header fields equal the blob\'s', (t) => {
  if (!requireTools(t, 'dtc', 'fdtdump')) return;
  const dir = workDir(t);
  const made = makeDtb(dir)!;
  const all = [made, ...realDtbs()];
  assert.ok(all.length >= 3, 'two real DTBs ship in samples/dtb');
  for (const dtb of all) {
    const a = dtcDecompile(dtb.path)!;
    const b = fdtdump(dtb.path)!;
    assert.deepEqual(a.root, b.root, `${dtb.origin}: dtc and fdtdump agree`);
    assert.deepEqual(a.reservations, b.reservations);
    const file = readFileSync(dtb.path);
    const be = (o: number) => file.readUInt32BE(o);
    assert.deepEqual(
      [b.header.magic, b.header.totalsize, b.header.off_dt_struct, b.header.off_dt_strings, b.header.off_mem_rsvmap, b.header.version, b.header.last_comp_version, b.header.boot_cpuid_phys, b.header.size_dt_strings, b.header.size_dt_struct],
      [0, 4, 8, 12, 16, 20, 24, 28, 32, 36].map(be),
    );
    assert.equal(b.header.totalsize, file.length);
    // the reservations as in the blob
    const rsv: { address: bigint; size: bigint }[] = [];
    for (let o = b.header.off_mem_rsvmap; ; o += 16) {
      const address = file.readBigUInt64BE(o);
      const size = file.readBigUInt64BE(o + 8);
      if (address === 0n && size === 0n) break;
      rsv.push({ address, size });
    }
    assert.deepEqual(a.reservations, rsv);
  }
  const a = dtcDecompile(made.path)!;
  assert.deepEqual(a.reservations, [
    { address: 0x80000000n, size: 0x10000n },
    { address: 0x90000000n, size: 0x2000n },
  ]);
  const prop = (path: string, name: string) => dtNode(a.root, path)!.properties.find((p) => p.name === name)!.value;
  assert.equal(dtString(prop('/', 'model')), 'kimg test board');
  assert.equal(dtString(prop('/', 'compatible')), 'kimg,test\0kimg,board');
  assert.deepEqual([...prop('/soc', 'wide')], [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
  assert.deepEqual([...prop('/soc', 'bytes')], [1, 2, 3, 4, 5]);
  assert.equal(prop('/soc', 'empty-prop').length, 0);
  assert.deepEqual([...prop('/soc/uart@9000000', 'interrupt-parent')], [...prop('/soc/interrupt-controller', 'phandle')]);
  assert.deepEqual(a.root.children.map((c) => c.name), ['chosen', 'memory@80000000', 'cpus', 'soc']);
  // the parser on its own: C escapes, /bits/, string lists
  const p = parseDts('/dts-v1/;\n/ { s = "a\\"b\\\\c\\x41\\101", "z"; w = /bits/ 16 <0x1234 5>; };');
  assert.deepEqual([...p.root.properties[0]!.value], [...Buffer.from('a"b\\cAA\0z\0')]);
  assert.deepEqual([...p.root.properties[1]!.value], [0x12, 0x34, 0, 5]);
});

// ---------------------------------------------------------------------------------------------- Android

test('Android boot.img v0-v3 and vendor_boot v3 (what Debian\'s mkbootimg writes): unpack_bootimg prints the header and extracts the parts byte-exact', (t) => {
  if (!requireTools(t, 'mkbootimg', 'unpack_bootimg', 'cpio', 'dtc')) return;
  t.diagnostic('boot.img v4 and vendor_boot v4 are not made: Debian mkbootimg 29.0.6 does not write them');
  const dir = workDir(t);
  const boots = makeBootImages(dir)!;
  assert.deepEqual(boots.map((b) => b.headerVersion), [...BOOT_IMAGE_VERSIONS]);
  for (const b of boots) {
    const u = unpackBootimg(b.path)!;
    assert.equal(u.magic, 'ANDROID!');
    assert.equal(u.headerVersion, b.headerVersion);
    assert.equal(u.kernelSize, statSync(b.parts['kernel']!).size);
    assert.equal(u.ramdiskSize, statSync(b.parts['ramdisk']!).size);
    assert.equal(u.osVersion, b.osVersion);
    assert.equal(u.osPatchLevel, b.osPatchLevel);
    assert.equal((u.cmdline ?? '') + (u.extraCmdline ?? ''), b.cmdline);
    if (b.headerVersion < 3) {
      assert.equal(u.pageSize, b.pageSize);
      assert.equal(u.productName, b.board);
      assert.equal(u.kernelAddr, 0x10008000);
      assert.equal(u.secondSize, statSync(b.parts['second']!).size);
    }
    if (b.headerVersion === 1) assert.ok((u.extraCmdline ?? '').length > 0, 'a cmdline over 512 bytes continues in extra_cmdline');
    if (b.headerVersion === 2) assert.equal(u.dtbSize, statSync(b.parts['dtb']!).size);
    assert.deepEqual([...u.files.keys()].sort(), Object.keys(b.parts).sort());
    for (const [name, path] of Object.entries(b.parts)) assert.deepEqual(u.files.get(name), readFileSync(path), `v${b.headerVersion} ${name}`);
    const file = readFileSync(b.path);
    assert.equal(file.toString('latin1', 0, 8), 'ANDROID!');
    assert.equal(file.readUInt32LE(40), b.headerVersion, 'header_version @40');
  }
  for (const v of makeVendorBootImages(dir)!) {
    const u = unpackBootimg(v.path)!;
    assert.equal(u.magic, 'VNDRBOOT');
    assert.equal(u.headerVersion, v.headerVersion);
    assert.equal(u.vendorCmdline, v.cmdline);
    assert.equal(u.productName, v.board);
    assert.equal(u.vendorRamdiskSize, statSync(v.parts['vendor_ramdisk']!).size);
    assert.equal(u.dtbSize, statSync(v.parts['dtb']!).size);
    for (const [name, path] of Object.entries(v.parts)) assert.deepEqual(u.files.get(name), readFileSync(path), `vendor_boot ${name}`);
  }
});

// ---------------------------------------------------------------------------------------------- cpio

function typeBits(e: CpioTreeEntry): number {
  switch (e.kind) {
    case 'dir':
      return 0o040000;
    case 'file':
      return 0o100000;
    case 'symlink':
      return 0o120000;
    case 'chardev':
      return 0o020000;
  }
}

for (const format of ['newc', 'crc'] as const) {
  test(`cpio ${format}: cpio -t lists what was archived (mode, size, name, target, rdev); cpio -i gives the files back`, (t) => {
    if (!requireTools(t, 'cpio')) return;
    const dir = workDir(t);
    const c = makeCpio(dir, format)!;
    if (!c.tree.entries.some((e) => e.kind === 'chardev')) t.diagnostic('not root: the tree has no device node');
    const file = readFileSync(c.path);
    assert.equal(file.toString('latin1', 0, 6), format === 'newc' ? '070701' : '070702');
    const l = cpioList(c.path)!;
    assert.deepEqual(l.entries.map((e) => e.name), c.tree.entries.map((e) => e.name));
    for (const [i, want] of c.tree.entries.entries()) {
      const got = l.entries[i]!;
      assert.equal(got.mode, typeBits(want) | want.perm, want.name);
      assert.equal(got.uid, 0);
      assert.equal(got.size, want.kind === 'file' ? want.bytes!.length : want.kind === 'symlink' ? want.target!.length : 0);
      if (want.target) assert.equal(got.linkTarget, want.target);
      if (want.rdev) assert.deepEqual([got.rdevMajor, got.rdevMinor], [...want.rdev]);
      assert.equal(got.mtimeText, 'Nov 14 2023');
    }
    assert.equal(l.blocks * 512, file.length, 'cpio pads the archive to 512-byte blocks');
    const x = cpioExtract(c.path)!;
    for (const want of c.tree.entries) {
      const got = x.entries.get(want.name);
      assert.ok(got, want.name);
      if (want.kind === 'file') assert.deepEqual(got.kind === 'file' && got.bytes, want.bytes);
      if (want.kind === 'symlink') assert.equal(got.kind === 'symlink' && got.target, want.target);
    }
  });
}

test('initramfs = uncompressed early cpio + compressed main cpio: lsinitramfs lists both, unmkinitramfs extracts both, cpio -t sees only the first', (t) => {
  if (!requireTools(t, 'cpio', 'lsinitramfs', 'unmkinitramfs')) return;
  const dir = workDir(t);
  for (const codec of INITRAMFS_COMPRESSIONS) {
    if (!hasTool(COMPRESSORS[codec][0])) {
      t.diagnostic(`${codec}: ${COMPRESSORS[codec][0]} absent, skipped`);
      continue;
    }
    const img = makeInitramfs(dir, codec)!;
    const [early, main] = img.segments as [(typeof img.segments)[0], (typeof img.segments)[0]];
    const names = [...early.tree.entries, ...main.tree.entries].map((e) => e.name);
    assert.deepEqual(lsinitramfs(img.path)!.entries.map((e) => e.name), names, `${codec}: lsinitramfs`);
    assert.deepEqual(cpioList(img.path)!.entries.map((e) => e.name), early.tree.entries.map((e) => e.name), `${codec}: cpio -t reads the first archive only`);
    assert.equal(early.length % 512, 0, 'the early cpio is padded to 512 bytes');
    const file = readFileSync(img.path);
    assert.deepEqual(decompress(codec === 'lz4-legacy' ? 'lz4' : codec, file.subarray(main.offset)).subarray(0, 6).toString(), '070701');
    const x = unmkinitramfs(img.path)!;
    for (const e of early.tree.entries.filter((e) => e.kind === 'file')) assert.deepEqual((x.entries.get(`early/${e.name}`) as { bytes: Uint8Array }).bytes, e.bytes);
    for (const e of main.tree.entries.filter((e) => e.kind === 'file')) assert.deepEqual((x.entries.get(`main/${e.name}`) as { bytes: Uint8Array }).bytes, e.bytes, `${codec}: main/${e.name}`);
  }
});

test('UKI (systemd stub + llvm-objcopy): the .initrd and .linux sections hold the initramfs and the kernel', (t) => {
  const why = ukiUnavailable();
  if (why) return t.skip(why);
  const dir = workDir(t);
  const uki = makeUki(dir)!;
  for (const [name, path] of Object.entries(uki.sections)) {
    const want = readFileSync(path);
    const got = peSectionBytes(uki.path, name)!;
    assert.ok(got.length >= want.length, name);
    assert.deepEqual(got.subarray(0, want.length), want, `${name} holds its file`);
    assert.ok(got.subarray(want.length).every((b) => b === 0), `${name}: only zero padding after it`);
  }
  assert.deepEqual(lsinitramfs(uki.sections['.initrd']!)?.entries.length, uki.initrd.segments.reduce((n, s) => n + s.tree.entries.length, 0));
});

test('IKCONFIG placed in a real Image: the extract-ikconfig method gets the .config back', (t) => {
  if (!requireTools(t, 'gzip', 'grep', 'tail')) return;
  const dir = workDir(t);
  const img = makeIkconfigImage(dir)!;
  t.diagnostic(`kernel ${img.kernel.origin}, config ${img.configOrigin}, IKCFG_ST at ${img.markerOffset}`);
  const r = extractIkconfig(img.path)!;
  assert.equal(r.markerOffset, img.markerOffset);
  assert.equal(r.config, img.config);
  assert.match(r.config, /^CONFIG_[A-Z0-9_]+=/m);
  const file = readFileSync(img.path);
  assert.equal(file.length, statSync(img.kernel.path).size, 'the Image keeps its size');
  assert.equal(file.toString('latin1', img.markerOffset + 8 + img.gzipLength, img.markerOffset + 16 + img.gzipLength), 'IKCFG_ED');
  assert.deepEqual(file.subarray(0, 64), readFileSync(img.kernel.path).subarray(0, 64), 'the Image header is untouched');
});

test('the makers are deterministic: the same inputs twice give the same bytes', (t) => {
  if (!needs(t, [...UIMAGE_TOOLS, 'dtc', 'cpio', 'mkbootimg'])) return;
  const make = (dir: string) => [
    ...makeUImages(dir)!.map((u) => u.path),
    makeMultiUImage(dir)!.path,
    makeFit(dir)!.path,
    makeDtb(dir)!.path,
    ...makeBootImages(dir)!.map((b) => b.path),
    ...makeVendorBootImages(dir)!.map((b) => b.path),
    makeCpio(dir, 'newc')!.path,
    makeCpio(dir, 'crc')!.path,
    makeInitramfs(dir, 'zstd')!.path,
  ];
  const a = make(workDir(t));
  const b = make(workDir(t));
  for (const [i, p] of a.entries()) assert.equal(digest('sha256', readFileSync(p)), digest('sha256', readFileSync(b[i]!)), p.replace(/.*\//, ''));
});

test('the boot-format samples (samples/boot, samples/dtb) are what their oracles read', (t) => {
  if (!requireTools(t, 'dumpimage', 'dtc', 'fdtdump', 'unpack_bootimg', 'cpio', 'lsinitramfs')) return;
  const s = (f: string) => join(SAMPLES, f);
  for (const c of ['gzip', 'lz4']) {
    const d = dumpimageList(s(`boot/uImage-stub-${c}`))!;
    assert.ok(d.kind === 'legacy' && d.compression === c && d.createdUnix === FIXED_EPOCH && d.dataSize === statSync(s(`boot/uImage-stub-${c}`)).size - 64);
  }
  const fit = dumpimageList(s('boot/fit-stub.itb'))!;
  assert.ok(fit.kind === 'fit' && fit.images.length === 3 && fit.configurations.length === 1);
  assert.equal(unpackBootimg(s('boot/boot-v2-stub.img'))!.kernelSize, 4096);
  assert.equal(unpackBootimg(s('boot/vendor_boot-v3.img'))!.magic, 'VNDRBOOT');
  for (const f of ['tree.newc.cpio', 'tree.crc.cpio']) assert.ok(cpioList(s(`boot/${f}`))!.entries.some((e) => e.name === 'etc/motd'));
  assert.ok(lsinitramfs(s('boot/initramfs-early-gzip.img'))!.entries.some((e) => e.name === 'kernel/x86/microcode/GenuineIntel.bin'));
  for (const f of ['foundation-v8.dtb', 'thunder2-99xx.dtb', 'kimg-test.dtb']) assert.equal(fdtdump(s(`dtb/${f}`))!.header.totalsize, statSync(s(`dtb/${f}`)).size);
});
