/**
 * Closure compilation of the schema model. At first use of a type (cached per TypeDef), each field
 * becomes a closure with everything static resolved: its reader (width, sign, endianness), its
 * constant, its expressions (compiled by ./expr.ts), its sub-type's plan. Parsing a struct is then
 * a loop over these closures; nothing is looked up by name and no per-field record is allocated.
 * No code is generated: this is what the `jitless` engine runs.
 *
 * The closures do exactly what the field-by-field description in ./interpreter.ts says, in the same
 * order (expressions, steps, checks, errors); the differential test compares them with the compiled
 * engine on thousands of inputs.
 */
import { latin1 } from '../core/bytes.js';
import { LimitError, ParseError } from '../core/errors.js';
import { formatValue, hexInt, quoteBytes } from '../expr/format.js';
import { equals, ExprTypeError, isInt, norm, truthy } from '../expr/values.js';
import type {
  BitDef, CheckDef, CompiledExpr, FieldDef, FieldPlan, ReadStep, RepeatStep, Severity, StrField, SwitchField, Template, TypeDef, TypeRef, ValidateStep,
} from '../types.js';
import { lowerType, walkField, type FieldBackend } from '../lower/lower.js';
import { bitsOf } from './bits.js';
import { compileExpr } from './expr.js';
import type { FieldLayout, StructLayout, Struct } from '../engine.js';
import { Frame, type Run, type CExpr } from './run.js';

/** One field of a struct: parses it at cursor p and returns the new cursor. */
type Step = (r: Run, fr: Frame, p: number) => number;
/** One element (the whole field when not repeated): returns its value; sets r.end and r.lay. */
type Elem = (r: Run, fr: Frame, p: number, index: number | null) => unknown;
type Check = (r: Run, fr: Frame, pos: number) => void;

export interface TypePlan {
  readonly type: TypeDef;
  /** An object with every field's key, in declaration order, all null: each struct is a copy. */
  readonly template: Struct;
  readonly copy: (t: Struct) => Struct;
  readonly steps: readonly Step[];
  readonly checks: readonly Check[];
  /** The struct's byte order, computed as it starts (`endian_expr`). */
  readonly endian: CExpr | null;
}

// Copying the template with a spread is fast while the copy site sees few shapes; every type gets
// one of these (identical) functions, so that each site keeps its own few shapes.
const COPIERS: readonly ((t: Struct) => Struct)[] = [
  (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }),
  (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }),
  (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }),
  (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }), (t) => ({ ...t }),
];
let nextCopier = 0;

const plans = new WeakMap<TypeDef, TypePlan>();

export function planOf(type: TypeDef): TypePlan {
  let p = plans.get(type);
  if (!p) plans.set(type, (p = buildPlan(type)));
  return p;
}

/** An object with the keys in order. Built by JSON.parse so that all are in-object properties. */
function template(keys: readonly string[]): Struct {
  const t = JSON.parse(`{${keys.map((k) => `${JSON.stringify(k)}:null`).join(',')}}`) as Struct;
  // Generalise each property's representation once, so that copies never change shape when filled.
  for (const v of [0, {}, null]) for (const k of keys) t[k] = v;
  return t;
}

function buildPlan(type: TypeDef): TypePlan {
  const names = new Set(type.fields.map((f) => f.id));
  const cx = (e: CompiledExpr): CExpr => ({ source: e.source, fn: compileExpr(e.ast, names) });
  const ctx: Ctx = { type, cx };
  return {
    type,
    template: template(type.fields.map((f) => f.id)),
    copy: COPIERS[nextCopier++ % COPIERS.length]!,
    steps: lowerType(type).fields.map((f) => walkField(backend(ctx), f)),
    checks: type.checks.map((c) => checkStep(ctx, c)),
    endian: type.endianExpr ? cx(type.endianExpr) : null,
  };
}

interface Ctx {
  readonly type: TypeDef;
  readonly cx: (e: CompiledExpr) => CExpr;
}

// -----------------------------------------------------------------------------------------------
// structs

/** Parses a struct of the plan's type at pos, in the region [start, end); sets r.end (and r.slay). */
export function parseStruct(
  r: Run, plan: TypePlan, start: number, end: number, region: { readonly offset: number; readonly size: number }, pos: number, parent: Frame | null, index: number | null,
): Struct {
  if (++r.depth > r.limits.maxDepth) throw r.located(new LimitError('maxDepth', r.limits.maxDepth), pos);
  // maxFields: counted at the same points, in the same order, as the compiled parser (codegen/compile.ts).
  if ((r.fields += plan.steps.length) > r.limits.maxFields) throw r.located(new LimitError('maxFields', r.limits.maxFields), pos);
  const obj = plan.copy(plan.template);
  const fr = new Frame(obj, parent, parent ? parent.root : obj, pos - start, index, start, end, region, r.file, r.withLayout ? [] : null);
  if (plan.endian !== null) fr.le = byteOrder(r, plan.endian, fr, pos);
  let p = pos;
  const steps = plan.steps;
  for (let i = 0; i < steps.length; i++) p = steps[i]!(r, fr, p);
  fr.pos = p - start;
  const checks = plan.checks;
  for (let i = 0; i < checks.length; i++) checks[i]!(r, fr, pos);
  if (fr.lay) r.slay = { type: plan.type, offset: pos, size: p - pos, fields: fr.lay };
  r.depth--;
  r.end = p;
  return obj;
}

/**
 * The interpreter's primitives for the lowering's steps (src/lower/lower.ts orders them): each step is
 * a closure wrapping the next one.
 */
function backend(ctx: Ctx): FieldBackend<Elem, Step> {
  return {
    read: {
      int: (s) => intElem(s),
      bytes: (s) => bytesElem(ctx, s),
      str: (s) => strSized(ctx, s),
      strz: (s) => strUnbounded(s),
      value: (s) => {
        const x = ctx.cx(s.expr);
        const id = s.field.id;
        return (r, fr, p, index) => {
          const v = r.compute(x, fr, p, id, index);
          r.end = p;
          r.lay = leaf(r, p, 0);
          return typeof v === 'bigint' ? norm(v) : v;
        };
      },
      struct: (s) => subElem(s.field.id, () => s.type, s.size ? ctx.cx(s.size) : null),
      switch: (s) => switchElem(ctx, s.field, s.size ? ctx.cx(s.size) : null),
    },
    validate: (one, v, f) => validate(ctx, one, v, f),
    project: (one, f) => {
      const split = bitsMaker(f.project!);
      return (r, fr, p, index) => split(one(r, fr, p, index) as number | bigint);
    },
    repeat: (one, rep, f) => array(ctx, f, rep, one),
    store: (one, f) => {
      const id = f.id;
      return (r, fr, p) => {
        fr.pos = p - fr.start;
        fr.obj[id] = one(r, fr, p, null);
        if (fr.lay) fr.lay.push(r.lay);
        return r.end;
      };
    },
    align: (next, f) => {
      const n = f.align!;
      const id = f.id;
      return (r, fr, p) => {
        const end = next(r, fr, p);
        const padded = fr.start + Math.ceil((end - fr.start) / n) * n;
        if (padded > fr.end) throw alignFail(r, fr, end, padded, n, id);
        return padded;
      };
    },
    position: (next, f) => {
      const at = ctx.cx(f.at!);
      const id = f.id;
      return (r, fr, p) => {
        fr.pos = p - fr.start;
        return next(r, fr, fr.start + position(r, at, fr, p, id));
      };
    },
    guard: (next, f) => {
      const when = ctx.cx(f.when!);
      const id = f.id;
      return (r, fr, p) => {
        fr.pos = p - fr.start;
        if (!cond(r, when, fr, p, id, null)) {
          if (fr.lay) fr.lay.push(null);
          return p;
        }
        return next(r, fr, p);
      };
    },
  };
}

function array(ctx: Ctx, f: FieldPlan, rep: RepeatStep, one: Elem): Elem {
  const id = f.id;
  const count = rep.k === 'count' ? ctx.cx(rep.count) : null;
  const until = rep.k === 'until' ? ctx.cx(rep.until) : null;
  return (r, fr, p) => {
    const out: unknown[] = [];
    const elements: FieldLayout[] | null = r.withLayout ? [] : null;
    const max = r.limits.maxArrayCount;
    let cursor = p;
    if (count !== null) {
      const n = r.compute(count, fr, p, id);
      if (!isInt(n) || n < 0) throw r.fail('bad-count', `count must be a non-negative integer, got ${formatValue(n, 'auto')}`, p, id, null, { expected: 'an integer >= 0' });
      if (n > max) throw r.located(new LimitError('maxArrayCount', max), p, id);
      const m = Number(n);
      if ((r.fields += m) > r.limits.maxFields) throw r.located(new LimitError('maxFields', r.limits.maxFields), p, id);
      for (let i = 0; i < m; i++) {
        out.push(one(r, fr, cursor, i));
        if (elements) elements.push(r.lay!);
        cursor = r.end;
      }
    } else if (until !== null) {
      for (let i = 0; ; i++) {
        if (i >= max) throw r.located(new LimitError('maxArrayCount', max), cursor, id);
        if (++r.fields > r.limits.maxFields) throw r.located(new LimitError('maxFields', r.limits.maxFields), cursor, id);
        const v = one(r, fr, cursor, i);
        if (r.end <= cursor) throw r.fail('no-progress', 'an element of an until array read no bytes', cursor, id, i);
        out.push(v);
        if (elements) elements.push(r.lay!);
        cursor = r.end;
        // The condition sees the element just read as `_` and its index as `_index`.
        const savedElem = fr.elem;
        const savedIndex = fr.index;
        fr.elem = v;
        fr.index = i;
        let done: boolean;
        try {
          done = cond(r, until, fr, p, id, i);
        } finally {
          fr.elem = savedElem;
          fr.index = savedIndex;
        }
        if (done) break;
      }
    } else {
      let i = 0;
      while (cursor < fr.end) {
        if (i >= max) throw r.located(new LimitError('maxArrayCount', max), cursor, id);
        if (++r.fields > r.limits.maxFields) throw r.located(new LimitError('maxFields', r.limits.maxFields), cursor, id);
        const v = one(r, fr, cursor, i);
        if (r.end <= cursor) throw r.fail('no-progress', 'an element of a to-end array read no bytes', cursor, id, i);
        out.push(v);
        if (elements) elements.push(r.lay!);
        cursor = r.end;
        i++;
      }
    }
    r.lay = elements ? { offset: p, size: cursor - p, struct: null, elements } : null;
    r.end = cursor;
    return out;
  };
}

function alignFail(r: Run, fr: Frame, end: number, padded: number, n: number, id: string): ParseError {
  return r.fail('out-of-bounds', `padding to a multiple of ${n} runs past the end of the region (${hexInt(fr.end)})`, end, id, null, {
    expected: `${padded - end} bytes of padding`,
    found: `${Math.max(0, fr.end - end)}`,
  });
}

function leaf(r: Run, offset: number, size: number): FieldLayout | null {
  return r.withLayout ? { offset, size, struct: null, elements: null } : null;
}

// -----------------------------------------------------------------------------------------------
// leaves

function readInt(v: DataView, a: number, bytes: number, signed: boolean, le: boolean): number | bigint {
  switch (bytes) {
    case 1: return signed ? v.getInt8(a) : v.getUint8(a);
    case 2: return signed ? v.getInt16(a, le) : v.getUint16(a, le);
    case 4: return signed ? v.getInt32(a, le) : v.getUint32(a, le);
    default: return signed ? v.getBigInt64(a, le) : v.getBigUint64(a, le);
  }
}

function intElem(s: Extract<ReadStep, { k: 'int' }>): Elem {
  const { id, bytes, signed } = s.field;
  const le = s.le;
  return (r, fr, p, index) => {
    if (p + bytes > fr.end) r.need(p, bytes, fr.start, fr.end, id, index);
    const a = r.window(p, bytes);
    const v = readInt(r.view, a, bytes, signed, le ?? fr.le);
    r.end = p + bytes;
    r.lay = leaf(r, p, bytes);
    return v;
  };
}

/** A constant checked on the element just read (its value, before any bit split). */
function validate(ctx: Ctx, one: Elem, step: ValidateStep, f: FieldPlan): Elem {
  const c = step.constant;
  const id = f.id;
  const msg = c.message ? renderer(ctx, c.message) : null;
  const warn = c.severity === 'warning';
  switch (step.k) {
    case 'int': {
      // Compared as the reference does (as bigints); a number constant compares the same way.
      const cv: number | bigint = step.field.bytes === 8 ? step.constant.value : Number(step.constant.value);
      const expected = hexInt(step.constant.value);
      return (r, fr, p, index) => {
        const v = one(r, fr, p, index) as number | bigint;
        if (v !== cv) mismatch(r, fr, p, f.field, index, c.severity, msg, `${id} is ${hexInt(v)}, expected ${expected}`, expected, hexInt(v), v);
        else if (warn) constOk(r, id, index);
        return v;
      };
    }
    case 'bytes': {
      const want = step.constant.value;
      return (r, fr, p, index) => {
        const v = one(r, fr, p, index) as Uint8Array;
        if (!sameBytes(want, v)) mismatch(r, fr, p, f.field, index, c.severity, msg, `${id} does not match`, quoteBytes(want), quoteBytes(v), v);
        else if (warn) constOk(r, id, index);
        return v;
      };
    }
    case 'str': {
      const want = step.constant.value;
      return (r, fr, p, index) => {
        const v = one(r, fr, p, index) as string;
        if (v !== want) mismatch(r, fr, p, f.field, index, c.severity, msg, `${id} is ${JSON.stringify(v)}`, JSON.stringify(want), JSON.stringify(v), v);
        else if (warn) constOk(r, id, index);
        return v;
      };
    }
  }
}

/** bitsOf, from a template of the keys (value, then each bit range). */
function bitsMaker(bits: readonly BitDef[]): (v: number | bigint) => Struct {
  // Ranges within the low 31 bits are read with number arithmetic; anything wider goes to bitsOf.
  if (!bits.every((b) => b.shift + b.width <= 31)) return (v) => bitsOf(v, bits);
  const t = template(['value', ...bits.map((b) => b.id)]);
  const copy = COPIERS[nextCopier++ % COPIERS.length]!;
  const ranges = bits.map((b) => ({ id: b.id, shift: b.shift, mask: 2 ** b.width - 1, flag: b.width === 1 && !b.enumRef }));
  return (v) => {
    const o = copy(t);
    o['value'] = v;
    // the low 31 bits of the two's complement value, as bitsOf's BigInt arithmetic sees them
    const lo = typeof v === 'number' ? v & 0x7fffffff : Number(v & 0x7fffffffn);
    for (const b of ranges) {
      const x = (lo >>> b.shift) & b.mask;
      o[b.id] = b.flag ? x === 1 : x;
    }
    return o;
  };
}

function bytesElem(ctx: Ctx, s: Extract<ReadStep, { k: 'bytes' }>): Elem {
  const id = s.field.id;
  const sizeX = s.size ? ctx.cx(s.size) : null;
  const fixed = s.fixed;
  return (r, fr, p, index) => {
    const size = sizeX !== null ? sizeOf(r, sizeX, fr, p, id, index) : fixed;
    if (p + size > fr.end) r.need(p, size, fr.start, fr.end, id, index);
    const value = r.whole ? r.bytes.slice(p, p + size) : r.src.slice(p, size);
    r.end = p + size;
    r.lay = leaf(r, p, size);
    return value;
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const utf8 = new TextDecoder('utf-8');

function decodeText(f: StrField, raw: Uint8Array): string {
  return f.encoding === 'utf8' ? utf8.decode(raw) : latin1(raw);
}

function strSized(ctx: Ctx, s: Extract<ReadStep, { k: 'str' }>): Elem {
  const f = s.field;
  const id = f.id;
  const sizeX = ctx.cx(s.size);
  return (r, fr, p, index) => {
    const size = sizeOf(r, sizeX, fr, p, id, index);
    if (p + size > fr.end) r.need(p, size, fr.start, fr.end, id, index);
    let textLen = size;
    if (f.zeroTerminated) {
      const a = r.window(p, size);
      const at = r.bytes.subarray(a, a + size).indexOf(0);
      if (at >= 0) textLen = at;
    }
    const raw = r.whole ? r.bytes.subarray(p, p + textLen) : r.src.slice(p, textLen);
    r.end = p + size;
    r.lay = leaf(r, p, size);
    return decodeText(f, raw);
  };
}

/** NUL-terminated, unbounded by the schema: bounded by the region and the string limit. */
function strUnbounded(s: Extract<ReadStep, { k: 'strz' }>): Elem {
  const f = s.field;
  const id = f.id;
  return (r, fr, p, index) => {
    const limit = r.limits.maxStringLength;
    const max = Math.min(fr.end - p, limit);
    const a = r.window(p, Math.max(0, max));
    const at = r.bytes.subarray(a, a + max).indexOf(0);
    if (at < 0) {
      if (max === limit) throw r.located(new LimitError('maxStringLength', limit), p, id, index);
      throw r.fail('out-of-bounds', 'NUL-terminated string runs past the end of the region', p, id, index, { expected: 'a NUL byte', found: `end of region at ${hexInt(fr.end)}` });
    }
    const raw = r.whole ? r.bytes.subarray(p, p + at) : r.src.slice(p, at);
    r.end = p + at + 1;
    r.lay = leaf(r, p, at + 1);
    return decodeText(f, raw);
  };
}

// -----------------------------------------------------------------------------------------------
// nested structs

function subElem(id: string, ref: () => TypeRef, sizeX: CExpr | null): Elem {
  let plan: TypePlan | null = null;
  return (r, fr, p, index) => {
    plan ??= planOf(ref().target!);
    return sub(r, plan, sizeX, fr, p, id, index);
  };
}

function sub(r: Run, plan: TypePlan, sizeX: CExpr | null, fr: Frame, p: number, id: string, index: number | null): Struct {
  let value: Struct;
  if (sizeX !== null) {
    const size = sizeOf(r, sizeX, fr, p, id, index);
    if (p + size > fr.end) r.need(p, size, fr.start, fr.end, id, index);
    enter(r, id, index);
    value = parseStruct(r, plan, p, p + size, { offset: p, size }, p, fr, index);
    leave(r, index);
    r.lay = r.withLayout ? { offset: p, size, struct: r.slay, elements: null } : null;
    r.end = p + size;
  } else {
    enter(r, id, index);
    value = parseStruct(r, plan, fr.start, fr.end, fr.region, p, fr, index);
    leave(r, index);
    r.lay = r.withLayout ? { offset: p, size: r.end - p, struct: r.slay, elements: null } : null;
  }
  return value;
}

function enter(r: Run, id: string, index: number | null): void {
  r.path.push(id);
  if (index !== null) r.path.push(index);
}

function leave(r: Run, index: number | null): void {
  r.path.pop();
  if (index !== null) r.path.pop();
}

function switchElem(ctx: Ctx, f: SwitchField, sizeX: CExpr | null): Elem {
  const id = f.id;
  const on = ctx.cx(f.on);
  const cases = f.cases.map((c) => ({ match: ctx.cx(c.match), plan: null as TypePlan | null, ref: c.type }));
  let otherwise: TypePlan | null = null;
  const expected = f.cases.map((c) => c.match.source).join(' or ');
  return (r, fr, p, index) => {
    const v = r.compute(on, fr, p, id, index);
    let chosen: TypePlan | null = null;
    for (const c of cases) {
      const match = r.compute(c.match, fr, p, id, index);
      let same: boolean;
      try {
        same = equals(v, match);
      } catch (err) {
        if (err instanceof ExprTypeError) throw r.fail('expression', `in switch on '${on.source}', case '${c.match.source}': ${err.message}`, p, id, index);
        throw err;
      }
      if (same) {
        chosen = c.plan ??= planOf(c.ref.target!);
        break;
      }
    }
    if (chosen === null && f.otherwise) chosen = otherwise ??= planOf(f.otherwise.target!);
    if (chosen === null) {
      throw r.fail('no-case', `no case for ${on.source} = ${formatValue(v, 'hex')}`, p, id, index, { expected, found: formatValue(v, 'hex') });
    }
    return sub(r, chosen, sizeX, fr, p, id, index);
  };
}

// -----------------------------------------------------------------------------------------------
// checks, constants, messages

function checkStep(ctx: Ctx, c: CheckDef): Check {
  const { id, severity } = c;
  const assert = ctx.cx(c.assert);
  const msg = renderer(ctx, c.message);
  return (r, fr, pos) => {
    const ok = cond(r, assert, fr, pos);
    const path = r.pathText();
    if (ok) {
      r.checks.push({ id, path, severity, ok, message: '' });
      return;
    }
    const message = msg(r, fr, pos);
    if (severity === 'error') {
      throw new ParseError('assertion', message, { schema: r.schemaId, path: path ? `${path} (check ${id})` : `check ${id}`, offset: pos });
    }
    r.checks.push({ id, path, severity, ok, message });
  };
}

/** A constant that does not hold: an error, or a warning recorded as a failed check. */
function mismatch(
  r: Run, fr: Frame, p: number, f: FieldDef, index: number | null, severity: Severity, message: Render | null,
  fallback: string, expected: string, found: string, value: unknown,
): void {
  let text = fallback;
  if (message !== null) {
    // The message may name the value found, as `_` or by the field's own name.
    const savedElem = fr.elem;
    fr.elem = value;
    if (!f.repeat) fr.obj[f.id] = value;
    try {
      text = message(r, fr, p, f.id, index);
    } finally {
      fr.elem = savedElem;
    }
  }
  if (severity === 'error') throw r.fail('const-mismatch', text, p, f.id, index, { expected, found });
  r.checks.push({ id: index === null ? f.id : `[${index}]`, path: r.pathText(f.id, index), severity, ok: false, message: `${text} (expected ${expected}, found ${found})` });
}

/** A warning-level constant that holds is reported as a passed check (error-level ones are just magic). */
function constOk(r: Run, id: string, index: number | null): void {
  r.checks.push({ id: index === null ? id : `[${index}]`, path: r.pathText(id, index), severity: 'warning', ok: true, message: '' });
}

type Render = (r: Run, fr: Frame, pos: number, id?: string, index?: number | null) => string;

function renderer(ctx: Ctx, t: Template): Render {
  const parts = t.parts.map((p) => (p.k === 'text' ? { text: p.text, x: null, format: 'auto' as const } : { text: '', x: ctx.cx(p.expr), format: p.format }));
  return (r, fr, pos, id, index) => {
    let s = '';
    for (const p of parts) s += p.x === null ? p.text : formatValue(r.compute(p.x, fr, pos, id, index), p.format);
    return s;
  };
}

// -----------------------------------------------------------------------------------------------
// expressions with a role

/** A condition (`if:`, `assert:`): its value must be a boolean or an integer. */
function cond(r: Run, x: CExpr, fr: Frame, pos: number, id?: string, index?: number | null): boolean {
  const v = r.compute(x, fr, pos, id, index);
  if (typeof v === 'boolean') return v;
  try {
    return truthy(v);
  } catch (err) {
    if (err instanceof ExprTypeError) throw r.fail('expression', `in '${x.source}': ${err.message}`, pos, id, index);
    throw err;
  }
}

/** An `endian_expr`: "le" or "be", anything else a parse error at the struct's start. */
function byteOrder(r: Run, x: CExpr, fr: Frame, pos: number): boolean {
  const v = r.compute(x, fr, pos);
  if (v === 'le' || v === 'be') return v === 'le';
  throw r.fail('bad-endian', `endian_expr ${x.source} = ${formatValue(v, 'auto')} is neither "le" nor "be"`, pos, undefined, null, { expected: '"le" or "be"', found: formatValue(v, 'auto') });
}

function position(r: Run, x: CExpr, fr: Frame, pos: number, id: string): number {
  const v = r.compute(x, fr, pos, id);
  const size = fr.end - fr.start;
  if (typeof v === 'number' && v >= 0 && v <= size) return v;
  if (!isInt(v) || v < 0 || v > size) {
    throw r.fail('out-of-bounds', `position ${x.source} = ${formatValue(v, 'hex')} is outside the region (0..${hexInt(size)})`, pos, id, null, {
      expected: `0..${hexInt(size)}`,
      found: formatValue(v, 'hex'),
    });
  }
  return Number(v);
}

function sizeOf(r: Run, x: CExpr, fr: Frame, pos: number, id: string, index: number | null): number {
  const v = r.compute(x, fr, pos, id, index);
  if (!isInt(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw r.fail('bad-size', `size ${x.source} = ${formatValue(v, 'auto')} is not a valid size`, pos, id, index, { expected: 'an integer >= 0', found: formatValue(v, 'auto') });
  }
  return Number(v);
}

export type { StructLayout };
