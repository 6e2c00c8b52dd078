/**
 * Security properties of schemas and expressions (docs/security.md):
 * (a) expressions cannot reach JavaScript globals, prototypes, the file system or the network;
 * (b) names in schemas cannot pollute objects, and data names (enum members, flags) stay data;
 * (c) imports resolve only inside the schema search path unless explicitly allowed;
 * (d) no shell, no eval, no dynamic require driven by file contents anywhere in src/ (and dist/src/).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BufferSource } from '../src/core/bytes.js';
import { ParseError, SchemaError } from '../src/core/errors.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { compiledEngine } from '../src/codegen/compile.js';
import { interpret } from '../src/interp/interpreter.js';
import { annotateStruct, type Json } from '../src/render/annotate.js';
import { stringifyJson } from '../src/render/json.js';
import { renderSummary } from '../src/render/summary.js';
import { SchemaLoader } from '../src/schema/loader.js';
import type { ParseResult } from '../src/interp/interpreter.js';
import type { SchemaDef } from '../src/types.js';
import { Kimg } from '../src/kimg.js';
import { REPO } from './helpers.js';

const ENGINES: Record<string, (s: SchemaDef, bytes: Uint8Array) => ParseResult> = {
  interpreter: (s, bytes) => interpret(s, new BufferSource(bytes), { layout: true }),
  compiled: (s, bytes) => compiledEngine(s, new BufferSource(bytes), { limits: DEFAULT_LIMITS, layout: true }),
};

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kimg-sec-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name.includes('.') ? name : `${name}.yaml`), text);
  return d;
}

function load(text: string, options: { allowOutsideImports?: boolean } = {}, others: Record<string, string> = {}): SchemaDef {
  const d = dir({ t: text, ...others });
  return new SchemaLoader({ searchPath: [d], builtins: false, ...options }).load('t');
}

/** What Object.prototype looks like, to check that nothing was added or changed. */
function prototypeState(): string {
  const names = Object.getOwnPropertyNames(Object.prototype).sort();
  return JSON.stringify(names.map((n) => [n, typeof Object.getOwnPropertyDescriptor(Object.prototype, n)!.value]))
    + JSON.stringify(Object.getOwnPropertyNames(Array.prototype).sort())
    + String(Object.getPrototypeOf(Object.prototype));
}

function assertClean(before: string): void {
  assert.equal(prototypeState(), before, 'Object.prototype changed');
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'x', 'a', 'k', 'y', 'A', 'isAdmin']) assert.equal(probe[k], undefined, `({}).${k} is defined`);
}

// ---------------------------------------------------------------------------------------------
// (a) expressions

const HOSTILE_MEMBERS = ['constructor', '__proto__', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'length', 'call', 'apply', 'bind', '__defineGetter__', 'isPrototypeOf'];
const GLOBALS = ['globalThis', 'process', 'require', 'import', 'Function', 'eval', 'this', 'window', 'module', 'exports', 'console', 'Buffer', 'fetch', 'constructor', '__proto__', 'Object', 'Reflect'];

/** A root with a struct, arrays, bytes, strings and numbers; `x` (in r) and `y` (in sub) are the expressions under test. */
const exprSchema = (x: string, y = '0', extra = ''): string => `kimg: 1
id: t
title: hostile expressions
root: r
${extra}types:
  r:
    fields:
      - { id: n, type: u8 }
      - { id: s, type: sub }
      - { id: arr, type: u8, count: 2 }
      - { id: items, type: sub, count: 2 }
      - { id: b, type: bytes, size: 2 }
      - { id: str, type: str, size: 2 }
      - { id: big, type: u64 }
      - { id: x, value: ${JSON.stringify(x)} }
  sub:
    fields:
      - { id: k, type: u8 }
      - { id: y, value: ${JSON.stringify(y)} }
`;
const INPUT = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 0x61, 0x62, 1, 2, 3, 4, 5, 6, 7, 8]);

/** The schema must be refused at load, or every engine must fail with a ParseError: never a value. */
/** What a JavaScript value turned into text looks like: it must never show up in a message. */
const LEAK = /native code|\[object |function \w*\(|=>|Object\]/;

function neverAValue(text: string, label: string, expressionError = true): 'load' | 'run' {
  let schema: SchemaDef;
  try {
    schema = load(text);
  } catch (e) {
    assert.ok(e instanceof SchemaError, `${label}: ${String(e)}`);
    return 'load';
  }
  for (const [name, engine] of Object.entries(ENGINES)) {
    let result: unknown;
    try {
      result = engine(schema, INPUT);
    } catch (e) {
      assert.ok(e instanceof ParseError, `${label} (${name}): ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
      if (expressionError) assert.equal(e.code, 'expression', `${label} (${name}): ${e.describe()}`);
      assert.doesNotMatch(e.message, LEAK, `${label} (${name})`);
      continue;
    }
    assert.fail(`${label} (${name}) gave a value: ${String((result as ParseResult).value['x'])}`);
  }
  return 'run';
}

test('expressions: member names of JavaScript objects reach nothing, on every kind of value and through every built-in name', () => {
  const before = prototypeState();
  // the harness parses when the expressions are harmless
  for (const engine of Object.values(ENGINES)) {
    const r = engine(load(exprSchema('s.k + arr[1] + items[1].k + len(b) + len(str) + _file.size', '_parent.n + _root.n')), INPUT);
    assert.equal(r.value['x'], 2 + 4 + 6 + 2 + 2 + INPUT.length);
    assert.equal((r.value['s'] as Record<string, unknown>)['y'], 2);
  }
  const bases = ['s', 'arr', 'items', 'items[0]', 'b', 'str', 'n', 'big', '_root', '_region', '_file', '"ab"', '1', 'true', 'null', '(n > 0)', 'arr[0]', 'b[0]'];
  let count = 0;
  for (const m of HOSTILE_MEMBERS) {
    const exprs = [
      ...bases.map((b) => `${b}.${m}`),
      `s.${m}.${m}`,
      `_root.s.${m}`,
      `any(items, _.${m})`,
      `find(items, _.${m} == 1)`,
      `count(arr, _.${m})`,
      `all(items, _.k.${m})`,
      `len(s.${m})`,
      `s["${m}"]`,
      `arr["${m}"]`,
      `b["${m}"]`,
      `(n > 0 ? s : items).${m}`,
    ];
    for (const x of exprs) {
      neverAValue(exprSchema(x), x);
      count++;
    }
    // _parent and _root seen from the nested struct, _ and _index inside it
    for (const y of [`_parent.${m}`, `_root.${m}`, `_parent.s.${m}`, `_parent.items[0].${m}`]) {
      neverAValue(exprSchema('0', y), y);
      count++;
    }
  }
  assert.ok(count > 300);
  assertClean(before);
});

test('expressions: globals and functions of JavaScript are not names (refused when the schema loads)', () => {
  const before = prototypeState();
  for (const g of GLOBALS) {
    for (const x of [g, `${g}.x`, `${g}(1)`, `${g}("fs")`, `${g}["x"]`, `s.k + ${g}`, `any(items, ${g})`, `${g}::x`, `len(${g})`]) {
      assert.equal(neverAValue(exprSchema(x), x), 'load', `${x} was not refused at load`);
    }
  }
  for (const x of ['constructor.constructor("return process")()', 'require("child_process").execSync("id")', 'import("fs")', 's.constructor.constructor("x")()',
    'this.process', 'new Function("x")', '`${process}`', 'process.env', 'eval("1")', 'x => x', 'function() {}', 'n; process', 'a = 1', 'n.k = 1']) {
    assert.equal(neverAValue(exprSchema(x), x), 'load', `${x} was not refused at load`);
  }
  assertClean(before);
});

test('expressions: hostile names in templates (check messages, const messages, summary) give no value', () => {
  const before = prototypeState();
  for (const m of HOSTILE_MEMBERS) {
    for (const hole of [`s.${m}`, `_root.${m}`, `_region.${m}`, `_file.${m}`, `str.${m}`, `b.${m}`, `arr.${m}`, `n.${m}:hex`]) {
      // a failing check renders its message
      const check = `kimg: 1\nid: t\ntitle: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: n, type: u8 }\n      - { id: s, type: sub }\n      - { id: arr, type: u8, count: 2 }\n      - { id: b, type: bytes, size: 2 }\n      - { id: str, type: str, size: 2 }\n    checks:\n      - { id: c, assert: n == 0, message: ${JSON.stringify(`got \${${hole}}`)} }\n  sub:\n    fields:\n      - { id: k, type: u8 }\n`;
      neverAValue(check, `check message ${hole}`, false);
      // a failing const renders its message, with the value as _
      const cst = `kimg: 1\nid: t\ntitle: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: n, type: u8, const: 0, message: ${JSON.stringify(`got \${_.${m}} \${n.${m}}`)} }\n`;
      neverAValue(cst, `const message ${m}`, false);
      // a summary hole that fails prints ?
      let schema: SchemaDef | null = null;
      try {
        schema = load(`kimg: 1\nid: t\ntitle: t\nroot: r\nsummary: ${JSON.stringify(`[\${${hole}}]`)}\ntypes:\n  r:\n    fields:\n      - { id: n, type: u8 }\n      - { id: s, type: sub }\n      - { id: arr, type: u8, count: 2 }\n      - { id: b, type: bytes, size: 2 }\n      - { id: str, type: str, size: 2 }\n  sub:\n    fields:\n      - { id: k, type: u8 }\n`);
      } catch (e) {
        assert.ok(e instanceof SchemaError);
      }
      if (schema) {
        for (const engine of Object.values(ENGINES)) {
          const r = engine(schema, INPUT);
          assert.equal(renderSummary(schema.summary!, r, INPUT.length, DEFAULT_LIMITS.maxExprSteps), '[?]', `summary ${hole}`);
        }
      }
    }
  }
  assertClean(before);
});

// ---------------------------------------------------------------------------------------------
// (b) names

const HOSTILE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'];
const okField = '      - { id: a, type: u8 }\n';
const base = 'kimg: 1\nid: t\ntitle: t\nroot: r\n';

test('names: hostile field, type, enum, flag set, bit, check, region, scan and alias names are refused at load', () => {
  const before = prototypeState();
  const places: [string, (n: string) => string][] = [
    ['field', (n) => `${base}types:\n  r:\n    fields:\n      - { id: ${n}, type: u8 }\n`],
    ['derived field', (n) => `${base}types:\n  r:\n    fields:\n      - { id: ${n}, value: 1 }\n`],
    ['type', (n) => `${base}types:\n  r:\n    fields:\n${okField}  ${n}:\n    fields:\n${okField}`],
    ['root type', (n) => `kimg: 1\nid: t\ntitle: t\nroot: ${n}\ntypes:\n  ${n}:\n    fields:\n${okField}`],
    ['enum', (n) => `${base}enums:\n  ${n}: { 1: A }\ntypes:\n  r:\n    fields:\n${okField}`],
    ['flag set', (n) => `${base}flags:\n  ${n}: { 1: A }\ntypes:\n  r:\n    fields:\n${okField}`],
    ['bit', (n) => `${base}types:\n  r:\n    fields:\n      - { id: a, type: u8, bits: [ { id: ${n}, bit: 0 } ] }\n`],
    ['check', (n) => `${base}types:\n  r:\n    fields:\n${okField}    checks:\n      - { id: ${n}, assert: a == 1, message: m }\n`],
    ['region', (n) => `${base}types:\n  r:\n    fields:\n${okField}regions:\n  - { id: ${n}, offset: 0, size: 1 }\n`],
    ['scan', (n) => `${base}types:\n  r:\n    fields:\n${okField}scans:\n  - { id: ${n}, prefix: "L" }\n`],
    ['import alias', (n) => `${base}imports:\n  ${n}: o\ntypes:\n  r:\n    fields:\n${okField}`],
    ['top-level key', (n) => `${base}${n}: { polluted: 1 }\ntypes:\n  r:\n    fields:\n${okField}`],
    ['type key', (n) => `${base}types:\n  r:\n    ${n}: { polluted: 1 }\n    fields:\n${okField}`],
    ['field key', (n) => `${base}types:\n  r:\n    fields:\n      - { id: a, type: u8, ${n}: { polluted: 1 } }\n`],
  ];
  const other = { o: 'kimg: 1\nid: o\ntitle: o\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n' };
  for (const name of HOSTILE_NAMES) {
    for (const [place, make] of places) {
      assert.throws(() => load(make(name), {}, other), (e: unknown) => e instanceof SchemaError && e.pos !== undefined
        && /^(bad-name|reserved-name|bad-alias|unknown-key|unknown-type|bad-reference)$/.test(e.code), `${place} named ${name}`);
    }
  }
  assertClean(before);
});

test('names: enum members and flag names like __proto__ are data, shown as plain JSON by both engines', () => {
  const before = prototypeState();
  const text = `${base}enums:
  e:
    1: __proto__
    2: constructor
    3: toString
    4: hasOwnProperty
    5: prototype
flags:
  f:
    0x1: __proto__
    0x2: constructor
    0x4: toString
types:
  r:
    fields:
      - { id: a, type: u8, enum: e }
      - { id: b, type: u8, enum: e }
      - { id: c, type: u8, flags: f }
      - id: d
        type: u8
        bits:
          - { id: lo, bit: 0, width: 3, enum: e }
      - { id: p, value: e::__proto__ }
      - { id: q, value: "c & f::constructor" }
      - { id: m, value: a, enum: e }
`;
  const schema = load(text);
  for (const [name, engine] of Object.entries(ENGINES)) {
    const r = engine(schema, Uint8Array.of(1, 2, 7, 3));
    const json = stringifyJson(annotateStruct(r.value, r.layout!) as Json, 0);
    assert.equal(json, '{"a":{"value":1,"name":"__proto__"},"b":{"value":2,"name":"constructor"},"c":{"value":7,"flags":["__proto__","constructor","toString"],"unknown":0},'
      + '"d":{"value":3,"lo":{"value":3,"name":"toString"}},"p":1,"q":2,"m":{"value":1,"name":"__proto__"}}', name);
    const parsed = JSON.parse(json) as Record<string, { name?: unknown }>;
    assert.equal(parsed['a']!.name, '__proto__');
    for (const v of [r.value, parsed]) for (const k of Object.keys(v)) assert.ok(!HOSTILE_NAMES.includes(k));
  }
  // members that are not listed are not found through the prototype chain
  for (const m of ['valueOf', 'isPrototypeOf', '__defineGetter__']) {
    assert.throws(() => load(text.replace('e::__proto__', `e::${m}`)), (e: unknown) => e instanceof SchemaError && e.code === 'bad-reference', m);
  }
  assertClean(before);
});

test('names: loading and parsing hostile schemas with both engines leaves Object.prototype unchanged', () => {
  const before = prototypeState();
  const hostile = [
    `${base}__proto__:\n  polluted: 1\ntypes:\n  r:\n    fields:\n${okField}`,
    `${base}types:\n  r:\n    fields:\n${okField}  __proto__:\n    polluted: 1\n    fields:\n      - { id: polluted, type: u8 }\n`,
    `${base}enums:\n  __proto__: { 1: polluted }\ntypes:\n  r:\n    fields:\n${okField}`,
    `${base}types:\n  r:\n    fields:\n      - { id: a, type: u8, __proto__: { polluted: 1 } }\n`,
    `${base}types:\n  r:\n    fields:\n      - id: s\n        type: switch\n        on: 1\n        cases:\n          __proto__: r\n`,
    `${base}types:\n  r:\n    fields:\n${okField}regions:\n  - { id: p, offset: 0, size: 1, codec: '"gzip"', codecs: { __proto__: polluted, constructor: x } }\n`,
    `{"kimg": 1, "id": "t", "title": "t", "root": "r", "__proto__": {"polluted": 1}, "types": {"r": {"fields": [{"id": "a", "type": "u8"}]}}}\n`,
  ];
  for (const text of hostile) {
    let schema: SchemaDef | null = null;
    try {
      schema = load(text);
    } catch (e) {
      assert.ok(e instanceof SchemaError, String(e));
    }
    if (schema) for (const engine of Object.values(ENGINES)) try { engine(schema, Uint8Array.of(1, 2)); } catch (e) { assert.ok(e instanceof ParseError, String(e)); }
    assertClean(before);
  }
});

// ---------------------------------------------------------------------------------------------
// (c) imports

function outsideSetup(): { root: string; schemas: string; secret: string } {
  const root = mkdtempSync(join(tmpdir(), 'kimg-sec-imp-'));
  const schemas = join(root, 'schemas');
  mkdirSync(schemas);
  const secret = join(root, 'secret.yaml');
  writeFileSync(secret, 'kimg: 1\nid: secret\ntitle: s\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n');
  return { root, schemas, secret };
}

const importing = (ref: string): string => `kimg: 1\nid: t\ntitle: t\nroot: r\nimports:\n  s: ${JSON.stringify(ref)}\ntypes:\n  r:\n    fields:\n      - { id: a, type: s.x }\n`;

function importError(schemas: string, ref: string, allow = false): SchemaError | null {
  writeFileSync(join(schemas, 't.yaml'), importing(ref));
  try {
    new SchemaLoader({ searchPath: [schemas], builtins: false, allowOutsideImports: allow }).load('t');
    return null;
  } catch (e) {
    assert.ok(e instanceof SchemaError, String(e));
    return e;
  }
}

test('imports: ../, absolute paths and symlinks leaving the search path are refused unless allowOutsideImports', () => {
  const { root, schemas, secret } = outsideSetup();
  symlinkSync(secret, join(schemas, 'link.yaml'));
  mkdirSync(join(root, 'elsewhere'));
  writeFileSync(join(root, 'elsewhere', 'lib.yaml'), readFileSync(secret, 'utf8').replace('id: secret', 'id: lib'));
  symlinkSync(join(root, 'elsewhere'), join(schemas, 'linkdir'));
  for (const ref of ['../secret.yaml', './../secret.yaml', secret, './link.yaml', 'link.yaml', './linkdir/lib.yaml', `${schemas}/../secret.yaml`]) {
    const e = importError(schemas, ref);
    assert.equal(e?.code, 'import-outside', `${ref}: ${e?.describe()}`);
    assert.ok(e.pos && e.pos.line === 6, e.describe());
    assert.equal(importError(schemas, ref, true), null, `${ref} with allowOutsideImports`);
  }
  // the same through the library
  writeFileSync(join(schemas, 't.yaml'), importing('../secret.yaml'));
  assert.throws(() => new Kimg({ schemaPath: [schemas], builtins: false }).loadSchema('t'), (e: unknown) => e instanceof SchemaError && e.code === 'import-outside');
});

test('imports: an id with / or .. in it is a path (checked like one) or not an id', () => {
  const { schemas } = outsideSetup();
  for (const ref of ['../secret', '..', '../', 'a/../../secret', '..\\secret', 'sub/../../secret.yaml', '/etc/passwd', '/dev/zero', '../schemas/../secret.yaml']) {
    const e = importError(schemas, ref);
    assert.ok(e && ['import-outside', 'schema-not-found', 'bad-schema-id'].includes(e.code), `${ref}: ${e?.describe()}`);
    assert.ok(e.pos, e.describe());
  }
  const loader = new SchemaLoader({ searchPath: [schemas], builtins: false });
  for (const id of ['..', '../secret', 'Secret', 'a b', '.hidden']) {
    assert.throws(() => loader.load(id), (e: unknown) => e instanceof SchemaError && ['bad-schema-id', 'schema-not-found'].includes(e.code), id);
  }
});

test('imports: inside the search path and next to the importing file they work', () => {
  const { schemas } = outsideSetup();
  writeFileSync(join(schemas, 'lib.yaml'), 'kimg: 1\nid: lib\ntitle: l\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n');
  for (const ref of ['lib', './lib.yaml', 'lib.yaml']) assert.equal(importError(schemas, ref), null, ref);
});

test('regions: an inner candidate names a schema by id, never a file (the JSON Schema refuses paths)', () => {
  const { schemas, secret } = outsideSetup();
  for (const ref of [secret, '../secret.yaml', './x.yaml', '/etc/passwd']) {
    writeFileSync(join(schemas, 't.yaml'), `kimg: 1\nid: t\ntitle: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\nregions:\n  - { id: p, main: true, offset: 0, size: 1, inner: [ { schema: ${JSON.stringify(ref)} } ] }\n`);
    assert.throws(() => new SchemaLoader({ searchPath: [schemas], builtins: false }).load('t'),
      (e: unknown) => e instanceof SchemaError && e.code === 'bad-schema-id' && e.pos?.line === 10, ref);
  }
});

// ---------------------------------------------------------------------------------------------
// (d) no shell, no eval, no dynamic loading driven by file contents

/**
 * Places allowed to do what the scan looks for, each with why. Anything else is a failure naming its
 * file and line. Keys are paths relative to the repo (the .ts source; the dist .js mirrors them).
 */
const AUDITED: { file: RegExp; what: RegExp; why: string }[] = [
  { file: /^src\/codegen\/compile\.(ts|js)$/, what: /new Function\(/, why: 'the compiler turns the validated model into code through its builder (codegen/code.ts): schema text appears only as escaped literals' },
  { file: /^src\/schema\/validate\.(ts|js)$/, what: /createRequire\(import\.meta\.url\)\('ajv'\)/, why: 'lazy load of ajv by literal name' },
  { file: /^src\/schema\/located-yaml\.(ts|js)$/, what: /createRequire\(import\.meta\.url\)\('yaml'\)/, why: 'lazy load of yaml by literal name' },
  { file: /^src\/pipeline\/gc\.(ts|js)$/, what: /getBuiltinModule\(['"]node:vm['"]\)/, why: "node:vm only to fetch V8's gc function: vm.runInNewContext('gc'), a literal (see the vm run rule)" },
  { file: /^src\/cli\/(launch\.(ts|js)|kimg\.mjs)$/, what: /getBuiltinModule\(['"]node:vm['"]\)|\(?script\.runInThisContext\(\)|new vm\.Script\(`\(function \(exports, require, module, __filename, __dirname, __kimgImport\) \{\$\{source\}/, why: "the launcher compiles one file, kimg's own CLI bundle (BUNDLE, beside it), never anything read from an input" },
];

const RULES: { name: string; re: RegExp }[] = [
  { name: 'eval', re: /(?<![\w$.])eval\s*\(/ },
  { name: 'new Function', re: /\bnew\s+Function\b|(?<![\w$.])Function\s*\(/ },
  { name: 'child_process', re: /child_process/ },
  { name: 'exec', re: /(?<![\w$.])exec(Sync|File|FileSync)?\s*\(/ },
  { name: 'spawn', re: /\bspawn(Sync)?\b/ },
  { name: 'vm', re: /['"](node:)?vm['"]/ },
  { name: 'vm run', re: /\b(runIn(New|This)?Context|compileFunction)\s*\(\s*(?!['"][^'"]*['"]\s*[,)])|new\s+(vm\.)?Script\s*\(/ },
  { name: 'require', re: /(?<![\w$.])require\s*\(/ },
  { name: 'createRequire call', re: /createRequire\([^)]*\)\s*\(/ },
  { name: 'dynamic import', re: /(?<![\w$.])import\s*\(\s*(?!['"][^'"]*['"]\s*\))/ },
  { name: 'setTimeout with a string', re: /set(Timeout|Interval|Immediate)\s*\(\s*['"`]/ },
];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.map')) out.push(p);
  }
  return out;
}

/** Code without comments and string contents (so that words in messages and docs do not count). */
function codeOnly(text: string): string[] {
  const noBlock = text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '));
  return noBlock.split('\n').map((line) => line.replace(/(^|[^:'"`\\])\/\/.*$/, '$1'));
}

/** A method of that name being defined (`eval(x: CExpr, …) {`, or in JS `eval(x, s) {`), not the global being called. */
const METHOD_DEF = /^\s*(?:(?:private|public|protected|static|async|override)\s+)*eval\s*\([^)]*\)\s*(?::\s*[^{;=]+)?\{\s*$/;

/**
 * The CLI bundle (scripts/bundle.mjs) is dist/src's modules, scanned here one by one, plus the
 * argument-parsing packages: it is checked by what it contains, not scanned as kimg's code. The
 * `bin`, kimg.mjs, is src/cli/launch.ts bundled, and scanned like it.
 */
const BUNDLE = join(REPO, 'dist/src/cli/kimg-main.cjs');
const BUNDLED_PACKAGES = ['yargs', 'yargs-parser', 'cliui', 'y18n', 'escalade', 'get-caller-file', 'string-width', 'strip-ansi', 'ansi-regex', 'wrap-ansi', 'ansi-styles', 'emoji-regex', 'get-east-asian-width',
  // the checksum libraries of src/core/digest.ts (pure JS), once expressions use them
  '@noble/hashes', 'crc-32', 'adler-32'];

test('the CLI bundle holds only kimg\'s own modules and the argument-parsing packages (no codec, no yaml, no ajv)', { skip: !existsSync(BUNDLE) && 'dist/src/cli/kimg-main.cjs not built' }, () => {
  const modules = readFileSync(BUNDLE, 'utf8').split('\n').filter((l) => /^\/\/ (dist\/src|node_modules)\//.test(l)).map((l) => l.slice(3));
  assert.ok(modules.some((m) => m === 'dist/src/kimg.js') && modules.some((m) => m.startsWith('node_modules/yargs/')), modules.slice(0, 5).join(', '));
  const foreign = modules.filter((m) => !m.startsWith('dist/src/') && !BUNDLED_PACKAGES.some((p) => m.startsWith(`node_modules/${p}/`) || new RegExp(`^node_modules/[^/]+/node_modules/${p}/`).test(m)));
  assert.deepEqual([...new Set(foreign)], []);
});

test('no shell, no eval, no dynamic require or import driven by file contents in src/ or dist/src/', () => {
  const found: string[] = [];
  const files = [...sourceFiles(join(REPO, 'src')), ...sourceFiles(join(REPO, 'dist', 'src')).filter((f) => f !== BUNDLE)];
  assert.ok(files.length > 40, `${files.length} files`);
  for (const file of files) {
    const rel = relative(REPO, file).replace(/\\/g, '/').replace(/^dist\//, '');
    const lines = codeOnly(readFileSync(file, 'utf8'));
    lines.forEach((line, i) => {
      for (const rule of RULES) {
        if (!rule.re.test(line)) continue;
        if (rule.name === 'eval' && METHOD_DEF.test(line)) continue;
        // literal dynamic imports of the codec plugins and node built-ins are fine: `await import('zstddec/stream')`
        if (AUDITED.some((a) => a.file.test(rel) && a.what.test(line))) continue;
        found.push(`${relative(REPO, file)}:${i + 1}: ${rule.name}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(found, [], `unaudited dynamic code or process execution:\n${found.join('\n')}`);
});

test('the scan itself finds what it looks for (so that a clean result means something)', () => {
  const bad = [
    'const f = eval(text);', 'const g = new Function("a", body);', "import { exec } from 'node:child_process';", 'execSync(cmd)', 'spawn("sh")', 'vm.runInNewContext(code)', "import vm from 'node:vm';",
    'const m = require(name);', 'const m = await import(path);', 'const m = await import(`./${x}.js`);', "createRequire(import.meta.url)(name)", "setTimeout('x()', 1)",
  ];
  for (const line of bad) assert.ok(RULES.some((r) => r.re.test(codeOnly(line)[0]!)), line);
  const good = ["const z = await import('node:zlib');", 'r.eval(count, fr, p, id);', '  eval(x: CExpr, s: Scope, pos: number): unknown {', '// eval(x) in a comment', "vm.runInNewContext('gc')", "const { run } = await import('./commands.js');"];
  for (const line of good) {
    const hit = RULES.filter((r) => r.re.test(codeOnly(line)[0]!) && !(r.name === 'eval' && METHOD_DEF.test(line)));
    assert.deepEqual(hit.map((r) => r.name), [], line);
  }
});
