/**
 * The built-in ELF schema (schemas/elf.yaml: one definition for 32/64-bit and both byte orders, by
 * `endian_expr` on EI_DATA) against `readelf -h -l -S -W`: the file header, every program header and every
 * section with its name from .shstrtab. Inputs: /bin/ls (ELF64 LE), executables assembled and linked here
 * for s390x (ELF64 BE), s390 (ELF32 BE) and i386 (ELF32 LE), and the vmlinux of Debian's real bzImage (its
 * section table sits at the end of 59 MiB, which the pipeline reads now that decoded layers are whole).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { makeElfs, vmlinuxFromBzImage, workDir } from './inputs.js';
import { readelf, requireTools, type ReadelfResult } from './oracles.js';
import { REPO } from './helpers.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const k = new Kimg();

type Named = number | { value: number } | bigint;
const n = (x: unknown): bigint => BigInt(typeof x === 'object' && x !== null && 'value' in x ? (x as { value: Named }).value as number : (x as number | bigint));

/** Compares kimg's ELF value with readelf's; returns the number of fields compared. */
function compare(file: string, v: Record<string, unknown>, r: ReadelfResult): number {
  const h = v['header'] as Record<string, unknown>;
  let fields = 0;
  const eq = (ours: unknown, theirs: number | bigint, what: string): void => {
    assert.equal(n(ours), BigInt(theirs), `${file}: ${what}`);
    fields++;
  };
  assert.equal(n(v['ei_class']) === 2n ? 64 : 32, r.header.bits, `${file}: class`);
  assert.equal(n(v['ei_data']) === 2n ? 'big' : 'little', r.header.endian, `${file}: byte order`);
  fields += 2;
  eq(h['e_version'], r.header.version, 'e_version');
  eq(h['e_entry'], r.header.entry, 'e_entry');
  eq(h['e_phoff'], r.header.phoff, 'e_phoff');
  eq(h['e_shoff'], r.header.shoff, 'e_shoff');
  eq(h['e_flags'], r.header.flags, 'e_flags');
  eq(h['e_ehsize'], r.header.ehsize, 'e_ehsize');
  eq(h['e_phentsize'], r.header.phentsize, 'e_phentsize');
  eq(h['e_phnum'], r.header.phnum, 'e_phnum');
  eq(h['e_shentsize'], r.header.shentsize, 'e_shentsize');
  eq(h['e_shnum'], r.header.shnum, 'e_shnum');
  eq(h['e_shstrndx'], r.header.shstrndx, 'e_shstrndx');
  const ph = (v['program_headers'] as Record<string, unknown>[] | null) ?? [];
  assert.equal(ph.length, r.programHeaders.length, `${file}: program headers`);
  ph.forEach((p, i) => {
    const o = r.programHeaders[i]!;
    eq(p['p_offset'], o.offset, `phdr ${i} offset`);
    eq(p['p_vaddr'], o.vaddr, `phdr ${i} vaddr`);
    eq(p['p_paddr'], o.paddr, `phdr ${i} paddr`);
    eq(p['p_filesz'], o.filesz, `phdr ${i} filesz`);
    eq(p['p_memsz'], o.memsz, `phdr ${i} memsz`);
    eq(p['p_align'], o.align, `phdr ${i} align`);
  });
  const sh = (v['sections'] as Record<string, unknown>[] | null) ?? [];
  assert.equal(sh.length, r.sections.length, `${file}: sections`);
  sh.forEach((s, i) => {
    const o = r.sections[i]!;
    assert.equal(s['name'] ?? '', o.name, `${file}: section ${i} name`);
    fields++;
    eq(s['sh_addr'], o.addr, `section ${o.name} addr`);
    eq(s['sh_offset'], o.offset, `section ${o.name} offset`);
    eq(s['sh_size'], o.size, `section ${o.name} size`);
    eq(s['sh_entsize'], o.entsize, `section ${o.name} entsize`);
    eq(s['sh_link'], o.link, `section ${o.name} link`);
    eq(s['sh_info'], o.info, `section ${o.name} info`);
    eq(s['sh_addralign'], o.align, `section ${o.name} align`);
  });
  return fields;
}

test('ELF 32/64, LE/BE: file header, program headers and named sections as readelf -h -l -S -W prints them', async (t) => {
  if (!requireTools(t, 'readelf')) return;
  const dir = workDir(t, 'elf');
  const inputs = makeElfs(dir);
  const kinds = new Set(inputs.map((i) => `${i.bits}${i.endian}`));
  if (!kinds.has('64big')) t.diagnostic('no big-endian ELF64 could be made (binutils-s390x-linux-gnu absent): only what could be made is checked');
  for (const input of inputs) {
    const a = await k.analyze(input.path, { decode: false });
    assert.equal(a.layers[0]?.detections[0]?.schema.id, 'elf', `${input.what}: ${a.error?.describe()}`);
    const v = a.layers[0]!.detections[0]!.result.value as Record<string, unknown>;
    const fields = compare(input.what, v, readelf(input.path, { cross: input.readelf === 'readelf' ? undefined : input.readelf })!);
    t.diagnostic(`${input.what} (ELF${input.bits} ${input.endian}-endian): ${fields} fields equal to readelf`);
  }
  assert.ok(kinds.has('64little'));
});

test('the vmlinux inside Debian\'s bzImage: its section table (at the end of the decoded layer) as readelf lists it', async (t) => {
  if (!existsSync(join(REPO, '..', 'shared', 'corpus', 'debian-sid-amd64.vmlinuz'))) return t.skip('../shared/corpus is absent: the real bzImage is not here');
  if (!requireTools(t, 'readelf', 'zstd')) return;
  const dir = workDir(t, 'vmlinux');
  const vmlinux = vmlinuxFromBzImage(dir)!;
  const a = await k.analyze(vmlinux);
  assert.equal(a.error, null, a.error?.describe());
  const v = a.layers[0]!.detections[0]!.result.value as Record<string, unknown>;
  const fields = compare('vmlinux', v, readelf(vmlinux)!);
  t.diagnostic(`vmlinux: ${fields} fields equal to readelf`);
  // Through the pipeline, as the decoded layer of the bzImage.
  const b = await k.analyze(join(REPO, '..', 'shared', 'corpus', 'debian-sid-amd64.vmlinuz'));
  assert.equal(b.error, null, b.error?.describe());
  const inner = b.layers[1]!.detections.find((d) => d.schema.id === 'elf')!.result.value as Record<string, unknown>;
  assert.equal(compare('bzImage layer 1', inner, readelf(vmlinux)!), fields);
});
