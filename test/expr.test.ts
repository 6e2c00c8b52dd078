/**
 * The expression language on its own: lexer, parser, binder, evaluator, templates.
 * See docs/schema-dsl.md "Expressions".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize, LexError } from '../src/expr/lexer.js';
import { parseExpr, ExprSyntaxError } from '../src/expr/parser.js';
import { bindExpr, BindError } from '../src/expr/bind.js';
import { evaluate, StepLimitError, type Scope } from '../src/expr/evaluate.js';
import { ExprTypeError } from '../src/expr/values.js';
import { splitTemplate, TemplateSyntaxError } from '../src/expr/template.js';
import { formatValue, humanSize } from '../src/expr/format.js';
import type { EnumDef, Expr } from '../src/types.js';

function scope(obj: Record<string, unknown> = {}, extra: Partial<Scope> = {}): Scope {
  return { obj, parent: null, root: obj, offset: 0, pos: 0, region: { offset: 0, size: 100 }, file: { size: 1000 }, index: null, elem: null, ...extra };
}

function ev(src: string, obj: Record<string, unknown> = {}, maxSteps = 1_000_000): unknown {
  return evaluate(parseExpr(src), scope(obj), { steps: 0, maxSteps });
}

/** The AST without noise, as a Lisp-ish string: (== (& flags 1) 1). */
function show(e: Expr): string {
  switch (e.k) {
    case 'int': return e.value.toString();
    case 'str': return JSON.stringify(e.value);
    case 'bool': return String(e.value);
    case 'null': return 'null';
    case 'name': case 'special': return e.name;
    case 'member': return `${show(e.object)}.${e.name}`;
    case 'index': return `${show(e.object)}[${show(e.index)}]`;
    case 'enumref': return `${e.schema ? e.schema + '.' : ''}${e.enumName}::${e.member}`;
    case 'unary': return `(${e.op} ${show(e.arg)})`;
    case 'binary': return `(${e.op} ${show(e.left)} ${show(e.right)})`;
    case 'cond': return `(? ${show(e.test)} ${show(e.then)} ${show(e.else)})`;
    case 'call': case 'apply': return `(${e.fn} ${e.args.map(show).join(' ')})`;
  }
}
const p = (src: string): string => show(parseExpr(src));

// ---------------------------------------------------------------------------------------------
// Lexer

test('lexer: integer literals in every base, with underscores', () => {
  const ints = tokenize('0x1F 0X1f 0b1010 0B1 0o17 0O7 1_000_000 0xffff_ffff 42').filter((t) => t.kind === 'int').map((t) => t.int);
  assert.deepEqual(ints, [31n, 31n, 10n, 1n, 15n, 7n, 1000000n, 0xffffffffn, 42n]);
});

test('lexer: malformed numbers are errors with their offset', () => {
  for (const [src, at] of [['0x', 0], ['1 + 0b2', 4], ['09a', 0], ['0o8', 0], ['12abc', 0]] as const) {
    assert.throws(() => tokenize(src), (e: unknown) => e instanceof LexError && e.at === at && /malformed number/.test(e.message), src);
  }
});

test('lexer: strings in either quote with escapes', () => {
  const [t] = tokenize(String.raw`"a\n\t\r\0\\\"\'\x41\x7f"`);
  assert.equal(t!.kind, 'str');
  assert.equal(t!.str, 'a\n\t\r\0\\"\'A\x7f');
  assert.equal(tokenize(String.raw`'it\'s'`)[0]!.str, "it's");
  assert.equal(tokenize(`'say "hi"'`)[0]!.str, 'say "hi"');
});

test('lexer: bad escapes and unterminated strings', () => {
  assert.throws(() => tokenize(String.raw`"\q"`), /unknown escape '\\q'/);
  assert.throws(() => tokenize(String.raw`"\x4"`), /bad \\x escape/);
  assert.throws(() => tokenize(`"abc`), (e: unknown) => e instanceof LexError && e.at === 0 && /unterminated string/.test(e.message));
  assert.throws(() => tokenize(`'abc\\`), /unterminated string/);
});

test('lexer: longest operator wins; unknown characters are errors', () => {
  assert.deepEqual(tokenize('a<<b<=c::d!=e').filter((t) => t.kind === 'op').map((t) => t.text), ['<<', '<=', '::', '!=']);
  assert.throws(() => tokenize('a @ b'), (e: unknown) => e instanceof LexError && e.at === 2 && /unexpected character '@'/.test(e.message));
  assert.throws(() => tokenize('a = b'), /unexpected character '='/);
});

// ---------------------------------------------------------------------------------------------
// Parser: precedence and shape

test('precedence: bitwise binds tighter than comparison (unlike C)', () => {
  assert.equal(p('flags & 1 == 1'), '(== (& flags 1) 1)');
  assert.equal(p('x | 4 != 0'), '(!= (| x 4) 0)');
  assert.equal(ev('flags & 1 == 1', { flags: 3 }), true);
  assert.equal(ev('flags & 4 != 0', { flags: 3 }), false);
});

test('precedence: the full ladder', () => {
  assert.equal(p('1 + 2 * 3'), '(+ 1 (* 2 3))');
  assert.equal(p('1 << 2 + 1'), '(<< 1 (+ 2 1))');
  assert.equal(p('a & b << 1'), '(& a (<< b 1))');
  assert.equal(p('a | b ^ c & d'), '(| a (^ b (& c d)))');
  assert.equal(p('a == b and c or d'), '(or (and (== a b) c) d)');
  assert.equal(p('a or b and c'), '(or a (and b c))');
  assert.equal(p('a || b && c'), '(or a (and b c))');
  assert.equal(p('-a * b'), '(* (- a) b)');
  assert.equal(p('~a & b'), '(& (~ a) b)');
  assert.equal(p('!a'), '(not a)');
  assert.equal(p('a - b - c'), '(- (- a b) c)');
  assert.equal(p('a / b * c'), '(* (/ a b) c)');
  assert.equal(p('a ? b : c ? d : e'), '(? a b (? c d e))');
  assert.equal(p('a == 1 ? b + 1 : c'), '(? (== a 1) (+ b 1) c)');
  assert.equal(p('x.y[i + 1].z'), 'x.y[(+ i 1)].z');
  assert.equal(ev('1 + 2 * 3 == 7'), true);
  assert.equal(ev('1 << 2 + 1'), 8);
  assert.equal(ev('1 | 2 ^ 3 & 4'), 3);
  assert.equal(ev('10 - 4 - 3'), 3);
  assert.equal(ev('(1 + 2) * 3'), 9);
});

test('precedence: `not` binds like Python (looser than comparisons), `!` like C (tightest)', () => {
  assert.equal(p('not a == b'), '(not (== a b))');
  assert.equal(p('not (a == b)'), '(not (== a b))');
  assert.equal(p('!a == b'), '(== (not a) b)');
  assert.equal(p('not a and b'), '(and (not a) b)');
  assert.equal(p('a and not b or c'), '(or (and a (not b)) c)');
  assert.equal(ev('not 1 == 0'), true);
  assert.equal(ev('not (1 == 0)'), true);
  // (!1) == 0 compares a boolean with an integer: an error, not a silent false.
  assert.throws(() => ev('!1 == 0'), (e: unknown) => e instanceof ExprTypeError && /cannot compare boolean/.test(e.message));
});

test('comparisons do not chain', () => {
  for (const src of ['1 < 2 < 3', 'a == b == c', '1 < 2 == true', 'a != b <= c']) {
    assert.throws(() => parseExpr(src), (e: unknown) => e instanceof ExprSyntaxError && /comparisons do not chain/.test(e.message), src);
  }
  assert.equal(ev('(1 < 2) == true'), true);
  assert.equal(ev('1 < 2 and 2 < 3'), true);
});

test('syntax errors carry the offending column', () => {
  const err = (src: string): ExprSyntaxError => {
    try {
      parseExpr(src);
    } catch (e) {
      assert.ok(e instanceof ExprSyntaxError, src);
      return e;
    }
    assert.fail(`no error for ${src}`);
  };
  assert.equal(err('a + * b').at, 4);
  assert.match(err('a + * b').message, /expected a value, found '\*'/);
  assert.equal(err('(a + b').at, 6);
  assert.match(err('(a + b').message, /expected '\)', found end of expression/);
  assert.match(err('a b').message, /unexpected text after the expression, found 'b'/);
  assert.match(err('a.1').message, /expected a field name after \./);
  assert.match(err('a ? b').message, /expected ':'/);
  assert.match(err('').message, /expected a value/);
  assert.match(err('a.and').message, /expected a field name/);
  assert.match(err('x::1').message, /expected an enum member after ::/);
  assert.match(err('a[0]::B').message, /expected enum or alias.enum before ::/);
  assert.match(err('and').message, /unexpected keyword/);
});

test('unknown function and wrong arity', () => {
  assert.throws(() => parseExpr('sizeof(x)'), (e: unknown) => e instanceof ExprSyntaxError && e.at === 0 && /unknown function 'sizeof' \(known: len, min, max, any, all, count, find, crc32, crc32c, adler32, sha1, sha256, sum32, parse_int, zeroed, slice, cstr\)/.test(e.message));
  assert.throws(() => parseExpr('1 + eval("x")'), (e: unknown) => e instanceof ExprSyntaxError && e.at === 4 && /unknown function 'eval'/.test(e.message));
  assert.throws(() => parseExpr('constructor(1)'), /unknown function 'constructor'/);
  assert.throws(() => parseExpr('len(a, b)'), /len\(\) takes 1 arguments, got 2/);
  assert.throws(() => parseExpr('max()'), /max\(\) takes 1 to 16 arguments, got 0/);
  assert.throws(() => parseExpr('any(a)'), /any\(\) takes 2 arguments, got 1/);
});

test('names starting with _ are reserved to the built-ins', () => {
  for (const name of ['_root', '_parent', '_', '_index', '_offset', '_pos', '_region', '_file']) {
    assert.equal(parseExpr(name).k, 'special', name);
  }
  for (const bad of ['_foo', '__proto__', '_Root', '_1']) {
    assert.throws(() => parseExpr(bad), (e: unknown) => e instanceof ExprSyntaxError && /names starting with _ are reserved/.test(e.message), bad);
  }
});

test('nesting is limited (64 levels) so hostile schemas cannot overflow the stack', () => {
  const nest = (n: number): string => '('.repeat(n) + '1' + ')'.repeat(n);
  assert.equal(ev(nest(60)), 1);
  assert.throws(() => parseExpr(nest(100)), (e: unknown) => e instanceof ExprSyntaxError && /nested too deeply/.test(e.message));
  assert.throws(() => parseExpr('-'.repeat(100) + '1'), /nested too deeply/);
  assert.throws(() => parseExpr('not '.repeat(100) + 'true'), /nested too deeply/);
  assert.throws(() => parseExpr('a['.repeat(100) + '0' + ']'.repeat(100)), /nested too deeply/);
  assert.throws(() => parseExpr('1 ? '.repeat(100) + '1' + ' : 0'.repeat(100)), /nested too deeply/);
});

test('a long flat chain (1+1+...+1) counts toward the nesting limit', () => {
  const chain = (n: number): string => Array(n).fill('1').join(' + ');
  assert.equal(ev(chain(60)), 60);
  assert.throws(() => parseExpr(chain(100)), (e: unknown) => e instanceof ExprSyntaxError && /nested too deeply/.test(e.message));
  // 50 000 links would overflow the binder's and evaluator's stacks: refused by the parser
  assert.throws(() => parseExpr(chain(50_000)), ExprSyntaxError);
  assert.throws(() => parseExpr(Array(100).fill('a').join(' and ')), /nested too deeply/);
  // the count is per chain, not per expression
  assert.equal(ev(`(${chain(40)}) * (${chain(40)})`), 1600);
});

// ---------------------------------------------------------------------------------------------
// Integer semantics

test('integers are exact and never wrap at 32 bits', () => {
  assert.equal(ev('0xffffffff + 1 == 0x100000000'), true);
  assert.equal(ev('0xffffffff + 1'), 0x100000000);
  assert.equal(ev('(1 << 40) | 1'), 2 ** 40 + 1);
  assert.equal(ev('0xffffff00 + 0x200'), 0x100000100);
  assert.equal(ev('1 << 31'), 2147483648);
  assert.equal(ev('1 << 32'), 4294967296);
  assert.equal(ev('0x80000000 | 0'), 2147483648);
  assert.equal(ev('0xffffffff & 0xffffffff'), 4294967295);
  assert.equal(ev('0xffffffff ^ 0'), 4294967295);
  assert.equal(ev('~0xffffffff'), -4294967296);
  assert.equal(ev('0x100000000 >> 1'), 0x80000000);
  assert.equal(ev('-1 & 0xff'), 255);
  assert.equal(ev('-1 >> 4'), -1);
  assert.equal(ev('0 - 0x80000000'), -2147483648);
  assert.equal(ev('0xffffffff * 0xffffffff'), 0xfffffffe00000001n);
  assert.equal(ev('(1 << 63) >> 62'), 2);
});

test('integers above 2^53 are exact bigints; safe results come back as numbers', () => {
  assert.equal(ev('9007199254740993'), 9007199254740993n);
  assert.equal(ev('0x1fffffffffffff + 2'), 9007199254740993n);
  assert.equal(ev('0x1fffffffffffff + 2 - 2'), 0x1fffffffffffff);
  assert.equal(typeof ev('0x1fffffffffffff + 2 - 2'), 'number');
  assert.equal(ev('0xffffffffffffffff'), 0xffffffffffffffffn);
  assert.equal(ev('0xffffffffffffffff + 1'), 0x10000000000000000n);
  assert.equal(ev('0xffffffffffffffff >> 32'), 0xffffffff);
  assert.equal(ev('0xffffffffffffffff & 0xff'), 0xff);
  assert.equal(ev('0xffffffffffffffff / 3'), 0x5555555555555555n);
  assert.equal(ev('0xffffffffffffffff % 10'), 5);
  assert.equal(ev('-(0x8000000000000000)'), -0x8000000000000000n);
  assert.equal(ev('-0x8000000000000000 >> 1'), -0x4000000000000000n);
  assert.equal(ev('0x1fffffffffffff * 3'), 0x1fffffffffffffn * 3n);
});

test('number and bigint mix transparently', () => {
  const obj = { big: 5n, huge: 0xffffffffffffffffn, small: 5 };
  assert.equal(ev('big == 5', obj), true);
  assert.equal(ev('big == small', obj), true);
  assert.equal(ev('big + 1', obj), 6);
  assert.equal(typeof ev('big + 1', obj), 'number');
  assert.equal(ev('big < 10 and 10 < huge', obj), true);
  assert.equal(ev('huge == 0xffffffffffffffff', obj), true);
  assert.equal(ev('huge != 0xfffffffffffffffe', obj), true);
  assert.equal(ev('huge - huge', obj), 0);
  assert.equal(ev('min(huge, small, big)', obj), 5);
  assert.equal(ev('max(huge, small)', obj), 0xffffffffffffffffn);
  assert.equal(ev('big ? 1 : 2', obj), 1);
  assert.equal(ev('0 * huge ? 1 : 2', obj), 2);
});

test('division: truncates toward zero; by zero is an error in every path', () => {
  assert.equal(ev('7 / 2'), 3);
  assert.equal(ev('7 / -2'), -3);
  assert.equal(ev('-7 % 3'), -1);
  for (const src of ['1 / 0', '1 % 0', '0xffffffffffffffff / 0', '0xffffffffffffffff % 0', '5 / (3 - 3)']) {
    assert.throws(() => ev(src), (e: unknown) => e instanceof ExprTypeError && e.message === 'division by zero', src);
  }
});

test('shift counts are bounded', () => {
  assert.equal(ev('1 << 1024') !== undefined, true);
  assert.throws(() => ev('1 << 1025'), /shift count 1025 out of range 0..1024/);
  assert.throws(() => ev('1 >> -1'), /shift count -1 out of range/);
});

test('arithmetic on non-integers is a type error', () => {
  assert.throws(() => ev('"a" + 1'), /'\+' needs integers, got string "a"/);
  assert.throws(() => ev('true + 1'), /'\+' needs integers, got boolean true/);
  assert.throws(() => ev('x + 1', { x: null }), /got null \(an absent field\)/);
  assert.throws(() => ev('-"a"'), /'-' needs integers/);
  assert.throws(() => ev('~null'), /'~' needs integers/);
});

// ---------------------------------------------------------------------------------------------
// Comparison, logic, conditionals

test('== between bytes and strings compares byte for byte (latin1)', () => {
  const obj = { magic: Uint8Array.from([0x4d, 0x5a, 0, 0]), hi: Uint8Array.from([0xe9]) };
  assert.equal(ev('magic == "MZ\\0\\0"', obj), true);
  assert.equal(ev('"MZ\\x00\\x00" == magic', obj), true);
  assert.equal(ev('magic == "MZ"', obj), false);
  assert.equal(ev('magic != "PE\\0\\0"', obj), true);
  assert.equal(ev('hi == "\\xe9"', obj), true);
  assert.equal(ev('magic == magic', obj), true);
  assert.throws(() => ev('magic < "N"', obj), /'<' cannot compare 4 bytes with string/);
});

test('equality with null; comparisons across kinds are errors', () => {
  assert.equal(ev('x == null', { x: null }), true);
  assert.equal(ev('x != null', { x: 0 }), true);
  assert.equal(ev('null == 0'), false);
  assert.equal(ev('"abc" < "abd"'), true);
  assert.equal(ev('true == false'), false);
  assert.throws(() => ev('true == 1'), /cannot compare boolean true with integer 1/);
  assert.throws(() => ev('"1" == 1'), /cannot compare string "1" with integer 1/);
  assert.throws(() => ev('1 < null'), /'<' cannot compare/);
});

test('and / or / not (and && || !) short-circuit and give booleans', () => {
  assert.equal(ev('1 and 2'), true);
  assert.equal(ev('0 or null'), false);
  assert.equal(ev('not 0'), true);
  assert.equal(ev('!x', { x: null }), true);
  assert.equal(ev('false and 1 / 0'), false);
  assert.equal(ev('true or 1 / 0'), true);
  assert.equal(ev('x != null && x.a == 1', { x: null }), false);
  assert.throws(() => ev('"yes" and true'), /expected a condition, got string "yes"/);
});

test('?: evaluates only the branch taken', () => {
  assert.equal(ev('1 ? 2 : 1 / 0'), 2);
  assert.equal(ev('0 ? 1 / 0 : 3'), 3);
  assert.equal(ev('x == null ? "none" : x', { x: null }), 'none');
});

// ---------------------------------------------------------------------------------------------
// Names, members, indexing, specials

test('field paths, [i] and member access', () => {
  const obj = { hdr: { n: 2, items: [{ v: 10 }, { v: 20 }] }, bytes: Uint8Array.from([1, 2, 3]) };
  assert.equal(ev('hdr.items[1].v', obj), 20);
  assert.equal(ev('hdr.items[hdr.n - 1].v', obj), 20);
  assert.equal(ev('bytes[2]', obj), 3);
  assert.throws(() => ev('hdr.items[2]', obj), /index 2 out of range 0..1/);
  assert.throws(() => ev('hdr.items[-1]', obj), /index -1 out of range/);
  assert.throws(() => ev('hdr.items["0"]', obj), /index must be an integer/);
  assert.throws(() => ev('hdr[0]', obj), /cannot index a struct/);
  assert.throws(() => ev('hdr.missing', obj), /a struct has no field 'missing'/);
  assert.throws(() => ev('hdr.items.length', obj), /array of 2 has no field 'length'/);
  assert.throws(() => ev('bytes.length', obj), /3 bytes has no field 'length'/);
  assert.throws(() => ev('x.y', { x: null }), /cannot read 'y' of an absent field/);
});

test('member access cannot reach prototypes or inherited properties', () => {
  const obj = { s: { a: 1 }, arr: [1], str: 'abc' };
  for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'prototype']) {
    assert.throws(() => ev(`s.${name}`, obj), (e: unknown) => e instanceof ExprTypeError && e.message.includes(`has no field '${name}'`), name);
    assert.throws(() => ev(`arr.${name}`, obj), ExprTypeError, name);
    assert.throws(() => ev(`str.${name}`, obj), ExprTypeError, name);
    assert.throws(() => ev(`_region.${name}`, obj), ExprTypeError, name);
    // A bare name is a field of the current struct (or, for __proto__, a reserved _name).
    assert.throws(() => ev(name, {}), (e: unknown) => e instanceof ExprTypeError || e instanceof ExprSyntaxError, `bare ${name}`);
  }
  assert.throws(() => ev('s.constructor.constructor', obj), /has no field 'constructor'/);
  assert.throws(() => ev('str.length', obj), /has no field 'length'/);
});

test('special names: _root _parent _ _index _offset _pos _region _file', () => {
  const root = { magic: 7 };
  const parent = scope({ count: 3 }, { root });
  const s = scope({ me: 1 }, { parent, root, offset: 16, pos: 20, region: { offset: 4096, size: 64 }, file: { size: 9999 }, index: 2, elem: { x: 5 } });
  const e = (src: string): unknown => evaluate(parseExpr(src), s, { steps: 0, maxSteps: 1000 });
  assert.equal(e('_root.magic'), 7);
  assert.equal(e('_parent.count'), 3);
  assert.equal(e('_.x'), 5);
  assert.equal(e('_index'), 2);
  assert.equal(e('_offset'), 16);
  assert.equal(e('_pos'), 20);
  assert.equal(e('_region.offset'), 4096);
  assert.equal(e('_region.size'), 64);
  assert.equal(e('_file.size'), 9999);
  assert.throws(() => ev('_parent.x'), /_parent used in the root struct/);
  assert.throws(() => ev('_index'), /_index used outside an array/);
});

// ---------------------------------------------------------------------------------------------
// Functions

test('len min max', () => {
  const obj = { a: [1, 2, 3], b: Uint8Array.from([9, 9]), s: 'abcd' };
  assert.equal(ev('len(a)', obj), 3);
  assert.equal(ev('len(b)', obj), 2);
  assert.equal(ev('len(s)', obj), 4);
  assert.throws(() => ev('len(5)'), /len\(\) needs an array, bytes or a string, got integer 5/);
  assert.equal(ev('min(3, 1, 2)'), 1);
  assert.equal(ev('max(3, 1, 2)'), 3);
  assert.equal(ev('min(7)'), 7);
  assert.throws(() => ev('min(1, "a")'), /'min' needs integers/);
});

test('any all count find bind _ and _index to each element, and restore them', () => {
  const obj = { xs: [{ v: 1 }, { v: 5 }, { v: 9 }], empty: [] };
  assert.equal(ev('any(xs, _.v > 4)', obj), true);
  assert.equal(ev('any(xs, _.v > 9)', obj), false);
  assert.equal(ev('all(xs, _.v > 0)', obj), true);
  assert.equal(ev('all(xs, _.v > 1)', obj), false);
  assert.equal(ev('count(xs, _.v > 1)', obj), 2);
  assert.deepEqual(ev('find(xs, _.v > 1)', obj), { v: 5 });
  assert.equal(ev('find(xs, _.v > 100)', obj), null);
  assert.equal(ev('find(xs, _index == 2).v', obj), 9);
  assert.equal(ev('any(empty, 1)', obj), false);
  assert.equal(ev('all(empty, 0)', obj), true);
  assert.equal(ev('count(xs, any(xs, _.v > 8))', obj), 3);
  assert.throws(() => ev('any(5, 1)'), /any\(\) needs an array as its first argument/);
  const s = scope(obj, { elem: 'outer', index: 7 });
  evaluate(parseExpr('any(xs, _.v == 5)'), s, { steps: 0, maxSteps: 1000 });
  assert.equal(s.elem, 'outer');
  assert.equal(s.index, 7);
});

// ---------------------------------------------------------------------------------------------
// Step budget

test('the step budget stops runaway evaluation', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i);
  assert.equal(ev('count(xs, _ > 10)', { xs }), 989);
  assert.throws(() => ev('count(xs, count(xs, _ > 10) > 0)', { xs }, 100_000), StepLimitError);
  assert.throws(() => ev('1 + 2', {}, 2), StepLimitError);
  assert.equal(ev('1 + 2', {}, 3), 3);
});

// ---------------------------------------------------------------------------------------------
// Binding: enum references and names, checked when the schema loads

function enumDef(name: string, members: Record<string, bigint>): EnumDef {
  const byName = new Map(Object.entries(members));
  return { name, schemaId: 't', byName, byValue: new Map([...byName].map(([k, v]) => [v, k])) };
}

test('bind: enum::MEMBER and alias.enum::MEMBER become constants', () => {
  const color = enumDef('color', { RED: 1n, BIG: 0xffffffffffffffffn });
  const machine = enumDef('machine', { ARM64: 0xaa64n });
  const ctx = {
    enumLookup: (alias: string | null, name: string) => (alias === null && name === 'color' ? color : alias === 'pe' && name === 'machine' ? machine : null),
    names: new Set(['c', 'm']),
  };
  const b = (src: string): Expr => bindExpr(parseExpr(src), ctx);
  assert.equal(show(b('c == color::RED')), '(== c 1)');
  assert.equal(show(b('m == pe.machine::ARM64')), `(== m ${0xaa64})`);
  assert.equal(evaluate(b('c == color::BIG'), scope({ c: 0xffffffffffffffffn }), { steps: 0, maxSteps: 100 }), true);
  assert.throws(() => b('c == colour::RED'), (e: unknown) => e instanceof BindError && e.message === "unknown enum 'colour'");
  assert.throws(() => b('c == pe.colour::RED'), /unknown enum 'pe.colour'/);
  assert.throws(() => b('c == color::GREEN'), (e: unknown) => e instanceof BindError && /enum 'color' has no member 'GREEN'/.test(e.message) && e.hint === 'members: RED, BIG');
});

test('bind: bare names must be fields of the struct', () => {
  const ctx = { enumLookup: () => null, names: new Set(['size', 'offset']) };
  assert.doesNotThrow(() => bindExpr(parseExpr('size + offset + _root.x + find(a.b, _.c)'.replace('a.b', '_root.b')), ctx));
  assert.throws(() => bindExpr(parseExpr('sise + 1'), ctx), (e: unknown) => e instanceof BindError && e.message === "unknown field 'sise'" && e.hint === 'fields here: size, offset');
  assert.throws(() => bindExpr(parseExpr('x'), { enumLookup: () => null, names: new Set() }), (e: unknown) => e instanceof BindError && e.hint === 'this struct has no fields');
  // Member names after a dot are not checked statically (they depend on the value).
  assert.doesNotThrow(() => bindExpr(parseExpr('size.anything'), ctx));
  assert.doesNotThrow(() => bindExpr(parseExpr('whatever'), { enumLookup: () => null, names: null }));
});

// ---------------------------------------------------------------------------------------------
// Templates and formats

test('templates: text and ${expr[:format]} holes', () => {
  const parts = splitTemplate('at ${off:hex}, ${size:size} (${n}), ${a ? "x:y" : "z"}, ${b:dec}${c:raw}');
  const holes = parts.filter((x) => x.k === 'hole').map((x) => (x.k === 'hole' ? [x.hole.source, x.hole.format] : null));
  assert.deepEqual(holes, [['off', 'hex'], ['size', 'size'], ['n', 'auto'], ['a ? "x:y" : "z"', 'auto'], ['b', 'dec'], ['c', 'raw']]);
  assert.deepEqual(splitTemplate('cost $${x}'), [{ k: 'text', text: 'cost ${x}' }]);
  assert.deepEqual(splitTemplate('${s == "}"}').map((x) => x.k), ['hole']);
  // An unknown suffix is part of the expression (and then a syntax error when parsed).
  assert.deepEqual(splitTemplate('${x:bin}').map((x) => (x.k === 'hole' ? x.hole.source : '')), ['x:bin']);
  assert.throws(() => splitTemplate('oops ${x'), (e: unknown) => e instanceof TemplateSyntaxError && e.at === 5);
});

test('formats: hex dec size raw auto', () => {
  assert.equal(formatValue(255, 'hex'), '0xff');
  assert.equal(formatValue(-16, 'hex'), '-0x10');
  assert.equal(formatValue(0xffffffffffffffffn, 'hex'), '0xffffffffffffffff');
  assert.equal(formatValue(0xffffffffffffffffn, 'dec'), '18446744073709551615');
  assert.equal(formatValue(255, 'auto'), '255');
  assert.equal(formatValue(27234816, 'size'), '26 MiB');
  assert.equal(humanSize(100), '100 B');
  assert.equal(humanSize(1536), '1.5 KiB');
  assert.equal(formatValue(Uint8Array.from([0x4d, 0x5a, 0]), 'auto'), '"MZ\\x00"');
  assert.equal(formatValue(Uint8Array.from([0x4d, 0x5a, 0]), 'hex'), '4d5a00');
  assert.equal(formatValue('gzip', 'auto'), 'gzip');
  assert.equal(formatValue(null, 'hex'), 'null');
  assert.equal(formatValue(true, 'auto'), 'true');
  assert.equal(formatValue([1, 2], 'auto'), '[2 items]');
  assert.equal(formatValue({ a: 1 }, 'auto'), '{…}');
});

test('formatValue oct: octal with a leading 0, as file modes are written', () => {
  assert.equal(formatValue(0o100644, 'oct'), '0100644');
  assert.equal(formatValue(0o755n, 'oct'), '0755');
  assert.equal(formatValue(0, 'oct'), '0');
  assert.equal(formatValue(-7, 'oct'), '-07');
  assert.equal(formatValue('text', 'oct'), 'text', 'a format applies to integers only');
});
