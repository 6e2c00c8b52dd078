/**
 * Typed results: the README's API example and user-schema code compile under `tsc --strict` against
 * the package as installed (its .d.ts), with the built-in schemas' generated types and with
 * `kimg types` output for a user schema; a misspelt field is a type error (@ts-expect-error fails the
 * compile if it is not one). The declared types are the runtime ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/index.js';
import { kimg, REPO, SAMPLES } from './helpers.js';

test('src/builtin-schemas.ts is what the schemas generate (node scripts/builtin-types.mjs)', () => {
  const r = spawnSync(process.execPath, [join(REPO, 'scripts/builtin-types.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

/** The README's "Library API" block, as a reader would paste it. */
function readmeExample(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = /## Library API\n+```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a "## Library API" ts block');
  return block[1]!;
}

test('tsc --strict compiles the README example, typed built-in and user-schema code; misspelt fields are errors', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kimg-types-'));
  try {
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(REPO, join(dir, 'node_modules/kimg'));
    symlinkSync(join(REPO, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], skipLibCheck: false, noUncheckedIndexedAccess: true } }));
    writeFileSync(join(dir, 'readme.ts'), `declare const bytes: Uint8Array;\n${readmeExample()}\nexport {};\n`);
    writeFileSync(join(dir, 'builtin.ts'), `import { Kimg } from 'kimg';
declare const bytes: Uint8Array;
const k = new Kimg();
const pe = k.parse('pe', bytes).value;
const machine: number = pe.coff.machine;           // an enum is its value type
// @ts-expect-error a misspelt field
pe.coff.machin;
const sections: readonly { name: string }[] = pe.sections;
const header = pe.optional_header;                 // a switch: the union of its cases, or null (if:)
// @ts-expect-error optional: may be null
header.magic;
if (header) { const magic: number = header.magic; void magic; }
const arm = k.parse('arm64-image', bytes).value;
const textOffset: bigint = arm.text_offset;        // u64
const big: boolean = arm.flags.be_kernel;          // a one-bit field
const page: number = arm.flags.page_size;          // an enum bit range
// @ts-expect-error u64 is not a number
const wrong: number = arm.image_size;
const zboot = k.parse('linux-zboot', bytes).value;
const ct: string = zboot.compress_type;
const uki = k.parse('uki', bytes).value;
const linux = uki.linux;                           // a derived find(): the element type, or null
// @ts-expect-error may be null
linux.size_of_raw_data;
const raw: number | undefined = linux?.size_of_raw_data;
const end: number | bigint = k.parse('x86-bzimage', bytes).value.payload_end; // derived from derived fields
void [raw, end];
const anyStruct = k.parse(k.loadSchema('pe'), bytes).value; // a SchemaDef: untyped, a plain record
const unknownField: unknown = anyStruct['whatever'];
void [machine, sections, textOffset, big, page, wrong, ct, unknownField];
`);
    const types = kimg(['types', join(REPO, 'examples/gzip-member/gzip.yaml')]);
    assert.equal(types.status, 0, types.stderr.toString());
    writeFileSync(join(dir, 'gzip.d.ts'), types.stdout);
    writeFileSync(join(dir, 'user.ts'), `import { Kimg } from 'kimg';
import type { Gzip, KimgSchemas } from './gzip.js';
declare const bytes: Uint8Array;
const k = new Kimg();
const member = k.parse<Gzip.Member>(k.loadSchema('${join(REPO, 'examples/gzip-member/gzip.yaml')}'), bytes).value;
const os: number = member.os;
const name: string | null = member.fname;
// @ts-expect-error optional (if: FNAME): may be null
member.fname.length;
// @ts-expect-error a misspelt field
member.fnam;
const items: readonly Gzip.ExtraSubfield[] | undefined = member.extra?.subfields.items;
const root: KimgSchemas['gzip'] = member;
void [os, name, items, root];
`);
    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', cwd: dir });
    assert.equal(tsc.status, 0, `tsc --strict:\n${tsc.stdout}${tsc.stderr}`);
    // The control: the same misspelling without @ts-expect-error is an error tsc reports.
    writeFileSync(join(dir, 'control.ts'), `import { Kimg } from 'kimg';\ndeclare const bytes: Uint8Array;\nnew Kimg().parse('pe', bytes).value.coff.machin;\n`);
    const control = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8', cwd: dir });
    assert.notEqual(control.status, 0);
    assert.match(control.stdout, /control\.ts.*Property 'machin' does not exist on type 'CoffHeader'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the declared types are the runtime ones (enum number, u64 bigint, bits, null when absent)', () => {
  const k = new Kimg();
  const bytes = readFileSync(join(SAMPLES, 'riscv-gzip.Image'));
  const pe = k.parse('pe', bytes.subarray(0)).value;
  assert.equal(typeof pe.coff.machine, 'number');
  assert.equal(pe.coff.machine, 0x5064);
  const img = k.parse('riscv-image', bytes).value;
  assert.equal(typeof img.text_offset, 'bigint');
  const gzip = k.parse<{ fname: string | null; os: number }>(k.loadSchema(join(REPO, 'examples/gzip-member/gzip.yaml')), new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0])).value;
  assert.equal(gzip.fname, null);
  assert.equal(gzip.os, 3);
});
