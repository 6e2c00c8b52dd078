/**
 * Android boot images (schemas android-boot and android-vendor-boot) against AOSP's own tools. The inputs
 * are made here by `mkbootimg` for every header version it writes (boot.img v0-v4, vendor_boot v3/v4 with a
 * ramdisk table), from a real kernel Image, a cpio ramdisk, DTBs made by dtc. The oracle is
 * `unpack_bootimg`: every field it prints must equal kimg's (`kimg dump --json`), and every file it
 * extracts must equal what `kimg extract --section NAME` writes, byte for byte. mkbootimg's `--id` (the
 * SHA-1 image id of v0-v2 headers) is a further field.
 *
 * Debian bookworm's mkbootimg (29.0.6) writes boot.img v0-v3 and vendor_boot v3 only and prints its fields
 * in an older style; bookworm-backports' (34.x) writes v4 and the vendor ramdisk table. The test reads both
 * and skips, visibly, what the installed version cannot make.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Kimg } from '../src/kimg.js';
import { CORPUS, corpusPresent, hasCommand, kimg, SAMPLES, sha256 } from './helpers.js';

/**
 * Where mkbootimg and unpack_bootimg are: KIMG_MKBOOTIMG_DIR (.ci/run unpacks bookworm-backports' 34.x into
 * ~/.cache/kimg-mkbootimg and sets it), else that cache if an earlier run made it, else the PATH's.
 */
const CACHED = join(homedir(), '.cache/kimg-mkbootimg/root/usr/bin');
const BIN_DIR = process.env['KIMG_MKBOOTIMG_DIR'] || (existsSync(join(CACHED, 'mkbootimg')) ? CACHED : null);
const MKBOOTIMG = BIN_DIR ? join(BIN_DIR, 'mkbootimg') : 'mkbootimg';
const UNPACK_BOOTIMG = BIN_DIR ? join(BIN_DIR, 'unpack_bootimg') : 'unpack_bootimg';
const TOOLS = [MKBOOTIMG, UNPACK_BOOTIMG, 'cpio', 'dtc', 'lz4'] as const;
const missing = TOOLS.filter((t) => (t.includes('/') ? !existsSync(t) : !hasCommand(t)));
const MISSING = `${missing.join(', ')} not installed (Debian packages mkbootimg, cpio, device-tree-compiler, lz4; .ci/run installs them): Android boot image tests skipped`;
/** AOSP mkbootimg >= 12 (Debian >= 34) writes header v4 and vendor ramdisk fragments; Debian bookworm's 29 does not. */
const helpText = missing.length ? '' : spawnSync(MKBOOTIMG, ['--help'], { encoding: 'utf8' }).stdout;
const WRITES_V4 = helpText.includes('--vendor_ramdisk_fragment');
const V4_ABSENT = `${MKBOOTIMG} writes no header v4 (Debian bookworm's is 29.0.6; .ci/run unpacks bookworm-backports' 34.x and sets KIMG_MKBOOTIMG_DIR): skipped`;
/** mkbootimg 29 fails on --recovery_dtbo under Python 3 (struct.error in its header writer). */
const WRITES_RECOVERY_DTBO = WRITES_V4;

const work = mkdtempSync(join(tmpdir(), 'kimg-android-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: readonly string[], options: { cwd?: string; input?: Uint8Array } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? work, input: options.input, maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  return r.stdout;
}

interface Parts {
  /** The kernel Image the boot images carry (gzip'd in `kernelGz`). */
  readonly image: string;
  readonly imageBytes: Buffer;
  readonly kernelGz: string;
  /** A plain (uncompressed) kernel Image from samples/. */
  readonly rawKernel: string;
  readonly ramdiskGz: string;
  readonly ramdiskLz4: string;
  readonly ramdiskCpio: string;
  readonly second: string;
  readonly dtb: string;
  readonly dtbo: string;
  readonly bootconfig: string;
}

let parts: Parts | null = null;
/** The inputs every image is made of, built once by the real tools. */
function makeParts(): Parts {
  if (parts) return parts;
  const dir = join(work, 'parts');
  mkdirSync(dir);
  // The arm64 kernel from the shared corpus where it is, else the RISC-V Image shipped in samples/.
  const image = corpusPresent ? join(CORPUS, 'arm64-gzip-linux6.1.Image') : join(SAMPLES, 'riscv-gzip.Image');
  const imageBytes = readFileSync(image);
  const kernelGz = join(dir, 'Image.gz');
  writeFileSync(kernelGz, gzipSync(imageBytes, { level: 9 }));
  // A small initramfs tree, archived by cpio (newc, as the kernel reads it), with fixed times.
  const tree = join(dir, 'ramdisk');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  mkdirSync(join(tree, 'lib/modules'), { recursive: true });
  writeFileSync(join(tree, 'init'), '#!/bin/sh\nexec /bin/sh\n');
  writeFileSync(join(tree, 'etc/motd'), 'kimg android test ramdisk\n');
  writeFileSync(join(tree, 'lib/modules/modules.load'), 'kimg_test.ko\n');
  const names = ['.', 'etc', 'etc/motd', 'init', 'lib', 'lib/modules', 'lib/modules/modules.load'];
  for (const n of names) utimesSync(join(tree, n), 0, 0);
  const cpio = run('cpio', ['-o', '-H', 'newc', '--reproducible', '--quiet'], { cwd: tree, input: Buffer.from(`${names.join('\n')}\n`) });
  const ramdiskCpio = join(dir, 'ramdisk.cpio');
  writeFileSync(ramdiskCpio, cpio);
  const ramdiskGz = join(dir, 'ramdisk.cpio.gz');
  writeFileSync(ramdiskGz, gzipSync(cpio, { level: 9 }));
  const ramdiskLz4 = join(dir, 'ramdisk.cpio.lz4');
  run('lz4', ['-l', '-9', '-f', '-q', ramdiskCpio, ramdiskLz4]);
  // A second-stage loader: real EFI code (the first 12 KiB of a zboot stub), opaque to the boot image.
  const second = join(dir, 'second.bin');
  writeFileSync(second, readFileSync(join(SAMPLES, 'riscv-zstd-linux6.1.efi')).subarray(0, 12 * 1024 + 17));
  const dts = join(dir, 'board.dts');
  writeFileSync(dts, '/dts-v1/;\n/ {\n\tmodel = "kimg test board";\n\tcompatible = "kimg,test";\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n\tmemory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x40000000>; };\n\tchosen { bootargs = "console=ttyAMA0"; };\n};\n');
  const dtb = join(dir, 'board.dtb');
  run('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', dtb, dts]);
  const overlay = join(dir, 'recovery.dts');
  writeFileSync(overlay, '/dts-v1/;\n/ {\n\tfragment@0 {\n\t\ttarget-path = "/";\n\t\t__overlay__ { kimg-recovery = "yes"; };\n\t};\n};\n');
  const dtbo = join(dir, 'recovery.dtbo');
  run('dtc', ['-q', '-@', '-I', 'dts', '-O', 'dtb', '-o', dtbo, overlay]);
  const bootconfig = join(dir, 'bootconfig');
  writeFileSync(bootconfig, 'androidboot.hardware = "kimg"\nandroidboot.serialno = "0123456789"\nkernel.console = "ttyAMA0"\n');
  parts = { image, imageBytes, kernelGz, rawKernel: join(SAMPLES, 'riscv-gzip.Image'), ramdiskGz, ramdiskLz4, ramdiskCpio, second, dtb, dtbo, bootconfig };
  return parts;
}

/** A command line longer than v0-v2's 512-byte cmdline field, so that extra_cmdline holds its tail. */
const LONG_CMDLINE = `console=ttyAMA0,115200 androidboot.hardware=kimg ${Array.from({ length: 60 }, (_, i) => `kimg.opt${i}=value${i}`).join(' ')}`;

interface ImageCase {
  readonly label: string;
  readonly vendor: boolean;
  readonly version: number;
  /** mkbootimg arguments, given the parts. */
  readonly args: (p: Parts) => string[];
  /** What the kernel region holds: a gzip'd Image (decoded to `image`) or a plain Image. */
  readonly kernel: 'gzip' | 'plain' | null;
  /** Changes the made image before the oracle reads it (a v4 boot signature mkbootimg cannot write). */
  readonly patch?: (bytes: Buffer) => Buffer;
  readonly skip?: string | undefined;
}

const BOOT_CASES: readonly ImageCase[] = [
  {
    label: 'boot.img v0: 2 KiB pages, gzip kernel, cpio.gz ramdisk, second stage, long cmdline',
    vendor: false,
    version: 0,
    kernel: 'gzip',
    args: (p) => ['--kernel', p.kernelGz, '--ramdisk', p.ramdiskGz, '--second', p.second, '--pagesize', '2048', '--base', '0x80000000', '--kernel_offset', '0x80000', '--cmdline', LONG_CMDLINE, '--board', 'kimg-v0', '--os_version', '10.0.2', '--os_patch_level', '2019-12'],
  },
  {
    label: 'boot.img v1: 4 KiB pages, recovery DTBO',
    vendor: false,
    version: 1,
    kernel: 'gzip',
    args: (p) => ['--kernel', p.kernelGz, '--ramdisk', p.ramdiskGz, '--second', p.second, ...(WRITES_RECOVERY_DTBO ? ['--recovery_dtbo', p.dtbo] : []), '--pagesize', '4096', '--cmdline', 'console=ttyMSM0 androidboot.hardware=kimg', '--board', 'kimg-v1', '--os_version', '11.0.0', '--os_patch_level', '2021-03'],
  },
  {
    label: 'boot.img v2: 16 KiB pages, second, recovery DTBO and DTB',
    vendor: false,
    version: 2,
    kernel: 'gzip',
    args: (p) => ['--kernel', p.kernelGz, '--ramdisk', p.ramdiskLz4, '--second', p.second, ...(WRITES_RECOVERY_DTBO ? ['--recovery_dtbo', p.dtbo] : []), '--dtb', p.dtb, '--dtb_offset', '0x03000000', '--tags_offset', '0x00000200', '--pagesize', '16384', '--cmdline', LONG_CMDLINE, '--board', 'kimg-v2', '--os_version', '12.1.7', '--os_patch_level', '2022-10'],
  },
  {
    label: 'boot.img v3: plain kernel Image, lz4 ramdisk, no os version',
    vendor: false,
    version: 3,
    kernel: 'plain',
    args: (p) => ['--kernel', p.rawKernel, '--ramdisk', p.ramdiskLz4, '--cmdline', 'console=ttyS0 root=/dev/ram0'],
  },
  {
    label: 'boot.img v4: gzip kernel, cpio ramdisk',
    vendor: false,
    version: 4,
    kernel: 'gzip',
    skip: WRITES_V4 ? undefined : V4_ABSENT,
    args: (p) => ['--kernel', p.kernelGz, '--ramdisk', p.ramdiskCpio, '--cmdline', 'console=ttyS0', '--os_version', '13.0.0', '--os_patch_level', '2023-11'],
  },
  {
    label: 'boot.img v4 with a boot signature (signature_size set to 4096 and the block appended)',
    vendor: false,
    version: 4,
    kernel: 'gzip',
    skip: WRITES_V4 ? undefined : V4_ABSENT,
    args: (p) => ['--kernel', p.kernelGz, '--ramdisk', p.ramdiskGz, '--os_version', '14.0.0', '--os_patch_level', '2024-06'],
    // mkbootimg writes signature_size 0 unless it signs (it has no signing key here): give the header a
    // signature the way a signer would, a 4096-byte block after the ramdisk's pages.
    patch: (b) => {
      const out = Buffer.concat([b, Buffer.alloc(4096, 0)]);
      out.writeUInt32LE(4096, 1580);
      for (let i = 0; i < 4096; i++) out[b.length + i] = (i * 131 + 7) & 0xff;
      return out;
    },
  },
];

const VENDOR_CASES: readonly ImageCase[] = [
  {
    label: 'vendor_boot v3: 4 KiB pages, cpio.gz vendor ramdisk, DTB',
    vendor: true,
    version: 3,
    kernel: null,
    args: (p) => ['--vendor_ramdisk', p.ramdiskGz, '--dtb', p.dtb, '--pagesize', '4096', '--vendor_cmdline', 'console=ttyAMA0 androidboot.vendor=kimg', '--board', 'kimg-vendor3'],
  },
  {
    label: 'vendor_boot v4: 2 KiB pages, ramdisk table of three fragments with board ids, DTB, bootconfig',
    vendor: true,
    version: 4,
    kernel: null,
    skip: WRITES_V4 ? undefined : V4_ABSENT,
    args: (p) => ['--vendor_ramdisk', p.ramdiskGz, '--dtb', p.dtb, '--pagesize', '2048', '--vendor_cmdline', 'console=ttyAMA0', '--board', 'kimg-vendor4', '--vendor_bootconfig', p.bootconfig,
      '--ramdisk_type', 'dlkm', '--ramdisk_name', 'dlkm', '--board_id0', '0x1234', '--board_id15', '0xfffffff0', '--vendor_ramdisk_fragment', p.ramdiskLz4,
      '--ramdisk_type', 'recovery', '--ramdisk_name', 'recovery', '--vendor_ramdisk_fragment', p.ramdiskCpio],
  },
  {
    label: 'vendor_boot v4: 4 KiB pages, one named fragment, no DTB, no bootconfig',
    vendor: true,
    version: 4,
    kernel: null,
    skip: WRITES_V4 ? undefined : V4_ABSENT,
    args: (p) => ['--pagesize', '4096', '--ramdisk_type', 'platform', '--ramdisk_name', 'platform', '--vendor_ramdisk_fragment', p.ramdiskGz],
  },
];

let made = 0;
/** Runs mkbootimg (and the case's patch); returns the image's path and what `--id` printed. */
function makeImage(c: ImageCase): { file: string; id: string | null } {
  const p = makeParts();
  const file = join(work, `${made++}-${c.vendor ? 'vendor_boot' : 'boot'}-v${c.version}.img`);
  const out = c.vendor ? ['--vendor_boot', file] : ['-o', file, '--id'];
  const stdout = run(MKBOOTIMG, ['--header_version', String(c.version), ...c.args(p), ...out]).toString().trim();
  if (c.patch) writeFileSync(file, c.patch(readFileSync(file)));
  return { file, id: c.vendor || c.version > 2 ? null : stdout };
}

// ---------------------------------------------------------------------------------------------------
// The oracle: what unpack_bootimg prints and writes.

interface RamdiskEntry {
  readonly file: string;
  readonly fields: ReadonlyMap<string, string>;
  readonly boardId: readonly bigint[];
}

interface Unpacked {
  /** Every "key: value" line, in order (a key may be printed once only). */
  readonly fields: ReadonlyMap<string, string>;
  readonly table: readonly RamdiskEntry[] | null;
  /** The files it wrote, by name (vendor_ramdiskNN, kernel, dtb, ...). */
  readonly files: ReadonlyMap<string, Buffer>;
  /** vendor_ramdiskNN -> the fragment's name (from vendor-ramdisk-by-name/ramdisk_NAME). */
  readonly fragmentNames: ReadonlyMap<string, string>;
}

function unpack(file: string): Unpacked {
  const out = join(work, `${basename(file)}.unpacked`);
  const text = run(UNPACK_BOOTIMG, ['--boot_img', file, '--out', out]).toString();
  const lines = text.split('\n').filter((l) => l !== '');
  const fields = new Map<string, string>();
  let table: RamdiskEntry[] | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === 'vendor ramdisk table: [') {
      table = [];
      for (i++; lines[i] !== ']'; ) {
        const head = /^ {4}(\S+): \{$/.exec(lines[i++] ?? '');
        assert.ok(head, `unpack_bootimg table entry header: ${lines[i - 1]}`);
        const entry = new Map<string, string>();
        const boardId: bigint[] = [];
        for (; lines[i] !== '    }'; i++) {
          const l = lines[i]!;
          if (l === '        board_id: [') {
            for (i++; lines[i] !== '        ]'; i++) for (const w of lines[i]!.trim().split(/,\s*/).filter(Boolean)) boardId.push(BigInt(w));
            continue;
          }
          const kv = /^ {8}([^:]+): ?(.*)$/.exec(l);
          assert.ok(kv, `unpack_bootimg table entry line: ${l}`);
          entry.set(kv[1]!, kv[2]!);
        }
        i++;
        table.push({ file: head[1]!, fields: entry, boardId });
      }
      continue;
    }
    const sep = line.indexOf(': ');
    const key = sep < 0 ? line.replace(/:$/, '') : line.slice(0, sep);
    assert.ok(!fields.has(key), `unpack_bootimg printed ${key} twice`);
    fields.set(key, sep < 0 ? '' : line.slice(sep + 2));
  }
  const files = new Map<string, Buffer>();
  const fragmentNames = new Map<string, string>();
  for (const name of readdirSync(out)) {
    const path = join(out, name);
    if (name === 'vendor-ramdisk-by-name') {
      for (const link of readdirSync(path)) fragmentNames.set(basename(readlinkSync(join(path, link))), link.replace(/^ramdisk_/, ''));
      continue;
    }
    assert.ok(lstatSync(path).isFile(), path);
    files.set(name, readFileSync(path));
  }
  return { fields, table, files, fragmentNames };
}

// ---------------------------------------------------------------------------------------------------
// kimg's reading of the same image.

type Json = Record<string, unknown>;

function dump(file: string, extra: readonly string[] = []): { root: Json; text: string } {
  const r = kimg(['dump', file, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr.toString());
  const doc = JSON.parse(r.stdout.toString()) as { layers: { headers: Record<string, Json> }[] };
  const headers = doc.layers[0]!.headers;
  const root = headers['android-boot'] ?? headers['android-vendor-boot'];
  assert.ok(root, `layer 0 is not an Android boot image: ${Object.keys(headers).join(', ')}`);
  return { root, text: r.stdout.toString() };
}

function at(v: Json, path: string): unknown {
  let cur: unknown = v;
  for (const k of path.split('.')) {
    assert.ok(cur !== null && typeof cur === 'object' && k in cur, `kimg's value has no ${path}`);
    cur = (cur as Json)[k];
  }
  return cur;
}

function ascii(hex: unknown): string {
  return Buffer.from(String(hex), 'hex').toString('latin1');
}

/** How a printed value compares with kimg's: integers in any base, strings exactly. */
function same(printed: string, value: unknown): boolean {
  if (typeof value === 'number' || typeof value === 'bigint') return /^(0x[0-9a-f]+|\d+)$/i.test(printed) && BigInt(printed) === BigInt(value);
  return printed === value;
}

/** "12.1.7" (or "None" / "0.0.0" when unset) against kimg's os version fields. */
function osVersion(printed: string, v: Json): boolean {
  const n = Number(v['os_version']);
  if (printed === 'None') return n === 0;
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(printed);
  return m !== null && Number(m[1]) === v['os_version_major'] && Number(m[2]) === v['os_version_minor'] && Number(m[3]) === v['os_version_micro'] && (n !== 0 || printed === '0.0.0');
}

/** "2022-10" (or "None" / "2000-00" when unset) against kimg's patch level fields. */
function osPatchLevel(printed: string, v: Json): boolean {
  if (printed === 'None') return v['os_patch_level'] === 0;
  const m = /^(\d{4})-(\d{2})$/.exec(printed);
  return m !== null && Number(m[1]) === v['os_patch_year'] && Number(m[2]) === v['os_patch_month'];
}

type FieldCheck = string | ((printed: string, v: Json) => boolean);

/** Every field unpack_bootimg prints for a boot.img (34.x spelling; 29.x's "boot_magic" beside it), and kimg's. */
const BOOT_FIELDS: Record<string, FieldCheck> = {
  'boot magic': (p, v) => p === ascii(v['magic']),
  boot_magic: (p, v) => p === ascii(v['magic']),
  kernel_size: 'header.kernel_size',
  'kernel load address': 'header.kernel_addr',
  'ramdisk size': 'header.ramdisk_size',
  'ramdisk load address': 'header.ramdisk_addr',
  'second bootloader size': 'header.second_size',
  'second bootloader load address': 'header.second_addr',
  'kernel tags load address': 'header.tags_addr',
  'page size': 'header.page_size',
  'os version': osVersion,
  'os patch level': osPatchLevel,
  'boot image header version': 'header.header_version',
  'product name': 'header.name',
  'command line args': 'header.cmdline',
  'additional command line args': 'header.extra_cmdline',
  'recovery dtbo size': 'header.recovery_dtbo_size',
  'recovery dtbo offset': 'header.recovery_dtbo_offset',
  'boot header size': 'header.header_size',
  'dtb size': 'header.dtb_size',
  'dtb address': 'header.dtb_addr',
  'boot.img signature size': 'header.signature_size',
};

const VENDOR_FIELDS: Record<string, FieldCheck> = {
  'boot magic': (p, v) => p === ascii(v['magic']),
  boot_magic: (p, v) => p === ascii(v['magic']),
  'vendor boot image header version': 'header_version',
  'page size': 'page_size',
  'kernel load address': 'kernel_addr',
  'ramdisk load address': 'ramdisk_addr',
  'vendor ramdisk size': 'vendor_ramdisk_size',
  'vendor ramdisk total size': 'vendor_ramdisk_size',
  'vendor command line args': 'cmdline',
  'kernel tags load address': 'tags_addr',
  'product name': 'name',
  'vendor boot image header size': 'header_size',
  'dtb size': 'dtb_size',
  'dtb address': 'dtb_addr',
  'vendor ramdisk table size': 'vendor_ramdisk_table_size',
  'vendor bootconfig size': 'bootconfig_size',
};

/** Compares every printed field with kimg's; returns how many were compared. */
function compareFields(u: Unpacked, root: Json, vendor: boolean): number {
  const table = vendor ? VENDOR_FIELDS : BOOT_FIELDS;
  let n = 0;
  for (const [key, printed] of u.fields) {
    const check = table[key];
    assert.ok(check !== undefined, `unpack_bootimg printed "${key}: ${printed}", which this test does not compare`);
    const ok = typeof check === 'string' ? same(printed, at(root, check)) : check(printed, root);
    assert.ok(ok, `${key}: unpack_bootimg says ${JSON.stringify(printed)}, kimg says ${typeof check === 'string' ? JSON.stringify(at(root, check)) : 'otherwise'}`);
    n++;
  }
  if (u.table) {
    const entries = at(root, 'vendor_ramdisk_table') as Json[];
    assert.equal(entries.length, u.table.length, 'ramdisk table entries');
    u.table.forEach((e, i) => {
      const k = entries[i]!;
      for (const [key, printed] of e.fields) {
        const value = key === 'type' ? (k['type'] as { value: number }).value : k[key];
        assert.ok(key in k, `table entry field ${key} is not in kimg's entry`);
        assert.ok(same(printed, value), `vendor_ramdisk_table[${i}].${key}: unpack_bootimg says ${JSON.stringify(printed)}, kimg says ${JSON.stringify(value)}`);
        n++;
      }
      assert.deepEqual((k['board_id'] as number[]).map(BigInt), e.boardId, `vendor_ramdisk_table[${i}].board_id`);
      n++;
    });
  }
  return n;
}

/** The section name kimg gives what unpack_bootimg writes as `file`; null when it has none (an unnamed fragment). */
function sectionFor(u: Unpacked, file: string): string | null {
  if (!/^vendor_ramdisk\d+$/.test(file)) return file;
  const name = u.fragmentNames.get(file);
  assert.ok(name !== undefined, `no by-name link for ${file}`);
  return name === '' ? null : name;
}

function extractSection(file: string, section: string): Buffer {
  const out = join(work, `${basename(file)}.${section}`);
  const r = kimg(['extract', file, '--section', section, '-o', out, '--force']);
  assert.equal(r.status, 0, `extract --section ${section}: ${r.stderr.toString()}`);
  return readFileSync(out);
}

const counts: string[] = [];

async function checkImage(t: TestContext, c: ImageCase): Promise<void> {
  if (missing.length) {
    t.skip(MISSING);
    return;
  }
  if (c.skip) {
    t.skip(c.skip);
    return;
  }
  if (!c.vendor && (c.version === 1 || c.version === 2) && !WRITES_RECOVERY_DTBO) t.diagnostic('this mkbootimg (29) fails on --recovery_dtbo under Python 3: the image is made without one');
  const { file, id } = makeImage(c);
  const u = unpack(file);
  const { root } = dump(file);

  // 1. Every field unpack_bootimg prints (and the image id mkbootimg printed).
  let fields = compareFields(u, root, c.vendor);
  if (id !== null) {
    assert.equal(`0x${at(root, 'header.id')}`, id, 'the image id mkbootimg --id printed');
    fields++;
  }
  assert.ok(fields >= (c.vendor ? 10 : 7), `only ${fields} fields compared: did unpack_bootimg print its fields?`);

  // 2. Every file it extracts, byte for byte, through `kimg extract --section NAME`.
  const k = new Kimg();
  const a = await k.analyze(file, { hash: true });
  assert.equal(a.error, null, a.error?.describe());
  const regions = a.layers[0]!.regions;
  const written = new Set<string>();
  for (const [name, bytes] of u.files) {
    const section = sectionFor(u, name);
    if (section === null) {
      // An unnamed fragment (what --vendor_ramdisk gives a v4 table): kimg lists it as a region with an
      // empty name, which `--section` cannot name; its bytes are compared through the region's place.
      const r = regions.find((x) => x.id === 'vendor_ramdisk_fragment' && x.name === '');
      assert.ok(r, `no unnamed fragment region for ${name}`);
      assert.ok(readFileSync(file).subarray(r.offset, r.offset + r.size).equals(bytes), `${name} (unnamed fragment) differs`);
    } else {
      assert.ok(extractSection(file, section).equals(bytes), `kimg extract --section ${section} differs from unpack_bootimg's ${name}`);
      written.add(section);
    }
  }
  // Every region kimg names with bytes in it is one unpack_bootimg writes, but the v4 vendor ramdisk
  // section, which holds the fragments one after another.
  for (const r of regions) {
    if (r.size === 0 || r.name === null || r.name === '' || written.has(r.name)) continue;
    assert.ok(c.vendor && c.version >= 4 && r.name === 'vendor_ramdisk', `kimg region ${r.name} (${r.size} bytes) is not among unpack_bootimg's files`);
    const fragments = [...u.files.keys()].filter((f) => /^vendor_ramdisk\d+$/.test(f)).sort().map((f) => u.files.get(f)!);
    assert.ok(extractSection(file, 'vendor_ramdisk').equals(Buffer.concat(fragments)), 'the v4 vendor ramdisk section is its fragments, in table order');
  }

  // 3. The layers: the kernel region is followed to the Image inside, found by what it is.
  const p = makeParts();
  if (c.kernel === 'gzip') {
    assert.deepEqual(a.layers.map((l) => l.detections[0]?.schema.id ?? l.codec?.plugin), ['android-boot', undefined, corpusPresent ? 'arm64-image' : 'riscv-image']);
    assert.equal(a.layers[2]!.codec?.plugin, 'gzip', 'the kernel region is a gzip stream, found by its magic');
    assert.equal(a.layers[2]!.sha256, sha256(p.imageBytes), 'the decoded kernel is the Image that went in');
  } else if (c.kernel === 'plain') {
    assert.deepEqual(a.layers.map((l) => l.detections[0]?.schema.id), ['android-boot', 'riscv-image']);
  } else {
    assert.equal(a.layers.length, 1, 'a vendor boot image holds no kernel: nothing to follow');
  }
  // Debian's mkbootimg 29 writes v3 header sizes of an older draft (1596, 2108): a warning, not an error.
  const legacySize = c.version === 3 && (c.vendor ? root['header_size'] === 2108 : root['header_size'] === 1596);
  const schema = c.vendor ? 'android-vendor-boot' : 'android-boot';
  assert.ok(a.checks.length > 0, 'checks ran');
  assert.deepEqual(a.checks.filter((x) => x.status !== 'ok').map((x) => `${x.status} ${x.id}`), legacySize ? [`warning ${schema}:header_size_matches_version`] : []);
  const info = kimg(['info', file]);
  assert.equal(info.status, 0, info.stderr.toString());
  assert.match(info.stdout.toString(), c.vendor ? new RegExp(`Android vendor boot image v${c.version}, `) : new RegExp(`Android boot image v${c.version}, `));

  counts.push(`${c.label}: ${fields} fields and ${u.files.size} files equal to unpack_bootimg's`);
  t.diagnostic(counts[counts.length - 1]!);
}

for (const c of [...BOOT_CASES, ...VENDOR_CASES]) test(`android: ${c.label}`, (t) => checkImage(t, c));

test('android: kimg extract writes the kernel Image a boot.img carries (gzip found by magic, decoded)', (t) => {
  if (missing.length) {
    t.skip(MISSING);
    return;
  }
  const { file } = makeImage(BOOT_CASES[2]!);
  const out = join(work, 'extracted-Image');
  const r = kimg(['extract', file, '-o', out]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(readFileSync(out).equals(makeParts().imageBytes));
  // Both engines read it alike.
  assert.equal(dump(file, ['--jitless']).text, dump(file).text);
});

// ---------------------------------------------------------------------------------------------------
// Damaged images: an error naming what is wrong, exit 3, and extract refuses.

function patched(from: string, name: string, patch: (b: Buffer) => Buffer): string {
  const path = join(work, name);
  writeFileSync(path, patch(Buffer.from(readFileSync(from))));
  return path;
}

function refuses(file: string, message: RegExp): void {
  const info = kimg(['info', file]);
  assert.equal(info.status, 3, `${basename(file)}: exit ${info.status}\n${info.stdout}${info.stderr}`);
  assert.match(info.stderr.toString(), message);
  const out = join(work, `${basename(file)}.out`);
  const x = kimg(['extract', file, '--section', 'ramdisk', '-o', out]);
  assert.equal(x.status, 3, `extract of ${basename(file)}: exit ${x.status}`);
  assert.equal(existsSync(out), false, 'nothing written');
}

test('android: a damaged boot.img is an error that says what is wrong', (t) => {
  if (missing.length) {
    t.skip(MISSING);
    return;
  }
  const v1 = makeImage(BOOT_CASES[1]!).file;
  const v3 = makeImage(BOOT_CASES[3]!).file;
  // The magic broken after its first bytes: nothing claims the file.
  refuses(patched(v1, 'bad-magic.img', (b) => { b.write('X', 5, 'latin1'); return b; }), /no schema and no codec recognises this file .*found "ANDROXD!/);
  // Truncated inside the kernel / inside the header.
  refuses(patched(v1, 'truncated.img', (b) => b.subarray(0, 300_000)), /android-boot .* damaged: kernel 0x1000\+\d+ runs past the end of the file \(300000 bytes\)/);
  refuses(patched(v1, 'truncated-header.img', (b) => b.subarray(0, 1000)), /field header\.extra_cmdline, offset 0x260: .*1024 bytes at 0x260 run past the end of the input/);
  refuses(patched(v3, 'truncated-v3.img', (b) => b.subarray(0, b.length - 4096)), /damaged: ramdisk 0x[0-9a-f]+\+\d+ runs past the end of the file/);
  // Page size 3, 0 and one too small for the header.
  refuses(patched(v1, 'page3.img', (b) => { b.writeUInt32LE(3, 36); return b; }), /check page_size_power_of_two.*page size 3 is not a power of two/);
  refuses(patched(v1, 'page0.img', (b) => { b.writeUInt32LE(0, 36); return b; }), /page size 0 is not a power of two/);
  refuses(patched(v1, 'page1k.img', (b) => { b.writeUInt32LE(1024, 36); return b; }), /the 1648-byte v1 header does not fit in its 1024-byte page/);
  // header_size that is not the version's.
  refuses(patched(v1, 'header-size.img', (b) => { b.writeUInt32LE(1660, 1644); return b; }), /header_size says 1660 bytes, but a v1 header is 1648 bytes/);
  refuses(patched(v3, 'header-size-v3.img', (b) => { b.writeUInt32LE(1584, 20); return b; }), /header_size says 1584 bytes, but a v3 header is 1580 bytes/);
  // A version no schema case reads.
  refuses(patched(v1, 'v9.img', (b) => { b.writeUInt32LE(9, 40); return b; }), /field header, offset 0x8: .*no case for header_version = 0x9 \(expected 0 or 1 or 2 or 3 or 4, found 0x9\)/);
  // A part placed past the end: the recovery DTBO offset the v1 header states.
  if (WRITES_RECOVERY_DTBO) refuses(patched(v1, 'dtbo-offset.img', (b) => { b.writeBigUInt64LE(0x10000000n, 1636); return b; }), /recovery DTBO 0x10000000\+\d+ runs past the end of the file/);
});

test('android: a damaged vendor_boot.img is an error that says what is wrong', (t) => {
  if (missing.length) {
    t.skip(MISSING);
    return;
  }
  const v3 = makeImage(VENDOR_CASES[0]!).file;
  refuses(patched(v3, 'vbad-magic.img', (b) => { b.write('0', 3, 'latin1'); return b; }), /no schema and no codec recognises this file .*found "VND0BOOT/);
  refuses(patched(v3, 'vpage3.img', (b) => { b.writeUInt32LE(3, 12); return b; }), /page size 3 is not a power of two/);
  refuses(patched(v3, 'vversion.img', (b) => { b.writeUInt32LE(5, 8); return b; }), /vendor boot header version 5 is not 3 or 4/);
  refuses(patched(v3, 'vheader-size.img', (b) => { b.writeUInt32LE(2128, 2096); return b; }), /header_size says 2128 bytes, but a v3 vendor boot header is 2112 bytes/);
  refuses(patched(v3, 'vtruncated.img', (b) => b.subarray(0, 4096 + 50)), /vendor ramdisk 0x1000\+\d+ runs past the end of the file \(4146 bytes\)/);
  if (!WRITES_V4) {
    t.diagnostic(V4_ABSENT);
    return;
  }
  const v4 = makeImage(VENDOR_CASES[1]!).file;
  // Header fields of v4 (after dtb_addr at 0x838): table size, entry count, entry size, bootconfig size.
  refuses(patched(v4, 'ventry-size.img', (b) => { b.writeUInt32LE(64, 2120); return b; }), /ramdisk table entries of 64 bytes cannot hold the 108 bytes of an entry/);
  refuses(patched(v4, 'ventries.img', (b) => { b.writeUInt32LE(4, 2116); return b; }), /4 entries of 108 bytes do not fit in the 324-byte ramdisk table/);
  refuses(patched(v4, 'vbootconfig.img', (b) => { b.writeUInt32LE(1 << 20, 2124); return b; }), /bootconfig 0x[0-9a-f]+\+1048576 runs past the end of the file/);
  // A fragment that claims more than the vendor ramdisk section holds.
  const table = patched(v4, 'vfragment.img', (b) => {
    const tableOffset = Number(at(dump(v4).root, 'vendor_ramdisk_table_offset'));
    b.writeUInt32LE(1 << 16, tableOffset + 108); // the second entry's size
    return b;
  });
  refuses(table, /ramdisk fragment 1 \("dlkm"\) 0x[0-9a-f]+\+65536 runs past the \d+-byte vendor ramdisk section/);
});

test('android: counts of fields compared', (t) => {
  for (const line of counts) t.diagnostic(line);
  if (missing.length) t.skip(MISSING);
});
