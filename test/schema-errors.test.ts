/**
 * Malformed schema files: each must give a SchemaError with the file, line and column of the
 * mistake, a stable code, a message saying what is wrong and, where it helps, a hint.
 * (Lines and columns are 1-based; a field's expression error points at the start of the scalar.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SchemaError } from '../src/core/errors.js';
import { SchemaLoader } from '../src/schema/loader.js';
import { Kimg } from '../src/kimg.js';
import { interpret } from '../src/interp/interpreter.js';
import { BufferSource } from '../src/core/bytes.js';

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'kimg-err-'));
  for (const [name, text] of Object.entries(files)) {
    const file = join(d, name.includes('.') ? name : `${name}.yaml`);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
  }
  return d;
}

interface Want {
  code: string | RegExp;
  line: number;
  /** A column, or a text whose first occurrence on that line is where the error must point. */
  col: number | string;
  message?: RegExp;
  hint?: RegExp;
  /** File name (basename) the position must be in, when not t.yaml. */
  file?: string;
}

/** Loads `t` (from `text`, plus other files) and checks the SchemaError. */
function expectError(text: string, want: Want, others: Record<string, string> = {}, options: { allowOutsideImports?: boolean } = {}): SchemaError {
  const d = dir({ t: text, ...others });
  let err: unknown;
  try {
    new SchemaLoader({ searchPath: [d], builtins: false, ...options }).load('t');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SchemaError, `expected a SchemaError, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
  const e = err;
  if (typeof want.code === 'string') assert.equal(e.code, want.code, e.describe());
  else assert.match(e.code, want.code, e.describe());
  assert.ok(e.pos, `no position: ${e.describe()}`);
  assert.equal(e.pos.file, join(d, want.file ?? 't.yaml'), e.describe());
  const sourceText = want.file ? others[want.file.replace(/\.yaml$/, '')]! : text;
  const col = typeof want.col === 'number' ? want.col : sourceText.split('\n')[want.line - 1]!.indexOf(want.col) + 1;
  assert.ok(col > 0, `'${want.col}' is not on line ${want.line}`);
  assert.deepEqual([e.pos.line, e.pos.col], [want.line, col], e.describe());
  if (want.message) assert.match(e.message, want.message);
  if (want.hint) assert.match(e.hint ?? '', want.hint, `hint of: ${e.describe()}`);
  // describe() is what the CLI prints: file:line:col: message (hint: ...)
  assert.ok(e.describe().startsWith(`${e.pos.file}:${want.line}:${col}: `), e.describe());
  return e;
}

/** A schema with root type r; `fields` are lines already indented by 6 spaces. */
const head = 'kimg: 1\nid: t\ntitle: test\nroot: r\n';
const withFields = (fields: string, extra = ''): string => `${head}${extra}types:\n  r:\n    fields:\n${fields}`;
// With `head` (4 lines) and no extra, the first field line is line 8.

// ---------------------------------------------------------------------------------------------
// Keys

test('unknown top-level key, with did-you-mean', () => {
  const e = expectError(`${head}enum:\n  a: { 1: X }\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, {
    code: 'unknown-key', line: 5, col: 1, message: /^schema: unknown key 'enum'/, hint: /did you mean 'enums'\?/,
  });
  assert.match(e.describe(), /t\.yaml:5:1: schema: unknown key 'enum' \(hint: did you mean 'enums'\?\)$/);
});

test('unknown key in a type and in a field, with did-you-mean', () => {
  expectError(`${head}types:\n  r:\n    fileds:\n      - { id: a, type: u8 }\n`, {
    code: 'unknown-key', line: 7, col: 5, message: /schema › types › r: unknown key 'fileds'/, hint: /did you mean 'fields'\?/,
  });
  expectError(withFields('      - { id: a, type: u16, endain: be }\n'), {
    code: 'unknown-key', line: 8, col: 29, message: /unknown key 'endain'/, hint: /did you mean 'endian'\?/,
  });
  expectError(withFields('      - { id: a, type: u16, frobnicate: 1 }\n'), {
    code: 'unknown-key', line: 8, col: 29, hint: /allowed: id, doc, type, size/,
  });
});

test('a key that does not apply to the field kind', () => {
  expectError(withFields('      - { id: a, type: u16, size: 4 }\n'), {
    code: 'key-not-allowed', line: 8, col: '4 }', message: /'size' does not apply to integer fields/,
  });
  expectError(withFields('      - { id: a, type: bytes, size: 2, enum: x }\n'), {
    code: 'key-not-allowed', line: 8, col: 'x }', message: /'enum' does not apply to bytes fields/,
  });
  expectError(withFields('      - { id: a, type: u16le, endian: be }\n'), {
    code: 'key-not-allowed', line: 8, col: 'be }', message: /type u16le already says its byte order/,
  });
  expectError(withFields('      - { id: a, type: u8, value: 1 }\n'), {
    code: 'key-not-allowed', line: 8, col: 'u8,', message: /either 'type' or 'value', not both/,
  });
  expectError(withFields('      - { id: a, value: 1, at: 4 }\n'), {
    code: 'key-not-allowed', line: 8, col: 9, message: /a derived 'value' field reads no bytes/,
  });
  expectError(withFields('      - { id: a, type: u8, count: 2, repeat: to-end }\n'), {
    code: 'key-not-allowed', line: 8, col: 'to-end', message: /use one of 'count', 'repeat' and 'until', not several/,
  });
});

test('missing required keys', () => {
  expectError('id: t\ntitle: x\nroot: r\ntypes: {}\n', { code: 'missing-key', line: 1, col: 1, message: /missing required key 'kimg'/ });
  expectError(`kimg: 1\nid: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'missing-key', line: 1, col: 1, message: /missing required key 'title'/ });
  expectError(withFields('      - { id: a }\n'), { code: 'missing-key', line: 8, col: 9, message: /field 'a' needs a 'type' \(or a 'value'\)/ });
  expectError(withFields('      - { type: u8 }\n'), { code: 'missing-key', line: 8, col: 9, message: /a field needs an 'id'/ });
  expectError(withFields('      - { id: a, type: str }\n'), { code: 'missing-key', line: 8, col: 9, message: /str field 'a' needs a 'size' \(use strz/ });
  expectError(withFields('      - { id: a, type: bytes }\n'), { code: 'missing-key', line: 8, col: 9, message: /bytes field 'a' needs a 'size'/ });
  expectError(withFields('      - { id: a, type: switch, on: 1 }\n'), { code: 'missing-key', line: 8, col: 9, message: /missing required key 'cases'/ });
});

// ---------------------------------------------------------------------------------------------
// Values of the wrong type

test('wrong type of value: list for a string, string for a list, bad enum-like values', () => {
  expectError(withFields('      - { id: a, type: [u8] }\n'), { code: /^expected-(scalar|string)$/, line: 8, col: 24, message: /got a list/ });
  expectError(`${head}types:\n  r:\n    fields: { id: a }\n`, { code: 'expected-list', line: 7, col: 13, message: /expected a list, got a mapping/ });
  expectError(`${head}types: [r]\n`, { code: 'expected-map', line: 5, col: 8, message: /expected a mapping, got a list/ });
  expectError(withFields('      - { id: a, type: u8, endian: middle }\n'), { code: 'bad-endian', line: 8, col: 'middle', message: /endian must be 'le' or 'be', got 'middle'/ });
  expectError(withFields('      - { id: a, type: u8, const: 1, severity: fatal }\n'), { code: 'bad-severity', line: 8, col: 'fatal', message: /severity must be 'error' or 'warning'/ });
  expectError(withFields('      - { id: a, type: str, size: 2, encoding: ebcdic }\n'), { code: 'bad-encoding', line: 8, col: 'ebcdic', hint: /ascii, latin1 or utf8/ });
  expectError(withFields('      - { id: a, type: u8, repeat: forever }\n'), { code: 'bad-repeat', line: 8, col: 'forever', message: /repeat must be 'to-end'/ });
  expectError(withFields('      - { id: a, type: u8, const: 256 }\n'), { code: 'const-range', line: 8, col: '256', message: /const 256 does not fit u8/ });
  expectError(withFields('      - { id: a, type: u8, const: abc }\n'), { code: 'expected-integer', line: 8, col: 'abc', message: /expected an integer, got 'abc'/ });
  expectError(withFields('      - { id: a, type: Float32 }\n'), { code: 'bad-type', line: 8, col: 'Float32', message: /unknown type 'Float32' in r\.a/, hint: /u8\.\.u64, s8\.\.s64/ });
  // a lower-case name is taken for a struct type name
  expectError(withFields('      - { id: a, type: u31 }\n'), { code: 'unknown-type', line: 8, col: 'u31', message: /unknown type 'u31'/, hint: /integer types are u8, u16/ });
  expectError('kimg: 2\nid: t\ntitle: x\nroot: r\ntypes: {}\n', { code: 'bad-version', line: 1, col: 7, hint: /version 1/ });
  expectError(`${head}detect:\n  magic:\n    - { at: 0, bytes: "\\u0100" }\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-byte', line: 7, col: '"\\u0100"', message: /is not a single byte/ });
  expectError(`${head}enums:\n  e:\n    one: A\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'expected-integer', line: 7, col: 5, message: /expected an integer key, got 'one'/ });
  expectError(`${head}flags:\n  f:\n    0: NONE\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-mask', line: 7, col: 5, message: /flag mask must be positive/ });
});

test('wrong type of value: a number where a string or boolean is expected', () => {
  expectError('kimg: 1\nid: t\ntitle: 3\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n', { code: 'expected-string', line: 3, col: 8, message: /expected a string, got 3/ });
  expectError(withFields('      - { id: a, type: u8, hidden: 1 }\n'), { code: 'expected-boolean', line: 8, col: 36 });
});

test('wrong type of value: a string where a boolean is expected', () => {
  expectError(withFields('      - { id: a, type: u8, hidden: "yes" }\n'), { code: 'expected-boolean', line: 8, col: '"yes"', message: /expected true or false, got "yes"/ });
});

// ---------------------------------------------------------------------------------------------
// Expressions and templates

test('bad expression: message gives the column inside the expression', () => {
  const e = expectError(withFields('      - { id: a, type: u8 }\n      - { id: b, type: bytes, size: a +* 2 }\n'), {
    code: 'bad-expression', line: 9, col: 40, message: /in expression 'a \+\* 2' at column 4: expected a value, found '\*'/,
  });
  assert.match(e.message, /^schema › types › r › fields\[1\] › size: /);
  expectError(withFields('      - { id: a, type: u8, if: "a < 1 < 2" }\n'), { code: 'bad-expression', line: 8, col: '< 2', message: /comparisons do not chain/ });
  expectError(withFields('      - { id: a, type: u8, count: sizeof(a) }\n'), { code: 'bad-expression', line: 8, col: 'sizeof', message: /unknown function 'sizeof'/ });
  expectError(withFields('      - { id: a, type: u8, count: _size }\n'), { code: 'bad-expression', line: 8, col: '_size', message: /names starting with _ are reserved/ });
});

test('bad expression: the position is the offending character inside a one-line scalar', () => {
  expectError(withFields('      - { id: a, type: u8 }\n      - { id: b, type: bytes, size: "a +* 2" }\n'), { code: 'bad-expression', line: 9, col: '* 2' });
});

test('unknown field referenced in an expression, with the fields in scope as hint', () => {
  expectError(withFields('      - { id: size, type: u8 }\n      - { id: data, type: bytes, size: sise }\n'), {
    code: 'bad-reference', line: 9, col: 'sise', message: /in expression 'sise': unknown field 'sise'/, hint: /fields here: size, data/,
  });
  // fields of another type are not in scope (use _parent / _root)
  const text = `${head}types:\n  r:\n    fields:\n      - { id: n, type: u8 }\n      - { id: s, type: sub }\n  sub:\n    fields:\n      - { id: xs, type: u8, count: n }\n`;
  expectError(text, { code: 'bad-reference', line: 12, col: 'n }', message: /unknown field 'n'/, hint: /fields here: xs/ });
  // checks, summary, detect.when and regions see the root's fields
  expectError(`${head}summary: "\${nope}"\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-reference', line: 5, col: '"${nope}"', message: /unknown field 'nope'/ });
  expectError(`${head}detect:\n  when: b == 1\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-reference', line: 6, col: 'b == 1' });
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\nregions:\n  - { id: p, offset: a, size: b }\n`, { code: 'bad-reference', line: 10, col: 'b }' });
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\n    checks:\n      - { id: c, assert: x > 1, message: m }\n`, { code: 'bad-reference', line: 10, col: 'x > 1' });
});

test('bad template: unterminated ${, and a bad hole', () => {
  expectError(withFields('      - { id: a, type: u8, const: 1, message: "got ${a" }\n'), { code: 'bad-template', line: 8, col: '"got', message: /unterminated \$\{/ });
  expectError(withFields('      - { id: a, type: u8, const: 1, message: "got ${a +}" }\n'), { code: 'bad-expression', line: 8, col: '}" }', message: /in expression 'a \+'/ });
  expectError(withFields('      - { id: a, type: u8, const: 1, message: "got ${a:bin}" }\n'), { code: 'bad-expression', line: 8, col: ':bin', message: /in expression 'a:bin'/ });
});

// ---------------------------------------------------------------------------------------------
// References: types, enums, imports

test('unknown type, with a hint', () => {
  expectError(withFields('      - { id: h, type: headr }\n      - { id: x, type: u8 }\n', ''), { code: 'unknown-type', line: 8, col: 'headr', message: /unknown type 'headr'/ });
  const text = `${head}types:\n  r:\n    fields:\n      - { id: h, type: head }\n  header:\n    fields:\n      - { id: a, type: u8 }\n`;
  expectError(text, { code: 'unknown-type', line: 8, col: 24, hint: /did you mean 'header'\?/ });
  expectError(`kimg: 1\nid: t\ntitle: x\nroot: rot\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'unknown-type', line: 4, col: 7, message: /unknown type 'rot'/ });
  expectError(withFields('      - id: s\n        type: switch\n        on: 1\n        cases:\n          1: nope\n'), { code: 'unknown-type', line: 12, col: 14 });
});

test('unknown type: the hint does not suggest unrelated types', () => {
  expectError(withFields('      - { id: h, type: headr }\n'), { code: 'unknown-type', line: 8, col: 'headr', hint: /^types: r$/ });
});

test('unknown imported type, unknown import alias', () => {
  const other = { o: 'kimg: 1\nid: o\ntitle: o\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n' };
  const imp = (fields: string): string => `${head}imports:\n  o: o\ntypes:\n  r:\n    fields:\n${fields}`;
  expectError(imp('      - { id: a, type: o.y }\n'), { code: 'unknown-type', line: 10, col: 24, message: /schema o has no type 'y'/ }, other);
  expectError(imp('      - { id: a, type: p.x }\n'), { code: 'unknown-import', line: 10, col: 24, message: /no import named 'p'/, hint: /imports here: o/ }, other);
  expectError(`${head}imports:\n  o: nothere\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'schema-not-found', line: 6, col: 6, message: /no schema 'nothere' in the search path/ });
  expectError(`${head}imports:\n  O: o\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-alias', line: 6, col: 3 }, other);
});

test('unknown enum and unknown enum member', () => {
  const enums = 'enums:\n  color:\n    1: RED\n    2: GREEN\n';
  // enums: lines 5-8, first field line 12
  expectError(withFields('      - { id: a, type: u8, enum: colour }\n', enums), { code: 'unknown-enum', line: 12, col: 'colour', message: /unknown enum 'colour'/, hint: /enums here: color/ });
  expectError(withFields('      - { id: a, type: u8, flags: color }\n', enums), { code: 'unknown-flags', line: 12, col: 'color', message: /unknown flag set 'color'/ });
  expectError(withFields('      - { id: a, type: u8 }\n      - { id: b, value: a == color::BLUE }\n', enums), {
    code: 'bad-reference', line: 13, col: 'a ==', message: /enum 'color' has no member 'BLUE'/, hint: /members: RED, GREEN/,
  });
  expectError(withFields('      - { id: a, type: u8 }\n      - { id: b, value: a == colour::RED }\n', enums), { code: 'bad-reference', line: 13, col: 'a ==', message: /unknown enum 'colour'/ });
  expectError(withFields('      - id: a\n        type: u8\n        bits:\n          - { id: x, bit: 0, enum: nope }\n', enums), { code: 'unknown-enum', line: 15, col: 'nope' });
});

test('import cycle: a imports b imports a', () => {
  const a = 'kimg: 1\nid: t\ntitle: a\nimports:\n  b: b\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n';
  const b = 'kimg: 1\nid: b\ntitle: b\nimports:\n  a: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n';
  const e = expectError(a, { code: 'import-cycle', line: 5, col: 6, file: 'b.yaml', message: /import cycle: .*t\.yaml -> .*b\.yaml -> .*t\.yaml/ }, { b });
  assert.equal(e.kind, 'schema');
  // a schema importing itself
  expectError('kimg: 1\nid: t\ntitle: a\nimports:\n  me: t\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n', { code: 'import-cycle', line: 5, col: 7 });
});

// ---------------------------------------------------------------------------------------------
// Names

test('duplicate names: fields, checks, bit fields, enum members, flags', () => {
  expectError(withFields('      - { id: a, type: u8 }\n      - { id: a, type: u16 }\n'), { code: 'duplicate-name', line: 9, col: 15, message: /type r has two fields named 'a'/ });
  expectError(withFields('      - { id: a, type: u8 }\n    checks:\n      - { id: c, assert: a == 1, message: x }\n      - { id: c, assert: a == 2, message: y }\n'), { code: 'duplicate-name', line: 11, col: 9, message: /two checks named 'c'/ });
  expectError(withFields('      - { id: f, type: u8, bits: [ { id: x, bit: 0 }, { id: x, bit: 1 } ] }\n'), { code: 'duplicate-name', line: 8, col: 'x, bit: 1', message: /two bit fields named 'x'/ });
  expectError(withFields('      - { id: a, type: u8 }\n', 'enums:\n  e:\n    1: A\n    2: A\n'), { code: 'duplicate-name', line: 8, col: 8, message: /enum e names 'A' twice/ });
  expectError(withFields('      - { id: a, type: u8 }\n', 'flags:\n  f:\n    1: A\n    2: A\n'), { code: 'duplicate-name', line: 8, col: 8, message: /flag set f names 'A' twice/ });
});

test('duplicate names: YAML duplicate keys (types, enum values, fields of a map) are syntax errors', () => {
  const text = `${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\n  r:\n    fields:\n      - { id: b, type: u8 }\n`;
  expectError(text, { code: 'yaml-syntax', line: 9, col: 3, message: /Map keys must be unique/ });
  // 0x10 and 16 are the same key
  expectError(withFields('      - { id: a, type: u8 }\n', 'enums:\n  e:\n    0x10: A\n    16: B\n'), { code: 'yaml-syntax', line: 8, col: 5, message: /Map keys must be unique/ });
  expectError(withFields('      - { id: a, type: u8, type: u16 }\n'), { code: 'yaml-syntax', line: 8, col: 28 });
});

test('reserved and malformed names', () => {
  expectError(withFields('      - { id: __proto__, type: u8 }\n'), { code: 'bad-name', line: 8, col: 15, message: /field name '__proto__' must be lower snake_case/ });
  expectError(withFields('      - { id: constructor, type: u8 }\n'), { code: 'reserved-name', line: 8, col: 15, message: /field name 'constructor' is reserved/ });
  expectError(withFields('      - { id: prototype, type: u8 }\n'), { code: 'reserved-name', line: 8, col: 15 });
  expectError(withFields('      - { id: value, type: u8 }\n'), { code: 'reserved-name', line: 8, col: 15 });
  expectError(withFields('      - { id: toString, type: u8 }\n'), { code: 'bad-name', line: 8, col: 15 });
  expectError(withFields('      - { id: _private, type: u8 }\n'), { code: 'bad-name', line: 8, col: 15 });
  expectError(withFields('      - { id: 2nd, type: u8 }\n'), { code: 'bad-name', line: 8, col: 15 });
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\n  constructor:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'reserved-name', line: 9, col: 3, message: /type name 'constructor' is reserved/ });
  expectError(withFields('      - { id: a, type: u8 }\n', 'enums:\n  __proto__:\n    1: A\n'), { code: 'bad-name', line: 6, col: 3, message: /enum name '__proto__'/ });
  expectError(withFields('      - { id: f, type: u8, bits: [ { id: hasOwnProperty, bit: 0 } ] }\n'), { code: 'bad-name', line: 8, col: 'hasOwnProperty' });
  expectError(withFields('      - { id: a, type: u8 }\n    checks:\n      - { id: constructor, assert: a == 1, message: x }\n'), { code: 'reserved-name', line: 10, col: 15 });
  expectError('kimg: 1\nid: My_Schema\ntitle: x\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n', { code: 'bad-id', line: 2, col: 5 });
});

// ---------------------------------------------------------------------------------------------
// Imports outside the search path

test('imports by ../ path escaping the search path are refused unless allowed', () => {
  const root = mkdtempSync(join(tmpdir(), 'kimg-outside-'));
  const schemas = join(root, 'schemas');
  mkdirSync(schemas);
  writeFileSync(join(root, 'secret.yaml'), 'kimg: 1\nid: secret\ntitle: s\nroot: x\ntypes:\n  x:\n    fields:\n      - { id: a, type: u8 }\n');
  writeFileSync(join(schemas, 't.yaml'), `${head}imports:\n  s: ../secret.yaml\ntypes:\n  r:\n    fields:\n      - { id: a, type: s.x }\n`);
  let err: unknown;
  try {
    new SchemaLoader({ searchPath: [schemas], builtins: false }).load('t');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SchemaError);
  assert.equal(err.code, 'import-outside');
  assert.deepEqual(err.pos, { file: join(schemas, 't.yaml'), line: 6, col: 6 });
  assert.match(err.message, /import '\.\.\/secret\.yaml' resolves to .*secret\.yaml, outside the schema search path/);
  assert.match(err.hint ?? '', /allow outside imports/);
  const ok = new SchemaLoader({ searchPath: [schemas], builtins: false, allowOutsideImports: true }).load('t');
  assert.equal(ok.imports.get('s')!.id, 'secret');
  const k = new Kimg({ schemaPath: [schemas], builtins: false, allowOutsideImports: true });
  assert.deepEqual(k.parse('t', Uint8Array.of(7)).value, { a: { a: 7 } });
  // an absolute path is refused the same way
  writeFileSync(join(schemas, 'u.yaml'), `kimg: 1\nid: u\ntitle: u\nroot: r\nimports:\n  s: ${join(root, 'secret.yaml')}\ntypes:\n  r:\n    fields:\n      - { id: a, type: s.x }\n`);
  assert.throws(() => new SchemaLoader({ searchPath: [schemas], builtins: false }).load('u'), (e: unknown) => e instanceof SchemaError && e.code === 'import-outside');
});

// ---------------------------------------------------------------------------------------------
// YAML itself

test('bad YAML syntax gives the line and column of the YAML error', () => {
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8\n`, { code: 'yaml-syntax', line: 9, col: 1, message: /^YAML syntax: / });
  expectError(`${head}types:\n  r:\n   fields: [\n`, { code: 'yaml-syntax', line: 8, col: 1 });
  expectError(`kimg: 1\n  id: t\n`, { code: 'yaml-syntax', line: 1, col: 7 });
  expectError(`kimg: 1\nid: t\n\tbad: 1\n`, { code: 'yaml-syntax', line: 3, col: 1, message: /tab/i });
});

test('regions and scans: missing codec for codecs, bad magic offset', () => {
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\nregions:\n  - { id: p, offset: 0, size: a, codecs: { gz: gzip } }\n`, {
    code: 'missing-key', line: 10, col: 5, message: /a region with 'codecs' needs 'codec'/,
  });
  expectError(`${head}detect:\n  magic:\n    - { at: -1, bytes: "MZ" }\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n`, { code: 'bad-offset', line: 7, col: '-1' });
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\nregions:\n  - { id: p, offset: 0, size: a, inner: [ { schema: x, if: a } ] }\n`, { code: 'unknown-key', line: 10, col: 'if:', hint: /did you mean 'id'|allowed: schema, when/ });
  expectError(`${head}types:\n  r:\n    fields:\n      - { id: a, type: u8 }\nscans:\n  - { id: banner, prefix: { hex: "4g" } }\n`, { code: 'bad-hex', line: 10, col: '"4g"' });
});

test('the same mistakes are reported identically through Kimg.loadSchema', () => {
  const d = dir({ t: withFields('      - { id: a, type: u8, endain: be }\n') });
  assert.throws(() => new Kimg({ schemaPath: [d], builtins: false }).loadSchema('t'), (e: unknown) => e instanceof SchemaError && e.code === 'unknown-key' && e.pos?.line === 8);
  assert.throws(() => new Kimg({ schemaPath: [d], builtins: false }).loadSchema('nope'), (e: unknown) => e instanceof SchemaError && e.code === 'schema-not-found' && /searched: /.test(e.hint ?? ''));
});

// ---------------------------------------------------------------------------------------------
// Rules added after review

test('a schema found by id must declare that id (schemas are found by file name)', () => {
  expectError('kimg: 1\nid: other\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: a, type: u8 }\n', { code: 'id-mismatch', line: 1, col: 1, message: /declares id 'other'/, hint: /name the file other\.yaml or set id: t/ });
});

test('inner candidates must name existing schemas', () => {
  expectError(withFields('      - { id: a, type: u8 }\n') + 'regions:\n  - id: p\n    main: true\n    offset: 0\n    size: a\n    inner:\n      - { schema: arm64-imge }\n', { code: 'unknown-schema', line: 15, col: 'arm64-imge', message: /no schema 'arm64-imge'/ });
});

test('region checks only on the main region (where the pipeline runs them)', () => {
  expectError(withFields('      - { id: a, type: u8 }\n') + 'regions:\n  - id: p\n    offset: 0\n    size: a\n    checks:\n      - { id: c, assert: a > 0, message: m }\n', { code: 'key-not-allowed', line: 14, col: '- { id: c', message: /only on the 'main: true' region/ });
});

test('keywords cannot be field names (they could never be referenced)', () => {
  for (const kw of ['and', 'or', 'not', '"true"', '"false"', '"null"']) {
    const name = kw.replace(/"/g, '');
    expectError(withFields(`      - { id: ${kw}, type: u8 }\n`), { code: 'reserved-name', line: 8, col: `${kw},`, message: new RegExp(`field name '${name}' is reserved`) });
  }
});

test('flag set members are usable as constants: flags::NAME is the mask', () => {
  const text = withFields('      - { id: f, type: u8, flags: bitsf }\n      - { id: w, value: "(f & bitsf::WRITE) != 0" }\n', 'flags:\n  bitsf:\n    0x01: READ\n    0x02: WRITE\n');
  const d = dir({ t: text });
  const schema = new SchemaLoader({ searchPath: [d], builtins: false }).load('t');
  assert.equal(interpret(schema, new BufferSource(Uint8Array.of(3))).value['w'], true);
  assert.equal(interpret(schema, new BufferSource(Uint8Array.of(1))).value['w'], false);
  expectError(withFields('      - { id: f, type: u8, flags: bitsf }\n      - { id: w, value: "f & bitsf::EXEC" }\n', 'flags:\n  bitsf:\n    0x01: READ\n'), { code: 'bad-reference', line: 12, col: '"f & bitsf', message: /enum 'bitsf' has no member 'EXEC'/ });
});
