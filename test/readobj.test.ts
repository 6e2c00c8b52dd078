/**
 * kimg's PE fields against an independent reader: llvm-readobj --file-headers --sections, on every
 * PE file among the samples and the corpus (the outer zboot stubs and the plain Images).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import type { Struct } from '../src/interp/interpreter.js';
import { CORPUS, corpusPresent, hasCommand, SAMPLES } from './helpers.js';

type Node = { [key: string]: string | Node | Node[] };

/** llvm-readobj's text output (`Key: value`, `Block {`, `List [`) as a tree; repeated blocks become arrays. */
function parseReadobj(text: string): Node {
  const root: Node = {};
  const stack: Node[] = [root];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const top = stack[stack.length - 1]!;
    let m: RegExpExecArray | null;
    if (line === '}' || line === ']') {
      stack.pop();
    } else if ((m = /^([A-Za-z]+) \[ \((0x[0-9A-Fa-f]+)\)$/.exec(line))) {
      // A flag list: keep its value, skip its members.
      top[m[1]!] = m[2]!;
      stack.push({});
    } else if ((m = /^([A-Za-z]+) [{[]$/.exec(line))) {
      const child: Node = {};
      const key = m[1]!;
      const prev = top[key];
      if (prev === undefined) top[key] = key === 'Section' ? [child] : child;
      else if (Array.isArray(prev)) prev.push(child);
      else top[key] = [prev as Node, child];
      stack.push(child);
    } else if ((m = /^([A-Za-z]+): (.*)$/.exec(line))) {
      top[m[1]!] = m[2]!;
    }
  }
  return root;
}

/** "IMAGE_FILE_MACHINE_ARM64 (0xAA64)" -> 0xaa64; "0x1000" -> 4096; "864256" -> 864256. */
function num(v: unknown): bigint {
  const s = String(v);
  const paren = /\((0x[0-9A-Fa-f]+)\)/.exec(s);
  if (paren) return BigInt(paren[1]!);
  if (/^0x[0-9A-Fa-f]+$/.test(s)) return BigInt(s);
  if (/^\d+$/.test(s)) return BigInt(s);
  throw new Error(`not a number: ${s}`);
}

const DIRECTORY_NAMES = ['ExportTable', 'ImportTable', 'ResourceTable', 'ExceptionTable', 'CertificateTable', 'BaseRelocationTable', 'Debug', 'Architecture', 'GlobalPtr', 'TLSTable', 'LoadConfigTable', 'BoundImport', 'IAT', 'DelayImportDescriptor', 'CLRRuntimeHeader'];

function compare(file: string, pe: Struct): number {
  const r = spawnSync('llvm-readobj', ['--file-headers', '--sections', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const ro = parseReadobj(r.stdout);
  let compared = 0;
  const eq = (ours: unknown, theirs: unknown, what: string): void => {
    const o = typeof ours === 'object' && ours !== null && 'value' in ours ? (ours as Struct)['value'] : ours;
    assert.equal(BigInt(o as number | bigint), num(theirs), `${file}: ${what}`);
    compared++;
  };
  const fh = ro['ImageFileHeader'] as Node;
  const coff = pe['coff'] as Struct;
  eq(coff['machine'], fh['Machine'], 'Machine');
  eq(coff['number_of_sections'], fh['SectionCount'], 'NumberOfSections');
  eq(coff['time_date_stamp'], fh['TimeDateStamp'], 'TimeDateStamp');
  eq(coff['pointer_to_symbol_table'], fh['PointerToSymbolTable'], 'PointerToSymbolTable');
  // llvm-readobj reports no symbols when there is no symbol table, whatever the field says (the x86
  // boot header writes NumberOfSymbols = 1 with PointerToSymbolTable = 0); compare the raw field there
  // with the file's bytes, read here independently.
  if (num(fh['PointerToSymbolTable']) === 0n && num(fh['SymbolCount']) === 0n) {
    const bytes = readFileSync(file);
    const peAt = bytes.readUInt32LE(0x3c);
    eq(coff['number_of_symbols'], bytes.readUInt32LE(peAt + 4 + 12), 'NumberOfSymbols (raw, no symbol table)');
  } else eq(coff['number_of_symbols'], fh['SymbolCount'], 'NumberOfSymbols');
  eq(coff['size_of_optional_header'], fh['OptionalHeaderSize'], 'SizeOfOptionalHeader');
  eq(coff['characteristics'], fh['Characteristics'], 'Characteristics');

  const oh = ro['ImageOptionalHeader'] as Node;
  const opt = pe['optional_header'] as Struct;
  const pairs: [string, string][] = [
    ['magic', 'Magic'], ['major_linker_version', 'MajorLinkerVersion'], ['minor_linker_version', 'MinorLinkerVersion'],
    ['size_of_code', 'SizeOfCode'], ['size_of_initialized_data', 'SizeOfInitializedData'], ['size_of_uninitialized_data', 'SizeOfUninitializedData'],
    ['address_of_entry_point', 'AddressOfEntryPoint'], ['base_of_code', 'BaseOfCode'], ['image_base', 'ImageBase'],
    ['section_alignment', 'SectionAlignment'], ['file_alignment', 'FileAlignment'],
    ['major_operating_system_version', 'MajorOperatingSystemVersion'], ['minor_operating_system_version', 'MinorOperatingSystemVersion'],
    ['major_image_version', 'MajorImageVersion'], ['minor_image_version', 'MinorImageVersion'],
    ['major_subsystem_version', 'MajorSubsystemVersion'], ['minor_subsystem_version', 'MinorSubsystemVersion'],
    ['size_of_image', 'SizeOfImage'], ['size_of_headers', 'SizeOfHeaders'], ['subsystem', 'Subsystem'],
    ['dll_characteristics', 'Characteristics'], ['size_of_stack_reserve', 'SizeOfStackReserve'], ['size_of_stack_commit', 'SizeOfStackCommit'],
    ['size_of_heap_reserve', 'SizeOfHeapReserve'], ['size_of_heap_commit', 'SizeOfHeapCommit'], ['number_of_rva_and_sizes', 'NumberOfRvaAndSize'],
  ];
  for (const [ours, theirs] of pairs) eq(opt[ours], oh[theirs], theirs);
  const dd = oh['DataDirectory'] as Node;
  const dirs = opt['data_directories'] as Struct[];
  dirs.forEach((d, i) => {
    const name = DIRECTORY_NAMES[i];
    if (!name || dd[`${name}RVA`] === undefined) return;
    eq(d['virtual_address'], dd[`${name}RVA`], `${name}RVA`);
    eq(d['size'], dd[`${name}Size`], `${name}Size`);
  });

  const sections = ro['Sections'] as Node;
  const theirs = (sections['Section'] ?? []) as Node[];
  const ours = pe['sections'] as Struct[];
  assert.equal(ours.length, theirs.length, `${file}: section count`);
  ours.forEach((s, i) => {
    const t = theirs[i]!;
    assert.equal(s['name'], String(t['Name']).replace(/ \(.*\)$/, ''), `${file}: section ${i} name`);
    eq(s['virtual_size'], t['VirtualSize'], `section ${i} VirtualSize`);
    eq(s['virtual_address'], t['VirtualAddress'], `section ${i} VirtualAddress`);
    eq(s['size_of_raw_data'], t['RawDataSize'], `section ${i} RawDataSize`);
    eq(s['pointer_to_raw_data'], t['PointerToRawData'], `section ${i} PointerToRawData`);
    eq(s['pointer_to_relocations'], t['PointerToRelocations'], `section ${i} PointerToRelocations`);
    eq(s['pointer_to_linenumbers'], t['PointerToLineNumbers'], `section ${i} PointerToLineNumbers`);
    eq(s['number_of_relocations'], t['RelocationCount'], `section ${i} RelocationCount`);
    eq(s['number_of_linenumbers'], t['LineNumberCount'], `section ${i} LineNumberCount`);
    eq(s['characteristics'], t['Characteristics'], `section ${i} Characteristics`);
  });
  const dos = ro['DOSHeader'] as Node;
  eq((pe['dos'] as Struct)['e_lfanew'], dos['AddressOfNewExeHeader'], 'e_lfanew');
  return compared;
}

const files = [
  ...readdirSync(SAMPLES).filter((f) => /\.(efi|Image)$/.test(f)).map((f) => join(SAMPLES, f)),
  ...(corpusPresent ? readdirSync(CORPUS).filter((f) => /\.(efi|Image|vmlinuz)$/.test(f)).map((f) => join(CORPUS, f)) : []),
];

test('PE headers match llvm-readobj on every PE sample and corpus image', async (t) => {
  if (!hasCommand('llvm-readobj')) {
    t.skip('llvm-readobj is not installed (apt-get install llvm): independent PE check skipped');
    return;
  }
  if (!corpusPresent) t.diagnostic('../shared/corpus is absent: checking samples/ only');
  const k = new Kimg();
  for (const file of files) {
    await t.test(file.replace(/.*\//, ''), () => {
      const found = k.detect(file);
      const pe = found.matches.find((m) => m.schema.id === 'pe');
      assert.ok(pe, `${file}: pe schema matched`);
      const n = compare(file, pe.result.value);
      assert.ok(n >= 50, `${file}: compared ${n} fields`);
    });
  }
});
