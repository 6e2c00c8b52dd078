
import type { BinaryOp, Expr, FieldDef, TypeDef } from '../types.js';
import { FUNCTIONS, type FnResult } from '../expr/functions.js';
import { _, join, lit, Names, prop, type Code, type Name } from './code.js';

export type SType =
  | { readonly k: 'num'; readonly lo: number; readonly hi: number; readonly nul: boolean }
  | { readonly k: 'big'; readonly nul: boolean }
  | { readonly k: 'int'; readonly nul: boolean }
  | { readonly k: 'bool'; readonly nul: boolean }
  | { readonly k: 'str'; readonly nul: boolean }
  | { readonly k: 'bytes'; readonly nul: boolean }
  | { readonly k: 'null' }
  | { readonly k: 'struct'; readonly type: TypeDef; readonly nul: boolean }
  | { readonly k: 'fields'; readonly fields: ReadonlyMap<string, SType>; readonly nul: boolean }
  | { readonly k: 'array'; readonly elem: SType; readonly nul: boolean }
  | { readonly k: 'any' };

export const ANY: SType = { k: 'any' };
const INT: SType = { k: 'int', nul: false };
const BOOL: SType = { k: 'bool', nul: false };
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const POS_RANGE: SType = { k: 'num', lo: 0, hi: MAX_SAFE, nul: false };

export function num(lo: number, hi: number): SType {
  return { k: 'num', lo, hi, nul: false };
}

function nullable(t: SType): boolean {
  return t.k === 'null' || t.k === 'any' || t.nul;
}

export function withNull(t: SType): SType {
  if (t.k === 'null' || t.k === 'any') return t;
  return { ...t, nul: true };
}

function isIntT(t: SType): boolean {
  return t.k === 'num' || t.k === 'big' || t.k === 'int';
}

/** The fixed names of the runtime helpers inside generated code. */
export function rt(name: string): Name {
  if (!/^[a-zA-Z0-9]+$/.test(name)) throw new Error('bad helper name');
  return Names.fixed(`r_${name}`);
}

/** The type of a field's value once its struct is parsed (value fields: unknown from outside). */
export function fieldType(f: FieldDef): SType {
  let t: SType;
  switch (f.kind) {
    case 'int': {
      const it = intType(f.bytes, f.signed);
      if (f.bits) {
        const m = new Map<string, SType>([['value', it]]);
        for (const b of f.bits) m.set(b.id, b.width === 1 && !b.enumRef ? BOOL : num(0, 2 ** b.width - 1));
        t = { k: 'fields', fields: m, nul: false };
      } else t = it;
      break;
    }
    case 'bytes': t = { k: 'bytes', nul: false }; break;
    case 'str': t = { k: 'str', nul: false }; break;
    case 'struct': t = { k: 'struct', type: f.type.target!, nul: false }; break;
    default: t = ANY;
  }
  if (f.repeat) t = { k: 'array', elem: t, nul: false };
  return f.when ? withNull(t) : t;
}

export function intType(bytes: number, signed: boolean): SType {
  if (bytes === 8) return { k: 'big', nul: false };
  const bits = bytes * 8;
  return signed ? num(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) : num(0, 2 ** bits - 1);
}

/** The type a `value:` field stores (bigints are normalised). */
export function storedType(t: SType): SType {
  if (t.k === 'big') return { k: 'int', nul: t.nul };
  return t;
}

export interface Binding {
  readonly code: Code;
  readonly t: SType;
}

export interface ExprEnv {
  readonly names: Names;
  /** `let` temporaries the enclosing function must declare. */
  readonly temps: Name[];
  readonly C: Code;
  /** A bare field name of the current struct. */
  local(name: string): Binding;
  readonly parent: Code;
  readonly root: Code;
  readonly index: Code;
  readonly offset: Code;
  readonly pos: Code;
  readonly region: Code;
  readonly elem: Binding | null;
  readonly loopIndex: Code | null;
}

export class ExprGen {
  constructor(private readonly env: ExprEnv, private readonly checked: boolean) {}

  private temp(): Name {
    const t = this.env.names.make('x');
    this.env.temps.push(t);
    return t;
  }

  /** Node code, preceded by a step in checked mode. */
  private step(code: Code): Code {
    return this.checked ? _`(${rt('st')}(${this.env.C}), ${code})` : code;
  }

  gen(e: Expr): Binding {
    const b = this.node(e);
    return { code: this.step(b.code), t: b.t };
  }

  truthy(b: Binding): Code {
    const t = b.t;
    if (t.k === 'bool') return t.nul ? _`(${b.code} === true)` : b.code;
    if (t.k === 'num' && !t.nul) return _`(${b.code} !== 0)`;
    if (t.k === 'big' && !t.nul) return _`(${b.code} !== 0n)`;
    return _`${rt('truthy')}(${b.code})`;
  }

  private node(e: Expr): Binding {
    const env = this.env;
    switch (e.k) {
      case 'int': {
        const n = Number(e.value);
        if (Number.isSafeInteger(n) && BigInt(n) === e.value) return { code: lit(n), t: num(n, n) };
        return { code: lit(e.value), t: INT };
      }
      case 'str': return { code: lit(e.value), t: { k: 'str', nul: false } };
      case 'bool': return { code: lit(e.value), t: BOOL };
      case 'null': return { code: lit(null), t: { k: 'null' } };
      case 'name': return env.local(e.name);
      case 'special':
        switch (e.name) {
          case '_root': return { code: env.root, t: ANY };
          case '_parent': return { code: _`(${env.parent} === null ? ${rt('noParent')}() : ${env.parent})`, t: ANY };
          case '_': return env.elem ?? { code: lit(null), t: { k: 'null' } };
          case '_index':
            if (env.loopIndex) return { code: env.loopIndex, t: POS_RANGE };
            return { code: _`(${env.index} === null ? ${rt('noIndex')}() : ${env.index})`, t: POS_RANGE };
          case '_offset': return { code: env.offset, t: POS_RANGE };
          case '_pos': return { code: env.pos, t: POS_RANGE };
          case '_region': return { code: env.region, t: { k: 'fields', fields: new Map([['offset', POS_RANGE], ['size', POS_RANGE]]), nul: false } };
          case '_file': return { code: _`(${env.C}.file ?? (${env.C}.file = { size: ${env.C}.size }))`, t: { k: 'fields', fields: new Map([['size', POS_RANGE]]), nul: false } };
        }
        throw new Error('unknown special');
      case 'member': {
        if (e.object.k === 'special' && e.object.name === '_parent') {
          return { code: _`${rt('member')}(${env.parent} === null ? ${rt('noParent')}() : ${env.parent}, ${e.name})`, t: ANY };
        }
        if (e.object.k === 'special' && e.object.name === '_file' && e.name === 'size') {
          // `_file.size` without making the object: two steps, as evaluate takes.
          return { code: this.step(_`${env.C}.size`), t: POS_RANGE };
        }
        const o = this.gen(e.object);
        return this.member(o, e.name);
      }
      case 'index': {
        const o = this.gen(e.object);
        const i = this.gen(e.index);
        const t: SType = o.t.k === 'array' ? o.t.elem : o.t.k === 'bytes' ? num(0, 255) : ANY;
        return { code: _`${rt('indexed')}(${o.code}, ${i.code})`, t };
      }
      case 'enumref':
        return { code: _`${rt('unbound')}(${e.enumName}, ${e.member})`, t: ANY };
      case 'unary': {
        const a = this.gen(e.arg);
        if (e.op === 'not') return { code: _`!${this.truthy(a)}`, t: BOOL };
        if (e.op === '~') return { code: _`${rt('invert')}(${a.code})`, t: INT };
        if (a.t.k === 'num' && !a.t.nul) {
          const x = this.temp();
          return { code: _`((${x} = ${a.code}) === 0 ? 0 : -${x})`, t: num(-a.t.hi, -a.t.lo) };
        }
        return { code: _`${rt('negate')}(${a.code})`, t: INT };
      }
      case 'binary':
        return this.binary(e.op, e.left, e.right);
      case 'cond': {
        const test = this.gen(e.test);
        const a = this.gen(e.then);
        const b = this.gen(e.else);
        return { code: _`(${this.truthy(test)} ? ${a.code} : ${b.code})`, t: union(a.t, b.t) };
      }
      case 'call':
        return this.call(e);
      case 'apply': {
        const args = e.args.map((x) => this.gen(x));
        return { code: _`${rt('callPure')}(${e.fn}, [${join(args.map((x) => x.code), _`, `)}])`, t: resultType(FUNCTIONS[e.fn].result) };
      }
    }
  }

  private member(o: Binding, name: string): Binding {
    const t = o.t;
    let ft: SType | undefined;
    if (t.k === 'struct') {
      const f = t.type.fields.find((x) => x.id === name);
      if (f) ft = fieldType(f);
    } else if (t.k === 'fields') ft = t.fields.get(name);
    if (!ft || (t.k !== 'struct' && t.k !== 'fields')) return { code: _`${rt('member')}(${o.code}, ${name})`, t: ANY };
    if (!t.nul) return { code: prop(_`${o.code}`, name), t: ft };
    const x = this.temp();
    return { code: _`((${x} = ${o.code}) === null ? ${rt('member')}(${x}, ${name}) : ${prop(x, name)})`, t: ft };
  }

  private binary(op: BinaryOp, l: Expr, r: Expr): Binding {
    if (op === 'and' || op === 'or') {
      const a = this.gen(l);
      const b = this.gen(r);
      return { code: _`(${this.truthy(a)} ${op === 'and' ? _`&&` : _`||`} ${this.truthy(b)})`, t: BOOL };
    }
    const a = this.gen(l);
    const b = this.gen(r);
    const A = a.t;
    const B = b.t;
    switch (op) {
      case '==':
      case '!=': {
        const loose = (isIntT(A) && isIntT(B)) || A.k === 'null' || B.k === 'null' || (A.k === B.k && (A.k === 'str' || A.k === 'bool'));
        if (loose) return { code: op === '==' ? _`(${a.code} == ${b.code})` : _`(${a.code} != ${b.code})`, t: BOOL };
        return { code: op === '==' ? _`${rt('equals')}(${a.code}, ${b.code})` : _`!${rt('equals')}(${a.code}, ${b.code})`, t: BOOL };
      }
      case '<': case '<=': case '>': case '>=': {
        const direct = !nullable(A) && !nullable(B) && ((isIntT(A) && isIntT(B)) || (A.k === 'str' && B.k === 'str'));
        if (direct) return { code: _`(${a.code} ${relOp(op)} ${b.code})`, t: BOOL };
        return { code: _`${rt('compare')}(${op}, ${a.code}, ${b.code})`, t: BOOL };
      }
    }
    if (A.k === 'num' && B.k === 'num' && !A.nul && !B.nul) {
      let range: [number, number] | null = null;
      if (op === '+') range = [A.lo + B.lo, A.hi + B.hi];
      else if (op === '-') range = [A.lo - B.hi, A.hi - B.lo];
      else if (op === '*') {
        const p = [A.lo * B.lo, A.lo * B.hi, A.hi * B.lo, A.hi * B.hi];
        range = [Math.min(...p), Math.max(...p)];
      }
      if (range && range[0] >= -MAX_SAFE && range[1] <= MAX_SAFE) {
        return { code: _`(${a.code} ${arithOp(op)} ${b.code})`, t: num(range[0], range[1]) };
      }
      const small = A.lo >= 0 && B.lo >= 0 && A.hi <= 0x7fffffff && B.hi <= 0x7fffffff;
      if (small && (op === '&' || op === '|' || op === '^')) {
        return { code: _`(${a.code} ${arithOp(op)} ${b.code})`, t: num(0, 0x7fffffff) };
      }
      if (op === '/' || op === '%') {
        const m = Math.max(Math.abs(A.lo), Math.abs(A.hi));
        return { code: _`${rt('arith')}(${op}, ${a.code}, ${b.code})`, t: num(-m, m) };
      }
    }
    return { code: _`${rt('arith')}(${op}, ${a.code}, ${b.code})`, t: INT };
  }

  private call(e: Extract<Expr, { k: 'call' }>): Binding {
    switch (e.fn) {
      case 'len': {
        const a = this.gen(e.args[0]!);
        return { code: _`${rt('length')}(${a.code})`, t: POS_RANGE };
      }
      case 'min':
      case 'max': {
        const args = e.args.map((x) => this.gen(x));
        const allNum = args.length > 0 && args.every((x) => x.t.k === 'num' && !x.t.nul);
        const t: SType = allNum
          ? num(Math.min(...args.map((x) => (x.t as { lo: number }).lo)), Math.max(...args.map((x) => (x.t as { hi: number }).hi)))
          : INT;
        return { code: _`${rt('extreme')}(${e.fn}, [${join(args.map((x) => x.code), _`, `)}])`, t };
      }
      case 'any':
      case 'all':
      case 'count':
      case 'find': {
        const arr = this.gen(e.args[0]!);
        const el = this.env.names.make('e');
        const ix = this.env.names.make('i');
        const elemT: SType = arr.t.k === 'array' ? arr.t.elem : ANY;
        const inner = new ExprGen({ ...this.env, elem: { code: _`${el}`, t: elemT }, loopIndex: _`${ix}` }, true);
        const body = inner.gen(e.args[1]!);
        const t: SType = e.fn === 'count' ? POS_RANGE : e.fn === 'find' ? withNull(elemT) : BOOL;
        return { code: _`${rt('loop')}(${e.fn}, ${arr.code}, (${el}, ${ix}) => ${body.code})`, t };
      }
    }
  }
}

/** The compiler's static type of a pure function's result. */
function resultType(r: FnResult): SType {
  switch (r) {
    case 'u32': return num(0, 0xffffffff);
    case 'int': return INT;
    case 'bytes': return { k: 'bytes', nul: false };
    case 'str': return { k: 'str', nul: false };
  }
}

function relOp(op: '<' | '<=' | '>' | '>='): Code {
  return op === '<' ? _`<` : op === '<=' ? _`<=` : op === '>' ? _`>` : _`>=`;
}

function arithOp(op: string): Code {
  switch (op) {
    case '+': return _`+`;
    case '-': return _`-`;
    case '*': return _`*`;
    case '&': return _`&`;
    case '|': return _`|`;
    case '^': return _`^`;
  }
  throw new Error(`no inline operator for ${op}`);
}

function union(a: SType, b: SType): SType {
  if (a.k === 'null') return withNull(b);
  if (b.k === 'null') return withNull(a);
  if (a.k === 'num' && b.k === 'num') return { k: 'num', lo: Math.min(a.lo, b.lo), hi: Math.max(a.hi, b.hi), nul: a.nul || b.nul };
  if (isIntT(a) && isIntT(b)) return { k: 'int', nul: nullable(a) || nullable(b) };
  if ((a.k === 'bool' || a.k === 'str' || a.k === 'bytes') && a.k === b.k) return { k: a.k, nul: a.nul || b.nul };
  return ANY;
}
