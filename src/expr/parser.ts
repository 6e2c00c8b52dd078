/**
 * Expression parser: tokens -> AST (see Expr in ../types.ts). Precedence, lowest first:
 *   ?:   or ||   and &&   not   == != < <= > >=   |   ^   &   << >>   + -   * / %   unary - ~ !   postfix . [] ::
 * `not` binds like Python's (`not a == b` is `not (a == b)`); `!` binds like C's (`!a == b` is `(!a) == b`).
 * Bitwise operators bind tighter than comparisons (unlike C), so `flags & 1 == 1` means `(flags & 1) == 1`.
 */
import type { BinaryOp, BuiltinFn, Expr, SpecialName } from '../types.js';
import { FUNCTIONS, isPureFn, PURE_FNS } from './functions.js';
import { LexError, tokenize, type Token } from './lexer.js';

export class ExprSyntaxError extends Error {
  constructor(message: string, readonly at: number) {
    super(message);
  }
}

const SPECIALS: ReadonlySet<string> = new Set<SpecialName>(['_root', '_parent', '_', '_index', '_offset', '_pos', '_region', '_file']);
const BUILTINS: Readonly<Record<BuiltinFn, { min: number; max: number }>> = {
  len: { min: 1, max: 1 },
  min: { min: 1, max: 16 },
  max: { min: 1, max: 16 },
  any: { min: 2, max: 2 },
  all: { min: 2, max: 2 },
  count: { min: 2, max: 2 },
  find: { min: 2, max: 2 },
};
const KEYWORDS = new Set(['and', 'or', 'not', 'true', 'false', 'null']);

const LEVELS: readonly (readonly string[])[] = [
  ['or', '||'],
  ['and', '&&'],
  ['==', '!=', '<', '<=', '>', '>='],
  ['|'],
  ['^'],
  ['&'],
  ['<<', '>>'],
  ['+', '-'],
  ['*', '/', '%'],
];
const CANONICAL: Record<string, BinaryOp> = { '||': 'or', '&&': 'and' };
/** The level of the comparisons, where `not` applies. */
const NOT_LEVEL = 2;

/** Maximum nesting, so a hostile schema cannot overflow the stack of the parser or the evaluator. */
const MAX_NESTING = 64;

export function parseExpr(src: string): Expr {
  let tokens: Token[];
  try {
    tokens = tokenize(src);
  } catch (e) {
    if (e instanceof LexError) throw new ExprSyntaxError(e.message, e.at);
    throw e;
  }
  let i = 0;
  let depth = 0;
  const peek = (): Token => tokens[i]!;
  const isOp = (text: string): boolean => {
    const t = tokens[i]!;
    return (t.kind === 'op' || t.kind === 'ident') && t.text === text;
  };
  const expect = (text: string): void => {
    if (!isOp(text)) fail(`expected '${text}'`);
    i++;
  };
  const fail = (msg: string, t: Token = peek()): never => {
    throw new ExprSyntaxError(`${msg}, found ${t.kind === 'eof' ? 'end of expression' : `'${t.text}'`}`, t.at);
  };

  const conditional = (): Expr => {
    if (++depth > MAX_NESTING) fail('expression nested too deeply');
    const test = binary(0);
    let result = test;
    if (isOp('?')) {
      i++;
      const then = conditional();
      expect(':');
      const otherwise = conditional();
      result = { k: 'cond', test, then, else: otherwise };
    }
    depth--;
    return result;
  };

  const binary = (level: number): Expr => {
    if (level === LEVELS.length) return unary();
    // `not` sits between `and` and the comparisons, as in Python: `not a == b` is `not (a == b)`.
    if (level === NOT_LEVEL && peek().kind === 'ident' && peek().text === 'not') {
      i++;
      if (++depth > MAX_NESTING) fail('expression nested too deeply');
      const arg = binary(NOT_LEVEL);
      depth--;
      return { k: 'unary', op: 'not', arg };
    }
    let left = binary(level + 1);
    const ops = LEVELS[level]!;
    const comparison = level === 2;
    // A chain a+b+c+... is built iteratively but nests as deep as it is long: count each link.
    let links = 0;
    while (peek().kind !== 'eof' && ops.includes(peek().text) && (peek().kind === 'op' || peek().kind === 'ident')) {
      if (++depth > MAX_NESTING) fail('expression nested too deeply');
      links++;
      const text = tokens[i++]!.text;
      const op = (CANONICAL[text] ?? text) as BinaryOp;
      const right = binary(level + 1);
      left = { k: 'binary', op, left, right };
      if (comparison && ops.includes(peek().text)) fail('comparisons do not chain; use and');
    }
    depth -= links;
    return left;
  };

  const unary = (): Expr => {
    const t = peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '~' || t.text === '!')) {
      i++;
      if (++depth > MAX_NESTING) fail('expression nested too deeply');
      const arg = unary();
      depth--;
      return { k: 'unary', op: t.text === '!' ? 'not' : (t.text as '-' | '~'), arg };
    }
    return postfix(primary());
  };

  const postfix = (base: Expr): Expr => {
    let e = base;
    for (;;) {
      if (isOp('.')) {
        i++;
        const t = peek();
        if (t.kind !== 'ident' || KEYWORDS.has(t.text)) fail('expected a field name after .');
        i++;
        e = { k: 'member', object: e, name: t.text };
      } else if (isOp('[')) {
        i++;
        const index = conditional();
        expect(']');
        e = { k: 'index', object: e, index };
      } else if (isOp('::')) {
        i++;
        const t = peek();
        if (t.kind !== 'ident') fail('expected an enum member after ::');
        i++;
        if (e.k === 'name') e = { k: 'enumref', schema: null, enumName: e.name, member: t.text };
        else if (e.k === 'member' && e.object.k === 'name') e = { k: 'enumref', schema: e.object.name, enumName: e.name, member: t.text };
        else fail('expected enum or alias.enum before ::');
      } else {
        return e;
      }
    }
  };

  const primary = (): Expr => {
    const t = peek();
    if (t.kind === 'int') {
      i++;
      return { k: 'int', value: t.int! };
    }
    if (t.kind === 'str') {
      i++;
      return { k: 'str', value: t.str! };
    }
    if (t.kind === 'op' && t.text === '(') {
      i++;
      const e = conditional();
      expect(')');
      return e;
    }
    if (t.kind === 'ident') {
      i++;
      if (t.text === 'true' || t.text === 'false') return { k: 'bool', value: t.text === 'true' };
      if (t.text === 'null') return { k: 'null' };
      if (KEYWORDS.has(t.text)) fail('unexpected keyword', t);
      if (isOp('(')) {
        const pure = isPureFn(t.text) ? FUNCTIONS[t.text] : null;
        if (!pure && !Object.hasOwn(BUILTINS, t.text)) fail(`unknown function '${t.text}' (known: ${[...Object.keys(BUILTINS), ...PURE_FNS].join(', ')})`, t);
        const fn = t.text as BuiltinFn;
        i++;
        const args: Expr[] = [];
        if (!isOp(')')) {
          args.push(conditional());
          while (isOp(',')) {
            i++;
            args.push(conditional());
          }
        }
        expect(')');
        const arity = pure ?? BUILTINS[fn];
        if (args.length < arity.min || args.length > arity.max) {
          throw new ExprSyntaxError(`${t.text}() takes ${arity.min === arity.max ? arity.min : `${arity.min} to ${arity.max}`} arguments, got ${args.length}`, t.at);
        }
        return pure ? { k: 'apply', fn: t.text as keyof typeof FUNCTIONS, args } : { k: 'call', fn, args };
      }
      if (t.text.startsWith('_')) {
        if (!SPECIALS.has(t.text)) fail(`unknown built-in name (names starting with _ are reserved: ${[...SPECIALS].join(' ')})`, t);
        return { k: 'special', name: t.text as SpecialName };
      }
      return { k: 'name', name: t.text };
    }
    return fail('expected a value');
  };

  const e = conditional();
  if (peek().kind !== 'eof') fail('unexpected text after the expression');
  return e;
}
