/**
 * The reference engine: walks a schema's type model over a byte source and builds plain objects.
 * It knows nothing of any format; everything it does is said by the schema. The compiled engine
 * (../codegen) must agree with it on every input, errors included.
 */
import type { ByteSource } from '../core/bytes.js';
import { latin1 } from '../core/bytes.js';
import { KimgError, LimitError, ParseError } from '../core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';
import { evaluate, StepLimitError, type Budget, type Scope } from '../expr/evaluate.js';
import { formatValue, hexInt, quoteBytes } from '../expr/format.js';
import { equals, ExprTypeError, isInt, norm, truthy } from '../expr/values.js';
import type {
  BitDef, BytesField, CheckDef, CompiledExpr, FieldDef, IntField, SchemaDef, Severity, StrField, Template, TypeDef, TypeRef,
} from '../types.js';

export type Struct = Record<string, unknown>;

/** Where each field of a struct came from. */
export interface StructLayout {
  readonly type: TypeDef;
  /** Absolute offset of the struct. */
  readonly offset: number;
  size: number;
  /** Aligned with type.fields; null for a field that was absent (if: false). */
  readonly fields: (FieldLayout | null)[];
}

export interface FieldLayout {
  readonly offset: number;
  readonly size: number;
  /** The struct parsed for a struct or switch field. */
  readonly struct: StructLayout | null;
  /** One entry per element for arrays. */
  readonly elements: FieldLayout[] | null;
}

/** A check's outcome: failed error checks throw; warnings and passes are recorded here. */
export interface CheckOutcome {
  readonly id: string;
  readonly path: string;
  readonly severity: Severity;
  readonly ok: boolean;
  readonly message: string;
}

export interface ParseOptions {
  /** Absolute offset where the root struct starts (default 0). */
  readonly offset?: number;
  readonly limits?: Limits;
  /** Record offsets and sizes of every field (needed by dump; off for speed). */
  readonly layout?: boolean;
}

export interface ParseResult {
  readonly schema: SchemaDef;
  readonly value: Struct;
  readonly layout: StructLayout | null;
  readonly checks: CheckOutcome[];
}

interface Region {
  readonly start: number;
  readonly end: number;
  /** What expressions see as `_region`. */
  readonly info: { readonly offset: number; readonly size: number };
}

export function interpret(schema: SchemaDef, source: ByteSource, options: ParseOptions = {}): ParseResult {
  const run = new Run(schema, source, options);
  const root = schema.root.target!;
  const start = options.offset ?? 0;
  const region: Region = { start: 0, end: source.size, info: { offset: 0, size: source.size } };
  if (start < 0 || start > source.size) {
    throw new ParseError('out-of-bounds', `start offset ${hexInt(start)} is outside the input (${source.size} bytes)`, { schema: schema.id, offset: start });
  }
  const { value, layout } = run.struct(root, region, start, null);
  return { schema, value, layout, checks: run.checks };
}

class Run {
  readonly limits: Limits;
  readonly budget: Budget;
  readonly checks: CheckOutcome[] = [];
  private readonly path: string[] = [];
  private depth = 0;
  private readonly withLayout: boolean;
  private readonly file: { readonly size: number };

  constructor(private readonly schema: SchemaDef, private readonly src: ByteSource, options: ParseOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.budget = { steps: 0, maxSteps: this.limits.maxExprSteps };
    this.withLayout = options.layout ?? false;
    this.file = { size: src.size };
  }

  struct(type: TypeDef, region: Region, pos: number, parent: Scope | null, index: number | null = null): { value: Struct; layout: StructLayout | null; end: number } {
    if (++this.depth > this.limits.maxDepth) throw this.located(new LimitError('maxDepth', this.limits.maxDepth), pos);
    // All keys first, in declaration order: every struct of a type gets the same hidden class.
    const obj: Struct = {};
    for (const f of type.fields) obj[f.id] = null;
    const scope: Scope = {
      obj,
      parent,
      root: parent ? parent.root : obj,
      offset: pos - region.start,
      pos: pos - region.start,
      region: region.info,
      file: this.file,
      index,
      elem: null,
    };
    const layout: StructLayout | null = this.withLayout ? { type, offset: pos, size: 0, fields: [] } : null;
    let cursor = pos;
    let furthest = pos;
    for (const f of type.fields) {
      this.path.push(f.id);
      scope.pos = cursor - region.start;
      if (f.when && !this.cond(f.when, scope, cursor)) {
        layout?.fields.push(null);
        this.path.pop();
        continue;
      }
      if (f.at) cursor = region.start + this.position(f.at, scope, region, cursor);
      scope.pos = cursor - region.start;
      const r = f.repeat ? this.array(f, type, region, cursor, scope) : this.field(f, type, region, cursor, scope, null);
      obj[f.id] = r.value;
      layout?.fields.push(r.layout);
      if (f.kind !== 'value') cursor = r.end;
      if (cursor > furthest) furthest = cursor;
      this.path.pop();
    }
    scope.pos = cursor - region.start;
    for (const c of type.checks) this.check(c, scope, pos);
    if (layout) layout.size = cursor - pos;
    this.depth--;
    return { value: obj, layout, end: cursor };
  }

  private array(f: FieldDef, type: TypeDef, region: Region, pos: number, scope: Scope): { value: unknown[]; layout: FieldLayout | null; end: number } {
    const rep = f.repeat!;
    const out: unknown[] = [];
    const elements: FieldLayout[] | null = this.withLayout ? [] : null;
    let cursor = pos;
    if (rep.k === 'count') {
      const n = this.eval(rep.count, scope, pos);
      if (!isInt(n) || n < 0) throw this.fail('bad-count', `count must be a non-negative integer, got ${formatValue(n, 'auto')}`, pos, { expected: 'an integer >= 0' });
      if (n > this.limits.maxArrayCount) throw this.located(new LimitError('maxArrayCount', this.limits.maxArrayCount), pos).locate({ path: this.pathText() });
      for (let i = 0; i < Number(n); i++) {
        this.path.push(`[${i}]`);
        const r = this.field(f, type, region, cursor, scope, i);
        out.push(r.value);
        elements?.push(r.layout!);
        cursor = r.end;
        this.path.pop();
      }
    } else {
      let i = 0;
      while (cursor < region.end) {
        if (i >= this.limits.maxArrayCount) throw this.located(new LimitError('maxArrayCount', this.limits.maxArrayCount), cursor);
        this.path.push(`[${i}]`);
        const r = this.field(f, type, region, cursor, scope, i);
        if (r.end <= cursor) throw this.fail('no-progress', 'an element of a to-end array read no bytes', cursor);
        out.push(r.value);
        elements?.push(r.layout!);
        cursor = r.end;
        this.path.pop();
        i++;
      }
    }
    return { value: out, layout: elements ? { offset: pos, size: cursor - pos, struct: null, elements } : null, end: cursor };
  }

  private field(f: FieldDef, type: TypeDef, region: Region, pos: number, scope: Scope, index: number | null): { value: unknown; layout: FieldLayout | null; end: number } {
    switch (f.kind) {
      case 'int': {
        this.need(pos, f.bytes, region);
        const v = this.readInt(f, pos, type);
        if (f.constant) {
          if ((typeof v === 'bigint' ? v : BigInt(v)) !== f.constant.value) {
            this.mismatch(f.constant.severity, f.constant.message, scope, pos, `${f.id} is ${hexInt(v)}, expected ${hexInt(f.constant.value)}`, hexInt(f.constant.value), hexInt(v), v, f);
          } else this.constOk(f.constant.severity);
        }
        const value = f.bits ? bitsOf(v, f.bits) : v;
        return { value, layout: this.leaf(pos, f.bytes), end: pos + f.bytes };
      }
      case 'bytes':
        return this.bytes(f, region, pos, scope);
      case 'str':
        return this.str(f, region, pos, scope);
      case 'value': {
        const v = this.eval(f.value, scope, pos);
        return { value: typeof v === 'bigint' ? norm(v) : v, layout: this.leaf(pos, 0), end: pos };
      }
      case 'struct':
        return this.sub(f.type, f.size, region, pos, scope, index);
      case 'switch': {
        const on = this.eval(f.on, scope, pos);
        let chosen: TypeRef | null = null;
        for (const c of f.cases) {
          const match = this.eval(c.match, scope, pos);
          let same: boolean;
          try {
            same = equals(on, match);
          } catch (err) {
            if (err instanceof ExprTypeError) throw this.fail('expression', `in switch on '${f.on.source}', case '${c.match.source}': ${err.message}`, pos);
            throw err;
          }
          if (same) {
            chosen = c.type;
            break;
          }
        }
        chosen ??= f.otherwise;
        if (!chosen) {
          throw this.fail('no-case', `no case for ${f.on.source} = ${formatValue(on, 'hex')}`, pos, {
            expected: f.cases.map((c) => c.match.source).join(' or '),
            found: formatValue(on, 'hex'),
          });
        }
        return this.sub(chosen, f.size, region, pos, scope, index);
      }
    }
  }

  private sub(ref: TypeRef, sizeExpr: CompiledExpr | null, region: Region, pos: number, scope: Scope, index: number | null): { value: unknown; layout: FieldLayout | null; end: number } {
    const type = ref.target!;
    if (sizeExpr) {
      const size = this.size(sizeExpr, scope, pos);
      this.need(pos, size, region);
      const inner: Region = { start: pos, end: pos + size, info: { offset: pos, size } };
      const r = this.struct(type, inner, pos, scope, index);
      return { value: r.value, layout: this.withLayout ? { offset: pos, size, struct: r.layout, elements: null } : null, end: pos + size };
    }
    const r = this.struct(type, region, pos, scope, index);
    return { value: r.value, layout: this.withLayout ? { offset: pos, size: r.end - pos, struct: r.layout, elements: null } : null, end: r.end };
  }

  private bytes(f: BytesField, region: Region, pos: number, scope: Scope): { value: Uint8Array; layout: FieldLayout | null; end: number } {
    const size = f.size ? this.size(f.size, scope, pos) : f.constant!.value.length;
    this.need(pos, size, region);
    const value = this.src.slice(pos, size);
    const c = f.constant;
    if (c) {
      if (c.value.length !== value.length || c.value.some((b, i) => b !== value[i])) {
        this.mismatch(c.severity, c.message, scope, pos, `${f.id} does not match`, quoteBytes(c.value), quoteBytes(value), value, f);
      } else this.constOk(c.severity);
    }
    return { value, layout: this.leaf(pos, size), end: pos + size };
  }

  private str(f: StrField, region: Region, pos: number, scope: Scope): { value: string; layout: FieldLayout | null; end: number } {
    let size: number;
    let textLen: number;
    if (f.size) {
      size = this.size(f.size, scope, pos);
      this.need(pos, size, region);
      textLen = size;
      if (f.zeroTerminated) {
        const w = this.src.window(pos, size);
        const at = w.bytes.subarray(pos - w.base, pos - w.base + size).indexOf(0);
        if (at >= 0) textLen = at;
      }
    } else {
      // NUL-terminated, unbounded by the schema: bounded by the region and the string limit.
      const max = Math.min(region.end - pos, this.limits.maxStringLength);
      const w = this.src.window(pos, Math.max(0, max));
      const at = w.bytes.subarray(pos - w.base, pos - w.base + max).indexOf(0);
      if (at < 0) {
        if (max === this.limits.maxStringLength) throw this.located(new LimitError('maxStringLength', this.limits.maxStringLength), pos);
        throw this.fail('out-of-bounds', 'NUL-terminated string runs past the end of the region', pos, { expected: 'a NUL byte', found: `end of region at ${hexInt(region.end)}` });
      }
      textLen = at;
      size = at + 1;
    }
    const raw = this.src.slice(pos, textLen);
    const value = f.encoding === 'utf8' ? new TextDecoder('utf-8').decode(raw) : latin1(raw);
    if (f.constant) {
      if (value !== f.constant.value) {
        this.mismatch(f.constant.severity, f.constant.message, scope, pos, `${f.id} is ${JSON.stringify(value)}`, JSON.stringify(f.constant.value), JSON.stringify(value), value, f);
      } else this.constOk(f.constant.severity);
    }
    return { value, layout: this.leaf(pos, size), end: pos + size };
  }

  private readInt(f: IntField, pos: number, type: TypeDef): number | bigint {
    const le = (f.endian ?? type.endian) === 'le';
    const w = this.src.window(pos, f.bytes);
    const o = pos - w.base;
    const v = w.view;
    switch (f.bytes) {
      case 1: return f.signed ? v.getInt8(o) : v.getUint8(o);
      case 2: return f.signed ? v.getInt16(o, le) : v.getUint16(o, le);
      case 4: return f.signed ? v.getInt32(o, le) : v.getUint32(o, le);
      case 8: return f.signed ? v.getBigInt64(o, le) : v.getBigUint64(o, le);
    }
  }

  private check(c: CheckDef, scope: Scope, pos: number): void {
    const ok = this.cond(c.assert, scope, pos);
    const path = this.pathText();
    if (ok) {
      this.checks.push({ id: c.id, path, severity: c.severity, ok, message: '' });
      return;
    }
    const message = this.render(c.message, scope, pos);
    if (c.severity === 'error') {
      throw new ParseError('assertion', message, { schema: this.schema.id, path: path ? `${path} (check ${c.id})` : `check ${c.id}`, offset: pos });
    }
    this.checks.push({ id: c.id, path, severity: c.severity, ok, message });
  }

  private mismatch(severity: Severity, message: Template | null, scope: Scope, pos: number, fallback: string, expected: string, found: string, value: unknown, field: FieldDef): void {
    let text = fallback;
    if (message) {
      // The message may name the value found, as `_` or by the field's own name.
      const savedElem = scope.elem;
      scope.elem = value;
      if (!field.repeat) scope.obj[field.id] = value;
      try {
        text = this.render(message, scope, pos);
      } finally {
        scope.elem = savedElem;
      }
    }
    if (severity === 'error') throw this.fail('const-mismatch', text, pos, { expected, found });
    this.checks.push({ id: this.path[this.path.length - 1] ?? '', path: this.pathText(), severity, ok: false, message: `${text} (expected ${expected}, found ${found})` });
  }

  /** A warning-level constant that holds is reported as a passed check (error-level ones are just magic). */
  private constOk(severity: Severity): void {
    if (severity === 'warning') this.checks.push({ id: this.path[this.path.length - 1] ?? '', path: this.pathText(), severity, ok: true, message: '' });
  }

  render(t: Template, scope: Scope, pos: number): string {
    let s = '';
    for (const p of t.parts) s += p.k === 'text' ? p.text : formatValue(this.eval(p.expr, scope, pos), p.format);
    return s;
  }

  private position(e: CompiledExpr, scope: Scope, region: Region, pos: number): number {
    const v = this.eval(e, scope, pos);
    const size = region.end - region.start;
    if (!isInt(v) || v < 0 || v > size) {
      throw this.fail('out-of-bounds', `position ${e.source} = ${formatValue(v, 'hex')} is outside the region (0..${hexInt(size)})`, pos, {
        expected: `0..${hexInt(size)}`,
        found: formatValue(v, 'hex'),
      });
    }
    return Number(v);
  }

  private size(e: CompiledExpr, scope: Scope, pos: number): number {
    const v = this.eval(e, scope, pos);
    if (!isInt(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) throw this.fail('bad-size', `size ${e.source} = ${formatValue(v, 'auto')} is not a valid size`, pos, { expected: 'an integer >= 0', found: formatValue(v, 'auto') });
    return Number(v);
  }

  private need(pos: number, n: number, region: Region): void {
    if (pos + n > region.end) {
      const inFile = region.end === this.src.size && region.start === 0;
      throw this.fail('out-of-bounds', `${n} bytes at ${hexInt(pos)} run past the end of the ${inFile ? 'input' : 'region'} (${hexInt(region.end)})`, pos, {
        expected: `${n} bytes`,
        found: `${Math.max(0, region.end - pos)}`,
      });
    }
  }

  private eval(e: CompiledExpr, scope: Scope, pos: number): unknown {
    try {
      return evaluate(e.ast, scope, this.budget);
    } catch (err) {
      if (err instanceof StepLimitError) throw this.located(new LimitError('maxExprSteps', this.limits.maxExprSteps), pos);
      if (err instanceof ExprTypeError) throw this.fail('expression', `in '${e.source}': ${err.message}`, pos);
      if (err instanceof KimgError) throw err;
      if (err instanceof RangeError) throw this.fail('expression', `in '${e.source}': ${err.message}`, pos);
      throw err;
    }
  }

  /** A condition (`if:`, `assert:`): its value must be a boolean or an integer. */
  private cond(e: CompiledExpr, scope: Scope, pos: number): boolean {
    const v = this.eval(e, scope, pos);
    try {
      return truthy(v);
    } catch (err) {
      if (err instanceof ExprTypeError) throw this.fail('expression', `in '${e.source}': ${err.message}`, pos);
      throw err;
    }
  }

  private leaf(offset: number, size: number): FieldLayout | null {
    return this.withLayout ? { offset, size, struct: null, elements: null } : null;
  }

  private pathText(): string {
    let s = '';
    for (const p of this.path) s += p.startsWith('[') || s === '' ? p : `.${p}`;
    return s;
  }

  private fail(code: string, message: string, offset: number, detail?: { expected?: string; found?: string }): ParseError {
    return new ParseError(code, message, { schema: this.schema.id, path: this.pathText(), offset }, detail);
  }

  private located<E extends KimgError>(e: E, offset: number): E {
    return e.locate({ schema: this.schema.id, path: this.pathText(), offset });
  }
}

/** A bit-field integer as an object: the raw value and each declared bit range. */
export function bitsOf(v: number | bigint, bits: readonly BitDef[]): Struct {
  const out: Struct = { value: v };
  const big = BigInt(v);
  for (const b of bits) {
    const x = Number((big >> BigInt(b.shift)) & ((1n << BigInt(b.width)) - 1n));
    out[b.id] = b.width === 1 && !b.enumRef ? x === 1 : x;
  }
  return out;
}
