/**
 * Oracles: the real tools of each boot format, run on a file and their output parsed into records, so that
 * a test can compare kimg's fields with an independent reader's, field by field.
 *
 * Every oracle
 * - returns `null` when its tool is not installed (a test then skips visibly: `if (!requireTools(t, 'readelf')) return;`
 *   or `const r = readelf(f); if (!r) return t.skip(missing('readelf'));`);
 * - throws `OracleError` (with the command line and the tool's stderr) when the tool runs but fails, or prints
 *   something the parser does not understand: an oracle never guesses;
 * - records which tool and version produced it (`tool: { name, version }`);
 * - runs the tool with `LC_ALL=C TZ=UTC`, so dates and messages are stable.
 *
 * API (see each function's comment for its record):
 * | function | tool | what |
 * |---|---|---|
 * | `readelf(file, {cross})` | `readelf -h -l -S -n -W` | ELF file header, program headers (+ interpreter), sections (names, addr, off, size, flags...), section-to-segment mapping, notes (owner, type, desc bytes, build id) |
 * | `dumpimageList(file)` / `mkimageList(file)` | `dumpimage -l` / `mkimage -l` | legacy uImage (name, created, arch/os/type/compression as mkimage's short names, data size, load, entry, multi-file contents) or FIT (description, images with type/arch/os/compression/data size/load/entry/hashes, default and configurations) |
 * | `dumpimageExtract(file, index, outFile)` | `dumpimage -T flat_dt -p N` / `-T multi` | one FIT sub-image or multi-file part, as bytes |
 * | `mkimageNames()` | `mkimage -A/-O/-T/-C list` | U-Boot's short and long names of archs, OSes, types, compressions |
 * | `dtcDecompile(file)` | `dtc -I dtb -O dts` | reservations and the node tree, each property's value as raw bytes |
 * | `fdtdump(file)` | `fdtdump` | the header fields, reservations and the node tree (raw bytes again) |
 * | `unpackBootimg(file)` | `unpack_bootimg --boot_img F --out D` | the header fields it prints (boot v0-v3, vendor_boot v3 with Debian's mkbootimg 29) and every file it extracted, as bytes |
 * | `cpioList(file)` | `cpio -t -v -F F` | entries: mode (number and `ls` string), nlink, uid, gid, size (or rdev major/minor), name, link target |
 * | `cpioExtract(file)` | `cpio -i -d -m` in a temp dir | every entry's kind and bytes (files), target (symlinks) |
 * | `lsinitramfs(file)` | `lsinitramfs -l` (initramfs-tools-core) | entries of *every* segment of an initramfs (uncompressed early cpio + compressed main cpio) |
 * | `unmkinitramfs(file)` | `unmkinitramfs` | the segments' files, by segment directory (`early/`, `main/`) |
 * | `extractIkconfig(file)` | grep/tail/gzip, the method of the kernel's scripts/extract-ikconfig | the embedded .config text, and where its gzip starts |
 * | `peSectionBytes(file, name)` | `objcopy --dump-section` (GNU) | one PE section's raw bytes (a UKI's `.initrd`) |
 * | `lz4Test(file)` | `lz4 -t` | whether the lz4 CLI accepts a frame, with its message |
 *
 * `toolVersion(name)` gives the version string recorded in each result; `missing(...)` the skip message.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, lstatSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';

/** A tool ran and failed, or printed what its parser does not understand. */
export class OracleError extends Error {
  override readonly name = 'OracleError';
}

export interface ToolInfo {
  /** The command run ("readelf", "dumpimage"...). */
  readonly name: string;
  /** Its version as the tool (or, for tools without a version flag, its Debian package) reports it. */
  readonly version: string;
}

const ENV = { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };

/** Is `cmd` on PATH? */
export function hasTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** The skip message for absent tools, naming the Debian package that brings each. */
export function missing(...tools: string[]): string {
  const absent = tools.filter((t) => !hasTool(t));
  const list = (absent.length ? absent : tools).map((t) => `${t} (Debian package ${PACKAGE_OF[t] ?? t})`).join(', ');
  return `not installed: ${list}; .ci/run installs it: test skipped`;
}

/** For `node:test`: true when every tool is there, else the test is marked skipped with a message. */
export function requireTools(t: TestContext, ...tools: string[]): boolean {
  if (tools.every(hasTool)) return true;
  t.skip(missing(...tools));
  return false;
}

/** Which Debian package installs a tool (for messages and for tools that have no version flag). */
const PACKAGE_OF: Record<string, string> = {
  readelf: 'binutils',
  's390x-linux-gnu-readelf': 'binutils-s390x-linux-gnu',
  's390x-linux-gnu-as': 'binutils-s390x-linux-gnu',
  's390x-linux-gnu-ld': 'binutils-s390x-linux-gnu',
  as: 'binutils',
  ld: 'binutils',
  dumpimage: 'u-boot-tools',
  mkimage: 'u-boot-tools',
  dtc: 'device-tree-compiler',
  fdtdump: 'device-tree-compiler',
  mkbootimg: 'mkbootimg',
  unpack_bootimg: 'mkbootimg',
  cpio: 'cpio',
  lsinitramfs: 'initramfs-tools-core',
  unmkinitramfs: 'initramfs-tools-core',
  'llvm-objcopy': 'llvm',
  'llvm-readobj': 'llvm',
  objcopy: 'binutils',
  lz4: 'lz4',
  lzop: 'lzop',
  zstd: 'zstd',
  xz: 'xz-utils',
  lzma: 'xz-utils',
  bzip2: 'bzip2',
  gzip: 'gzip',
};

const versions = new Map<string, string>();
/**
 * The tool's version: its `--version` / `-V` first line where it has one, else its Debian package's version
 * (mkbootimg, unpack_bootimg, fdtdump, lsinitramfs print none).
 */
export function toolVersion(name: string): string {
  const known = versions.get(name);
  if (known !== undefined) return known;
  let v = '';
  const flag = VERSION_FLAG[name];
  if (flag) {
    const r = spawnSync(name, [flag], { env: ENV, encoding: 'utf8' });
    v = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => /\d/.test(l))?.trim() ?? '';
  }
  if (!v) {
    const pkg = PACKAGE_OF[name];
    const r = pkg ? spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { env: ENV, encoding: 'utf8' }) : undefined;
    v = r?.status === 0 && r.stdout ? `${pkg} ${r.stdout.trim()} (Debian package)` : 'unknown version';
  }
  versions.set(name, v);
  return v;
}
const VERSION_FLAG: Record<string, string> = {
  readelf: '--version',
  's390x-linux-gnu-readelf': '--version',
  dumpimage: '-V',
  mkimage: '-V',
  dtc: '--version',
  cpio: '--version',
  lz4: '-V',
  'llvm-objcopy': '--version',
  objcopy: '--version',
  gzip: '--version',
};

function tool(name: string): ToolInfo {
  return { name, version: toolVersion(name) };
}

/** Runs a tool; throws OracleError on a non-zero exit (unless `allowFail`). Output as text and as bytes. */
function run(cmd: string, args: readonly string[], options: { cwd?: string; allowFail?: boolean; input?: Uint8Array } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { env: ENV, cwd: options.cwd, encoding: 'utf8', maxBuffer: 1 << 30, input: options.input, stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (r.error) throw new OracleError(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (!options.allowFail && r.status !== 0) throw new OracleError(`${cmd} ${args.join(' ')} exited ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${r.stderr.trim().slice(0, 2000)}`);
  return r;
}

function num(text: string, what: string): number {
  const s = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s.slice(2), 16) : /^[0-9]+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new OracleError(`${what}: not a number: ${JSON.stringify(text)}`);
  return n;
}

/** Hex (with or without 0x) as bigint: ELF addresses and U-Boot addresses can exceed 2^53. */
function hex(text: string, what: string): bigint {
  const s = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]+$/i.test(s)) throw new OracleError(`${what}: not hex: ${JSON.stringify(text)}`);
  return BigInt(`0x${s}`);
}

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `kimg-oracle-${prefix}-`));
}

// ---------------------------------------------------------------------------------------------- readelf

export interface ElfHeaderRecord {
  /** "ELF64" / "ELF32". */
  readonly class: string;
  /** 64 or 32. */
  readonly bits: 32 | 64;
  /** "little" / "big" (from "2's complement, little endian"). */
  readonly endian: 'little' | 'big';
  /** The 16 e_ident bytes. */
  readonly ident: readonly number[];
  readonly osabi: string;
  readonly abiVersion: number;
  /** "EXEC", "DYN", "REL", "CORE" (the word before readelf's parenthesis). */
  readonly type: string;
  /** readelf's machine name ("Advanced Micro Devices X86-64", "IBM S/390", "AArch64"). */
  readonly machine: string;
  readonly version: number;
  readonly entry: bigint;
  readonly phoff: number;
  readonly shoff: number;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
  /** Every "Key: value" line of the header block, as printed. */
  readonly raw: Readonly<Record<string, string>>;
}

export interface ElfProgramHeaderRecord {
  /** "LOAD", "NOTE", "GNU_STACK"... (readelf's name). */
  readonly type: string;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: number;
  /** "R E", "RW ", "" (readelf's letters, spaces removed: "RE", "RW", ""). */
  readonly flags: string;
  readonly align: number;
  /** For PT_INTERP: the interpreter path readelf prints below it. */
  readonly interpreter?: string;
}

export interface ElfSectionRecord {
  readonly index: number;
  /** The name from .shstrtab ("" for section 0). */
  readonly name: string;
  /** "PROGBITS", "NOBITS", "NOTE", "STRTAB"... */
  readonly type: string;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly entsize: number;
  /** readelf's flag letters ("AX", "WA", ""). */
  readonly flags: string;
  readonly link: number;
  readonly info: number;
  readonly align: number;
}

export interface ElfNoteRecord {
  /** The section (or segment) readelf found it in ("Displaying notes found in: .notes"). */
  readonly section: string;
  readonly owner: string;
  readonly descsz: number;
  /** readelf's type text ("NT_GNU_BUILD_ID (unique build ID bitstring)", "OPEN", "Unknown note type: (0x00000013)"). */
  readonly typeText: string;
  /** The note type number when readelf prints it ("Unknown note type: (0x13)"), else undefined. */
  readonly typeNumber?: number;
  /** The descriptor bytes when readelf prints them ("description data: ..."). */
  readonly desc?: Uint8Array;
  /** NT_GNU_BUILD_ID's id, lowercase hex. */
  readonly buildId?: string;
  /** Any other detail readelf prints (ABI tag "OS: Linux, ABI: 3.2.0", properties...). */
  readonly details: string;
}

export interface ReadelfResult {
  readonly tool: ToolInfo;
  readonly header: ElfHeaderRecord;
  readonly programHeaders: readonly ElfProgramHeaderRecord[];
  /** Segment index -> the section names readelf maps into it. */
  readonly segmentSections: readonly (readonly string[])[];
  readonly sections: readonly ElfSectionRecord[];
  readonly notes: readonly ElfNoteRecord[];
  /** The `Linux` note's version string, when the file has one with a printable descriptor (a vmlinux). */
  readonly linuxVersion?: string;
}

/**
 * `readelf -h -l -S -n -W FILE`. The host readelf reads every ELF class, byte order and machine binutils knows;
 * `cross` names another one (e.g. "s390x-linux-gnu-readelf") to use instead.
 */
export function readelf(file: string, options: { cross?: string } = {}): ReadelfResult | null {
  const cmd = options.cross ?? 'readelf';
  if (!hasTool(cmd)) return null;
  const r = run(cmd, ['-h', '-l', '-S', '-n', '-W', file]);
  return { tool: tool(cmd), ...parseReadelf(r.stdout) };
}

/** Parses the text of `readelf -h -l -S -n -W` (exported for tests of the parser itself). */
export function parseReadelf(text: string): Omit<ReadelfResult, 'tool'> {
  const lines = text.split('\n');
  const raw: Record<string, string> = {};
  const programHeaders: ElfProgramHeaderRecord[] = [];
  const segmentSections: string[][] = [];
  const sections: ElfSectionRecord[] = [];
  const notes: ElfNoteRecord[] = [];
  type Block = 'none' | 'header' | 'sections' | 'phdrs' | 'mapping' | 'notes';
  let block: Block = 'none';
  let noteSection = '';
  for (const line of lines) {
    if (line.startsWith('ELF Header:')) block = 'header';
    else if (line.startsWith('Section Headers:') || line.startsWith('There are no sections')) block = 'sections';
    else if (line.startsWith('Program Headers:') || line.startsWith('There are no program headers')) block = 'phdrs';
    else if (line.startsWith(' Section to Segment mapping:')) block = 'mapping';
    else if (line.startsWith('Displaying notes found in: ') || line.startsWith('Displaying notes found at file offset')) {
      block = 'notes';
      noteSection = line.replace(/^Displaying notes found in: /, '').trim();
    } else if (/^(Elf file type is|Entry point 0x|There are \d+ program headers|There are \d+ section headers)/.test(line)) {
      // headers of -l / -S
    } else if (block === 'header') {
      const m = /^\s+([^:]+):\s+(.*)$/.exec(line);
      if (m) raw[m[1]!.trim()] = m[2]!.trim();
    } else if (block === 'sections') {
      const m = /^\s+\[\s*(\d+)\]\s(.*)$/.exec(line);
      if (m) sections.push(sectionLine(Number(m[1]), m[2]!));
    } else if (block === 'phdrs') {
      const interp = /^\s+\[Requesting program interpreter: (.*)\]$/.exec(line);
      if (interp) {
        const last = programHeaders.pop();
        if (!last) throw new OracleError(`readelf: interpreter line before any program header: ${line}`);
        programHeaders.push({ ...last, interpreter: interp[1]! });
      } else if (/^\s+[A-Z_]+[A-Za-z0-9_+]*\s+0x/.test(line)) programHeaders.push(programHeaderLine(line));
    } else if (block === 'mapping') {
      const m = /^\s+(\d+)\s*(.*)$/.exec(line);
      if (m) segmentSections[Number(m[1])] = m[2]!.trim() ? m[2]!.trim().split(/\s+/) : [];
    } else if (block === 'notes') {
      if (/^\s+Owner\s+Data size/.test(line) || !line.trim()) continue;
      const m = /^ {2}(\S.*?)\s+0x([0-9a-f]+)\t([^\t]*)(?:\t(.*))?$/.exec(line);
      if (m) notes.push(noteLine(noteSection, m[1]!, m[2]!, m[3]!, m[4] ?? ''));
      else {
        // a detail line of the previous note (ABI tag, properties...)
        const last = notes.pop();
        if (!last) throw new OracleError(`readelf: note detail before any note: ${line}`);
        notes.push(withDetail(last, line.trim()));
      }
    }
  }
  const header = elfHeader(raw);
  const linux = notes.find((n) => n.owner === 'Linux' && n.desc && n.desc.length > 1 && isPrintableCString(n.desc));
  const linuxVersion = linux?.desc ? new TextDecoder().decode(linux.desc.subarray(0, linux.desc.indexOf(0) < 0 ? linux.desc.length : linux.desc.indexOf(0))) : undefined;
  return { header, programHeaders, segmentSections, sections, notes, ...(linuxVersion !== undefined ? { linuxVersion } : {}) };
}

function isPrintableCString(b: Uint8Array): boolean {
  const end = b.indexOf(0);
  const text = b.subarray(0, end < 0 ? b.length : end);
  return text.length > 0 && text.every((c) => c >= 0x20 && c < 0x7f) && (end < 0 || b.subarray(end).every((c) => c === 0));
}

function elfHeader(raw: Record<string, string>): ElfHeaderRecord {
  const get = (k: string): string => {
    const v = raw[k];
    if (v === undefined) throw new OracleError(`readelf: no "${k}" in the ELF header block`);
    return v;
  };
  const leading = (k: string): number => num(get(k).split(/\s/)[0]!, k);
  const cls = get('Class');
  const data = get('Data');
  return {
    class: cls,
    bits: cls === 'ELF64' ? 64 : cls === 'ELF32' ? 32 : (() => { throw new OracleError(`readelf: class ${cls}`); })(),
    endian: /little endian/.test(data) ? 'little' : /big endian/.test(data) ? 'big' : (() => { throw new OracleError(`readelf: data ${data}`); })(),
    ident: get('Magic').split(/\s+/).map((b) => num(`0x${b}`, 'Magic')),
    osabi: get('OS/ABI'),
    abiVersion: leading('ABI Version'),
    type: get('Type').split(' ')[0]!,
    machine: get('Machine'),
    version: num(get('Version'), 'Version'),
    entry: hex(get('Entry point address'), 'entry'),
    phoff: leading('Start of program headers'),
    shoff: leading('Start of section headers'),
    flags: num(get('Flags').split(/[\s,]/)[0]!, 'Flags'),
    ehsize: leading('Size of this header'),
    phentsize: leading('Size of program headers'),
    phnum: leading('Number of program headers'),
    shentsize: leading('Size of section headers'),
    shnum: leading('Number of section headers'),
    shstrndx: leading('Section header string table index'),
    raw,
  };
}

/** "NAME TYPE ADDR OFF SIZE ES FLG LK INF AL", read from the right: the name may be empty, the flags too. */
function sectionLine(index: number, rest: string): ElfSectionRecord {
  const tokens = rest.trim().split(/\s+/);
  const take = (): string => {
    const t = tokens.pop();
    if (t === undefined) throw new OracleError(`readelf: short section line [${index}] ${rest}`);
    return t;
  };
  const align = num(take(), 'Al');
  const info = num(take(), 'Inf');
  const link = num(take(), 'Lk');
  let flags = take();
  let es: string;
  if (/^[0-9a-f]+$/.test(flags)) {
    es = flags; // no flag letters
    flags = '';
  } else es = take();
  const size = take();
  const off = take();
  const addr = take();
  const type = take();
  return { index, name: tokens.join(' '), type, addr: hex(addr, 'Address'), offset: num(`0x${off}`, 'Off'), size: num(`0x${size}`, 'Size'), entsize: num(`0x${es}`, 'ES'), flags, link, info, align };
}

/** "TYPE OFFSET VADDR PADDR FILESZ MEMSZ FLG ALIGN"; FLG may be "R E" (a space) or empty. */
function programHeaderLine(line: string): ElfProgramHeaderRecord {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length < 7) throw new OracleError(`readelf: short program header line: ${line}`);
  const [type, offset, vaddr, paddr, filesz, memsz] = tokens as [string, string, string, string, string, string];
  return {
    type,
    offset: num(offset, 'Offset'),
    vaddr: hex(vaddr, 'VirtAddr'),
    paddr: hex(paddr, 'PhysAddr'),
    filesz: num(filesz, 'FileSiz'),
    memsz: num(memsz, 'MemSiz'),
    flags: tokens.slice(6, -1).join(''),
    align: num(tokens[tokens.length - 1]!, 'Align'),
  };
}

function noteLine(section: string, owner: string, size: string, typeText: string, detail: string): ElfNoteRecord {
  const typeNumber = /\(0x([0-9a-f]+)\)\s*$/.exec(typeText)?.[1];
  return withDetail({ section, owner: owner.trim(), descsz: num(`0x${size}`, 'Data size'), typeText: typeText.trim(), ...(typeNumber ? { typeNumber: num(`0x${typeNumber}`, 'note type') } : {}), details: '' }, detail.trim());
}

function withDetail(note: ElfNoteRecord, detail: string): ElfNoteRecord {
  if (!detail) return note;
  const data = /^description data: ((?:[0-9a-f]{2} ?)*)$/.exec(detail);
  if (data) return { ...note, desc: Uint8Array.from(data[1]!.trim().split(/\s+/).filter(Boolean), (b) => Number.parseInt(b, 16)) };
  const id = /^Build ID: ([0-9a-f]+)$/.exec(detail);
  if (id) return { ...note, buildId: id[1]! };
  return { ...note, details: note.details ? `${note.details}\n${detail}` : detail };
}

// ---------------------------------------------------------------------------------------------- U-Boot

export interface UBootNames {
  readonly tool: ToolInfo;
  /** short name ("arm64") -> long name ("AArch64"), as `mkimage -A list` prints them; likewise os, type, comp. */
  readonly arch: ReadonlyMap<string, string>;
  readonly os: ReadonlyMap<string, string>;
  readonly type: ReadonlyMap<string, string>;
  readonly comp: ReadonlyMap<string, string>;
}

let namesCache: UBootNames | undefined;
/** U-Boot's name tables, from mkimage itself (`mkimage -A list`, `-O list`, `-T list`, `-C list`). */
export function mkimageNames(): UBootNames | null {
  if (!hasTool('mkimage')) return null;
  if (namesCache) return namesCache;
  const table = (flag: string): Map<string, string> => {
    const r = run('mkimage', [flag, 'list'], { allowFail: true });
    const m = new Map<string, string>();
    for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
      const e = /^\t(\S+)\s+(.*\S)\s*$/.exec(line);
      if (e) m.set(e[1]!, e[2]!);
    }
    if (m.size === 0) throw new OracleError(`mkimage ${flag} list printed no table`);
    return m;
  };
  namesCache = { tool: tool('mkimage'), arch: table('-A'), os: table('-O'), type: table('-T'), comp: table('-C') };
  return namesCache;
}

export interface LegacyUImageRecord {
  readonly kind: 'legacy';
  readonly tool: ToolInfo;
  readonly name: string;
  /** "Created:" as printed (UTC) and as a Unix time. */
  readonly created: string;
  readonly createdUnix: number;
  /** mkimage's short names ("arm64", "linux", "kernel", "lz4"), mapped back from the long names it prints. */
  readonly arch: string;
  readonly os: string;
  readonly type: string;
  readonly compression: string;
  /** The "Image Type:" line as printed. */
  readonly imageTypeText: string;
  readonly dataSize: number;
  readonly load: bigint;
  readonly entry: bigint;
  /** Multi-file images: each part's size, in order. */
  readonly contents?: readonly number[];
}

export interface FitHashRecord {
  readonly algo: string;
  /** Lowercase hex, as dumpimage prints it. */
  readonly value: string;
}

export interface FitImageRecord {
  readonly index: number;
  /** The node name under /images. */
  readonly name: string;
  readonly description?: string;
  readonly created?: string;
  /** Short names, mapped back from dumpimage's long names. */
  readonly type?: string;
  readonly compression?: string;
  readonly arch?: string;
  readonly os?: string;
  readonly dataSize?: number;
  /** Absent when dumpimage prints "unavailable". */
  readonly load?: bigint;
  readonly entry?: bigint;
  readonly hashes: readonly FitHashRecord[];
  /** Every "Key: value" line of the image, as printed (the last one wins for repeated keys). */
  readonly raw: Readonly<Record<string, string>>;
}

export interface FitConfigRecord {
  readonly index: number;
  readonly name: string;
  readonly description?: string;
  readonly kernel?: string;
  readonly ramdisk?: string;
  /** "FDT:" may list several. */
  readonly fdt?: readonly string[];
  readonly raw: Readonly<Record<string, string>>;
}

export interface FitRecord {
  readonly kind: 'fit';
  readonly tool: ToolInfo;
  readonly description: string;
  readonly created?: string;
  readonly images: readonly FitImageRecord[];
  readonly defaultConfig?: string;
  readonly configurations: readonly FitConfigRecord[];
}

export type UImageListing = LegacyUImageRecord | FitRecord;

/** `dumpimage -l FILE`: a legacy uImage or a FIT, whichever the file is. */
export function dumpimageList(file: string): UImageListing | null {
  return listWith('dumpimage', file);
}

/** `mkimage -l FILE`: the same listing through mkimage (the issue names both as oracles). */
export function mkimageList(file: string): UImageListing | null {
  return listWith('mkimage', file);
}

function listWith(cmd: 'dumpimage' | 'mkimage', file: string): UImageListing | null {
  if (!hasTool(cmd)) return null;
  const names = mkimageNames();
  if (!names) return null;
  const r = run(cmd, ['-l', file]);
  return parseUImageListing(r.stdout, names, tool(cmd));
}

/** Parses `dumpimage -l` / `mkimage -l` output (exported for tests of the parser). */
export function parseUImageListing(text: string, names: UBootNames, info: ToolInfo): UImageListing {
  if (/^FIT description:/m.test(text)) return parseFit(text, names, info);
  const field = (k: string): string => {
    const m = new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(text);
    if (!m) throw new OracleError(`${info.name} -l: no "${k}:" line in:\n${text}`);
    return m[1]!.trimEnd();
  };
  const created = field('Created');
  const imageTypeText = field('Image Type');
  const t = splitImageType(imageTypeText, names);
  const contents: number[] = [];
  for (const m of text.matchAll(/^\s+Image (\d+): (\d+) Bytes/gm)) contents[Number(m[1])] = Number(m[2]);
  return {
    kind: 'legacy',
    tool: info,
    name: field('Image Name'),
    created,
    createdUnix: unixTime(created),
    ...t,
    imageTypeText,
    dataSize: bytesOf(field('Data Size')),
    load: hex(field('Load Address'), 'Load Address'),
    entry: hex(field('Entry Point'), 'Entry Point'),
    ...(/^Contents:/m.test(text) ? { contents } : {}),
  };
}

/** "AArch64 Linux Kernel Image (lz4 compressed)": arch, os and type long names, then the compression's. */
function splitImageType(text: string, names: UBootNames): { arch: string; os: string; type: string; compression: string } {
  const m = /^(.*) \(([^()]*)\)$/.exec(text);
  if (!m) throw new OracleError(`Image Type: no "(compression)" in ${JSON.stringify(text)}`);
  const compression = shortName(names.comp, m[2]!, 'compression');
  const rest = m[1]!;
  // Long names contain spaces ("AMD x86_64", "Kernel Image (no loading done)"): try every arch and os name.
  for (const [archShort, archLong] of names.arch) {
    if (!rest.startsWith(`${archLong} `)) continue;
    const afterArch = rest.slice(archLong.length + 1);
    for (const [osShort, osLong] of names.os) {
      if (!afterArch.startsWith(`${osLong} `)) continue;
      const typeLong = afterArch.slice(osLong.length + 1);
      const type = [...names.type].find(([, l]) => l === typeLong)?.[0];
      if (type) return { arch: archShort, os: osShort, type, compression };
    }
  }
  throw new OracleError(`Image Type: ${JSON.stringify(text)} is not "<arch> <os> <type> (<comp>)" in mkimage's own names`);
}

function shortName(table: ReadonlyMap<string, string>, long: string, what: string): string {
  for (const [s, l] of table) if (l === long) return s;
  throw new OracleError(`${what}: ${JSON.stringify(long)} is not one of mkimage's names`);
}

/** "139190 Bytes = 135.93 KiB = 0.13 MiB" -> 139190. */
function bytesOf(text: string): number {
  const m = /^(\d+) Bytes/.exec(text);
  if (!m) throw new OracleError(`Data Size: ${JSON.stringify(text)}`);
  return Number(m[1]);
}

/** "Tue Nov 14 22:13:20 2023" (TZ=UTC, ctime format) -> Unix seconds. */
function unixTime(text: string): number {
  const m = /^\w{3} (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(text.trim());
  const month = m ? ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[1]!) : -1;
  if (!m || month < 0) throw new OracleError(`Created: ${JSON.stringify(text)} is not a ctime date`);
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])) / 1000;
}

function parseFit(text: string, names: UBootNames, info: ToolInfo): FitRecord {
  const lines = text.split('\n');
  const description = /^FIT description: (.*)$/m.exec(text)?.[1] ?? '';
  const created = /^Created:\s+(.*)$/m.exec(text)?.[1];
  const images: FitImageRecord[] = [];
  const configurations: FitConfigRecord[] = [];
  let defaultConfig: string | undefined;
  let current: { kind: 'image' | 'config'; index: number; name: string; raw: Record<string, string>; hashes: FitHashRecord[]; pendingAlgo?: string } | undefined;
  const flush = () => {
    if (!current) return;
    const raw = current.raw;
    if (current.kind === 'image') {
      const addr = (k: string) => (raw[k] === undefined || raw[k] === 'unavailable' ? undefined : hex(raw[k]!, k));
      const load = addr('Load Address');
      const entry = addr('Entry Point');
      images.push({
        index: current.index,
        name: current.name,
        ...(raw['Description'] !== undefined ? { description: raw['Description'] } : {}),
        ...(raw['Created'] !== undefined ? { created: raw['Created'] } : {}),
        ...(raw['Type'] !== undefined ? { type: shortName(names.type, raw['Type'], 'Type') } : {}),
        ...(raw['Compression'] !== undefined ? { compression: shortName(names.comp, raw['Compression'], 'Compression') } : {}),
        ...(raw['Architecture'] !== undefined ? { arch: shortName(names.arch, raw['Architecture'], 'Architecture') } : {}),
        ...(raw['OS'] !== undefined ? { os: shortName(names.os, raw['OS'], 'OS') } : {}),
        ...(raw['Data Size'] !== undefined ? { dataSize: bytesOf(raw['Data Size']) } : {}),
        ...(load !== undefined ? { load } : {}),
        ...(entry !== undefined ? { entry } : {}),
        hashes: current.hashes,
        raw,
      });
    } else {
      configurations.push({
        index: current.index,
        name: current.name,
        ...(raw['Description'] !== undefined ? { description: raw['Description'] } : {}),
        ...(raw['Kernel'] !== undefined ? { kernel: raw['Kernel'] } : {}),
        ...(raw['Init Ramdisk'] !== undefined ? { ramdisk: raw['Init Ramdisk'] } : {}),
        ...(raw['FDT'] !== undefined ? { fdt: raw['FDT'].split(/\s+/) } : {}),
        raw,
      });
    }
    current = undefined;
  };
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^ Image (\d+) \((.*)\)$/.exec(line))) {
      flush();
      current = { kind: 'image', index: Number(m[1]), name: m[2]!, raw: {}, hashes: [] };
    } else if ((m = /^ Configuration (\d+) \((.*)\)$/.exec(line))) {
      flush();
      current = { kind: 'config', index: Number(m[1]), name: m[2]!, raw: {}, hashes: [] };
    } else if ((m = /^ Default Configuration: '(.*)'$/.exec(line))) {
      flush();
      defaultConfig = m[1]!;
    } else if (current && (m = /^ {2}([^:]+):\s*(.*)$/.exec(line))) {
      const key = m[1]!.trim();
      const value = m[2]!.trimEnd();
      if (key === 'Hash algo') current.pendingAlgo = value;
      else if (key === 'Hash value') {
        if (current.pendingAlgo === undefined) throw new OracleError(`${info.name} -l: hash value without algo in image ${current.name}`);
        current.hashes.push({ algo: current.pendingAlgo, value: value.toLowerCase() });
        current.pendingAlgo = undefined;
      } else current.raw[key] = value;
    } else if (current && /^ {3,}\S/.test(line)) {
      // a continuation (FDT: lists more than one on following lines)
      const last = Object.keys(current.raw).pop();
      if (last) current.raw[last] = `${current.raw[last]} ${line.trim()}`;
    }
  }
  flush();
  return { kind: 'fit', tool: info, description, ...(created !== undefined ? { created } : {}), images, ...(defaultConfig !== undefined ? { defaultConfig } : {}), configurations };
}

/**
 * One sub-image's bytes through `dumpimage -T TYPE -p INDEX -o OUT FILE`: `flat_dt` for a FIT (index as listed
 * by dumpimageList), `multi` for a legacy multi-file image's part, `kernel` for a legacy image's data.
 */
export function dumpimageExtract(file: string, index: number, type: 'flat_dt' | 'multi' | 'kernel' = 'flat_dt'): Uint8Array | null {
  if (!hasTool('dumpimage')) return null;
  const dir = tempDir('dumpimage');
  try {
    const out = join(dir, 'out');
    run('dumpimage', ['-T', type, '-p', String(index), '-o', out, file]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- device trees

export interface DtProperty {
  readonly name: string;
  /** The property's value as the bytes in the blob (strings with their NULs, cells big-endian). */
  readonly value: Uint8Array;
}

export interface DtNode {
  /** "" for the root, else the node's name with its unit address ("memory@80000000"). */
  readonly name: string;
  readonly properties: readonly DtProperty[];
  readonly children: readonly DtNode[];
}

export interface DtReservation {
  readonly address: bigint;
  readonly size: bigint;
}

export interface DtcResult {
  readonly tool: ToolInfo;
  readonly reservations: readonly DtReservation[];
  readonly root: DtNode;
}

export interface FdtHeaderRecord {
  readonly magic: number;
  readonly totalsize: number;
  readonly off_dt_struct: number;
  readonly off_dt_strings: number;
  readonly off_mem_rsvmap: number;
  readonly version: number;
  readonly last_comp_version: number;
  readonly boot_cpuid_phys: number;
  readonly size_dt_strings: number;
  readonly size_dt_struct: number;
}

export interface FdtdumpResult extends DtcResult {
  readonly header: FdtHeaderRecord;
}

/** `dtc -I dtb -O dts FILE`: reservations and the tree, values as raw bytes. */
export function dtcDecompile(file: string): DtcResult | null {
  if (!hasTool('dtc')) return null;
  // -s would sort; keep the blob's order. dtc warns on stderr about odd-looking properties: not an error.
  const r = run('dtc', ['-I', 'dtb', '-O', 'dts', file]);
  return { tool: tool('dtc'), ...parseDts(r.stdout) };
}

/** `fdtdump FILE`: the header it prints as comments, then reservations and the tree. */
export function fdtdump(file: string): FdtdumpResult | null {
  if (!hasTool('fdtdump')) return null;
  const r = run('fdtdump', [file]);
  const field = (k: string): number => {
    const m = new RegExp(`^// ${k}:\\s+(0x[0-9a-f]+|\\d+)`, 'm').exec(r.stdout);
    if (!m) throw new OracleError(`fdtdump: no "${k}" in its header comments`);
    return num(m[1]!, k);
  };
  const header: FdtHeaderRecord = {
    magic: field('magic'),
    totalsize: field('totalsize'),
    off_dt_struct: field('off_dt_struct'),
    off_dt_strings: field('off_dt_strings'),
    off_mem_rsvmap: field('off_mem_rsvmap'),
    version: field('version'),
    last_comp_version: field('last_comp_version'),
    boot_cpuid_phys: field('boot_cpuid_phys'),
    size_dt_strings: field('size_dt_strings'),
    size_dt_struct: field('size_dt_struct'),
  };
  // fdtdump ends with a banner of "****" lines on stderr or stdout (versions differ): drop them.
  const body = r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('****') && !l.startsWith('//'))
    .join('\n');
  return { tool: tool('fdtdump'), header, ...parseDts(body) };
}

/**
 * Parses the DTS that `dtc -O dts` and `fdtdump` print from a blob: `/memreserve/ A S;`, nodes `name {` … `};`,
 * properties `name;` or `name = value;` where value is a comma-separated list of "strings" (C escapes, each with
 * its NUL), <cells> (32-bit, or /bits/ N), [bytes]. Exported for tests of the parser.
 */
export function parseDts(text: string): { reservations: DtReservation[]; root: DtNode } {
  const lexer = new DtsLexer(text);
  const reservations: DtReservation[] = [];
  type Building = { name: string; properties: DtProperty[]; children: DtNode[] };
  const stack: Building[] = [];
  let root: DtNode | undefined;
  for (;;) {
    const tok = lexer.next();
    if (tok === undefined) break;
    if (tok === '/dts-v1/' || tok === ';') continue;
    if (tok === '/memreserve/') {
      const a = lexer.next();
      const s = lexer.next();
      if (a === undefined || s === undefined) throw new OracleError('dts: /memreserve/ without address and size');
      reservations.push({ address: BigInt(a), size: BigInt(s) });
      continue;
    }
    if (tok === '}') {
      const done = stack.pop();
      if (!done) throw new OracleError('dts: "}" without an open node');
      const node: DtNode = { name: done.name, properties: done.properties, children: done.children };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(node);
      else root = node;
      continue;
    }
    // a node name or a property name
    const after = lexer.next();
    if (after === '{') {
      stack.push({ name: tok === '/' ? '' : tok, properties: [], children: [] });
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top) throw new OracleError(`dts: property ${tok} outside any node`);
    if (after === ';') {
      top.properties.push({ name: tok, value: new Uint8Array(0) });
      continue;
    }
    if (after !== '=') throw new OracleError(`dts: expected "=", ";" or "{" after ${tok}, got ${after}`);
    top.properties.push({ name: tok, value: lexer.value() });
  }
  if (!root) throw new OracleError('dts: no root node');
  return { reservations, root };
}

/** A small lexer for the subset of DTS that decompilers print. */
class DtsLexer {
  private at = 0;
  constructor(private readonly s: string) {}

  private skipSpace(): void {
    for (;;) {
      while (this.at < this.s.length && /\s/.test(this.s[this.at]!)) this.at++;
      if (this.s.startsWith('//', this.at)) {
        const nl = this.s.indexOf('\n', this.at);
        this.at = nl < 0 ? this.s.length : nl;
      } else if (this.s.startsWith('/*', this.at)) {
        const end = this.s.indexOf('*/', this.at);
        this.at = end < 0 ? this.s.length : end + 2;
      } else return;
    }
  }

  next(): string | undefined {
    this.skipSpace();
    if (this.at >= this.s.length) return undefined;
    const c = this.s[this.at]!;
    if ('{};=<>[],'.includes(c)) {
      this.at++;
      return c;
    }
    const m = /^[^\s{};=<>[\],"]+/.exec(this.s.slice(this.at, this.at + 4096));
    if (!m) throw new OracleError(`dts: unexpected ${JSON.stringify(this.s.slice(this.at, this.at + 20))}`);
    this.at += m[0].length;
    return m[0];
  }

  /** A property value up to its ";". */
  value(): Uint8Array {
    const parts: number[] = [];
    // (a loop, not push(...x): a FIT's `data` is megabytes)
    const add = (xs: readonly number[]) => {
      for (const x of xs) parts.push(x);
    };
    for (;;) {
      this.skipSpace();
      const c = this.s[this.at];
      if (c === '"') add(this.string());
      else if (c === '<') add(this.cells(32));
      else if (c === '[') add(this.bytes());
      else if (this.s.startsWith('/bits/', this.at)) {
        this.at += 6;
        const bits = Number(this.next());
        this.skipSpace();
        if (![8, 16, 32, 64].includes(bits) || this.s[this.at] !== '<') throw new OracleError('dts: bad /bits/');
        add(this.cells(bits));
      } else throw new OracleError(`dts: unexpected value ${JSON.stringify(this.s.slice(this.at, this.at + 20))}`);
      const sep = this.next();
      if (sep === ';') return Uint8Array.from(parts);
      if (sep !== ',') throw new OracleError(`dts: expected "," or ";" in a value, got ${sep}`);
    }
  }

  private string(): number[] {
    this.at++; // opening quote
    const out: number[] = [];
    const enc = new TextEncoder();
    for (;;) {
      const c = this.s[this.at++];
      if (c === undefined) throw new OracleError('dts: unterminated string');
      if (c === '"') break;
      if (c !== '\\') {
        out.push(...enc.encode(c));
        continue;
      }
      const e = this.s[this.at++];
      const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '\\': 0x5c, '"': 0x22, "'": 0x27 };
      if (e !== undefined && simple[e] !== undefined) out.push(simple[e]!);
      else if (e === 'x') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(this.s.slice(this.at, this.at + 2))!;
        out.push(Number.parseInt(m[0], 16));
        this.at += m[0].length;
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(this.s.slice(this.at - 1, this.at + 2))!;
        out.push(Number.parseInt(m[0], 8) & 0xff);
        this.at += m[0].length - 1;
      } else throw new OracleError(`dts: unknown escape \\${e}`);
    }
    out.push(0);
    return out;
  }

  private cells(bits: number): number[] {
    this.at++; // <
    const out: number[] = [];
    for (;;) {
      const t = this.next();
      if (t === '>') return out;
      if (t === undefined) throw new OracleError('dts: unterminated <cells>');
      if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t)) throw new OracleError(`dts: not a cell: ${t}`);
      let v = BigInt(t);
      const base = out.length;
      for (let i = bits / 8 - 1; i >= 0; i--) {
        out[base + i] = Number(v & 0xffn);
        v >>= 8n;
      }
    }
  }

  private bytes(): number[] {
    const end = this.s.indexOf(']', this.at);
    if (end < 0) throw new OracleError('dts: unterminated [bytes]');
    const body = this.s.slice(this.at + 1, end).replace(/\s+/g, '');
    this.at = end + 1;
    if (!/^([0-9a-fA-F]{2})*$/.test(body)) throw new OracleError('dts: bad [bytes]');
    const out: number[] = [];
    for (let i = 0; i < body.length; i += 2) out.push(Number.parseInt(body.slice(i, i + 2), 16));
    return out;
  }
}

/** Finds a node by path ("/cpus/cpu@0"; "/" is the root). */
export function dtNode(root: DtNode, path: string): DtNode | undefined {
  let node: DtNode | undefined = root;
  for (const part of path.split('/').filter(Boolean)) node = node?.children.find((c) => c.name === part);
  return node;
}

/** A property's value as text (a NUL-terminated string, or several: joined by "\0" without the last NUL). */
export function dtString(value: Uint8Array): string {
  const end = value.length && value[value.length - 1] === 0 ? value.length - 1 : value.length;
  return new TextDecoder().decode(value.subarray(0, end));
}

// ---------------------------------------------------------------------------------------------- Android boot

export interface BootimgResult {
  readonly tool: ToolInfo;
  /** "ANDROID!" or "VNDRBOOT". */
  readonly magic: string;
  /** Every "key: value" line unpack_bootimg printed, as printed ("kernel_size" -> "300000"). */
  readonly fields: Readonly<Record<string, string>>;
  /** The header version ("boot image header version" / "vendor boot image header version"). */
  readonly headerVersion: number;
  /** Named numbers: sizes, addresses, page size, os version/patch level text, cmdlines, product name. */
  readonly kernelSize?: number;
  readonly ramdiskSize?: number;
  readonly secondSize?: number;
  readonly pageSize?: number;
  readonly kernelAddr?: number;
  readonly ramdiskAddr?: number;
  readonly secondAddr?: number;
  readonly tagsAddr?: number;
  readonly dtbSize?: number;
  readonly dtbAddr?: number;
  readonly recoveryDtboSize?: number;
  readonly recoveryDtboOffset?: number;
  readonly headerSize?: number;
  readonly osVersion?: string;
  readonly osPatchLevel?: string;
  readonly productName?: string;
  readonly cmdline?: string;
  readonly extraCmdline?: string;
  readonly vendorCmdline?: string;
  readonly vendorRamdiskSize?: number;
  /** The files unpack_bootimg wrote (kernel, ramdisk, second, dtb, recovery_dtbo, vendor_ramdisk), as bytes. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * `unpack_bootimg --boot_img FILE --out DIR`: the fields it prints and the files it extracts. Debian's
 * mkbootimg package (29.x) reads boot v0-v3 and vendor_boot v3; it names no v4 field.
 */
export function unpackBootimg(file: string): BootimgResult | null {
  if (!hasTool('unpack_bootimg')) return null;
  const dir = tempDir('bootimg');
  try {
    const r = run('unpack_bootimg', ['--boot_img', file, '--out', dir]);
    const fields: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const m = /^([^:]+): ?(.*)$/.exec(line);
      if (m) fields[m[1]!] = m[2]!;
    }
    const files = new Map<string, Uint8Array>();
    for (const name of readdirSync(dir).sort()) files.set(name, readFileSync(join(dir, name)));
    const n = (k: string): number | undefined => (fields[k] === undefined ? undefined : num(fields[k]!, k));
    const s = (k: string): string | undefined => fields[k];
    const magic = fields['boot_magic'];
    if (magic === undefined) throw new OracleError(`unpack_bootimg printed no boot_magic for ${file}`);
    const version = n('boot image header version') ?? n('vendor boot image header version');
    if (version === undefined) throw new OracleError(`unpack_bootimg printed no header version for ${file}`);
    const opt = <K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [P in K]: V }));
    return {
      tool: tool('unpack_bootimg'),
      magic,
      fields,
      headerVersion: version,
      ...opt('kernelSize', n('kernel_size')),
      ...opt('ramdiskSize', n('ramdisk size')),
      ...opt('secondSize', n('second bootloader size')),
      ...opt('pageSize', n('page size')),
      ...opt('kernelAddr', n('kernel load address')),
      ...opt('ramdiskAddr', n('ramdisk load address')),
      ...opt('secondAddr', n('second bootloader load address')),
      ...opt('tagsAddr', n('kernel tags load address')),
      ...opt('dtbSize', n('dtb size')),
      ...opt('dtbAddr', n('dtb address')),
      ...opt('recoveryDtboSize', n('recovery dtbo size')),
      ...opt('recoveryDtboOffset', n('recovery dtbo offset')),
      ...opt('headerSize', n('boot header size')),
      ...opt('osVersion', s('os version')),
      ...opt('osPatchLevel', s('os patch level')),
      ...opt('productName', s('product name')),
      ...opt('cmdline', s('command line args')),
      ...opt('extraCmdline', s('additional command line args')),
      ...opt('vendorCmdline', s('vendor command line args')),
      ...opt('vendorRamdiskSize', n('vendor ramdisk size')),
      files,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- cpio

export interface CpioEntryRecord {
  /** The `ls -l` mode string ("drwxr-xr-x", "lrwxrwxrwx", "crw-r--r--"). */
  readonly modeText: string;
  /** st_mode as a number (file type bits and permissions), derived from modeText. */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** File size (0 for device nodes, whose rdev is given instead). */
  readonly size: number;
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
  /** The date column as cpio prints it (TZ=UTC). */
  readonly mtimeText: string;
  readonly name: string;
  /** Symlinks: the target. */
  readonly linkTarget?: string;
}

export interface CpioListResult {
  readonly tool: ToolInfo;
  readonly entries: readonly CpioEntryRecord[];
  /** cpio's "N blocks" line (512-byte blocks it read). */
  readonly blocks: number;
}

/** `cpio -t -v --numeric-uid-gid -F FILE`: the entries of the first archive in the file. */
export function cpioList(file: string): CpioListResult | null {
  if (!hasTool('cpio')) return null;
  const r = run('cpio', ['-t', '-v', '--numeric-uid-gid', '-F', file]);
  const blocks = /^(\d+) blocks?$/m.exec(r.stderr)?.[1];
  if (blocks === undefined) throw new OracleError(`cpio -t: no "N blocks" line on stderr: ${r.stderr.slice(0, 500)}`);
  return { tool: tool('cpio'), entries: parseLsLines(r.stdout), blocks: Number(blocks) };
}

/** The `ls -l`-style lines of `cpio -tv` and `lsinitramfs -l`. Exported for tests of the parser. */
export function parseLsLines(text: string): CpioEntryRecord[] {
  const entries: CpioEntryRecord[] = [];
  const re = /^([-dlcbps][-rwxsStT]{9})\s+(\d+)\s+(\S+)\s+(\S+)\s+(?:(\d+),\s+(\d+)|(\d+))\s+(\w{3}\s+\d+\s+(?:\d{4}|\d\d:\d\d))\s(.*)$/;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = re.exec(line);
    if (!m) throw new OracleError(`not an ls -l line: ${JSON.stringify(line)}`);
    const modeText = m[1]!;
    let name = m[9]!;
    let linkTarget: string | undefined;
    if (modeText[0] === 'l') {
      const arrow = name.indexOf(' -> ');
      if (arrow < 0) throw new OracleError(`symlink without target: ${line}`);
      linkTarget = name.slice(arrow + 4);
      name = name.slice(0, arrow);
    }
    const device = m[5] !== undefined;
    entries.push({
      modeText,
      mode: modeFromText(modeText),
      nlink: Number(m[2]),
      uid: Number(m[3]),
      gid: Number(m[4]),
      size: device ? 0 : Number(m[7]),
      ...(device ? { rdevMajor: Number(m[5]), rdevMinor: Number(m[6]) } : {}),
      mtimeText: m[8]!.replace(/\s+/g, ' '),
      name,
      ...(linkTarget !== undefined ? { linkTarget } : {}),
    });
  }
  return entries;
}

/** "drwxr-xr-x" -> 0o040755 (type bits from the first letter, setuid/setgid/sticky from s/S/t/T). */
export function modeFromText(text: string): number {
  const types: Record<string, number> = { '-': 0o100000, d: 0o040000, l: 0o120000, c: 0o020000, b: 0o060000, p: 0o010000, s: 0o140000 };
  let mode = types[text[0]!] ?? 0;
  for (const [i, v] of [0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001].entries()) {
    const c = text[i + 1];
    if (c !== '-' && c !== 'S' && c !== 'T') mode |= v;
  }
  if ('sS'.includes(text[3]!)) mode |= 0o4000;
  if ('sS'.includes(text[6]!)) mode |= 0o2000;
  if ('tT'.includes(text[9]!)) mode |= 0o1000;
  return mode;
}

export type ExtractedEntry = { readonly kind: 'file'; readonly bytes: Uint8Array; readonly mode: number } | { readonly kind: 'dir'; readonly mode: number } | { readonly kind: 'symlink'; readonly target: string } | { readonly kind: 'other'; readonly mode: number };

export interface CpioExtractResult {
  readonly tool: ToolInfo;
  /** Path relative to the archive root ("etc/motd") -> what cpio created. */
  readonly entries: ReadonlyMap<string, ExtractedEntry>;
}

/**
 * `cpio -i -d -m --no-absolute-filenames` into a temporary directory: every entry as cpio wrote it.
 * Device nodes need root (cpio then creates them; elsewhere it warns and they are absent).
 */
export function cpioExtract(file: string): CpioExtractResult | null {
  if (!hasTool('cpio')) return null;
  const dir = tempDir('cpio');
  try {
    run('cpio', ['-i', '-d', '-m', '--no-absolute-filenames', '--quiet', '-F', file], { cwd: dir });
    return { tool: tool('cpio'), entries: readTree(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readTree(dir: string): Map<string, ExtractedEntry> {
  const out = new Map<string, ExtractedEntry>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(rel, { kind: 'symlink', target: readlinkSync(p) });
      else if (st.isDirectory()) {
        out.set(rel, { kind: 'dir', mode: st.mode });
        walk(p);
      } else if (st.isFile()) out.set(rel, { kind: 'file', bytes: readFileSync(p), mode: st.mode });
      else out.set(rel, { kind: 'other', mode: st.mode });
    }
  };
  walk(dir);
  return out;
}

export interface LsinitramfsResult {
  readonly tool: ToolInfo;
  /** Every entry of every segment, in order (the early cpio's first). */
  readonly entries: readonly CpioEntryRecord[];
}

/** `lsinitramfs -l FILE` (Debian's initramfs-tools): all segments, the compressed ones decompressed by it. */
export function lsinitramfs(file: string): LsinitramfsResult | null {
  if (!hasTool('lsinitramfs')) return null;
  const r = run('lsinitramfs', ['-l', file]);
  return { tool: tool('lsinitramfs'), entries: parseLsLines(r.stdout) };
}

export interface UnmkinitramfsResult {
  readonly tool: ToolInfo;
  /** "early/kernel/x86/microcode/GenuineIntel.bin", "main/etc/motd" (one directory per segment), or plain paths when there is one segment. */
  readonly entries: ReadonlyMap<string, ExtractedEntry>;
}

/** `unmkinitramfs FILE DIR`: every segment's files, by segment. */
export function unmkinitramfs(file: string): UnmkinitramfsResult | null {
  if (!hasTool('unmkinitramfs')) return null;
  const dir = tempDir('unmkinitramfs');
  try {
    run('unmkinitramfs', [file, dir]);
    return { tool: tool('unmkinitramfs'), entries: readTree(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- IKCONFIG, PE, lz4

export interface IkconfigResult {
  readonly tool: ToolInfo;
  /** File offset of "IKCFG_ST" (the gzip stream starts 8 bytes later). */
  readonly markerOffset: number;
  /** The .config text gzip produced. */
  readonly config: string;
}

/**
 * The kernel's scripts/extract-ikconfig method, run with the real tools: `grep -abo IKCFG_ST` finds the marker,
 * `tail -c +N | gzip -dc` decompresses what follows it (gzip stops at the end of its member; the trailing
 * "IKCFG_ED" and the rest of the kernel are ignored, as the script ignores them).
 */
export function extractIkconfig(file: string): IkconfigResult | null {
  if (!hasTool('gzip') || !hasTool('grep') || !hasTool('tail')) return null;
  const g = run('grep', ['-abo', '--', 'IKCFG_ST', file], { allowFail: true });
  const first = /^(\d+):IKCFG_ST/m.exec(g.stdout);
  if (!first) throw new OracleError(`extract-ikconfig: no IKCFG_ST marker in ${file}`);
  const markerOffset = Number(first[1]);
  // gzip -dc exits 2 ("trailing garbage ignored") on the bytes after the member: that is expected here.
  const z = run('sh', ['-c', 'tail -c "+$1" "$2" | gzip -dc 2>/dev/null; exit 0', 'sh', String(markerOffset + 8 + 1), file]);
  if (!z.stdout) throw new OracleError(`extract-ikconfig: gzip produced nothing after the marker at ${markerOffset}`);
  return { tool: { name: 'grep+tail+gzip (scripts/extract-ikconfig method)', version: toolVersion('gzip') }, markerOffset, config: z.stdout };
}

/**
 * One PE section's raw bytes as GNU objcopy dumps them (`objcopy --dump-section`; llvm-objcopy 14 cannot dump
 * COFF sections), e.g. a UKI's `.initrd`. The dump is the section's file data (SizeOfRawData, zero-padded).
 */
export function peSectionBytes(file: string, section: string): Uint8Array | null {
  if (!hasTool('objcopy')) return null;
  const dir = tempDir('pe');
  try {
    const out = join(dir, 'section');
    const copy = join(dir, 'copy');
    run('objcopy', ['--dump-section', `${section}=${out}`, file, copy]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Lz4TestResult {
  readonly tool: ToolInfo;
  /** `lz4 -t` exit status 0. */
  readonly ok: boolean;
  readonly message: string;
}

/** `lz4 -t FILE`: does the lz4 CLI accept the frame(s)? */
export function lz4Test(file: string): Lz4TestResult | null {
  if (!hasTool('lz4')) return null;
  const r = run('lz4', ['-t', '-q', file], { allowFail: true });
  return { tool: tool('lz4'), ok: r.status === 0, message: r.stderr.trim() };
}
