/**
 * The code generator: safe escaping (no schema text ever becomes code), the jitless switch (no
 * `new Function` at all), and fast properties of result objects (checked in a child process under
 * --allow-natives-syntax).
 */
import { deepStrictEqual, equal, match, ok, throws } from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _, Code, key, lit, Name, Names, prop, quote } from '../src/codegen/code.js';
import { compiledEngine, generateSource, parseCompiled } from '../src/codegen/compile.js';
import { BufferSource } from '../src/core/bytes.js';
import { interpret } from '../src/interp/interpreter.js';
import { Kimg } from '../src/kimg.js';
import type { CheckDef, CompiledExpr, Expr, FieldDef, SchemaDef, SourcePos, TypeDef } from '../src/types.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Strings that would break out of a string literal, a comment, a template or a line. */
const HOSTILE = [
  'a"b', "c'd", 'e\\f', '*/g', '/*h', '${i}', '`j`', 'k\nl', 'm\u2028n', 'o\u2029p', '\r', '\\"];globalThis.kimgPwned=1;//',
  '"+(globalThis.kimgPwned=2)+"', '</script>', '__proto__', 'constructor', 'toString', '\u0000', '\ud800', 'q\\u0022',
];

test('the code template escapes every interpolated value by type', () => {
  for (const s of HOSTILE) {
    const code = _`return ${s};`.toString();
    // The literal is exactly an escaped JSON string, which evaluates back to the same text.
    equal(code, `return ${quote(s)};`);
    equal(new Function(code)(), s);
    ok(!/[\u2028\u2029\n\r]/.test(quote(s)), 'line terminators are escaped');
  }
  equal(_`${-5}`.toString(), '(-5)');
  equal(_`${-0}`.toString(), '(-0)');
  equal(_`${12345678901234567890n}`.toString(), '12345678901234567890n');
  equal(_`${-3n}`.toString(), '(-3n)');
  equal(_`${null} ${true}`.toString(), 'null true');
  throws(() => _`${NaN}`);
  throws(() => _`${Infinity}`);
  throws(() => _`${{} as never}`);
  // property keys: always escaped strings; __proto__ as a computed key (an own property)
  equal(prop(Names.fixed('o'), 'a"b').toString(), 'o["a\\"b"]');
  equal(key('__proto__').toString(), '["__proto__"]');
  equal(lit('x').toString(), '"x"');
});

test('identifiers come only from Names: allow-listed prefixes and counters', () => {
  const n = new Names();
  equal(n.make('f').toString(), 'f0');
  equal(n.make('T').toString(), 'T1');
  for (const bad of ['', 'a b', 'x;', 'f"', '__proto__', 'abcd', '1']) throws(() => n.make(bad));
  for (const bad of ['function', 'eval', 'a-b', '__proto__', 'x\n', 'constructor']) throws(() => Names.fixed(bad));
  throws(() => new (Code as unknown as new (t: symbol, s: string) => Code)(Symbol('kimg.code'), 'alert(1)'));
  throws(() => new (Name as unknown as new (t: symbol, s: string) => Name)(Symbol('kimg.code'), 'x'));
});

// A schema model built directly (bypassing the loader's name rules) with hostile names everywhere.
const pos: SourcePos = { file: 'hostile', line: 1, col: 1 };
function ce(ast: Expr, source: string): CompiledExpr {
  return { source, ast, pos };
}
function base(id: string) {
  return { id, doc: null, pos, at: null, when: null, repeat: null, align: null, hidden: false };
}
function hostileSchema(names: readonly string[] = HOSTILE): SchemaDef {
  const fields: FieldDef[] = [];
  names.forEach((name, i) => {
    fields.push({ ...base(name), kind: 'int', bytes: 1, signed: false, endian: null, enumRef: null, flagsRef: null, bits: null, constant: null });
    // a derived field holding a hostile string constant, whose expression source is hostile too
    fields.push({ ...base(`${name}#${i}`), kind: 'value', value: ce({ k: 'str', value: name }, name), enumRef: null, flagsRef: null });
  });
  // reads a hostile-named field by name, and compares with a hostile string
  fields.push({
    ...base('*/ sum ${x}'), kind: 'value', enumRef: null, flagsRef: null,
    value: ce({ k: 'binary', op: '+', left: { k: 'name', name: 'a"b' }, right: { k: 'name', name: names.includes('__proto__') ? '__proto__' : 'e\\f' } }, '*/ a"b + __proto__ /*'),
  });
  fields.push({ ...base('s"tr'), kind: 'str', size: ce({ k: 'int', value: 4n }, '4'), zeroTerminated: false, encoding: 'latin1', constant: { value: '\\"\u2028', severity: 'warning', message: null } });
  fields.push({ ...base('b`y'), kind: 'bytes', size: null, constant: { value: Uint8Array.from([0x22, 0x5c]), severity: 'warning', message: { source: 'm', parts: [{ k: 'text', text: '`${"\\\n*/' }, { k: 'hole', expr: ce({ k: 'special', name: '_' }, '_'), format: 'auto' }] } } });
  const checks: CheckDef[] = [{
    id: '"]);globalThis.kimgPwned=3;//', assert: ce({ k: 'bool', value: false }, 'false'), severity: 'warning', pos,
    message: { source: 'x', parts: [{ k: 'text', text: '"+(globalThis.kimgPwned=4)+"\u2028' }] },
  }];
  const type: TypeDef = { name: 'h"t', schemaId: 'h"s', doc: null, endian: 'le', endianExpr: null, fields, checks, pos };
  return {
    id: 'h"s\u2028', file: 'hostile', title: 't', description: null, endian: 'le', imports: new Map(),
    root: { name: 'h"t', target: type }, types: new Map([['h"t', type]]), enums: new Map(), flagSets: new Map(),
    detect: null, summary: null, regions: [], scans: [], facts: new Map(),
  };
}

test('hostile names and strings never become code', () => {
  const schema = hostileSchema();
  const g = generateSource(schema, { layout: true, buffer: true });
  for (const s of HOSTILE) {
    if (s === '__proto__' || s === 'constructor' || s === 'toString') continue;
    ok(!g.source.includes(s) || g.source.includes(quote(s)), `${JSON.stringify(s)} appears only escaped`);
  }
  ok(!/[\u2028\u2029]/.test(g.source), 'no raw line separators in the generated source');
  const bytes = new Uint8Array(64).map((_, i) => i + 1);
  delete (globalThis as Record<string, unknown>)['kimgPwned'];
  for (const layout of [false, true]) {
    // The interpreter assigns obj["__proto__"] (setting the prototype; the loader forbids that name),
    // so it is compared on the same schema without that one name.
    const noProto = hostileSchema(HOSTILE.filter((n) => n !== '__proto__'));
    deepStrictEqual(parseCompiled(noProto, new BufferSource(bytes), { layout }), interpret(noProto, new BufferSource(bytes), { layout }));
    const b = parseCompiled(schema, new BufferSource(bytes), { layout });
    equal((globalThis as Record<string, unknown>)['kimgPwned'], undefined, 'no injected code ran');
    const v = b.value;
    HOSTILE.forEach((name, i) => {
      ok(Object.hasOwn(v, name), `own key ${JSON.stringify(name)}`);
      equal(v[`${name}#${i}`], name);
    });
    equal(Object.getPrototypeOf(v), Object.prototype, '__proto__ is an own data property, not the prototype');
    equal(v['*/ sum ${x}'], 1 + 15);
    equal(b.checks.at(-1)!.message, '"+(globalThis.kimgPwned=4)+"\u2028');
  }
});

function countFunctionCalls(fn: () => void): number {
  const original = globalThis.Function;
  let calls = 0;
  const spy = new Proxy(original, {
    construct(target, args, newTarget) {
      calls++;
      return Reflect.construct(target, args, newTarget);
    },
    apply(target, self, args) {
      calls++;
      return Reflect.apply(target, self, args);
    },
  });
  globalThis.Function = spy;
  try {
    fn();
  } finally {
    globalThis.Function = original;
  }
  return calls;
}

function sample(): Uint8Array {
  for (const p of [join(repoRoot, 'samples/arm64-gzip.efi'), resolve(repoRoot, '../shared/corpus/arm64-gzip.efi')]) {
    if (existsSync(p)) return readFileSync(p);
  }
  return syntheticArm64();
}

/** A 64-byte arm64 Image header without an EFI stub. */
function syntheticArm64(): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(8, 0x80000n, true);
  dv.setBigUint64(16, 0x1000000n, true);
  dv.setBigUint64(24, 0xan, true);
  b.set([0x41, 0x52, 0x4d, 0x64], 0x38);
  return b;
}

test('jitless: Kimg({jitless: true}) and KIMG_JITLESS=1 never call new Function', () => {
  const bytes = sample();
  const jitless = countFunctionCalls(() => {
    const k = new Kimg({ jitless: true });
    k.parse('pe', bytes);
    k.parse('arm64-image', syntheticArm64(), { layout: true });
    k.detect(bytes);
  });
  equal(jitless, 0);
  const saved = process.env['KIMG_JITLESS'];
  process.env['KIMG_JITLESS'] = '1';
  try {
    const viaEnv = countFunctionCalls(() => {
      const k = new Kimg();
      equal(k.jitless, true);
      k.parse('pe', bytes);
      k.detect(bytes);
    });
    equal(viaEnv, 0);
  } finally {
    if (saved === undefined) delete process.env['KIMG_JITLESS'];
    else process.env['KIMG_JITLESS'] = saved;
  }
  // and by default the compiled engine is used once a schema is hot (and does compile)
  const saved2 = process.env['KIMG_JITLESS'];
  delete process.env['KIMG_JITLESS'];
  try {
    const cold = countFunctionCalls(() => {
      const k = new Kimg();
      equal(k.jitless, false);
      k.parse('pe', bytes);
    });
    equal(cold, 0, 'a one-shot parse is interpreted (compiling would cost more)');
    const hot = countFunctionCalls(() => {
      const k = new Kimg();
      for (let i = 0; i < 6; i++) k.parse('pe', bytes);
    });
    ok(hot > 0, 'a hot schema is compiled');
    const eager = countFunctionCalls(() => {
      const k = new Kimg({ jitThreshold: 0 });
      equal(k.engine, compiledEngine);
      k.parse('pe', bytes);
      k.detect(bytes);
    });
    ok(eager > 0, 'jitThreshold: 0 compiles on first use');
  } finally {
    if (saved2 !== undefined) process.env['KIMG_JITLESS'] = saved2;
  }
});

test('compiled parsers are cached per schema and variant', () => {
  const k = new Kimg({ jitThreshold: 0 });
  const bytes = sample();
  k.parse('pe', bytes);
  const again = countFunctionCalls(() => {
    k.parse('pe', bytes);
    k.parse('pe', bytes);
  });
  equal(again, 0);
});

for (const engine of ['compiled', 'jitless'] as const) test(`result objects have fast properties, ${engine} engine (%HasFastProperties, --allow-natives-syntax)`, () => {
  const kimgUrl = new URL('../src/kimg.js', import.meta.url).href;
  const bytesPath = existsSync(join(repoRoot, 'samples/arm64-gzip.efi')) ? join(repoRoot, 'samples/arm64-gzip.efi') : '';
  const script = `
    import { Kimg } from ${JSON.stringify(kimgUrl)};
    import { readFileSync } from 'node:fs';
    const k = new Kimg({ jitless: ${engine === 'jitless'}, jitThreshold: 0 });
    const out = {};
    const img = new Uint8Array(64); const dv = new DataView(img.buffer);
    dv.setBigUint64(24, 0xan, true); img.set([0x41, 0x52, 0x4d, 0x64], 0x38);
    for (let i = 0; i < 3; i++) {
      const a = k.parse('arm64-image', img).value;
      out.arm64 = %HasFastProperties(a);
      out.arm64_flags = %HasFastProperties(a.flags);
    }
    const path = ${JSON.stringify(bytesPath)};
    if (path) {
      const bytes = readFileSync(path);
      for (let i = 0; i < 3; i++) {
        const pe = k.parse('pe', bytes).value;
        out.pe = %HasFastProperties(pe);
        out.dos = %HasFastProperties(pe.dos);
        out.coff = %HasFastProperties(pe.coff);
        out.optional_header = %HasFastProperties(pe.optional_header);
        out.data_directory = %HasFastProperties(pe.optional_header.data_directories[0]);
        out.section = %HasFastProperties(pe.sections[0]);
        const z = k.parse('linux-zboot', bytes, { layout: true });
        out.zboot = %HasFastProperties(z.value);
        out.layout = %HasFastProperties(z.layout);
      }
    }
    console.log(JSON.stringify(out));
  `;
  const text = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, KIMG_JITLESS: '' } });
  const result = JSON.parse(text.trim()) as Record<string, boolean>;
  ok(Object.keys(result).length >= 2, text);
  for (const [k, v] of Object.entries(result)) equal(v, true, `${k} has fast properties`);
  match(text, /"arm64":true/);
});
