/**
 * The one lowering of the schema model that both engines run: each type becomes a plan of field steps
 * (src/types.ts, "Lowered form"), and `walkField` is the only code that fixes the order of a field's
 * steps. The interpreter (src/interp/plan.ts) and the code generator (src/codegen/compile.ts) each supply
 * a `FieldBackend` — the primitives of their medium (closures, generated code) — and never order steps
 * themselves, so the two cannot drift apart (as in Kaitai Struct's compiler: one walker, one set of
 * primitives per target language).
 *
 * What a type uses (`_root`, `_parent`, `_region`, …), which types it reaches and whether parsing it can
 * record check outcomes are computed here once, from the generic traversal in src/walk.ts.
 */
import type {
  FieldDef, FieldPlan, ReadStep, RepeatStep, SpecialName, TypeDef, TypePlanIR, ValidateStep,
} from '../types.js';
import { typeSpecials } from '../walk.js';

const plans = new WeakMap<TypeDef, TypePlanIR>();

/** The lowered plan of a type (built once per type, at its first use). */
export function lowerType(type: TypeDef): TypePlanIR {
  let p = plans.get(type);
  if (!p) plans.set(type, (p = buildPlan(type)));
  return p;
}

function buildPlan(type: TypeDef): TypePlanIR {
  const fields = type.fields.map((f, index) => lowerField(type, f, index));
  return {
    type,
    endian: type.endianExpr,
    fields,
    checks: type.checks,
    uses: typeSpecials(type),
    targets: fields.flatMap((f) => readTargets(f.read)),
  };
}

function lowerField(type: TypeDef, f: FieldDef, index: number): FieldPlan {
  const read = readStep(type, f);
  return {
    field: f,
    id: f.id,
    index,
    when: f.when,
    at: f.at,
    read,
    validate: validateStep(f),
    project: f.kind === 'int' ? f.bits : null,
    repeat: f.repeat as RepeatStep | null,
    align: f.align,
    staticSize: f.align !== null ? null : staticSize(f),
  };
}

function readStep(type: TypeDef, f: FieldDef): ReadStep {
  switch (f.kind) {
    case 'int':
      return { k: 'int', field: f, le: f.endian === null && type.endianExpr ? null : (f.endian ?? type.endian) === 'le' };
    case 'bytes':
      return { k: 'bytes', field: f, size: f.size, fixed: f.constant ? f.constant.value.length : 0 };
    case 'str':
      return f.size ? { k: 'str', field: f, size: f.size } : { k: 'strz', field: f };
    case 'value':
      return { k: 'value', field: f, expr: f.value };
    case 'struct':
      return { k: 'struct', field: f, type: f.type, size: f.size };
    case 'switch':
      return { k: 'switch', field: f, size: f.size };
  }
}

function validateStep(f: FieldDef): ValidateStep | null {
  switch (f.kind) {
    case 'int':
      return f.constant ? { k: 'int', field: f, constant: f.constant } : null;
    case 'bytes':
      return f.constant ? { k: 'bytes', field: f, constant: f.constant } : null;
    case 'str':
      return f.constant ? { k: 'str', field: f, constant: f.constant } : null;
    case 'value':
    case 'struct':
    case 'switch':
      return null;
  }
}

function readTargets(r: ReadStep): TypeDef[] {
  switch (r.k) {
    case 'struct':
      return [r.type.target!];
    case 'switch':
      return [...r.field.cases.map((c) => c.type.target!), ...(r.field.otherwise ? [r.field.otherwise.target!] : [])];
    case 'int':
    case 'bytes':
    case 'str':
    case 'strz':
    case 'value':
      return [];
  }
}

/** Bytes a field occupies when known statically (the compiler reads such runs under one bounds check). */
function staticSize(f: FieldDef): number | null {
  if (f.when) return null;
  if (f.kind === 'value') return f.repeat ? null : 0;
  if (f.kind === 'int') {
    if (!f.repeat) return f.bytes;
    if (f.repeat.k === 'count' && f.repeat.count.ast.k === 'int' && f.repeat.count.ast.value <= 64n) return f.bytes * Number(f.repeat.count.ast.value);
    return null;
  }
  if (f.repeat) return null;
  if (f.kind === 'bytes') {
    if (!f.size) return f.constant!.value.length;
    return f.size.ast.k === 'int' && f.size.ast.value <= 0x100000n ? Number(f.size.ast.value) : null;
  }
  if (f.kind === 'str' && f.size) return f.size.ast.k === 'int' && f.size.ast.value <= 0x100000n ? Number(f.size.ast.value) : null;
  return null;
}

/** Every type a schema's root reaches, the root first, each once (the compiler makes one function each). */
export function reachableTypes(root: TypeDef): TypeDef[] {
  const out: TypeDef[] = [];
  const seen = new Set<TypeDef>();
  const queue = [root];
  while (queue.length) {
    const t = queue.shift()!;
    if (seen.has(t)) continue;
    seen.add(t);
    out.push(t);
    queue.push(...lowerType(t).targets);
  }
  return out;
}

/** The built-in variables used anywhere among the types. */
export function usedSpecials(types: readonly TypeDef[]): Set<SpecialName> {
  const used = new Set<SpecialName>();
  for (const t of types) for (const name of lowerType(t).uses) used.add(name);
  return used;
}

const records = new WeakMap<TypeDef, boolean>();

/** Whether parsing the type can record check outcomes (checks, warning-level constants, in it or below). */
export function mayRecord(t: TypeDef, seen = new Set<TypeDef>()): boolean {
  const known = records.get(t);
  if (known !== undefined) return known;
  if (seen.has(t)) return false;
  const top = seen.size === 0;
  seen.add(t);
  const plan = lowerType(t);
  let r = plan.checks.length > 0;
  for (const f of plan.fields) {
    if (f.validate?.constant.severity === 'warning') r = true;
    for (const x of readTargets(f.read)) if (mayRecord(x, seen)) r = true;
  }
  // Only a complete answer is cached: inside a cycle, a type's answer may still be partial.
  if (top || r) records.set(t, r);
  return r;
}

/**
 * The primitives an engine supplies. `E` is how the engine holds one element being read (a closure
 * run per element; a generator of code), `F` how it holds a whole field. A read kind without its
 * primitive is a compile error (the mapped `read` table).
 */
export interface FieldBackend<E, F> {
  readonly read: { readonly [K in ReadStep['k']]: (step: Extract<ReadStep, { k: K }>, f: FieldPlan) => E };
  /** The field's constant (magic, version): checked on the element just read. */
  validate(element: E, step: ValidateStep, f: FieldPlan): E;
  /** An integer split into its bit ranges, after validation. */
  project(element: E, f: FieldPlan): E;
  /** The element read again and again (a count, to the end of the region). */
  repeat(element: E, repeat: RepeatStep, f: FieldPlan): E;
  /** The value stored under the field's name; the cursor moves past it. */
  store(element: E, f: FieldPlan): F;
  /** The cursor moved on past the padding after the field (`align:`). */
  align(field: F, f: FieldPlan): F;
  /** The cursor moved to `at:` first. */
  position(field: F, f: FieldPlan): F;
  /** All of it only when `if:` holds; otherwise the field is null. */
  guard(field: F, f: FieldPlan): F;
}

/**
 * A field's steps in their one order: `if`, then `at`, then per element read → validate → project,
 * repeated as the field says, then stored, then the padding skipped. Built inside out; each backend runs it outside in.
 */
export function walkField<E, F>(b: FieldBackend<E, F>, f: FieldPlan): F {
  let e = (b.read[f.read.k] as (step: ReadStep, f: FieldPlan) => E)(f.read, f);
  if (f.validate) e = b.validate(e, f.validate, f);
  if (f.project) e = b.project(e, f);
  if (f.repeat) e = b.repeat(e, f.repeat, f);
  let s = b.store(e, f);
  if (f.align) s = b.align(s, f);
  if (f.at) s = b.position(s, f);
  if (f.when) s = b.guard(s, f);
  return s;
}
