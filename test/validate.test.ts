/**
 * The JSON Schema of the schema language (docs/kimg-schema.json) and the validator built on it
 * (src/schema/validate.ts): every schema kimg ships or documents is valid; malformed files are
 * rejected by the JSON Schema (shape) or the loader (meaning), and where both reject a file they say
 * the same thing at the same place. The table below is where the two layers' disagreements show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SchemaError } from '../src/core/errors.js';
import { SchemaLoader } from '../src/schema/loader.js';
import { fromYaml } from '../src/schema/located-yaml.js';
import { fromSnapshot, isSnapshotTree, writeSnapshot } from '../src/schema/snapshot.js';
import { JSON_SCHEMA_FILE, jsonSchema, validateTree, validationError, withoutValidation } from '../src/schema/validate.js';
import { buildJsonSchema, FIELD_KIND_DEFINITIONS, fieldKeysFor, KEYS } from '../src/schema/keywords.js';
import { REPO } from './helpers.js';

const validate = (text: string, file = 't.yaml'): SchemaError | null => validationError(fromYaml(text, file), file);

function tempDir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kimg-validate-'));
  for (const [name, text] of Object.entries(files)) {
    const file = join(d, name.includes('.') ? name : `${name}.yaml`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return d;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...yamlFiles(join(dir, e.name)));
    else if (/\.ya?ml$/.test(e.name)) out.push(join(dir, e.name));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The JSON Schema itself

test('docs/kimg-schema.json is a valid draft-07 JSON Schema and compiles in ajv strict mode', () => {
  const Ajv = createRequire(import.meta.url)('ajv') as new (o: object) => {
    validateSchema(s: object): boolean;
    errors: unknown;
    addVocabulary(k: string[]): void;
    compile(s: object): unknown;
  };
  const schema = jsonSchema();
  assert.equal(schema['$schema'], 'http://json-schema.org/draft-07/schema#');
  const ajv = new Ajv({ strict: true, strictRequired: false, strictTypes: false, allowUnionTypes: true });
  ajv.addVocabulary(['errorMessage', 'patternErrorMessage', 'markdownDescription']);
  assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors));
  ajv.compile(schema);
});

test('docs/kimg-schema.json is exactly what the keyword table generates (regenerate: npm run schema:json)', () => {
  const committed = JSON.parse(readFileSync(JSON_SCHEMA_FILE, 'utf8')) as object;
  assert.deepEqual(committed, buildJsonSchema());
  assert.equal(readFileSync(JSON_SCHEMA_FILE, 'utf8'), `${JSON.stringify(buildJsonSchema(), null, 2)}\n`, 'byte for byte, as the generator writes it');
});

test('the loader accepts exactly the keys the table declares, and each keyword has a description', () => {
  const s = jsonSchema() as { properties: Record<string, object>; definitions: Record<string, { properties: Record<string, { description?: string }> }> };
  assert.deepEqual(Object.keys(s.properties), KEYS.schema);
  assert.deepEqual(Object.keys(s.definitions['type']!.properties), KEYS.type);
  assert.deepEqual(Object.keys(s.definitions['field']!.properties), KEYS.field, 'same order: hints list them in this order');
  assert.deepEqual(Object.keys(s.definitions['check']!.properties), KEYS.check);
  assert.deepEqual(Object.keys(s.definitions['region']!.properties), KEYS.region);
  // Each kind's allowed keys in the JSON Schema are the loader's (one declaration, FIELD_KEYWORDS).
  for (const [kind, def] of Object.entries(FIELD_KIND_DEFINITIONS)) {
    assert.deepEqual(Object.keys(s.definitions[def]!.properties), fieldKeysFor(kind as keyof typeof FIELD_KIND_DEFINITIONS), kind);
  }
  for (const def of ['type', 'field', 'check', 'region', 'bitRange', 'scan', 'detect']) {
    for (const [key, sub] of Object.entries(s.definitions[def]!.properties)) assert.ok(sub.description, `${def}.${key} has no description`);
  }
  for (const [key, sub] of Object.entries(s.properties)) assert.ok((sub as { description?: string }).description ?? (sub as { $ref?: string }).$ref, `top-level ${key} has no description`);
  // The loader takes its lists from the table: no key list is spelled out in its source.
  const loader = readFileSync(join(REPO, 'src/schema/loader.ts'), 'utf8');
  assert.doesNotMatch(loader, /_KEYS = \[/, 'a hand-kept key list in the loader');
});

test('every built-in schema points editors at the JSON Schema, by a path that resolves from schemas/', () => {
  const dir = join(REPO, 'schemas');
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
    const first = readFileSync(join(dir, name), 'utf8').split('\n')[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    assert.ok(m, `${name}: first line is not the yaml-language-server $schema comment`);
    assert.equal(resolve(dir, m[1]!), JSON_SCHEMA_FILE, name);
  }
  assert.ok(existsSync(JSON_SCHEMA_FILE));
});

// ---------------------------------------------------------------------------------------------
// Everything kimg ships or documents is valid

test('every built-in schema, every example of docs/schema-dsl.md and examples/ pass the JSON Schema', () => {
  const files = [...yamlFiles(join(REPO, 'schemas')), ...yamlFiles(join(REPO, 'examples'))];
  assert.ok(files.length >= 8);
  for (const f of files) {
    const e = validate(readFileSync(f, 'utf8'), f);
    assert.equal(e, null, `${f}: ${e?.describe()}`);
  }
  const doc = readFileSync(join(REPO, 'docs', 'schema-dsl.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith('kimg: 1'));
  assert.ok(blocks.length >= 20, `${blocks.length} examples`);
  for (const b of blocks) {
    const e = validate(b, `docs/schema-dsl.md (${/^id: (.*)$/m.exec(b)?.[1]})`);
    // the one deliberate mistake of the Errors section is a shape error: the JSON Schema catches it too
    if (/^# schema-error: /m.test(b)) assert.equal(e?.code, /^# schema-error: (\S+)/m.exec(b)![1], b);
    else assert.equal(e, null, e?.describe());
  }
});

// ---------------------------------------------------------------------------------------------
// Malformed files: which layer rejects them

const head = 'kimg: 1\nid: t\ntitle: test\nroot: r\n';
const withFields = (fields: string, extra = ''): string => `${head}${extra}types:\n  r:\n    fields:\n${fields}`;
const a8 = '      - { id: a, type: u8 }\n';
const other = { o: 'kimg: 1\nid: o\ntitle: o\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n' };
const enums = 'enums:\n  color:\n    1: RED\n    2: GREEN\n';
const imp = (fields: string): string => `${head}imports:\n  o: o\ntypes:\n  r:\n    fields:\n${fields}`;

/**
 * The malformed files of test/schema-errors.test.ts (and a few more). `both`: the JSON Schema and the
 * loader each reject it, with the same code, message and position; `loader`: a mistake of meaning
 * (references, expressions, duplicates, ranges) the JSON Schema cannot see; `schema`: only the JSON
 * Schema rejects it (the loader alone would not give a positioned SchemaError).
 */
const MALFORMED: [layers: 'both' | 'loader' | 'schema', text: string, others?: Record<string, string>][] = [
  // keys
  ['both', `${head}enum:\n  a: { 1: X }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}types:\n  r:\n    fileds:\n${a8}`],
  ['both', withFields('      - { id: a, type: u16, endain: be }\n')],
  ['both', withFields('      - { id: a, type: u16, frobnicate: 1 }\n')],
  ['both', withFields('      - { id: a, type: u16, size: 4 }\n')],
  ['both', withFields('      - { id: a, type: bytes, size: 2, enum: x }\n')],
  ['both', withFields('      - { id: a, type: u16le, endian: be }\n')],
  ['both', withFields('      - { id: a, type: u8, value: 1 }\n')],
  ['both', withFields('      - { id: a, value: 1, at: 4 }\n')],
  ['both', withFields('      - { id: a, value: 1, size: 4 }\n')],
  ['both', withFields('      - { id: a, type: u8, count: 2, repeat: to-end }\n')],
  ['both', withFields('      - { id: s, type: switch, on: 1, cases: { 1: x }, encoding: utf8 }\n')],
  ['both', withFields('      - { id: a, type: x, endian: le }\n')],
  // missing keys
  ['both', 'id: t\ntitle: x\nroot: r\ntypes: {}\n'],
  ['both', `kimg: 1\nid: t\nroot: r\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', withFields('      - { id: a }\n')],
  ['both', withFields('      - { type: u8 }\n')],
  ['both', withFields('      - { id: a, type: str }\n')],
  ['both', withFields('      - { id: a, type: bytes }\n')],
  ['both', withFields('      - { id: a, type: switch, on: 1 }\n')],
  ['both', withFields('      - { id: a, type: switch, cases: { 1: r } }\n')],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}    checks:\n      - { id: c, assert: a > 0 }\n`],
  // values of the wrong kind
  ['both', withFields('      - { id: a, type: [u8] }\n')],
  ['both', `${head}types:\n  r:\n    fields: { id: a }\n`],
  ['both', `${head}types: [r]\n`],
  ['both', 'kimg: 1\nid: t\ntitle: x\nroot: r\n'],
  ['both', withFields('      - { id: a, type: u8, endian: middle }\n')],
  ['both', withFields('      - { id: a, type: u8, const: 1, severity: fatal }\n')],
  ['both', withFields('      - { id: a, type: str, size: 2, encoding: ebcdic }\n')],
  ['both', withFields('      - { id: a, type: u8, repeat: forever }\n')],
  ['loader', withFields('      - { id: a, type: u8, const: 256 }\n')],
  ['both', withFields('      - { id: a, type: u8, const: abc }\n')],
  ['both', withFields('      - { id: a, type: u8, const: 1.5 }\n')],
  ['both', withFields('      - { id: a, type: u8, const: [1] }\n')],
  ['both', withFields('      - { id: a, type: u8, const: +5 }\n')],
  ['both', withFields('      - { id: a, type: u8, const: 1.0 }\n')],
  ['both', 'kimg: 1.0\nid: t\ntitle: x\nroot: r\ntypes: {}\n'],
  ['both', 'kimg: 0x1_0\nid: t\ntitle: x\nroot: r\ntypes: {}\n'],
  ['both', withFields('      - { id: a, type: u8, bits: [ { id: x, bit: -1 } ] }\n')],
  ['both', withFields('      - { id: a, type: u16, bits: [ { id: x, bit: 3, width: 0 } ] }\n')],
  ['both', withFields('      - { id: a, type: Float32 }\n')],
  ['loader', withFields('      - { id: a, type: u31 }\n')],
  ['both', 'kimg: 2\nid: t\ntitle: x\nroot: r\ntypes: {}\n'],
  ['both', `${head}detect:\n  magic:\n    - { at: 0, bytes: "\\u0100" }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}detect:\n  magic:\n    - { at: 0, bytes: 7 }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}detect:\n  magic:\n    - { at: 0, bytes: [1, 256] }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}enums:\n  e:\n    one: A\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}enums:\n  e:\n    1: 2\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}flags:\n  f:\n    0: NONE\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', 'kimg: 1\nid: t\ntitle: 3\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n'],
  ['both', withFields('      - { id: a, type: u8, hidden: 1 }\n')],
  ['both', withFields('      - { id: a, type: u8, hidden: "yes" }\n')],
  ['both', withFields('      - { id: a, type: u8, count: [1] }\n')],
  ['both', withFields('      - id: a\n        type: u8\n        bits:\n          - { id: x }\n')],
  // expressions, templates, references: meaning, not shape
  ['loader', withFields('      - { id: a, type: u8 }\n      - { id: b, type: bytes, size: a +* 2 }\n')],
  ['loader', withFields('      - { id: a, type: u8, if: "a < 1 < 2" }\n')],
  ['loader', withFields('      - { id: a, type: u8, count: sizeof(a) }\n')],
  ['loader', withFields('      - { id: a, type: u8, count: _size }\n')],
  ['loader', withFields('      - { id: size, type: u8 }\n      - { id: data, type: bytes, size: sise }\n')],
  ['loader', `${head}summary: "\${nope}"\ntypes:\n  r:\n    fields:\n${a8}`],
  ['loader', `${head}detect:\n  when: b == 1\ntypes:\n  r:\n    fields:\n${a8}`],
  ['loader', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: a, size: b }\n`],
  ['loader', withFields('      - { id: a, type: u8, const: 1, message: "got ${a" }\n')],
  ['loader', withFields('      - { id: a, type: u8, const: 1, message: "got ${a:bin}" }\n')],
  ['loader', withFields('      - { id: h, type: headr }\n')],
  ['loader', `kimg: 1\nid: t\ntitle: x\nroot: rot\ntypes:\n  r:\n    fields:\n${a8}`],
  ['loader', withFields('      - id: s\n        type: switch\n        on: 1\n        cases:\n          1: nope\n')],
  ['loader', imp('      - { id: a, type: o.y }\n'), other],
  ['loader', imp('      - { id: a, type: p.x }\n'), other],
  ['loader', `${head}imports:\n  o: nothere\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}imports:\n  O: o\ntypes:\n  r:\n    fields:\n${a8}`, other],
  ['loader', withFields('      - { id: a, type: u8, enum: colour }\n', enums)],
  ['loader', withFields('      - { id: a, type: u8, flags: color }\n', enums)],
  ['loader', withFields('      - { id: a, type: u8 }\n      - { id: b, value: a == color::BLUE }\n', enums)],
  ['loader', withFields('      - id: a\n        type: u8\n        bits:\n          - { id: x, bit: 0, enum: nope }\n', enums)],
  ['loader', withFields('      - id: a\n        type: u8\n        bits:\n          - { id: x, bit: 6, width: 3 }\n')],
  ['loader', 'kimg: 1\nid: t\ntitle: a\nimports:\n  me: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n'],
  // duplicates
  ['loader', withFields('      - { id: a, type: u8 }\n      - { id: a, type: u16 }\n')],
  ['loader', withFields(`${a8}    checks:\n      - { id: c, assert: a == 1, message: x }\n      - { id: c, assert: a == 2, message: y }\n`)],
  ['loader', withFields('      - { id: f, type: u8, bits: [ { id: x, bit: 0 }, { id: x, bit: 1 } ] }\n')],
  ['loader', withFields(a8, 'enums:\n  e:\n    1: A\n    2: A\n')],
  ['loader', withFields(a8, 'flags:\n  f:\n    1: A\n    2: A\n')],
  // names
  ['both', withFields('      - { id: __proto__, type: u8 }\n')],
  ['both', withFields('      - { id: constructor, type: u8 }\n')],
  ['both', withFields('      - { id: prototype, type: u8 }\n')],
  ['both', withFields('      - { id: value, type: u8 }\n')],
  ['both', withFields('      - { id: toString, type: u8 }\n')],
  ['both', withFields('      - { id: _private, type: u8 }\n')],
  ['both', withFields('      - { id: 2nd, type: u8 }\n')],
  ['both', withFields('      - { id: "null", type: u8 }\n')],
  ['both', withFields('      - { id: and, type: u8 }\n')],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}  constructor:\n    fields:\n${a8}`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}  __proto__:\n    fields:\n${a8}`],
  ['both', withFields(a8, 'enums:\n  __proto__:\n    1: A\n')],
  ['both', withFields(a8, 'flags:\n  toString:\n    1: A\n')],
  ['both', withFields('      - { id: f, type: u8, bits: [ { id: hasOwnProperty, bit: 0 } ] }\n')],
  ['both', withFields(`${a8}    checks:\n      - { id: constructor, assert: a == 1, message: x }\n`)],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: __proto__, offset: 0, size: a }\n`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}scans:\n  - { id: Banner, prefix: "L" }\n`],
  ['both', 'kimg: 1\nid: My_Schema\ntitle: x\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n'],
  // regions, scans, detect
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: 0, size: a, codecs: { gz: gzip } }\n`],
  ['both', `${head}detect:\n  magic:\n    - { at: -1, bytes: "MZ" }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}detect:\n  magic:\n    - { bytes: "MZ" }\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}detect:\n  magik: []\ntypes:\n  r:\n    fields:\n${a8}`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: 0, size: a, inner: [ { schema: x, if: a } ] }\n`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}scans:\n  - { id: banner, prefix: { hex: "4g" } }\n`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - id: p\n    offset: 0\n    size: a\n    checks:\n      - { id: c, assert: a > 0, message: m }\n`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: 0 }\n`],
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: 0, size: a, main: "yes" }\n`],
  ['loader', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - id: p\n    main: true\n    offset: 0\n    size: a\n    inner:\n      - { schema: arm64-imge }\n`],
  ['loader', 'kimg: 1\nid: other\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n'],
  // reserved names as import aliases, and integers with a prefix but no digit: both layers refuse them
  ['both', `${head}imports:\n  constructor: o\ntypes:\n  r:\n    fields:\n${a8}`, other],
  ['both', withFields(a8, 'enums:\n  e:\n    0x_: A\n')],
  ['both', withFields('      - { id: a, type: u8, const: 0x_ }\n')],
  // an inner candidate named by path would let a schema make the pipeline read any file
  ['both', `${head}types:\n  r:\n    fields:\n${a8}regions:\n  - id: p\n    main: true\n    offset: 0\n    size: a\n    inner:\n      - { schema: /etc/passwd.yaml }\n`],
];

test('malformed files: each is rejected with a positioned SchemaError; where both layers reject it they agree', () => {
  for (const [layers, text, others] of MALFORMED) {
    const d = tempDir({ t: text, ...(others ?? {}) });
    const file = join(d, 't.yaml');
    const shape = validate(text, file);
    let meaning: unknown = null;
    try {
      withoutValidation(() => new SchemaLoader({ searchPath: [d], builtins: false }).load('t'));
    } catch (e) {
      meaning = e;
    }
    let full: unknown = null;
    try {
      new SchemaLoader({ searchPath: [d], builtins: false }).load('t');
    } catch (e) {
      full = e;
    }
    const label = `${layers}:\n${text}\nJSON Schema: ${shape?.describe() ?? 'valid'}\nloader: ${meaning instanceof SchemaError ? meaning.describe() : String(meaning)}`;
    // the loader as used (validation first) always gives a positioned SchemaError
    assert.ok(full instanceof SchemaError && full.pos && full.pos.file === file, label);
    if (layers === 'loader') {
      assert.equal(shape, null, label);
      assert.ok(meaning instanceof SchemaError && meaning.pos, label);
      assert.deepEqual(full, meaning, label);
    } else if (layers === 'schema') {
      assert.ok(shape?.pos, label);
      assert.ok(!(meaning instanceof SchemaError), label);
    } else {
      assert.ok(shape?.pos, label);
      assert.ok(meaning instanceof SchemaError && meaning.pos, label);
      assert.deepEqual([shape.code, shape.pos.line, shape.pos.col, shape.message, shape.hint], [meaning.code, meaning.pos.line, meaning.pos.col, meaning.message, meaning.hint], label);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// What the validator says about typical mistakes

test('typical mistakes: the messages name the key and what was expected, with a hint', () => {
  const say = (text: string): string => validate(text)!.describe();
  assert.equal(say(withFields('      - { id: size, type: u32, endain: be }\n')),
    "t.yaml:8:32: schema › types › r › fields[0]: unknown key 'endain' (hint: did you mean 'endian'?)");
  assert.equal(say(withFields('      - { id: a, type: u16, size: 4 }\n')),
    "t.yaml:8:35: schema › types › r › fields[0] › size: 'size' does not apply to integer fields");
  assert.equal(say(`${head}types:\n  r:\n    feilds: []\n`),
    "t.yaml:7:5: schema › types › r: unknown key 'feilds' (hint: did you mean 'fields'?)");
  assert.equal(say(withFields('      - { id: a, type: str, size: 2, encoding: utf-8 }\n')),
    "t.yaml:8:48: schema › types › r › fields[0] › encoding: unknown encoding 'utf-8' (hint: ascii, latin1 or utf8)");
  assert.equal(say(withFields('      - { id: a, type: str }\n')),
    "t.yaml:8:9: schema › types › r › fields[0]: str field 'a' needs a 'size' (use strz for NUL-terminated)");
  assert.equal(say(`${head}types:\n  r:\n    fields:\n${a8}regions:\n  - { id: p, offset: 0, size: a, main: yes }\n`),
    't.yaml:10:40: schema › regions[0] › main: expected true or false, got "yes"');
  assert.equal(say(withFields('      - { id: Magic, type: u8 }\n')),
    "t.yaml:8:15: schema › types › r › fields[0] › id: field name 'Magic' must be lower snake_case (a-z, 0-9, _; not starting with _)");
  assert.equal(say(`${head}typs:\n  r:\n    fields:\n${a8}`),
    "t.yaml:5:1: schema: unknown key 'typs' (hint: did you mean 'types'?)");
});

// ---------------------------------------------------------------------------------------------
// Cost: the built-ins are validated at build time, ajv is loaded only for other schemas

test('trees from the build-time snapshot are not validated again; trees from YAML are', () => {
  const d = tempDir({ good: withFields(a8).replace('id: t', 'id: good'), bad: withFields('      - { id: a, type: u8, endain: be }\n').replace('id: t', 'id: bad') });
  const snap = join(d, 'snap.json');
  // the build refuses a malformed schema
  assert.throws(() => writeSnapshot(d, snap, (tree, file) => validateTree(tree, file)), (e: unknown) => e instanceof SchemaError && e.code === 'unknown-key');
  // a snapshot written without the check (not what the build does) is trusted as it is
  writeSnapshot(d, snap);
  const text = readFileSync(join(d, 'bad.yaml'), 'utf8');
  const tree = fromSnapshot(snap, 'bad.yaml', text)!;
  assert.ok(isSnapshotTree(tree));
  validateTree(tree, join(d, 'bad.yaml'));
  const yamlTree = fromYaml(text, join(d, 'bad.yaml'))!;
  assert.ok(!isSnapshotTree(yamlTree));
  assert.throws(() => validateTree(yamlTree, join(d, 'bad.yaml')), (e: unknown) => e instanceof SchemaError && e.code === 'unknown-key');
});

test('loading only built-in schemas never loads ajv; loading a user schema does, once', () => {
  const d = tempDir({ u: withFields(a8).replace('id: t', 'id: u') });
  const script = `
    import { createRequire } from 'node:module';
    const { SchemaLoader } = await import(${JSON.stringify(join(REPO, 'dist/src/schema/loader.js'))});
    const cache = createRequire(import.meta.url).cache;
    const ajvLoaded = () => Object.keys(cache).some((k) => /[\\\\/]node_modules[\\\\/]ajv[\\\\/]/.test(k));
    const l = new SchemaLoader();
    for (const id of l.listIds()) l.load(id);
    const before = ajvLoaded();
    new SchemaLoader({ searchPath: [${JSON.stringify(d)}] }).load('u');
    console.log(JSON.stringify({ before, after: ajvLoaded() }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { before: false, after: true });
});
