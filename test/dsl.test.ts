/**
 * The schema DSL, construct by construct: a small schema in a temp dir, bytes built here, and what
 * the interpreter, the JSON view, detection and the pipeline make of them (and the error case of
 * each). The reference is docs/schema-dsl.md; its examples are loaded and run at the end of this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32, gzipSync } from 'node:zlib';
import { BufferSource } from '../src/core/bytes.js';
import { KimgError, LimitError, ParseError, PipelineError, SchemaError } from '../src/core/errors.js';
import { DEFAULT_LIMITS, withLimits } from '../src/core/limits.js';
import { interpret, type ParseResult } from '../src/interp/interpreter.js';
import { compiledEngine } from '../src/codegen/compile.js';
import { Kimg } from '../src/kimg.js';
import { annotateStruct } from '../src/render/annotate.js';
import { stringifyJson } from '../src/render/json.js';
import { renderSummary } from '../src/render/summary.js';
import { SchemaLoader } from '../src/schema/loader.js';
import { SchemaRegistry } from '../src/schema/registry.js';
import { detect } from '../src/detect/detect.js';
import { FUNCTIONS } from '../src/expr/functions.js';
import { extract, type Output } from '../src/pipeline/extract.js';
import type { Limits } from '../src/core/limits.js';
import type { SchemaDef } from '../src/types.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------------------------------------
// Helpers

/** Strips the common indentation of a template literal, so YAML can be written indented in code. */
function dedent(s: string): string {
  const lines = s.replace(/^\n/, '').replace(/\n\s*$/, '\n').split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** A temp dir holding `<name>.yaml` for each entry. */
function schemaDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kimg-dsl-'));
  for (const [name, text] of Object.entries(files)) {
    const file = join(dir, name.includes('.') ? name : `${name}.yaml`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, dedent(text));
  }
  return dir;
}

function loadFrom(dir: string, id: string): SchemaDef {
  return new SchemaLoader({ searchPath: [dir], builtins: false }).load(id);
}

/** One schema `t` with root type `r` holding `fields` (a YAML list, indented any way), plus `rest` at top level. */
function schemaText(fields: string, rest = ''): string {
  const f = dedent(fields).split('\n').map((l) => (l ? `      ${l}` : l)).join('\n');
  return `kimg: 1\nid: t\ntitle: test\nroot: r\n${dedent(rest)}\ntypes:\n  r:\n    fields:\n${f}\n`;
}

function load(fields: string, rest = '', others: Record<string, string> = {}): SchemaDef {
  const dir = schemaDir({ t: schemaText(fields, rest), ...others });
  return loadFrom(dir, 't');
}

const bytes = (...xs: (number | string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const x of xs) {
    if (typeof x === 'number') out.push(x);
    else if (typeof x === 'string') for (const c of x) out.push(c.charCodeAt(0));
    else out.push(...x);
  }
  return Uint8Array.from(out);
};

/**
 * Parses with the interpreter (the reference engine) and checks that the compiled engine (the
 * default of `Kimg`) agrees: same value, same checks, or the same error.
 */
function run(schema: SchemaDef, data: Uint8Array, limits?: Limits): ParseResult {
  const opts = { layout: true, limits: limits ?? DEFAULT_LIMITS };
  let ref: ParseResult | null = null;
  let refErr: unknown = null;
  try {
    ref = interpret(schema, new BufferSource(data), opts);
  } catch (e) {
    refErr = e;
  }
  let got: ParseResult | null = null;
  let gotErr: unknown = null;
  try {
    got = compiledEngine(schema, new BufferSource(data), opts);
  } catch (e) {
    gotErr = e;
  }
  if (refErr) {
    const what = (e: unknown): unknown => (e instanceof KimgError ? { cls: e.constructor.name, json: e.toJSON() } : String(e));
    assert.deepEqual(what(gotErr), what(refErr), 'compiled engine: same error as the interpreter');
    throw refErr;
  }
  assert.equal(gotErr, null, `compiled engine threw: ${gotErr instanceof KimgError ? gotErr.describe() : String(gotErr)}`);
  assert.equal(json(got!), json(ref!), 'compiled engine: same JSON as the interpreter');
  assert.deepEqual(got!.value, ref!.value, 'compiled engine: same API value');
  assert.deepEqual(got!.checks, ref!.checks, 'compiled engine: same checks');
  return ref!;
}

function json(r: ParseResult): string {
  return stringifyJson(annotateStruct(r.value, r.layout!), 0);
}

/** Runs fn, which must throw a KimgError of class C; returns it. */
function thrown<C extends KimgError>(fn: () => unknown, cls: abstract new (...a: never[]) => C): C {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw e;
  }
  assert.fail(`expected ${cls.name}`);
}

// ---------------------------------------------------------------------------------------------
// Integers and byte order

test('integers: schema-wide, per-type, per-field endianness and le/be suffixes', () => {
  const dir = schemaDir({
    t: schemaText(
      `
      - { id: a, type: u16 }
      - { id: b, type: u16le }
      - { id: c, type: u16, endian: le }
      - { id: d, type: u32be }
      - { id: sub, type: little }
      `,
      'endian: be',
    ).replace('types:\n', 'types:\n  little:\n    endian: le\n    fields:\n      - { id: x, type: u16 }\n      - { id: y, type: u16, endian: be }\n'),
  });
  const t = loadFrom(dir, 't');
  const r = run(t, bytes(0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x12, 0x34));
  assert.deepEqual(r.value, { a: 0x1234, b: 0x3412, c: 0x3412, d: 0x12345678, sub: { x: 0x3412, y: 0x1234 } });
});

test('endian_expr: a type\'s byte order computed as each struct starts (ELF\'s EI_DATA); "le"/"be" only', () => {
  const t = loadFrom(
    schemaDir({
      t: `kimg: 1\nid: t\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: data, type: u8 }\n      - { id: h, type: hdr }\n      - { id: hs, type: hdr, count: 2 }\n  hdr:\n    endian_expr: '_root.data == 2 ? "be" : _root.data == 1 ? "le" : "middle"'\n    fields:\n      - { id: a, type: u16 }\n      - { id: b, type: u32le }\n      - { id: c, type: u64, bits: [{ id: low, bit: 0, width: 8 }] }\n`,
    }),
    't',
  );
  const body = [0x12, 0x34, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];
  const le = run(t, bytes(1, body, body, body)).value as Record<string, Record<string, unknown>>;
  assert.equal(le['h']!['a'], 0x3412);
  assert.equal(le['h']!['b'], 1, 'a field with its own byte order keeps it');
  assert.deepEqual(le['h']!['c'], { value: 0x80n << 56n, low: 0 });
  const be = run(t, bytes(2, body, body, body)).value as Record<string, Record<string, unknown>>;
  assert.equal(be['h']!['a'], 0x1234);
  assert.equal(be['h']!['b'], 1);
  assert.deepEqual(be['h']!['c'], { value: 0x80n, low: 0x80 });
  const e = thrown(() => run(t, bytes(3, body, body, body)), ParseError);
  assert.equal(e.code, 'bad-endian');
  assert.equal(e.where.path, 'h');
  assert.match(e.message, /= middle is neither "le" nor "be"/);
  assert.match(thrown(() => loadFrom(schemaDir({ t: `kimg: 1\nid: t\ntitle: test\nroot: r\ntypes:\n  r:\n    endian: be\n    endian_expr: '"le"'\n    fields:\n      - { id: a, type: u8 }\n` }), 't'), SchemaError).message, /either 'endian' or 'endian_expr'/);
});

test('integers: the default byte order is little-endian', () => {
  const s = load('- { id: a, type: u32 }');
  assert.equal(run(s, bytes(1, 2, 3, 4)).value['a'], 0x04030201);
});

test('integers: u64 is always a bigint and exact above 2^53, in the API and in JSON', () => {
  const s = load(
    `
    - { id: big, type: u64 }
    - { id: one, type: u64 }
    - { id: be, type: u64be }
    - { id: small, type: u32 }
    `,
  );
  const r = run(s, bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [1, 0, 0, 0, 0, 0, 0, 0], [0x00, 0x20, 0, 0, 0, 0, 0, 0x01], [0xff, 0xff, 0xff, 0xff]));
  assert.equal(r.value['big'], 18446744073709551615n);
  assert.equal(r.value['one'], 1n);
  assert.equal(r.value['be'], 0x0020000000000001n); // 2^53 + 1: not representable as a double
  assert.equal(r.value['small'], 4294967295);
  assert.equal(typeof r.value['small'], 'number');
  const text = json(r);
  assert.equal(text, '{"big":18446744073709551615,"one":1,"be":9007199254740993,"small":4294967295}');
  assert.ok(!text.includes('"18446744073709551615"'), 'exact digits, unquoted');
});

test('integers: s8..s64 read negatives (two\'s complement)', () => {
  const s = load(
    `
    - { id: a, type: s8 }
    - { id: b, type: s16 }
    - { id: c, type: s32 }
    - { id: d, type: s64 }
    - { id: e, type: s16be }
    - { id: f, type: s8 }
    `,
  );
  const r = run(s, bytes(0x80, [0xff, 0xff], [0xfe, 0xff, 0xff, 0xff], [0, 0, 0, 0, 0, 0, 0, 0x80], [0x80, 0x00], 0x7f));
  assert.deepEqual(r.value, { a: -128, b: -1, c: -2, d: -9223372036854775808n, e: -32768, f: 127 });
  assert.equal(json(r), '{"a":-128,"b":-1,"c":-2,"d":-9223372036854775808,"e":-32768,"f":127}');
});

test('integers: running out of input is an out-of-bounds error', () => {
  const s = load('- { id: a, type: u32 }');
  const e = thrown(() => run(s, bytes(1, 2)), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.where.schema, 't');
  assert.equal(e.where.path, 'a');
  assert.equal(e.where.offset, 0);
  assert.equal(e.expected, '4 bytes');
  assert.equal(e.found, '2');
  assert.match(e.describe(), /schema t, field a, offset 0x0: 4 bytes at 0x0 run past the end of the input \(0x2\) \(expected 4 bytes, found 2\)/);
});

// ---------------------------------------------------------------------------------------------
// bytes, str, strz, const

test('bytes: fixed and computed size; bytes in JSON are hex', () => {
  const s = load(
    `
    - { id: n, type: u8 }
    - { id: data, type: bytes, size: n * 2 }
    - { id: tail, type: bytes, size: 1 }
    `,
  );
  const r = run(s, bytes(2, 0xde, 0xad, 0xbe, 0xef, 0x42));
  assert.deepEqual(r.value['data'], Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
  assert.equal(json(r), '{"n":2,"data":"deadbeef","tail":"42"}');
});

test('bytes: a negative or non-integer size is an error', () => {
  const s = load(
    `
    - { id: n, type: s8 }
    - { id: data, type: bytes, size: n }
    `,
  );
  const e = thrown(() => run(s, bytes(0xff, 0)), ParseError);
  assert.equal(e.code, 'bad-size');
  assert.equal(e.where.path, 'data');
});

test('str, strz: fixed size, NUL-terminated within a size, unbounded, encodings', () => {
  const s = load(
    `
    - { id: fixed, type: str, size: 4 }
    - { id: padded, type: strz, size: 8 }
    - { id: cstr, type: strz }
    - { id: latin, type: str, size: 1, encoding: latin1 }
    - { id: utf, type: str, size: 2, encoding: utf8 }
    - { id: after, type: u8 }
    `,
  );
  const r = run(s, bytes('ab\0d', 'gzip\0xyz', 'hello\0', 0xe9, [0xc3, 0xa9], 7));
  assert.deepEqual(r.value, { fixed: 'ab\0d', padded: 'gzip', cstr: 'hello', latin: 'é', utf: 'é', after: 7 });
  // layout: strz with a size takes the whole size; unbounded strz takes the NUL too
  const sizes = r.layout!.fields.map((f) => [f!.offset, f!.size]);
  assert.deepEqual(sizes, [[0, 4], [4, 8], [12, 6], [18, 1], [19, 2], [21, 1]]);
});

test('strz without a NUL before the end of the region is out-of-bounds', () => {
  const s = load('- { id: cstr, type: strz }');
  const e = thrown(() => run(s, bytes('abc')), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.expected, 'a NUL byte');
  assert.equal(e.where.path, 'cstr');
});

test('strz without a size is bounded by maxStringLength', () => {
  const s = load('- { id: cstr, type: strz }');
  const e = thrown(() => run(s, new Uint8Array(100).fill(0x41), withLimits({ maxStringLength: 16 })), LimitError);
  assert.equal(e.limit, 'maxStringLength');
  assert.equal(e.where.path, 'cstr');
});

test('const: bytes, str and int; error severity stops the parse with expected/found', () => {
  const s = load(
    `
    - { id: magic, type: bytes, const: "MZ" }
    - { id: sig, type: str, size: 2, const: "PE" }
    - { id: version, type: u16, const: 0x10b }
    - { id: list, type: bytes, const: [1, 2] }
    - { id: hex, type: bytes, const: { hex: "ca fe" } }
    `,
  );
  assert.doesNotThrow(() => run(s, bytes('MZPE', [0x0b, 0x01], 1, 2, 0xca, 0xfe)));
  let e = thrown(() => run(s, bytes('ZMPE', [0x0b, 0x01], 1, 2, 0xca, 0xfe)), ParseError);
  assert.equal(e.code, 'const-mismatch');
  assert.equal(e.where.path, 'magic');
  assert.equal(e.expected, '"MZ"');
  assert.equal(e.found, '"ZM"');
  e = thrown(() => run(s, bytes('MZPX', [0x0b, 0x01], 1, 2, 0xca, 0xfe)), ParseError);
  assert.equal(e.where.path, 'sig');
  assert.equal(e.expected, '"PE"');
  e = thrown(() => run(s, bytes('MZPE', [0x0b, 0x02], 1, 2, 0xca, 0xfe)), ParseError);
  assert.equal(e.where.path, 'version');
  assert.equal(e.where.offset, 4);
  assert.equal(e.expected, '0x10b');
  assert.equal(e.found, '0x20b');
  e = thrown(() => run(s, bytes('MZPE', [0x0b, 0x01], 1, 2, 0xca, 0xff)), ParseError);
  assert.equal(e.where.path, 'hex');
});

test('const: warning severity records a check and goes on; message is a template', () => {
  const s = load(
    `
    - id: magic
      type: u32
      const: 0x818223cd
      severity: warning
      message: "LINUX_PE_MAGIC missing"
    - { id: next, type: u8 }
    - id: sig
      type: bytes
      size: 2
      const: "PE"
      message: "no PE signature at \${_pos:hex}"
    `,
  );
  const r = run(s, bytes([0, 0, 0, 0], 9, 'PE'));
  assert.equal(r.value['next'], 9);
  const bad = r.checks.filter((c) => !c.ok);
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.severity, 'warning');
  assert.equal(bad[0]!.path, 'magic');
  assert.equal(bad[0]!.message, 'LINUX_PE_MAGIC missing (expected 0x818223cd, found 0x0)');
  const e = thrown(() => run(s, bytes([0xcd, 0x23, 0x82, 0x81], 9, 'XX')), ParseError);
  assert.equal(e.message, 'no PE signature at 0x5');
});

test('const: the message can show the value found (as _ or by its own name)', () => {
  const s = load(
    `
    - id: magic
      type: u16
      const: 0x10b
      message: "magic \${magic:hex} / \${_:hex} is not PE32"
    `,
  );
  const e = thrown(() => run(s, bytes(0x0b, 0x02)), ParseError);
  assert.equal(e.message, 'magic 0x20b / 0x20b is not PE32');
});

test('bytes with const and no size take their size from the const', () => {
  const s = load(
    `
    - { id: magic, type: bytes, const: "\\x7fELF" }
    - { id: cls, type: u8 }
    `,
  );
  const r = run(s, bytes(0x7f, 'ELF', 2));
  assert.equal(r.value['cls'], 2);
});

// ---------------------------------------------------------------------------------------------
// enums, flags, bits

const ENUMS = `
enums:
  os:
    0: FAT
    3: UNIX
    0xff: UNKNOWN
  big:
    0xffffffffffffffff: ALL_ONES
flags:
  perm:
    0x1: READ
    0x2: WRITE
    0x6: RW_MASK
`;

test('enums: raw numbers in the API, {value, name} in JSON, unknown values are data (name null)', () => {
  const s = load(
    `
    - { id: a, type: u8, enum: os }
    - { id: b, type: u8, enum: os }
    - { id: c, type: u64, enum: big }
    - { id: is_unix, value: a == os::UNIX }
    `,
    ENUMS,
  );
  const r = run(s, bytes(3, 7, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(r.value, { a: 3, b: 7, c: 0xffffffffffffffffn, is_unix: true });
  assert.equal(json(r), '{"a":{"value":3,"name":"UNIX"},"b":{"value":7,"name":null},"c":{"value":18446744073709551615,"name":"ALL_ONES"},"is_unix":true}');
});

test('flags: a list of set flag names plus the unknown bits; a multi-bit mask needs all its bits', () => {
  const s = load(
    `
    - { id: p, type: u8, flags: perm }
    - { id: q, type: u8, flags: perm }
    `,
    ENUMS,
  );
  const r = run(s, bytes(0x31, 0x06));
  assert.deepEqual(r.value, { p: 0x31, q: 6 });
  assert.equal(json(r), '{"p":{"value":49,"flags":["READ"],"unknown":48},"q":{"value":6,"flags":["WRITE","RW_MASK"],"unknown":0}}');
});

test('bits: named bit ranges, booleans for single bits, numbers or enums for wider ones', () => {
  const s = load(
    `
    - id: flags
      type: u16
      bits:
        - { id: be, bit: 0 }
        - { id: page, bit: 1, width: 2, enum: page }
        - { id: level, bit: 4, width: 4 }
        - { id: top, bit: 15 }
    - { id: big_page, value: flags.page == page::K64 }
    `,
    `
    enums:
      page: { 0: NONE, 1: K4, 2: K16, 3: K64 }
    `,
  );
  const r = run(s, bytes(0x57, 0x80));
  assert.deepEqual(r.value, { flags: { value: 0x8057, be: true, page: 3, level: 5, top: true }, big_page: true });
  assert.equal(json(r), '{"flags":{"value":32855,"be":true,"page":{"value":3,"name":"K64"},"level":5,"top":true},"big_page":true}');
  const r2 = run(s, bytes(0x02, 0x00));
  assert.deepEqual(r2.value['flags'], { value: 2, be: false, page: 1, level: 0, top: false });
});

test('bits with const: the constant is checked on the integer, before it is split into ranges', () => {
  const s = load(
    `
    - id: magic
      type: u16
      const: 0x8001
      bits:
        - { id: low, bit: 0 }
        - { id: high, bit: 15 }
    `,
  );
  assert.deepEqual(run(s, bytes(0x01, 0x80)).value, { magic: { value: 0x8001, low: true, high: true } });
  const e = thrown(() => run(s, bytes(0x00, 0x80)), ParseError);
  assert.equal(e.code, 'const-mismatch');
  assert.match(e.message, /magic is 0x8000, expected 0x8001/);
});

test('bits: a range that does not fit the integer is a schema error', () => {
  const e = thrown(() => load('- { id: f, type: u8, bits: [ { id: x, bit: 6, width: 3 } ] }'), SchemaError);
  assert.equal(e.code, 'bad-bits');
  assert.match(e.message, /bits 6..8 do not fit a 8-bit integer/);
});

test('summary: a plain path hole prints enum and flag names', () => {
  const s = load(
    `
    - { id: os, type: u8, enum: os }
    - { id: p, type: u8, flags: perm }
    - { id: n, type: u32 }
    `,
    ENUMS + 'summary: "${os} ${p} ${n:hex} ${n:size} ${os:dec}"\n',
  );
  const r = run(s, bytes(3, 3, [0, 0, 0x10, 0]));
  assert.equal(renderSummary(s.summary!, r, 6, 1000), 'UNIX READ|WRITE 0x100000 1 MiB 3');
});

// ---------------------------------------------------------------------------------------------
// Struct types, imports, arrays

test('nested struct types, _parent, _root, _offset and _pos', () => {
  const dir = schemaDir({
    t: `
      kimg: 1
      id: t
      title: nested
      root: file
      types:
        file:
          fields:
            - { id: count, type: u8 }
            - { id: hdr, type: header }
            - { id: end, value: _pos }
        header:
          fields:
            - { id: start, value: _offset }
            - { id: a, type: u8 }
            - { id: pos_after_a, value: _pos }
            - { id: parent_count, value: _parent.count }
            - { id: root_count, value: _root.count }
      `,
  });
  const r = run(loadFrom(dir, 't'), bytes(5, 6));
  assert.deepEqual(r.value, { count: 5, hdr: { start: 1, a: 6, pos_after_a: 2, parent_count: 5, root_count: 5 }, end: 2 });
});

test('imports: alias.type and alias.enum::MEMBER from a schema imported by id', () => {
  const dir = schemaDir({
    base: `
      kimg: 1
      id: base
      title: base
      root: point
      enums:
        kind: { 1: ONE, 2: TWO }
      types:
        point:
          endian: be
          fields:
            - { id: x, type: u16 }
            - { id: k, type: u8, enum: kind }
      `,
    t: `
      kimg: 1
      id: t
      title: t
      imports:
        b: base
      root: r
      types:
        r:
          fields:
            - { id: p, type: b.point }
            - { id: k2, type: u8, enum: b.kind }
            - { id: two, value: p.k == b.kind::TWO }
      `,
  });
  const s = loadFrom(dir, 't');
  assert.equal(s.imports.get('b')!.id, 'base');
  const r = run(s, bytes(0x01, 0x02, 2, 1));
  assert.deepEqual(r.value, { p: { x: 0x0102, k: 2 }, k2: 1, two: true });
  assert.equal(json(r), '{"p":{"x":258,"k":{"value":2,"name":"TWO"}},"k2":{"value":1,"name":"ONE"},"two":true}');
});

test('imports: by a relative path inside the schema directory', () => {
  const dir = schemaDir({
    'lib/inner.yaml': `
      kimg: 1
      id: inner
      title: inner
      root: x
      types:
        x:
          fields:
            - { id: v, type: u8 }
      `,
    t: `
      kimg: 1
      id: t
      title: t
      imports:
        i: ./lib/inner.yaml
      root: r
      types:
        r:
          fields:
            - { id: a, type: i.x, count: 2 }
      `,
  });
  assert.deepEqual(run(loadFrom(dir, 't'), bytes(1, 2)).value, { a: [{ v: 1 }, { v: 2 }] });
});

test('arrays: count (an expression) and repeat: to-end; _index in elements', () => {
  // add the rec type
  const dir = schemaDir({
    t: schemaText(
      `
      - { id: n, type: u8 }
      - { id: words, type: u16, count: n }
      - { id: recs, type: rec, repeat: to-end }
      `,
    ).replace('types:\n', 'types:\n  rec:\n    fields:\n      - { id: i, value: _index }\n      - { id: b, type: u8 }\n'),
  });
  const r = run(loadFrom(dir, 't'), bytes(2, [1, 0], [2, 0], 7, 8, 9));
  assert.deepEqual(r.value, { n: 2, words: [1, 2], recs: [{ i: 0, b: 7 }, { i: 1, b: 8 }, { i: 2, b: 9 }] });
  assert.equal(json(r), '{"n":2,"words":[1,2],"recs":[{"i":0,"b":7},{"i":1,"b":8},{"i":2,"b":9}]}');
  const empty = run(loadFrom(dir, 't'), bytes(0));
  assert.deepEqual(empty.value, { n: 0, words: [], recs: [] });
});

test('arrays: a negative count is an error; a to-end element that reads nothing is an error', () => {
  const s = load(
    `
    - { id: n, type: s8 }
    - { id: xs, type: u8, count: n }
    `,
  );
  const e = thrown(() => run(s, bytes(0xff)), ParseError);
  assert.equal(e.code, 'bad-count');
  assert.equal(e.where.path, 'xs');
  const dir = schemaDir({
    t: schemaText('- { id: xs, type: nothing, repeat: to-end }').replace('types:\n', 'types:\n  nothing:\n    fields:\n      - { id: v, value: 1 }\n'),
  });
  const e2 = thrown(() => run(loadFrom(dir, 't'), bytes(1)), ParseError);
  assert.equal(e2.code, 'no-progress');
  assert.equal(e2.where.path, 'xs[0]');
});

// ---------------------------------------------------------------------------------------------
// Positions: at, sized sub-regions

test('arrays: until holds on the element just read (`_`, `_index`); it is the last one', () => {
  // A token list ending in 0/0, as an FDT memory-reservation block does.
  const t = loadFrom(
    schemaDir({
      t: `kimg: 1\nid: t\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: pairs, type: pair, until: _.a == 0 and _.b == 0 }\n      - { id: words, type: u8, until: _ == 0xff or _index == 2 }\n      - { id: tail, type: u8 }\n  pair:\n    fields:\n      - { id: a, type: u8 }\n      - { id: b, type: u8 }\n`,
    }),
    't',
  );
  const r = run(t, bytes(1, 2, 0, 3, 0, 0, 0xff, 9));
  assert.deepEqual(r.value, { pairs: [{ a: 1, b: 2 }, { a: 0, b: 3 }, { a: 0, b: 0 }], words: [0xff], tail: 9 });
  assert.deepEqual(run(t, bytes(0, 0, 5, 6, 7, 8)).value, { pairs: [{ a: 0, b: 0 }], words: [5, 6, 7], tail: 8 });
  // The region ends before the condition held: the next element is out of bounds.
  const e = thrown(() => run(t, bytes(1, 2, 3)), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.where.path, 'pairs[1].b');
});

test('arrays: an until element that reads no bytes is no-progress; until excludes count and repeat', () => {
  const s = load(
    `
    - { id: xs, type: bytes, size: 0, until: false }
    `,
  );
  const e = thrown(() => run(s, bytes(1)), ParseError);
  assert.equal(e.code, 'no-progress');
  assert.match(e.message, /until array/);
  const bad = thrown(() => load(`
    - { id: xs, type: u8, count: 2, until: _ == 0 }
  `), SchemaError);
  assert.match(bad.message, /one of 'count', 'repeat' and 'until'/);
});

test('align: the cursor moves on to a multiple from the region start; padding past the region is out-of-bounds', () => {
  // cpio newc: a 6-byte header, the name padded so that the data starts on a 4-byte boundary.
  const s = load(
    `
    - { id: n, type: u8 }
    - { id: name, type: str, size: n, align: 4 }
    - { id: data, type: u8 }
    `,
  );
  assert.deepEqual(run(s, bytes(2, 'ab', 0, 7)).value, { n: 2, name: 'ab', data: 7 });
  assert.deepEqual(run(s, bytes(3, 'abc', 9)).value, { n: 3, name: 'abc', data: 9 });
  const e = thrown(() => run(s, bytes(1, 'a', 0)), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.match(e.message, /padding to a multiple of 4/);
  assert.equal(e.where.path, 'name');
  // Inside a sized sub-region, alignment counts from the sub-region's start.
  const t = loadFrom(
    schemaDir({
      t: `kimg: 1\nid: t\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: pre, type: u8 }\n      - { id: box, type: b, size: 5 }\n  b:\n    fields:\n      - { id: x, type: u8, align: 4, count: 1 }\n      - { id: y, type: u8 }\n`,
    }),
    't',
  );
  assert.deepEqual(run(t, bytes(1, 2, 0, 0, 0, 3)).value, { pre: 1, box: { x: [2], y: 3 } });
  const bad = thrown(() => load(`
    - { id: a, type: u8, align: 0 }
  `), SchemaError);
  assert.match(bad.message, /align must be 1 to 0x100000/);
});

test('functions: docs/schema-dsl.md lists exactly the function table of src/expr/functions.ts', () => {
  const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/schema-dsl.md'), 'utf8');
  const listed = /<!-- functions:begin -->\n([\s\S]*?)<!-- functions:end -->/.exec(doc)?.[1] ?? '';
  const rows = ['| function | gives |', '|---|---|', ...Object.values(FUNCTIONS).map((f) => `| ${f.doc.replace(/^(`[^`]+`): /, '$1 | ')} |`)];
  assert.equal(listed, `${rows.join('\n')}\n`);
});

/** Adler-32 by its definition (RFC 1950 §8.2). */
function adler32Of(b: Uint8Array): number {
  let a = 1;
  let c = 0;
  for (const x of b) {
    a = (a + x) % 65521;
    c = (c + a) % 65521;
  }
  return ((c << 16) | a) >>> 0;
}

test('functions: checksums and digests over bytes, text numbers, zeroed/slice/cstr', () => {
  const s = load(
    `
    - { id: hdr, type: bytes, size: 8 }
    - { id: crc, type: u32be }
    - { id: mode, type: str, size: 8 }
    - { id: table, type: bytes, size: 8 }
    - { id: crc_ok, value: "crc32(zeroed(hdr, 4, 4)) == crc" }
    - { id: c32, value: crc32(hdr) }
    - { id: c32c, value: crc32c(hdr) }
    - { id: adler, value: adler32(hdr) }
    - { id: sha1_head, value: "slice(sha1(hdr), 0, 4)" }
    - { id: sha256_len, value: len(sha256(hdr)) }
    - { id: mode_value, value: "parse_int(mode, 16)" }
    - { id: octal, value: 'parse_int("0755", 8)' }
    - { id: second_name, value: "cstr(table, 4)" }
    `,
  );
  const hdr = bytes('kimg', 0xde, 0xad, 0xbe, 0xef);
  const zeroedHdr = bytes('kimg', 0, 0, 0, 0);
  const crc = zlibCrc32(zeroedHdr);
  const data = bytes([...hdr], crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255, '000081ED', 'abc', 0, 'efg', 0);
  const v = run(s, data).value as Record<string, unknown>;
  assert.equal(v['crc_ok'], true);
  assert.equal(v['c32'], zlibCrc32(hdr));
  assert.equal(typeof v['c32c'], 'number');
  assert.equal(v['adler'], adler32Of(hdr));
  assert.deepEqual(v['sha1_head'], new Uint8Array(createHash('sha1').update(hdr).digest().subarray(0, 4)));
  assert.equal(v['sha256_len'], 32);
  assert.equal(v['mode_value'], 0x81ed);
  assert.equal(v['octal'], 0o755);
  assert.equal(v['second_name'], 'efg');
  // The CRC-32C check value of the catalogue: crc32c("123456789") = 0xE3069283.
  const c = load(`
    - { id: s, type: bytes, size: 9 }
    - { id: v, value: crc32c(s) }
  `);
  assert.equal(run(c, bytes('123456789')).value['v'], 0xe3069283);
  // Bad arguments are parse errors naming the field; unknown functions and wrong arities are schema errors.
  const bad = load(`
    - { id: s, type: str, size: 4 }
    - { id: v, value: "parse_int(s, 16)" }
  `);
  const e = thrown(() => run(bad, bytes('12g4')), ParseError);
  assert.equal(e.code, 'expression');
  assert.match(e.message, /"12g4" is not a base-16 number/);
  assert.equal(e.where.path, 'v');
  assert.match(thrown(() => load(`
    - { id: v, value: "crc32(1, 2)" }
  `), SchemaError).message, /crc32\(\) takes 1 arguments, got 2/);
  assert.match(thrown(() => run(load(`
    - { id: v, value: crc32(5) }
  `), bytes()), ParseError).message, /crc32\(\) needs bytes, got/);
});

test('at: absolute and computed positions; the cursor continues after the field', () => {
  const s = load(
    `
    - { id: ptr, type: u8 }
    - { id: far, type: u8, at: ptr }
    - { id: next, type: u8 }
    - { id: fixed, type: u16be, at: 1 }
    - { id: last, type: u8 }
    `,
  );
  const r = run(s, bytes(4, 0x11, 0x22, 0x33, 0x44, 0x55));
  assert.deepEqual(r.value, { ptr: 4, far: 0x44, next: 0x55, fixed: 0x1122, last: 0x33 });
  assert.deepEqual(r.layout!.fields.map((f) => f!.offset), [0, 4, 5, 1, 3]);
});

test('at: a position outside the region is out-of-bounds', () => {
  const s = load(
    `
    - { id: ptr, type: u8 }
    - { id: far, type: u8, at: ptr }
    `,
  );
  const e = thrown(() => run(s, bytes(200, 0)), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.where.path, 'far');
  assert.equal(e.expected, '0..0x2');
  assert.equal(e.found, '0xc8');
  // at == size is allowed (nothing read yet), the read then fails
  const e2 = thrown(() => run(s, bytes(2, 0)), ParseError);
  assert.equal(e2.code, 'out-of-bounds');
  assert.equal(e2.expected, '1 bytes');
});

test('sized sub-regions: the struct is parsed inside, at is relative to it, the cursor skips it all', () => {
  const dir = schemaDir({
    t: schemaText(
      `
      - { id: len, type: u8 }
      - { id: box, type: boxed, size: len }
      - { id: after, type: u8 }
      `,
    ).replace('types:\n', 'types:\n  boxed:\n    fields:\n      - { id: a, type: u8 }\n      - { id: b, type: u8, at: 2 }\n      - { id: rsize, value: _region.size }\n      - { id: roff, value: _region.offset }\n'),
  });
  const r = run(loadFrom(dir, 't'), bytes(4, 0xa, 0xb, 0xc, 0xd, 0xe));
  assert.deepEqual(r.value, { len: 4, box: { a: 0xa, b: 0xc, rsize: 4, roff: 1 }, after: 0xe });
});

test('sized sub-regions: reading past the region names the field path and offset', () => {
  const dir = schemaDir({
    t: schemaText(
      `
      - { id: box, type: boxed, size: 3 }
      `,
    ).replace('types:\n', 'types:\n  boxed:\n    fields:\n      - { id: a, type: u16 }\n      - { id: b, type: u16 }\n'),
  });
  const e = thrown(() => run(loadFrom(dir, 't'), bytes(1, 2, 3, 4, 5, 6)), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.where.path, 'box.b');
  assert.equal(e.where.offset, 2);
  assert.equal(e.expected, '2 bytes');
  assert.equal(e.found, '1');
  assert.match(e.message, /run past the end of the region \(0x3\)/);
  // a sized region that does not fit the input is out-of-bounds too, at the struct field
  const e2 = thrown(() => run(loadFrom(dir, 't'), bytes(1, 2)), ParseError);
  assert.equal(e2.where.path, 'box');
});

test('out-of-bounds errors carry schema id, a.b[2].c path, offset, expected and found', () => {
  const dir = schemaDir({
    t: `
      kimg: 1
      id: t
      title: deep
      root: r
      types:
        r:
          fields:
            - { id: a, type: ta }
        ta:
          fields:
            - { id: b, type: tb, count: 3 }
        tb:
          fields:
            - { id: c, type: u32 }
      `,
  });
  const e = thrown(() => run(loadFrom(dir, 't'), new Uint8Array(10)), ParseError);
  assert.equal(e.where.schema, 't');
  assert.equal(e.where.path, 'a.b[2].c');
  assert.equal(e.where.offset, 8);
  assert.equal(e.expected, '4 bytes');
  assert.equal(e.found, '2');
  assert.deepEqual(e.toJSON(), {
    error: 'out-of-bounds', kind: 'parse', message: '4 bytes at 0x8 run past the end of the input (0xa)',
    schema: 't', path: 'a.b[2].c', offset: 8, expected: '4 bytes', found: '2',
  });
});

// ---------------------------------------------------------------------------------------------
// switch, if, value, hidden

const SWITCH = `
types:
  rec_a:
    fields:
      - { id: a, type: u8 }
  rec_b:
    fields:
      - { id: b, type: u16be }
  rec_other:
    fields:
      - { id: raw, type: bytes, size: 1 }
enums:
  kind: { 1: A, 2: B }
`;

function switchSchema(withDefault: boolean): SchemaDef {
  const text = schemaText(
    `
    - { id: kind, type: u8, enum: kind }
    - id: body
      type: switch
      on: kind
      cases:
        kind::A: rec_a
        2: rec_b
    ${withDefault ? '  default: rec_other' : ''}
    - { id: after, type: u8 }
    `,
    'enums:\n  kind: { 1: A, 2: B }\n',
  ).replace('types:\n', 'types:\n  rec_a:\n    fields:\n      - { id: a, type: u8 }\n  rec_b:\n    fields:\n      - { id: b, type: u16be }\n  rec_other:\n    fields:\n      - { id: raw, type: bytes, size: 1 }\n');
  return loadFrom(schemaDir({ t: text }), 't');
}

test('switch: cases are expressions (enum refs, numbers, quoted strings); default', () => {
  void SWITCH;
  const s = switchSchema(true);
  assert.deepEqual(run(s, bytes(1, 0x11, 0xff)).value, { kind: 1, body: { a: 0x11 }, after: 0xff });
  assert.deepEqual(run(s, bytes(2, 0x11, 0x22, 0xff)).value, { kind: 2, body: { b: 0x1122 }, after: 0xff });
  assert.deepEqual(run(s, bytes(9, 0x33, 0xff)).value, { kind: 9, body: { raw: Uint8Array.from([0x33]) }, after: 0xff });
});

test('switch: no matching case and no default is a no-case error', () => {
  const s = switchSchema(false);
  const e = thrown(() => run(s, bytes(9, 0, 0)), ParseError);
  assert.equal(e.code, 'no-case');
  assert.equal(e.where.path, 'body');
  assert.equal(e.found, '0x9');
  assert.equal(e.expected, 'kind::A or 2');
});

test('switch: on a string, with quoted string cases', () => {
  const text = schemaText(
    `
    - { id: tag, type: str, size: 2 }
    - id: body
      type: switch
      on: tag
      cases:
        '"ab"': one
        '"cd"': two
    `,
  ).replace('types:\n', 'types:\n  one:\n    fields:\n      - { id: x, type: u8 }\n  two:\n    fields:\n      - { id: y, type: u16 }\n');
  const s = loadFrom(schemaDir({ t: text }), 't');
  assert.deepEqual(run(s, bytes('ab', 1)).value, { tag: 'ab', body: { x: 1 } });
  assert.deepEqual(run(s, bytes('cd', 1, 0)).value, { tag: 'cd', body: { y: 1 } });
  assert.equal(thrown(() => run(s, bytes('zz', 1)), ParseError).code, 'no-case');
});

test('switch: a case of another kind than the value is a ParseError, not an internal error', () => {
  const text = schemaText(
    `
    - { id: kind, type: u8 }
    - id: body
      type: switch
      on: kind
      cases:
        1: one
        '"x"': one
    `,
  ).replace('types:\n', 'types:\n  one:\n    fields:\n      - { id: x, type: u8 }\n');
  const s = loadFrom(schemaDir({ t: text }), 't');
  const e = thrown(() => run(s, bytes(9, 0)), ParseError);
  assert.equal(e.code, 'expression');
  assert.equal(e.where.path, 'body');
  assert.match(e.message, /case '"x"': cannot compare integer 9 with string "x"/);
});

test('if: a false condition gives null and reads nothing', () => {
  const s = load(
    `
    - { id: has_ext, type: u8 }
    - { id: ext, type: u16, if: has_ext != 0 }
    - { id: tail, type: u8 }
    `,
  );
  assert.deepEqual(run(s, bytes(0, 7)).value, { has_ext: 0, ext: null, tail: 7 });
  assert.deepEqual(run(s, bytes(1, 1, 0, 7)).value, { has_ext: 1, ext: 1, tail: 7 });
  assert.equal(json(run(s, bytes(0, 7))), '{"has_ext":0,"ext":null,"tail":7}');
});

test('if with at: the condition is tested first, at the cursor; a false one neither reads nor moves it', () => {
  // The step order (src/lower/lower.ts): `if`, then `at`, then the read. `_pos` in the condition is the
  // cursor before the field, not its `at` position.
  const s = load(
    `
    - { id: flag, type: u8 }
    - { id: far, type: u8, at: 4, if: flag != 0 and _pos == 1 }
    - { id: next, type: u8 }
    `,
  );
  assert.deepEqual(run(s, bytes(0, 0x11, 0x22, 0x33, 0x44, 0x55)).value, { flag: 0, far: null, next: 0x11 });
  assert.deepEqual(run(s, bytes(1, 0x11, 0x22, 0x33, 0x44, 0x55)).value, { flag: 1, far: 0x44, next: 0x55 });
});

test('value: derived fields read no bytes and never wrap at 32 bits', () => {
  const s = load(
    `
    - { id: off, type: u32 }
    - { id: size, type: u32 }
    - { id: end, value: off + size }
    - { id: tail, type: u8 }
    - { id: word, value: "size << 32 | off" }
    `,
  );
  const r = run(s, bytes([0x00, 0xff, 0xff, 0xff], [0x00, 0x02, 0, 0], 5));
  assert.equal(r.value['end'], 0x100000100);
  assert.equal(r.value['tail'], 5);
  assert.equal(r.value['word'], 0x200_ffffff00); // 2^41 + ...: still a safe integer, so a number
  assert.equal(json(r), '{"off":4294967040,"size":512,"end":4294967552,"tail":5,"word":2203318222592}');
});

test('value: with enum: or flags: gets names in JSON', () => {
  const s = load(
    `
    - { id: a, type: u8 }
    - { id: os, value: a + 1, enum: os }
    - { id: p, value: a, flags: perm }
    `,
    ENUMS,
  );
  assert.equal(json(run(s, bytes(2))), '{"a":2,"os":{"value":3,"name":"UNIX"},"p":{"value":2,"flags":["WRITE"],"unknown":0}}');
});

test('value: an evaluation error is a parse error naming the field', () => {
  const s = load(
    `
    - { id: a, type: u8 }
    - { id: q, value: 100 / a }
    `,
  );
  const e = thrown(() => run(s, bytes(0)), ParseError);
  assert.equal(e.code, 'expression');
  assert.equal(e.where.path, 'q');
  assert.match(e.message, /in '100 \/ a': division by zero/);
});

test('hidden: parsed and usable, left out of JSON', () => {
  const s = load(
    `
    - { id: secret, type: u8, hidden: true }
    - { id: twice, value: secret * 2 }
    `,
  );
  const r = run(s, bytes(21));
  assert.equal(r.value['secret'], 21);
  assert.equal(json(r), '{"twice":42}');
});

// ---------------------------------------------------------------------------------------------
// checks

test('checks: error severity throws with the check id; warning is recorded; message is a template', () => {
  const text = schemaText(
    `
    - { id: off, type: u8 }
    - { id: size, type: u8 }
    `,
  ) + `    checks:\n      - id: fits\n        assert: off + size <= _file.size\n        message: "\${off:hex}+\${size} runs past \${_file.size}"\n      - id: aligned\n        assert: off % 4 == 0\n        severity: warning\n        message: "offset \${off} is not 4-aligned"\n`;
  const t = loadFrom(schemaDir({ t: text }), 't');
  const ok = run(t, bytes(0, 2));
  assert.deepEqual(ok.checks.map((c) => [c.id, c.ok]), [['fits', true], ['aligned', true]]);
  const warn = run(t, bytes(1, 1));
  assert.deepEqual(warn.checks.map((c) => [c.id, c.ok, c.severity, c.message]), [['fits', true, 'error', ''], ['aligned', false, 'warning', 'offset 1 is not 4-aligned']]);
  const e = thrown(() => run(t, bytes(4, 9)), ParseError);
  assert.equal(e.code, 'assertion');
  assert.equal(e.message, '0x4+9 runs past 2');
  assert.equal(e.where.path, 'check fits');
});

test('checks in a nested struct name the struct path', () => {
  const dir = schemaDir({
    t: `
      kimg: 1
      id: t
      title: t
      root: r
      types:
        r:
          fields:
            - { id: items, type: item, count: 2 }
        item:
          fields:
            - { id: v, type: u8 }
          checks:
            - { id: small, assert: v < 10, message: "v is \${v}" }
      `,
  });
  const e = thrown(() => run(loadFrom(dir, 't'), bytes(1, 20)), ParseError);
  assert.equal(e.where.path, 'items[1] (check small)');
  assert.equal(e.message, 'v is 20');
});

// ---------------------------------------------------------------------------------------------
// Limits

test('limits: maxArrayCount, maxDepth (recursive type), maxExprSteps raise LimitError naming the limit', () => {
  const arr = load('- { id: xs, type: u8, count: 1000 }');
  let e = thrown(() => run(arr, new Uint8Array(1000), withLimits({ maxArrayCount: 100 })), LimitError);
  assert.equal(e.limit, 'maxArrayCount');
  assert.equal(e.where.path, 'xs');
  assert.match(e.message, /limit maxArrayCount \(100\) exceeded/);
  const toEnd = load('- { id: xs, type: u8, repeat: to-end }');
  e = thrown(() => run(toEnd, new Uint8Array(1000), withLimits({ maxArrayCount: 100 })), LimitError);
  assert.equal(e.limit, 'maxArrayCount');

  const dir = schemaDir({
    t: `
      kimg: 1
      id: t
      title: t
      root: node
      types:
        node:
          fields:
            - { id: more, type: u8 }
            - { id: next, type: node, if: more != 0 }
      `,
  });
  const rec = loadFrom(dir, 't');
  assert.equal(run(rec, bytes(1, 1, 0)).value['next'] !== null, true);
  e = thrown(() => run(rec, new Uint8Array(100).fill(1)), LimitError);
  assert.equal(e.limit, 'maxDepth');
  assert.equal(e.value, DEFAULT_LIMITS.maxDepth);
  e = thrown(() => run(rec, new Uint8Array(100).fill(1), withLimits({ maxDepth: 4 })), LimitError);
  assert.equal(e.limit, 'maxDepth');
  assert.equal(e.where.path, 'next.next.next.next');

  const steps = load(
    `
    - { id: xs, type: u8, count: 200 }
    - { id: n, value: "count(xs, count(xs, _ == 1) > 0)" }
    `,
  );
  e = thrown(() => run(steps, new Uint8Array(200), withLimits({ maxExprSteps: 5000 })), LimitError);
  assert.equal(e.limit, 'maxExprSteps');
  assert.equal(e.where.path, 'n');
});

// ---------------------------------------------------------------------------------------------
// Detection

const DETECT = {
  base: `
    kimg: 1
    id: base
    title: base format
    root: r
    detect:
      magic:
        - { at: 0, bytes: "BX" }
    types:
      r:
        fields:
          - { id: magic, type: bytes, size: 2 }
          - { id: kind, type: u8 }
    `,
  special: `
    kimg: 1
    id: special
    title: special kind of base
    imports:
      b: base
    root: r
    detect:
      magic:
        - { at: 0, bytes: "BX" }
        - { at: 3, bytes: [0xee] }
      when: inner.kind == 7
      refines: [base]
    types:
      r:
        fields:
          - { id: inner, type: b.r }
    `,
  nodetect: `
    kimg: 1
    id: nodetect
    title: only by name
    root: r
    types:
      r:
        fields:
          - { id: a, type: u8 }
    `,
};

test('detection: magic, when, and refines order (most refined first)', () => {
  const dir = schemaDir(DETECT);
  const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
  let out = detect(reg, new BufferSource(bytes('BX', 7, 0xee)), DEFAULT_LIMITS);
  assert.deepEqual(out.matches.map((m) => m.schema.id), ['special', 'base']);
  assert.deepEqual(out.matches[1]!.refinedBy, ['special']);
  assert.deepEqual(out.matches[0]!.refinedBy, []);
  assert.deepEqual(out.matches[0]!.result.value, { inner: { magic: Uint8Array.from([0x42, 0x58]), kind: 7 } });
  // the schema without detect is never a candidate
  assert.ok(!out.rejected.some((r) => r.schema === 'nodetect'));

  out = detect(reg, new BufferSource(bytes('BX', 8, 0xee)), DEFAULT_LIMITS);
  assert.deepEqual(out.matches.map((m) => m.schema.id), ['base']);
  assert.deepEqual(out.rejected, [{ schema: 'special', reason: 'detect.when is false: inner.kind == 7' }]);

  out = detect(reg, new BufferSource(bytes('BX', 7, 0x00)), DEFAULT_LIMITS);
  assert.deepEqual(out.rejected, [{ schema: 'special', reason: 'no magic at 0x3' }]);

  out = detect(reg, new BufferSource(bytes('BX')), DEFAULT_LIMITS);
  assert.deepEqual(out.matches, []);
  assert.equal(out.rejected.find((r) => r.schema === 'special')!.reason, 'input too short for magic at 0x3');
  // base's magic matched, then its root ran out of input: a damaged match, not a silent non-match
  assert.ok(!out.rejected.some((r) => r.schema === 'base'));
  assert.deepEqual(out.damaged.map((d) => [d.schema.id, d.error.code, d.error.where.path]), [['base', 'out-of-bounds', 'kind']]);
});

test('detection via Kimg.detect with builtins off', () => {
  const k = new Kimg({ schemaPath: [schemaDir(DETECT)], builtins: false });
  assert.deepEqual(k.detect(bytes('BX', 7, 0xee)).matches.map((m) => m.schema.id), ['special', 'base']);
  assert.deepEqual(k.detect(bytes('ZZZZ')).matches, []);
});

// ---------------------------------------------------------------------------------------------
// Regions and the pipeline

const BOX = {
  box: `
    kimg: 1
    id: box
    title: a box holding one payload
    root: box
    detect:
      magic:
        - { at: 0, bytes: "BOX1" }
    summary: "box, \${codec} payload of \${size} bytes"
    types:
      box:
        fields:
          - { id: magic, type: bytes, const: "BOX1" }
          - { id: codec, type: strz, size: 8 }
          - { id: offset, type: u32 }
          - { id: size, type: u32 }
          - { id: orig_size, type: u32 }
          - { id: count, type: u8 }
          - { id: parts, type: part, count: count }
      part:
        fields:
          - { id: name, type: strz, size: 4 }
          - { id: at, type: u8 }
          - { id: len, type: u8 }
    regions:
      - id: payload
        main: true
        offset: offset
        size: size
        codec: codec
        codecs:
          gz: gzip
          plain-gz: gzip
        expected_size: orig_size
        expected_size_modulo: 0x100000000
        inner:
          - { schema: note, when: 'codec == "gz"' }
          - { schema: other }
        checks:
          - { id: in_file, assert: offset + size <= _file.size, message: "payload runs past the end" }
      - id: part
        each: parts
        name: _.name
        offset: _.at
        size: _.len
    `,
  note: `
    kimg: 1
    id: note
    title: a note
    root: note
    detect:
      magic:
        - { at: 0, bytes: "NOTE" }
    summary: "note v\${version}"
    types:
      note:
        fields:
          - { id: magic, type: bytes, const: "NOTE" }
          - { id: version, type: u8 }
    scans:
      - { id: banner, prefix: "Version ", terminator: 0x0a, max_length: 32 }
    `,
  other: `
    kimg: 1
    id: other
    title: other
    root: o
    detect:
      magic:
        - { at: 0, bytes: "OTHR" }
    types:
      o:
        fields:
          - { id: magic, type: bytes, size: 4 }
    `,
};

/** A BOX1 file: header, two parts, then a payload. */
function boxFile(codec: string, payload: Uint8Array, origSize: number): Uint8Array {
  const head = bytes('BOX1', codec.padEnd(8, '\0').slice(0, 8));
  const partsStart = head.length + 13;
  const payloadAt = partsStart + 2 * 6 + 6;
  const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  return bytes([...head], le32(payloadAt), le32(payload.length), le32(origSize), 2, 'aa\0\0', payloadAt - 6, 3, 'bb\0\0', payloadAt - 3, 3, 'AAABBB', [...payload]);
}

function tempFile(data: Uint8Array): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kimg-in-')), 'input.bin');
  writeFileSync(file, data);
  return file;
}

test('regions: codec via codecs map, decode, expected_size, inner candidate, scans, each family', async () => {
  const inner = bytes('NOTE', 3, 'padding... Version 1.2.3\nrest');
  const file = tempFile(boxFile('gz', gzipSync(inner), inner.length));
  const k = new Kimg({ schemaPath: [schemaDir(BOX)], builtins: false });
  const a = await k.analyze(file);
  assert.equal(a.error, null, a.error?.describe());
  assert.equal(a.layers.length, 2);
  const [outer, decoded] = a.layers;
  assert.equal(outer!.summary, `box, gz payload of ${a.size - 43} bytes`);
  assert.deepEqual(outer!.regions.map((r) => [r.id, r.name, r.offset, r.size, r.codec]), [
    ['payload', null, 43, a.size - 43, 'gz'],
    ['part', 'aa', 37, 3, null],
    ['part', 'bb', 40, 3, null],
  ]);
  assert.equal(decoded!.origin, 'decoded');
  assert.equal(decoded!.codec!.header, 'gz');
  assert.equal(decoded!.codec!.plugin, 'gzip');
  assert.equal(decoded!.size, inner.length);
  assert.equal(decoded!.summary, 'note v3');
  assert.deepEqual(decoded!.scans.map((s) => [s.id, s.text]), [['banner', 'Version 1.2.3']]);
  const checks = a.checks.map((c) => [c.layer, c.id, c.status]);
  assert.deepEqual(checks, [[0, 'in_file', 'ok'], [1, 'trailing_data', 'ok'], [1, 'decoded_size', 'ok']]);
});

test('regions: each family -> extract by section name', async () => {
  const inner = bytes('NOTE', 3);
  const file = tempFile(boxFile('gz', gzipSync(inner), inner.length));
  const k = new Kimg({ schemaPath: [schemaDir(BOX)], builtins: false });
  const chunks: Uint8Array[] = [];
  const out: Output = { write: (c) => void chunks.push(c), commit() {}, abort() {} };
  const r = await extract(k, file, { kind: 'section', name: 'bb' }, out);
  assert.equal(r.what, 'section bb');
  assert.equal(Buffer.concat(chunks).toString('latin1'), 'BBB');
});

test('regions: a wrong expected size is a size-mismatch', async () => {
  const inner = bytes('NOTE', 3);
  const file = tempFile(boxFile('gz', gzipSync(inner), 99));
  const a = await new Kimg({ schemaPath: [schemaDir(BOX)], builtins: false }).analyze(file);
  assert.ok(a.error instanceof PipelineError);
  assert.equal(a.error.code, 'size-mismatch');
  assert.equal(a.error.expected, '99 bytes (mod 0x100000000)');
});

test('regions: the decoded layer must be the inner candidate chosen (inner-mismatch)', async () => {
  const inner = bytes('NOPE', 3);
  const file = tempFile(boxFile('gz', gzipSync(inner), inner.length));
  const a = await new Kimg({ schemaPath: [schemaDir(BOX)], builtins: false }).analyze(file);
  assert.ok(a.error instanceof PipelineError);
  assert.equal(a.error.code, 'inner-mismatch');
  assert.equal(a.error.where.schema, 'note');
  assert.equal(a.error.where.layer, 1);
  assert.match(a.error.message, /box \(codec == "gz"\) says this layer is note, but it is not: no magic at 0x0/);
  assert.equal(a.error.expected, 'a note ("NOTE" at 0x0)');
  assert.equal(a.error.found, '"NOPE" at 0x0');
});

test('regions: a header codec name missing from codecs: is unknown-codec', async () => {
  const file = tempFile(boxFile('zz', bytes(1, 2, 3), 3));
  const a = await new Kimg({ schemaPath: [schemaDir(BOX)], builtins: false }).analyze(file);
  assert.ok(a.error instanceof PipelineError);
  assert.equal(a.error.code, 'unknown-codec');
  assert.equal(a.error.found, '"zz"');
  assert.equal(a.error.expected, '"gz", "plain-gz"');
});

test('regions: no inner candidate applies -> no-inner-candidate', async () => {
  const text = BOX.box.replace('{ schema: other }', "{ schema: other, when: 'codec == \"nope\"' }").replace('plain-gz: gzip', 'zz: gzip');
  const file = tempFile(boxFile('zz', gzipSync(bytes('OTHR')), 4));
  const a = await new Kimg({ schemaPath: [schemaDir({ ...BOX, box: text })], builtins: false }).analyze(file);
  assert.ok(a.error instanceof PipelineError);
  assert.equal(a.error.code, 'no-inner-candidate');
});

test('regions: a main region without codec is the next layer, detected among all schemas', async () => {
  const dir = schemaDir({
    note: BOX.note,
    wrap: `
      kimg: 1
      id: wrap
      title: wrapper
      root: w
      detect:
        magic:
          - { at: 0, bytes: "WRAP" }
      types:
        w:
          fields:
            - { id: magic, type: bytes, const: "WRAP" }
            - { id: len, type: u8 }
      regions:
        - { id: body, main: true, offset: 5, size: len }
      `,
  });
  const file = tempFile(bytes('WRAP', 5, 'NOTE', 9, 'trailing'));
  const a = await new Kimg({ schemaPath: [dir], builtins: false }).analyze(file);
  assert.equal(a.error, null);
  assert.deepEqual(a.layers.map((l) => [l.origin, l.detections[0]?.schema.id, l.size]), [['file', 'wrap', 18], ['region', 'note', 5]]);
  assert.equal(a.layers[1]!.from!.fileOffset, 5);
});

test('regions: a failing region check stops the pipeline', async () => {
  const dir = schemaDir({
    wrap: `
      kimg: 1
      id: wrap
      title: wrapper
      root: w
      detect:
        magic:
          - { at: 0, bytes: "WRAP" }
      types:
        w:
          fields:
            - { id: magic, type: bytes, const: "WRAP" }
            - { id: len, type: u8 }
      regions:
        - id: body
          main: true
          offset: 5
          size: len
          checks:
            - { id: fits, assert: 5 + len <= _file.size, message: "body of \${len} bytes runs past the end (\${_file.size})" }
      `,
  });
  const a = await new Kimg({ schemaPath: [dir], builtins: false }).analyze(tempFile(bytes('WRAP', 50, 1)));
  assert.ok(a.error instanceof PipelineError);
  assert.equal(a.error.code, 'check-failed');
  assert.equal(a.error.message, 'body of 50 bytes runs past the end (6)');
});

// ---------------------------------------------------------------------------------------------
// The examples of docs/schema-dsl.md and examples/gzip-member

test('docs/schema-dsl.md: every complete yaml example loads, and parses its # input', () => {
  const doc = readFileSync(join(repo, 'docs', 'schema-dsl.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const full = blocks.filter((b) => b.startsWith('kimg: 1'));
  assert.ok(full.length >= 20, `doc has ${full.length} complete examples`);
  const dir = mkdtempSync(join(tmpdir(), 'kimg-doc-'));
  const ids = new Set<string>();
  for (const b of full) {
    const id = /^id: (\S+)$/m.exec(b)?.[1];
    assert.ok(id, `example without id:\n${b}`);
    assert.ok(!ids.has(id), `two examples with id ${id}`);
    ids.add(id);
    writeFileSync(join(dir, `${id}.yaml`), b);
  }
  const loader = new SchemaLoader({ searchPath: [dir], builtins: false });
  let parsed = 0;
  for (const b of full) {
    const id = /^id: (\S+)$/m.exec(b)![1]!;
    const wantSchemaError = /^# schema-error: (\S+)/m.exec(b)?.[1];
    if (wantSchemaError) {
      const e = thrown(() => loader.load(id), SchemaError);
      assert.equal(e.code, wantSchemaError, `${id}: ${e.describe()}`);
      continue;
    }
    let s: SchemaDef;
    try {
      s = loader.load(id);
    } catch (e) {
      assert.fail(`example ${id} does not load: ${(e as KimgError).describe?.() ?? e}`);
    }
    for (const m of b.matchAll(/^# input: ([0-9a-f ]+)$/gm)) {
      const data = Uint8Array.from(Buffer.from(m[1]!.replace(/\s+/g, ''), 'hex'));
      const rest = b.slice(m.index! + m[0].length);
      const err = /^\n# error: (\S+)/.exec(rest)?.[1];
      const out = /^\n# json: ([^\n]*)/.exec(rest)?.[1];
      if (err) {
        const e = thrown(() => run(s, data), KimgError);
        assert.equal(e.code, err, `${id}: ${e.describe()}`);
      } else {
        const r = run(s, data);
        if (out) assert.equal(json(r), out, `${id}: json`);
      }
      parsed++;
    }
  }
  assert.ok(parsed >= 10, `only ${parsed} examples run on input`);
});

function gzipMember(opts: { name?: string; comment?: string; extra?: Uint8Array; hcrc?: boolean; data: string }): Uint8Array {
  const deflated = gzipSync(Buffer.from(opts.data)).subarray(10); // raw deflate + trailer from a plain member
  let flg = 0;
  const head: number[] = [0x1f, 0x8b, 8, 0, 0x78, 0x56, 0x34, 0x12, 2, 3];
  if (opts.extra) {
    flg |= 4;
    head.push(opts.extra.length & 0xff, opts.extra.length >> 8, ...opts.extra);
  }
  if (opts.name !== undefined) {
    flg |= 8;
    head.push(...Buffer.from(opts.name, 'latin1'), 0);
  }
  if (opts.comment !== undefined) {
    flg |= 16;
    head.push(...Buffer.from(opts.comment, 'latin1'), 0);
  }
  if (opts.hcrc) {
    flg |= 2;
    head.push(0xcd, 0xab);
  }
  head[3] = flg;
  return Uint8Array.from([...head, ...deflated]);
}

test('examples/gzip-member: a plain member (gzip -n)', () => {
  const s = new SchemaLoader({ builtins: false }).load(join(repo, 'examples', 'gzip-member', 'gzip.yaml'));
  const file = gzipMember({ data: 'hello world\n' });
  const r = run(s, file);
  assert.equal(r.value['cm'], 8);
  assert.equal(r.value['flg'], 0);
  assert.equal(r.value['mtime'], 0x12345678);
  assert.equal(r.value['header_size'], 10);
  assert.equal(r.value['isize'], 12);
  assert.equal(r.value['fname'], null);
  assert.ok(r.checks.every((c) => c.ok));
  assert.equal(renderSummary(s.summary!, r, file.length, 10000), 'gzip member, DEFLATE, from UNIX, 12 B uncompressed');
});

test('examples/gzip-member: FEXTRA, FNAME, FCOMMENT and FHCRC', () => {
  const s = new SchemaLoader({ builtins: false }).load(join(repo, 'examples', 'gzip-member', 'gzip.yaml'));
  const extra = bytes('AB', 2, 0, 0x01, 0x02, 'CD', 0, 0);
  const file = gzipMember({ data: 'x'.repeat(1000), name: 'file.txt', comment: 'a comment', extra, hcrc: true });
  const r = run(s, file);
  const j = JSON.parse(json(r));
  assert.deepEqual(j.flg, { value: 0x1e, flags: ['FHCRC', 'FEXTRA', 'FNAME', 'FCOMMENT'], unknown: 0 });
  assert.deepEqual(j.os, { value: 3, name: 'UNIX' });
  assert.deepEqual(j.xfl, { value: 2, name: 'MAXIMUM_COMPRESSION' });
  assert.deepEqual(j.extra, { xlen: 10, subfields: { items: [{ si: 'AB', len: 2, data: '0102' }, { si: 'CD', len: 0, data: '' }] } });
  assert.equal(j.fname, 'file.txt');
  assert.equal(j.fcomment, 'a comment');
  assert.equal(j.hcrc, 0xabcd);
  assert.equal(j.header_size, 10 + 12 + 9 + 10 + 2);
  assert.equal(j.isize, 1000);
  assert.equal(renderSummary(s.summary!, r, file.length, 10000), 'gzip member, DEFLATE, from UNIX, original name file.txt, 1000 B uncompressed');
});

test('examples/gzip-member: detection, reserved flags, bad method', () => {
  const dir = join(repo, 'examples', 'gzip-member');
  const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
  const good = gzipMember({ data: 'abc' });
  assert.deepEqual(detect(reg, new BufferSource(good), DEFAULT_LIMITS).matches.map((m) => m.schema.id), ['gzip']);
  const s = reg.get('gzip');
  const reserved = Uint8Array.from(good);
  reserved[3] = 0x20;
  const e = thrown(() => run(s, reserved), ParseError);
  assert.equal(e.code, 'assertion');
  assert.match(e.message, /reserved FLG bits set \(0x20\)/);
  const badCm = Uint8Array.from(good);
  badCm[2] = 7;
  const e2 = thrown(() => run(s, badCm), ParseError);
  assert.equal(e2.code, 'const-mismatch');
  assert.equal(e2.message, 'compression method 7 is not DEFLATE (8), the only one RFC 1952 defines');
  assert.equal(e2.found, '0x7');
  assert.equal(detect(reg, new BufferSource(badCm), DEFAULT_LIMITS).matches.length, 0);
  // too short for the trailer: a warning, and the deflate region runs to the end
  const short = good.subarray(0, 14);
  const r = run(s, short);
  assert.equal(r.value['isize'], null);
  assert.deepEqual(r.checks.filter((c) => !c.ok).map((c) => c.id), ['has_trailer']);
});

test('examples/gzip-member: a subfield running past XLEN is out-of-bounds inside the sized region', () => {
  const s = new SchemaLoader({ builtins: false }).load(join(repo, 'examples', 'gzip-member', 'gzip.yaml'));
  const file = gzipMember({ data: 'abc', extra: bytes('AB', 9, 0, 1, 2) });
  const e = thrown(() => run(s, file), ParseError);
  assert.equal(e.code, 'out-of-bounds');
  assert.equal(e.where.path, 'extra.subfields.items[0].data');
  assert.match(e.message, /run past the end of the region/);
});

test('docs/schema-dsl.md shows examples/gzip-member/gzip.yaml verbatim', () => {
  const doc = readFileSync(join(repo, 'docs', 'schema-dsl.md'), 'utf8');
  const file = readFileSync(join(repo, 'examples', 'gzip-member', 'gzip.yaml'), 'utf8');
  const body = file.slice(file.indexOf('kimg: 1'));
  const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => /^id: gzip$/m.test(b));
  assert.ok(block, 'the doc has the gzip example');
  assert.equal(block.replace(/^# (input|json): .*\n/gm, ''), body);
});

test('examples/gzip-member: the pipeline lists the deflate region', async () => {
  const data = gzipMember({ data: 'hello', name: 'h' });
  const a = await new Kimg({ schemaPath: [join(repo, 'examples', 'gzip-member')], builtins: false }).analyze(tempFile(data));
  assert.equal(a.error, null);
  assert.deepEqual(a.layers[0]!.regions.map((r) => [r.id, r.offset, r.size]), [['deflate', 12, data.length - 12 - 8]]);
});

test('if: and assert: of the wrong kind (a string, bytes) are ParseErrors in both engines, not crashes', () => {
  const s = load(`
      - { id: tag, type: str, size: 2 }
      - { id: x, type: u8, if: tag }
  `);
  const e = catchRun(s, bytes('ab', 1));
  assert.ok(e instanceof ParseError, String(e));
  assert.equal(e.code, 'expression');
  assert.match(e.message, /in 'tag': expected a condition, got string "ab"/);
  const c = loadFrom(schemaDir({ t: 'kimg: 1\nid: t\ntitle: test\nroot: r\ntypes:\n  r:\n    fields:\n      - { id: tag, type: bytes, size: 2 }\n    checks:\n      - { id: c, assert: tag, message: m }\n' }), 't');
  const e2 = catchRun(c, bytes('ab'));
  assert.ok(e2 instanceof ParseError, String(e2));
  assert.equal(e2.code, 'expression');
});

function catchRun(schema: SchemaDef, data: Uint8Array): unknown {
  try {
    run(schema, data);
  } catch (e) {
    return e;
  }
  return null;
}
