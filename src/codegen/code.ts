/**
 * The safe code builder for generated parsers (after ajv's lib/compile/codegen).
 *
 * Code can only be made by the `_` tagged template, whose literal parts are written in kimg's own
 * source. Everything interpolated into it is escaped by type:
 *   - Code    -> inserted as is (it was itself built by `_`)
 *   - Name    -> an identifier; only made by `Names`, from an allow-listed prefix and a counter
 *   - string  -> a string literal (JSON escaping, plus U+2028/U+2029), never raw text
 *   - number  -> a finite number literal; bigint -> a bigint literal; boolean, null -> themselves
 * So no text from a schema (field ids, string constants, messages) can ever become code: it can only
 * appear inside a quoted string literal, or be passed to the generated function as data.
 */

const SAFE_ID = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Reserved words and globals that a generated identifier must never be. */
const RESERVED = new Set([
  'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum',
  'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'implements', 'import', 'in', 'instanceof', 'interface',
  'let', 'new', 'null', 'package', 'private', 'protected', 'public', 'return', 'static', 'super', 'switch', 'this', 'throw',
  'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield', 'async', 'of', 'get', 'set',
  'arguments', 'eval', 'undefined', 'NaN', 'Infinity', 'globalThis', 'Function', 'Object', 'constructor', 'prototype', '__proto__',
]);

const TOKEN: unique symbol = Symbol('kimg.code');

/** A fragment of trusted code. Only `_` (and the helpers below, which use it) can create one. */
export class Code {
  readonly #s: string;
  constructor(token: typeof TOKEN, s: string) {
    if (token !== TOKEN) throw new Error('Code can only be built with the _ template');
    this.#s = s;
  }
  toString(): string {
    return this.#s;
  }
  get isEmpty(): boolean {
    return this.#s === '';
  }
}

/** A generated identifier. */
export class Name {
  readonly #s: string;
  constructor(token: typeof TOKEN, s: string) {
    if (token !== TOKEN) throw new Error('Names are made by Names.make');
    if (!SAFE_ID.test(s) || RESERVED.has(s)) throw new Error(`unsafe identifier ${JSON.stringify(s)}`);
    this.#s = s;
  }
  toString(): string {
    return this.#s;
  }
}

/** Prefixes generated names may start with; names are prefix + counter, so never schema text. */
const PREFIX = /^[A-Za-z]{1,3}$/;

export class Names {
  private n = 0;
  make(prefix: string): Name {
    if (!PREFIX.test(prefix)) throw new Error(`bad name prefix ${JSON.stringify(prefix)}`);
    return new Name(TOKEN, `${prefix}${this.n++}`);
  }
  /** A fixed name of the generated code's own vocabulary (helpers, parameters). */
  static fixed(s: string): Name {
    return new Name(TOKEN, s);
  }
}

export type Arg = Code | Name | string | number | bigint | boolean | null;

/** A string as a JavaScript string literal: JSON escaping, with the line separators escaped too. */
export function quote(s: string): string {
  if (typeof s !== 'string') throw new TypeError('quote() needs a string');
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function interpolate(a: Arg): string {
  if (a instanceof Code || a instanceof Name) return a.toString();
  switch (typeof a) {
    case 'string':
      return quote(a);
    case 'number':
      if (!Number.isFinite(a)) throw new Error(`cannot interpolate number ${a}`);
      return a < 0 || Object.is(a, -0) ? `(${Object.is(a, -0) ? '-0' : String(a)})` : String(a);
    case 'bigint':
      return a < 0n ? `(${a.toString()}n)` : `${a.toString()}n`;
    case 'boolean':
      return a ? 'true' : 'false';
    default:
      if (a === null) return 'null';
      throw new Error(`cannot interpolate ${typeof a}`);
  }
}

/** The code template: literal parts are trusted, interpolations escaped by type. */
export function _(strings: TemplateStringsArray, ...args: Arg[]): Code {
  let s = strings[0]!;
  for (let i = 0; i < args.length; i++) s += interpolate(args[i]!) + strings[i + 1]!;
  return new Code(TOKEN, s);
}

export const nil = new Code(TOKEN, '');

export function join(parts: readonly (Code | Name)[], sep: Code = nil): Code {
  let s = '';
  for (let i = 0; i < parts.length; i++) s += (i ? sep.toString() : '') + parts[i]!.toString();
  return new Code(TOKEN, s);
}

/** A literal value as code. */
export function lit(v: string | number | bigint | boolean | null): Code {
  return new Code(TOKEN, interpolate(v));
}

/** `obj["key"]`: property access with the key as an escaped string literal. */
export function prop(obj: Code | Name, key: string): Code {
  return _`${obj}[${key}]`;
}

/**
 * An object-literal key. Quoted (escaped) always; `__proto__` becomes a computed key so that it
 * defines an own property instead of setting the prototype.
 */
export function key(k: string): Code {
  return k === '__proto__' ? _`[${k}]` : lit(k);
}

/** `{ "a": x, "b": y }` with keys in the given order. */
export function objectLiteral(entries: readonly (readonly [string, Code | Name])[]): Code {
  return _`{${join(entries.map(([k, v]) => _`${key(k)}: ${v}`), _`, `)}}`;
}
