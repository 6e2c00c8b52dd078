/**
 * Input makers: real boot-format inputs built by the real tools (mkimage, dtc, mkbootimg, cpio, the
 * compressors, llvm-objcopy, binutils) from real kernels, into a directory the caller gives (`workDir(t)` makes
 * one that is removed after the test). Each maker returns what it made *and what went into it* (payload
 * files, sizes, names, the command lines), so a test can compare the oracle's reading, kimg's reading and
 * the ingredients three ways.
 *
 * Kernels: `realKernel()` is ../shared/corpus/arm64-gzip-linux6.1.Image (a genuine 6.1 arm64 Image, 1.7 MB),
 * or with `{ large: true }` Debian bookworm's 26 MiB arm64 cloud kernel, or, where ../shared is absent,
 * samples/riscv-gzip.Image (a genuine 7.2 riscv64 Image, 1 MB). `realX86Kernel()` is Debian sid's bzImage
 * (corpus only). `vmlinuxFromBzImage(dir)` cuts and decodes its payload as scripts/extract-vmlinux does.
 *
 * Determinism: mkimage runs with SOURCE_DATE_EPOCH=FIXED_EPOCH; cpio trees get that mtime, uid/gid 0 and
 * `--reproducible`; gzip runs with -n. Same tools and kernel, same bytes.
 *
 * A maker returns `null` with nothing made when one of its tools is absent: call `needs(t, maker's TOOLS)` (or
 * `requireTools` from ./oracles.js) first to skip visibly.
 *
 * | maker | tools | makes |
 * |---|---|---|
 * | `makeUImages(dir)` | mkimage + compressors | one legacy uImage per `mkimage -C` compression it supports, payload compressed as U-Boot expects |
 * | `makeMultiUImage(dir)` | mkimage | `-T multi`: kernel + ramdisk (+ a gzip'd part) |
 * | `makeFit(dir, {external})` | mkimage, dtc, cpio, gzip | FIT from an .its: gzip'd kernel, fdt, ramdisk, crc32/sha1/sha256 hashes, one configuration |
 * | `makeDtb(dir)` / `realDtbs()` | dtc | a DTB compiled from a small .dts (reservation, strings, cells, bytes, phandles) / Debian's arm64 DTBs in samples/dtb |
 * | `makeBootImages(dir)` / `makeVendorBootImages(dir)` | mkbootimg | boot.img v0-v3 / vendor_boot v3 (what Debian's mkbootimg 29 writes) |
 * | `makeCpioTree(dir)` / `makeCpio(dir, format)` | cpio | a tree (dir, file, executable, symlink, char device when root) and its newc / crc archive |
 * | `makeInitramfs(dir, codec)` | cpio + compressor | early-microcode uncompressed cpio + compressed main cpio, as dracut writes |
 * | `makeUki(dir, {initrd})` | llvm-objcopy, systemd-boot-efi | systemd's linuxx64.efi.stub + .osrel/.cmdline/.uname/.initrd/.linux (x86 kernel from the corpus) |
 * | `makeIkconfigImage(dir)` | gzip | a real Image with "IKCFG_ST" + gzip'd .config + "IKCFG_ED" written into a zero run |
 * | `makeElfs(dir)` | as/ld, s390x-linux-gnu-as/ld | ELF64 BE (s390x), ELF32 BE (s390), ELF32 LE (i386) executables with a Linux note and a build id; plus /bin/ls |
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CORPUS, SAMPLES } from './helpers.js';
import { hasTool, missing, mkimageNames, OracleError } from './oracles.js';

/** The timestamp every maker writes (2023-11-14 22:13:20 UTC). */
export const FIXED_EPOCH = 1700000000;

const ENV = { ...process.env, LC_ALL: 'C', TZ: 'UTC', SOURCE_DATE_EPOCH: String(FIXED_EPOCH) };

/** A temporary directory removed when the test ends (or, without a test context, the caller removes it). */
export function workDir(t?: TestContext, prefix = 'inputs'): string {
  const dir = mkdtempSync(join(tmpdir(), `kimg-${prefix}-`));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** For node:test: true when every tool a maker needs is present, else the test is skipped with a message. */
export function needs(t: TestContext, tools: readonly string[]): boolean {
  if (tools.every(hasTool)) return true;
  t.skip(missing(...tools));
  return false;
}

function have(tools: readonly string[]): boolean {
  return tools.every(hasTool);
}

function sh(cmd: string, args: readonly string[], options: { cwd?: string; input?: Uint8Array; stdoutTo?: string } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: options.cwd, env: ENV, input: options.input, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) throw new OracleError(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}): ${r.stderr?.toString().trim().slice(0, 2000)}`);
  if (options.stdoutTo) writeFileSync(options.stdoutTo, r.stdout);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------- kernels

export interface KernelSource {
  readonly path: string;
  readonly arch: 'arm64' | 'riscv';
  /** Where it comes from, for messages. */
  readonly origin: string;
}

/** A genuine kernel Image: the corpus's (small or, with `large`, Debian's 26 MiB one), else the sample riscv64 one. */
export function realKernel(options: { large?: boolean } = {}): KernelSource {
  const corpus = join(CORPUS, options.large ? 'debian-bookworm-6.1-cloud-arm64.vmlinuz' : 'arm64-gzip-linux6.1.Image');
  if (existsSync(corpus)) return { path: corpus, arch: 'arm64', origin: `../shared/corpus/${options.large ? 'debian-bookworm-6.1-cloud-arm64.vmlinuz' : 'arm64-gzip-linux6.1.Image'}` };
  return { path: join(SAMPLES, 'riscv-gzip.Image'), arch: 'riscv', origin: 'samples/riscv-gzip.Image (../shared is absent)' };
}

/** Debian sid's x86-64 bzImage from the corpus, or null where ../shared is absent. */
export function realX86Kernel(): string | null {
  const p = join(CORPUS, 'debian-sid-amd64.vmlinuz');
  return existsSync(p) ? p : null;
}

/**
 * The ELF vmlinux inside the corpus bzImage, as scripts/extract-vmlinux gets it: the payload at
 * (setup_sects + 1) * 512 + payload_offset, payload_length - 4 bytes (the le32 size trailer), decoded by
 * `zstd -dc` (its compression, found by magic). Null without the corpus or zstd.
 */
export function vmlinuxFromBzImage(dir: string): string | null {
  const bz = realX86Kernel();
  if (!bz || !hasTool('zstd')) return null;
  const b = readFileSync(bz);
  const setupSects = b[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + b.readUInt32LE(0x248);
  const length = b.readUInt32LE(0x24c);
  if (b.readUInt32BE(start) !== 0x28b52ffd) throw new OracleError('bzImage payload is not zstd: update vmlinuxFromBzImage');
  const out = join(dir, 'vmlinux');
  sh('zstd', ['-dc', '-q'], { input: b.subarray(start, start + length - 4), stdoutTo: out });
  return out;
}

// ---------------------------------------------------------------------------------------------- compressors

/** How U-Boot (and the kernel) expect each payload compressed, as CLI command lines reading stdin. */
export const COMPRESSORS = {
  none: null,
  gzip: ['gzip', '-9', '-n', '-c'],
  bzip2: ['bzip2', '-9', '-c'],
  /** LZMA-alone (.lzma), what U-Boot's lzma and the kernel's unlzma read. */
  lzma: ['xz', '--format=lzma', '-9', '-c'],
  /** lzop's file format (U-Boot's lzop_decompress, the kernel's unlzo). */
  lzo: ['lzop', '-9', '-c'],
  /** The LZ4 *frame* format, the lz4 CLI's default (U-Boot's lz4 is the frame format). */
  lz4: ['lz4', '-9', '-c'],
  /** The kernel's legacy lz4 (initramfs, zboot); not what U-Boot reads. */
  'lz4-legacy': ['lz4', '-l', '-9', '-c'],
  zstd: ['zstd', '-19', '-q', '-c'],
  /** xz with CRC32, as the kernel's decompressor requires (dracut and initramfs-tools write it so). */
  xz: ['xz', '--check=crc32', '-9', '-c'],
} as const satisfies Record<string, readonly string[] | null>;
export type Compression = keyof typeof COMPRESSORS;

/** Compresses `input` (a file) into `output` with the CLI; returns the command line used. */
export function compressFile(input: string, output: string, codec: Compression): readonly string[] {
  const cmd = COMPRESSORS[codec];
  if (!cmd) {
    copyFileSync(input, output);
    return ['cp'];
  }
  if (codec === 'lzo') {
    // lzop records the input's mtime (the current time for stdin), mode and name: give it a file with fixed ones.
    const tmp = mkdtempSync(join(tmpdir(), 'kimg-lzop-'));
    try {
      const data = join(tmp, 'data');
      copyFileSync(input, data);
      chmodSync(data, 0o644);
      utimesSync(data, FIXED_EPOCH, FIXED_EPOCH);
      sh(cmd[0], [...cmd.slice(1), data], { stdoutTo: output });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return [...cmd, '<file with fixed mtime, mode 0644, name "data">'];
  }
  sh(cmd[0], cmd.slice(1), { input: readFileSync(input), stdoutTo: output });
  return cmd;
}

// ---------------------------------------------------------------------------------------------- U-Boot legacy

export interface UImageInput {
  readonly path: string;
  /** mkimage's -C name. */
  readonly compression: string;
  /** The data after the 64-byte header: the compressed payload file. */
  readonly payloadPath: string;
  readonly payloadSize: number;
  /** The uncompressed kernel. */
  readonly kernel: KernelSource;
  /** The command that compressed it (["cp"] for none). */
  readonly compressor: readonly string[];
  readonly name: string;
  readonly arch: string;
  readonly os: string;
  readonly type: string;
  readonly load: number;
  readonly entry: number;
  readonly time: number;
}

export const UIMAGE_TOOLS = ['mkimage', 'gzip', 'bzip2', 'xz', 'lzop', 'lz4', 'zstd'] as const;
const LOAD = 0x80080000;

/** mkimage's -C names for which kimg's makers know U-Boot's stream format (all that mkimage 2023.01 lists). */
export function mkimageCompressions(): string[] {
  const names = mkimageNames();
  if (!names) return [];
  const known = new Set(['none', 'gzip', 'bzip2', 'lzma', 'lzo', 'lz4', 'zstd']);
  const listed = [...names.comp.keys()];
  const unknown = listed.filter((c) => !known.has(c));
  if (unknown.length) throw new OracleError(`mkimage -C lists ${unknown.join(', ')}: teach test/inputs.ts how U-Boot expects it compressed`);
  return listed;
}

/** One legacy uImage per `mkimage -C` compression, each payload compressed as U-Boot expects it. */
export function makeUImages(dir: string, options: { kernel?: KernelSource } = {}): UImageInput[] | null {
  if (!have(UIMAGE_TOOLS)) return null;
  const kernel = options.kernel ?? realKernel();
  const arch = kernel.arch === 'arm64' ? 'arm64' : 'riscv';
  return mkimageCompressions().map((comp) => {
    const payloadPath = join(dir, `kernel.${comp}`);
    const compressor = compressFile(kernel.path, payloadPath, comp as Compression);
    const path = join(dir, `uImage-${comp}`);
    const name = `Linux ${comp} kimg-test`;
    sh('mkimage', ['-A', arch, '-O', 'linux', '-T', 'kernel', '-C', comp, '-a', hex(LOAD), '-e', hex(LOAD), '-n', name, '-d', payloadPath, path]);
    return { path, compression: comp, payloadPath, payloadSize: statSync(payloadPath).size, kernel, compressor, name, arch, os: 'linux', type: 'kernel', load: LOAD, entry: LOAD, time: FIXED_EPOCH };
  });
}

export interface MultiUImageInput {
  readonly path: string;
  /** The part files in order (kernel, ramdisk, gzip'd dtb). */
  readonly parts: readonly string[];
  readonly partSizes: readonly number[];
  readonly name: string;
}

/** `mkimage -T multi`: the kernel, a cpio ramdisk and a gzip'd DTB, each part 4-byte aligned in the data. */
export function makeMultiUImage(dir: string, options: { kernel?: KernelSource } = {}): MultiUImageInput | null {
  if (!have(['mkimage', 'gzip', 'cpio', 'dtc'])) return null;
  const kernel = options.kernel ?? realKernel();
  const cpio = makeCpio(dir, 'newc');
  const dtb = makeDtb(dir);
  if (!cpio || !dtb) return null;
  const dtbGz = join(dir, 'multi-part.dtb.gz');
  compressFile(dtb.path, dtbGz, 'gzip');
  const parts = [kernel.path, cpio.path, dtbGz];
  const path = join(dir, 'uImage-multi');
  const name = 'multi kimg-test';
  sh('mkimage', ['-A', kernel.arch === 'arm64' ? 'arm64' : 'riscv', '-O', 'linux', '-T', 'multi', '-C', 'none', '-a', hex(LOAD), '-e', hex(LOAD), '-n', name, '-d', parts.join(':'), path]);
  return { path, parts, partSizes: parts.map((p) => statSync(p).size), name };
}

function hex(n: number): string {
  return n.toString(16);
}

// ---------------------------------------------------------------------------------------------- FIT

export interface FitImageInput {
  /** The node name under /images. */
  readonly name: string;
  readonly dataPath: string;
  readonly dataSize: number;
  readonly type: string;
  readonly compression: string;
  readonly hashAlgos: readonly string[];
}

export interface FitInput {
  readonly path: string;
  readonly itsPath: string;
  readonly images: readonly FitImageInput[];
  readonly defaultConfig: string;
  readonly configurations: Readonly<Record<string, { kernel: string; fdt: string; ramdisk: string }>>;
  /** Built with `mkimage -E` (data after the blob, `data-offset`/`data-size` properties). */
  readonly external: boolean;
}

/**
 * A FIT from an .its: kernel (gzip'd real Image; hashes crc32, sha1, sha256), fdt (makeDtb; crc32), ramdisk (a
 * newc cpio; sha256), configuration `conf-1` (default) naming all three. `external` places the data after the
 * blob (`mkimage -E`).
 */
export function makeFit(dir: string, options: { external?: boolean; kernel?: KernelSource } = {}): FitInput | null {
  if (!have(['mkimage', 'dtc', 'gzip', 'cpio'])) return null;
  const kernel = options.kernel ?? realKernel();
  const arch = kernel.arch === 'arm64' ? 'arm64' : 'riscv';
  const kernelGz = join(dir, 'fit-kernel.gz');
  compressFile(kernel.path, kernelGz, 'gzip');
  const dtb = makeDtb(dir);
  const cpio = makeCpio(dir, 'newc');
  if (!dtb || !cpio) return null;
  const images: FitImageInput[] = [
    { name: 'kernel-1', dataPath: kernelGz, dataSize: statSync(kernelGz).size, type: 'kernel', compression: 'gzip', hashAlgos: ['crc32', 'sha1', 'sha256'] },
    { name: 'fdt-1', dataPath: dtb.path, dataSize: statSync(dtb.path).size, type: 'flat_dt', compression: 'none', hashAlgos: ['crc32'] },
    { name: 'ramdisk-1', dataPath: cpio.path, dataSize: statSync(cpio.path).size, type: 'ramdisk', compression: 'none', hashAlgos: ['sha256'] },
  ];
  const node = (img: FitImageInput, extra: string) =>
    `\t\t${img.name} {\n\t\t\tdescription = "${img.type} for kimg";\n\t\t\tdata = /incbin/("${img.dataPath}");\n\t\t\ttype = "${img.type}";\n\t\t\tarch = "${arch}";\n${extra}\t\t\tcompression = "${img.compression}";\n` +
    img.hashAlgos.map((a, i) => `\t\t\thash-${i + 1} { algo = "${a}"; };\n`).join('') +
    '\t\t};\n';
  const its =
    '/dts-v1/;\n/ {\n\tdescription = "kimg test FIT";\n\t#address-cells = <1>;\n\timages {\n' +
    node(images[0]!, `\t\t\tos = "linux";\n\t\t\tload = <${'0x' + hex(LOAD)}>;\n\t\t\tentry = <${'0x' + hex(LOAD)}>;\n`) +
    node(images[1]!, '') +
    node(images[2]!, '\t\t\tos = "linux";\n\t\t\tload = <0x88000000>;\n') +
    '\t};\n\tconfigurations {\n\t\tdefault = "conf-1";\n\t\tconf-1 {\n\t\t\tdescription = "kernel, fdt and ramdisk";\n\t\t\tkernel = "kernel-1";\n\t\t\tfdt = "fdt-1";\n\t\t\tramdisk = "ramdisk-1";\n\t\t};\n\t};\n};\n';
  const itsPath = join(dir, 'kimg.its');
  writeFileSync(itsPath, its);
  const path = join(dir, options.external ? 'image-external.itb' : 'image.itb');
  sh('mkimage', [...(options.external ? ['-E'] : []), '-f', itsPath, path]);
  return { path, itsPath, images, defaultConfig: 'conf-1', configurations: { 'conf-1': { kernel: 'kernel-1', fdt: 'fdt-1', ramdisk: 'ramdisk-1' } }, external: !!options.external };
}

// ---------------------------------------------------------------------------------------------- device trees

/** The small .dts makeDtb compiles: a reservation, string lists, cells, /bits/ 64, bytes, an empty property, a phandle. */
export const TEST_DTS = `/dts-v1/;
/memreserve/ 0x80000000 0x10000;
/memreserve/ 0x90000000 0x2000;
/ {
	model = "kimg test board";
	compatible = "kimg,test", "kimg,board";
	#address-cells = <2>;
	#size-cells = <2>;
	chosen { bootargs = "console=ttyS0,115200 root=/dev/vda"; };
	memory@80000000 { device_type = "memory"; reg = <0x0 0x80000000 0x0 0x40000000>; };
	cpus {
		#address-cells = <1>;
		#size-cells = <0>;
		cpu@0 { device_type = "cpu"; compatible = "arm,cortex-a53"; reg = <0>; enable-method = "psci"; };
		cpu@1 { device_type = "cpu"; compatible = "arm,cortex-a53"; reg = <1>; enable-method = "psci"; };
	};
	soc {
		empty-prop;
		bytes = [01 02 03 04 05];
		wide = /bits/ 64 <0x123456789abcdef0>;
		intc: interrupt-controller { interrupt-controller; #interrupt-cells = <3>; };
		uart@9000000 { compatible = "arm,pl011", "arm,primecell"; interrupt-parent = <&intc>; status = "okay"; };
	};
};
`;

export interface DtbInput {
  readonly path: string;
  readonly dtsPath: string;
  /** Where it comes from. */
  readonly origin: string;
}

/** `dtc -I dts -O dtb` of TEST_DTS. */
export function makeDtb(dir: string): DtbInput | null {
  if (!hasTool('dtc')) return null;
  const dtsPath = join(dir, 'kimg-test.dts');
  const path = join(dir, 'kimg-test.dtb');
  if (!existsSync(path)) {
    writeFileSync(dtsPath, TEST_DTS);
    sh('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', path, dtsPath]);
  }
  return { path, dtsPath, origin: 'dtc of TEST_DTS (test/inputs.ts)' };
}

/** The genuine DTBs in samples/dtb (from Debian's linux-image-6.1.0-57-arm64; provenance in samples/README.md). */
export function realDtbs(): DtbInput[] {
  const dir = join(SAMPLES, 'dtb');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.dtb') && f !== 'kimg-test.dtb')
    .sort()
    .map((f) => ({ path: join(dir, f), dtsPath: '', origin: `samples/dtb/${f} (Debian linux-image-6.1.0-57-arm64 6.1.192-3)` }));
}

// ---------------------------------------------------------------------------------------------- Android

export interface BootImageInput {
  readonly path: string;
  readonly headerVersion: number;
  /** The files that went in, by unpack_bootimg's output name (kernel, ramdisk, second, dtb). */
  readonly parts: Readonly<Record<string, string>>;
  readonly cmdline: string;
  readonly board: string;
  readonly pageSize: number;
  readonly osVersion: string;
  readonly osPatchLevel: string;
  /** The mkbootimg arguments. */
  readonly args: readonly string[];
}

/** The header versions Debian's mkbootimg (29.0.6) writes for boot.img and vendor_boot. */
export const BOOT_IMAGE_VERSIONS = [0, 1, 2, 3] as const;
export const VENDOR_BOOT_VERSIONS = [3] as const;
/**
 * What cannot be made with Debian bookworm's mkbootimg 29.0.6: header v4 and vendor_boot v4 (ramdisk table,
 * bootconfig) are not implemented (`Boot header version 4 not supported`), and `--recovery_dtbo` fails under
 * Python 3 (its page count is a float: `struct.error: required argument is not an integer`), so v1/v2 images
 * carry no recovery DTBO (size 0, offset 0).
 */
export const BOOT_IMAGE_LIMITS = 'Debian mkbootimg 29.0.6 writes boot.img v0-v3 and vendor_boot v3 only (no v4, no ramdisk table); --recovery_dtbo fails under Python 3';

/** A cmdline longer than 512 bytes, so v0-v2 split it into cmdline and extra_cmdline. */
const LONG_CMDLINE = `console=ttyMSM0,115200n8 androidboot.hardware=kimg ${'kimg.padding=0123456789abcdef '.repeat(20)}quiet`;

/** boot.img for every header version mkbootimg writes: kernel (real Image), ramdisk (cpio), second (v0-v2), dtb (v2). */
export function makeBootImages(dir: string, options: { kernel?: string; pageSize?: number } = {}): BootImageInput[] | null {
  if (!have(['mkbootimg', 'cpio', 'dtc'])) return null;
  const kernel = options.kernel ?? realKernel().path;
  const cpio = makeCpio(dir, 'newc');
  const dtb = makeDtb(dir);
  if (!cpio || !dtb) return null;
  const second = join(dir, 'second.bin');
  writeFileSync(second, Buffer.from('second-stage bootloader of kimg tests\n'));
  return BOOT_IMAGE_VERSIONS.map((v) => {
    const pageSize = v >= 3 ? 4096 : (options.pageSize ?? 2048);
    const cmdline = v === 1 ? LONG_CMDLINE : `console=ttyS0 androidboot.v=${v}`;
    const parts: Record<string, string> = { kernel, ramdisk: cpio.path };
    const args = ['--header_version', String(v), '--kernel', kernel, '--ramdisk', cpio.path, '--cmdline', cmdline, '--os_version', '13.0.0', '--os_patch_level', '2024-05'];
    if (v < 3) {
      args.push('--second', second, '--board', `kimgv${v}`, '--pagesize', String(pageSize), '--base', '0x10000000');
      parts['second'] = second;
    }
    if (v === 2) {
      args.push('--dtb', dtb.path);
      parts['dtb'] = dtb.path;
    }
    const path = join(dir, `boot-v${v}.img`);
    sh('mkbootimg', [...args, '-o', path]);
    return { path, headerVersion: v, parts, cmdline, board: v < 3 ? `kimgv${v}` : '', pageSize, osVersion: '13.0.0', osPatchLevel: '2024-05', args };
  });
}

/** vendor_boot for every version mkbootimg writes (v3): vendor ramdisk (cpio), dtb, vendor cmdline, board. */
export function makeVendorBootImages(dir: string): BootImageInput[] | null {
  if (!have(['mkbootimg', 'cpio', 'dtc'])) return null;
  const cpio = makeCpio(dir, 'newc');
  const dtb = makeDtb(dir);
  if (!cpio || !dtb) return null;
  return VENDOR_BOOT_VERSIONS.map((v) => {
    const path = join(dir, `vendor_boot-v${v}.img`);
    const cmdline = 'androidboot.console=ttyS0 kimg.vendor=1';
    const args = ['--header_version', String(v), '--vendor_boot', path, '--vendor_ramdisk', cpio.path, '--dtb', dtb.path, '--vendor_cmdline', cmdline, '--board', 'kimgvendor', '--pagesize', '4096', '--base', '0x10000000'];
    sh('mkbootimg', args);
    return { path, headerVersion: v, parts: { vendor_ramdisk: cpio.path, dtb: dtb.path }, cmdline, board: 'kimgvendor', pageSize: 4096, osVersion: '', osPatchLevel: '', args };
  });
}

// ---------------------------------------------------------------------------------------------- cpio

export interface CpioTreeEntry {
  readonly name: string;
  readonly kind: 'dir' | 'file' | 'symlink' | 'chardev';
  /** Permission bits. */
  readonly perm: number;
  readonly bytes?: Uint8Array;
  readonly target?: string;
  readonly rdev?: readonly [number, number];
}

export interface CpioTree {
  readonly root: string;
  /** The entries, sorted by name (the order the makers archive them in). */
  readonly entries: readonly CpioTreeEntry[];
}

const TREE: readonly CpioTreeEntry[] = [
  { name: 'bin', kind: 'dir', perm: 0o755 },
  { name: 'bin/sh', kind: 'symlink', perm: 0o777, target: '../init' },
  { name: 'dev', kind: 'dir', perm: 0o755 },
  { name: 'dev/console', kind: 'chardev', perm: 0o600, rdev: [5, 1] },
  { name: 'etc', kind: 'dir', perm: 0o755 },
  { name: 'etc/motd', kind: 'file', perm: 0o644, bytes: Buffer.from('kimg initramfs test\n') },
  { name: 'etc/os-release', kind: 'file', perm: 0o644, bytes: Buffer.from('ID=kimg\nVERSION_ID=13\nPRETTY_NAME="kimg test initramfs"\n') },
  { name: 'init', kind: 'file', perm: 0o755, bytes: Buffer.from('#!/bin/sh\nexec /bin/sh\n') },
];

const EARLY_TREE: readonly CpioTreeEntry[] = [
  { name: 'kernel', kind: 'dir', perm: 0o755 },
  { name: 'kernel/x86', kind: 'dir', perm: 0o755 },
  { name: 'kernel/x86/microcode', kind: 'dir', perm: 0o755 },
  // Not real microcode (none may be redistributed here): the early archive's layout is what matters.
  { name: 'kernel/x86/microcode/GenuineIntel.bin', kind: 'file', perm: 0o644, bytes: Buffer.from('kimg early microcode placeholder\n'.repeat(4)) },
];

/** Is this process allowed to create device nodes (root)? The char device is left out otherwise. */
const canMknod = typeof process.getuid === 'function' && process.getuid() === 0 && hasTool('mknod');

/** Writes a tree into `root` with fixed mtimes; entries that cannot be made (a device node without root) are left out. */
function writeTree(root: string, entries: readonly CpioTreeEntry[]): CpioTree {
  mkdirSync(root, { recursive: true });
  const made: CpioTreeEntry[] = [];
  for (const e of entries) {
    const p = join(root, e.name);
    switch (e.kind) {
      case 'dir':
        mkdirSync(p, { recursive: true });
        chmodSync(p, e.perm);
        break;
      case 'file':
        writeFileSync(p, e.bytes!);
        chmodSync(p, e.perm);
        break;
      case 'symlink':
        symlinkSync(e.target!, p);
        break;
      case 'chardev':
        if (!canMknod) continue;
        sh('mknod', ['-m', e.perm.toString(8), p, 'c', String(e.rdev![0]), String(e.rdev![1])]);
        break;
    }
    made.push(e);
  }
  // Children first, so setting a file's time does not touch its directory's again.
  for (const e of [...made].reverse()) lutimesSync(join(root, e.name), FIXED_EPOCH, FIXED_EPOCH);
  return { root, entries: made };
}

/** The test tree (dir, files, an executable, a symlink, a char device when root) under dir/NAME. */
export function makeCpioTree(dir: string, name = 'tree'): CpioTree {
  const root = join(dir, name);
  if (existsSync(root)) rmSync(root, { recursive: true, force: true });
  return writeTree(root, TREE);
}

export interface CpioInput {
  readonly path: string;
  readonly format: 'newc' | 'crc';
  readonly tree: CpioTree;
}

/** Archives a tree's entries in name order with `cpio -o -H FORMAT --reproducible -R 0:0`. */
function archive(tree: CpioTree, format: 'newc' | 'crc', out: string): void {
  const list = `${tree.entries.map((e) => e.name).join('\n')}\n`;
  sh('cpio', ['-o', '-H', format, '--reproducible', '-R', '0:0', '--quiet', '-O', out], { cwd: tree.root, input: Buffer.from(list) });
}

/** A newc (070701) or crc (070702) archive of makeCpioTree. */
export function makeCpio(dir: string, format: 'newc' | 'crc'): CpioInput | null {
  if (!hasTool('cpio')) return null;
  const path = join(dir, `tree.${format}.cpio`);
  const tree = makeCpioTree(dir, `tree-${format}`);
  if (!existsSync(path)) archive(tree, format, path);
  return { path, format, tree };
}

export interface InitramfsSegment {
  readonly offset: number;
  readonly length: number;
  /** The compression of this segment ("none" for the early cpio). */
  readonly compression: Compression;
  readonly tree: CpioTree;
}

export interface InitramfsInput {
  readonly path: string;
  readonly segments: readonly InitramfsSegment[];
}

/** Compressions the kernel accepts for an initramfs segment (init/initramfs.c via lib/decompress.c). */
export const INITRAMFS_COMPRESSIONS = ['gzip', 'zstd', 'xz', 'lzma', 'bzip2', 'lz4-legacy', 'lzo'] as const satisfies readonly Compression[];

/**
 * An initramfs as dracut writes it with early microcode: an uncompressed newc cpio (kernel/x86/microcode/...,
 * padded by cpio to 512 bytes), then the main newc cpio compressed with `compression`.
 */
export function makeInitramfs(dir: string, compression: (typeof INITRAMFS_COMPRESSIONS)[number] = 'gzip'): InitramfsInput | null {
  const cmd = COMPRESSORS[compression];
  if (!hasTool('cpio') || !hasTool(cmd[0])) return null;
  const early = writeTree(join(dir, `early-${compression}`), EARLY_TREE);
  const main = makeCpioTree(dir, `main-${compression}`);
  const earlyPath = join(dir, `early-${compression}.cpio`);
  const mainPath = join(dir, `main-${compression}.cpio`);
  archive(early, 'newc', earlyPath);
  archive(main, 'newc', mainPath);
  const mainCompressed = `${mainPath}.${compression}`;
  compressFile(mainPath, mainCompressed, compression);
  const a = readFileSync(earlyPath);
  const b = readFileSync(mainCompressed);
  const path = join(dir, `initramfs-${compression}.img`);
  writeFileSync(path, Buffer.concat([a, b]));
  return {
    path,
    segments: [
      { offset: 0, length: a.length, compression: 'none', tree: early },
      { offset: a.length, length: b.length, compression, tree: main },
    ],
  };
}

// ---------------------------------------------------------------------------------------------- UKI

export const UKI_STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

export interface UkiInput {
  readonly path: string;
  readonly stub: string;
  /** Section name -> the file that went in. */
  readonly sections: Readonly<Record<string, string>>;
  readonly initrd: InitramfsInput;
}

/**
 * A UKI built the way systemd's documentation did before ukify: systemd-boot-efi's linuxx64.efi.stub with
 * `.osrel`, `.cmdline`, `.uname`, `.initrd` (makeInitramfs) and `.linux` (Debian sid's bzImage from the corpus)
 * added by llvm-objcopy. Null when the stub, llvm-objcopy or the x86 kernel is absent: `ukiUnavailable()` says which.
 */
export function makeUki(dir: string, options: { initrd?: InitramfsInput; kernel?: string } = {}): UkiInput | null {
  const kernel = options.kernel ?? realX86Kernel();
  if (ukiUnavailable(kernel) !== undefined || !kernel) return null;
  const initrd = options.initrd ?? makeInitramfs(dir, 'gzip');
  if (!initrd) return null;
  const files: Record<string, string> = {
    '.osrel': join(dir, 'uki-osrel'),
    '.cmdline': join(dir, 'uki-cmdline'),
    '.uname': join(dir, 'uki-uname'),
    '.initrd': initrd.path,
    '.linux': kernel,
  };
  writeFileSync(files['.osrel']!, 'ID=kimg\nVERSION_ID=13\nPRETTY_NAME="kimg test UKI"\n');
  writeFileSync(files['.cmdline']!, 'console=ttyS0 root=/dev/vda quiet');
  writeFileSync(files['.uname']!, '7.2.13+deb14-cloud-amd64');
  const args: string[] = [];
  for (const [name, file] of Object.entries(files)) args.push('--add-section', `${name}=${file}`, '--set-section-flags', `${name}=${name === '.linux' ? 'code' : 'data'},readonly`);
  const path = join(dir, 'kimg-test.uki.efi');
  sh('llvm-objcopy', [...args, UKI_STUB, path]);
  return { path, stub: UKI_STUB, sections: files, initrd };
}

/** Why makeUki cannot run here, or undefined when it can. */
export function ukiUnavailable(kernel: string | null = realX86Kernel()): string | undefined {
  if (!existsSync(UKI_STUB)) return `${UKI_STUB} is absent (Debian package systemd-boot-efi; .ci/run installs it): UKI test skipped`;
  if (!hasTool('llvm-objcopy')) return missing('llvm-objcopy');
  if (!hasTool('cpio') || !hasTool('gzip')) return missing('cpio', 'gzip');
  if (!kernel) return '../shared/corpus is absent (the UKI carries its x86-64 kernel, debian-sid-amd64.vmlinuz): UKI test skipped';
  return undefined;
}

// ---------------------------------------------------------------------------------------------- IKCONFIG

export interface IkconfigInput {
  readonly path: string;
  readonly kernel: KernelSource;
  /** The .config text embedded. */
  readonly config: string;
  readonly configOrigin: string;
  /** Offset of "IKCFG_ST"; the gzip stream follows it, then "IKCFG_ED". */
  readonly markerOffset: number;
  readonly gzipLength: number;
}

/**
 * A genuine Image with the kernel's kernel/configs.c layout written into it: "IKCFG_ST", the .config as
 * `gzip -n -9` (what kernel/Makefile does for config_data.gz), "IKCFG_ED". The blob overwrites the first run of
 * zero bytes (padding inside the Image) long enough to hold it, 8-aligned, so the Image header and the file
 * size stay as the build made them. The .config: the corpus's 6.1 arm64 build config, else samples/ikconfig/config_data.gz.
 */
export function makeIkconfigImage(dir: string, options: { kernel?: KernelSource } = {}): IkconfigInput | null {
  if (!hasTool('gzip')) return null;
  const kernel = options.kernel ?? realKernel();
  const corpusConfig = join(CORPUS, 'configs', 'linux-6.1-arm64-tinyconfig-zboot.config');
  let gz: Buffer;
  let config: string;
  let configOrigin: string;
  if (existsSync(corpusConfig)) {
    config = readFileSync(corpusConfig, 'utf8');
    gz = sh('gzip', ['-n', '-9', '-c'], { input: Buffer.from(config) });
    configOrigin = '../shared/corpus/configs/linux-6.1-arm64-tinyconfig-zboot.config';
  } else {
    gz = readFileSync(join(SAMPLES, 'ikconfig', 'config_data.gz'));
    config = sh('gzip', ['-dc'], { input: gz }).toString('utf8');
    configOrigin = 'samples/ikconfig/config_data.gz';
  }
  const blob = Buffer.concat([Buffer.from('IKCFG_ST'), gz, Buffer.from('IKCFG_ED')]);
  const image = Buffer.from(readFileSync(kernel.path));
  let at = -1;
  for (let i = 4096; i + blob.length + 16 <= image.length; ) {
    if (image[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < image.length && image[j] === 0) j++;
    const start = (i + 7) & ~7;
    if (j - start >= blob.length) {
      at = start;
      break;
    }
    i = j;
  }
  if (at < 0) throw new OracleError(`no zero run of ${blob.length} bytes in ${kernel.origin} for the IKCONFIG blob`);
  blob.copy(image, at);
  const path = join(dir, 'Image-ikconfig');
  writeFileSync(path, image);
  return { path, kernel, config, configOrigin, markerOffset: at, gzipLength: gz.length };
}

// ---------------------------------------------------------------------------------------------- ELF

export interface ElfInput {
  readonly path: string;
  readonly bits: 32 | 64;
  readonly endian: 'little' | 'big';
  /** What it is ("s390x executable (as + ld)", "/bin/ls"). */
  readonly what: string;
  /** The readelf that reads it best (the cross one for foreign machines; host readelf reads them too). */
  readonly readelf: string;
  /** The Linux note's version text it carries, if made here. */
  readonly linuxVersion?: string;
}

export const ELF_TOOLS = ['as', 'ld', 's390x-linux-gnu-as', 's390x-linux-gnu-ld'] as const;

/** Assembly for a tiny program with a `Linux` note (type 0x100, a version string, like the kernel's) and data. */
function elfSource(version: string, entry: string): string {
  return `\t.section .note.Linux, "a"
\t.balign 4
\t.long 6
\t.long ${version.length + 1}
\t.long 0x100
\t.asciz "Linux"
\t.balign 4
\t.asciz "${version}"
\t.balign 4
\t.text
\t.globl _start
_start:
${entry}
\t.data
banner:\t.asciz "Linux version ${version} (kimg test)"
\t.bss
\t.lcomm buffer, 4096
`;
}

/**
 * ELF files of every class and byte order: ELF64 big-endian (s390x), ELF32 big-endian (s390, -m31), ELF32
 * little-endian (i386), each an executable with program headers, a `Linux` note and a GNU build id, plus
 * /bin/ls (ELF64 little-endian, the host's). Those whose assembler is absent are left out.
 */
export function makeElfs(dir: string): ElfInput[] {
  const out: ElfInput[] = [];
  if (existsSync('/bin/ls')) out.push({ path: '/bin/ls', bits: 64, endian: 'little', what: '/bin/ls (the host ELF64 LE executable)', readelf: 'readelf' });
  const build = (name: string, as: string, asArgs: string[], ld: string, ldArgs: string[], entry: string, bits: 32 | 64, endian: 'little' | 'big', what: string, readelf: string) => {
    if (!hasTool(as) || !hasTool(ld)) return;
    const version = `6.1.0-kimg-${name}`;
    const src = join(dir, `${name}.s`);
    const obj = join(dir, `${name}.o`);
    const path = join(dir, `${name}.elf`);
    writeFileSync(src, elfSource(version, entry));
    sh(as, [...asArgs, '-o', obj, src]);
    sh(ld, [...ldArgs, '--build-id=sha1', '-o', path, obj]);
    out.push({ path, bits, endian, what, readelf: hasTool(readelf) ? readelf : 'readelf', linuxVersion: version });
  };
  build('s390x', 's390x-linux-gnu-as', ['-m64'], 's390x-linux-gnu-ld', [], '\tlghi %r2, 0\n\tsvc 1\n', 64, 'big', 's390x ELF64 big-endian executable (s390x-linux-gnu-as + ld)', 's390x-linux-gnu-readelf');
  build('s390', 's390x-linux-gnu-as', ['-m31'], 's390x-linux-gnu-ld', ['-m', 'elf_s390'], '\tlhi %r2, 0\n\tsvc 1\n', 32, 'big', 's390 ELF32 big-endian executable (s390x-linux-gnu-as -m31 + ld -m elf_s390)', 's390x-linux-gnu-readelf');
  build('i386', 'as', ['--32'], 'ld', ['-m', 'elf_i386'], '\tmovl $1, %eax\n\tint $0x80\n', 32, 'little', 'i386 ELF32 little-endian executable (as --32 + ld -m elf_i386)', 'readelf');
  return out;
}

/** A tree of real files under `root`, archived by `cpio -o -H newc` (names sorted), and `cpio -t`'s listing of it. */
export function cpioOfFiles(root: string, files: Record<string, Uint8Array | string>): { archive: Buffer; names: string[] } {
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), data);
  }
  const list = execFileSync('sh', ['-c', 'find . -mindepth 1 | LC_ALL=C sort'], { cwd: root, encoding: 'utf8' });
  const archive = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: root, input: list, maxBuffer: 64 << 20 });
  const names = execFileSync('cpio', ['-t', '--quiet'], { input: archive, encoding: 'utf8' }).trim().split('\n');
  return { archive, names };
}
