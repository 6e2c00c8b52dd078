/**
 * The one generic traversal of the model in ./types.ts: every expression position of every node.
 *
 * Each node type has a table naming, for *every* one of its properties, what the property holds. The
 * tables are typed by `Slots<T>`: a property added to a node type without a table entry, or an entry
 * that does not match what the property holds (an expression declared `none`), is a compile error. So
 * "what a type uses" (`_root`, `_parent`, `_region`...) can never miss an expression position, and no
 * engine or analysis keeps its own list of where expressions live.
 */
import type {
  CheckDef, CompiledExpr, ConstCheck, DetectRule, Expr, FieldDef, InnerCandidate, RegionDecl, Repeat, SchemaDef, SpecialName, SwitchCase, Template,
  TypeDef,
} from './types.js';

/** What one property of a node holds, as far as the traversal cares. */
type SlotFor<V> = [NonNullable<V>] extends [CompiledExpr]
  ? 'expr'
  : [NonNullable<V>] extends [Template]
    ? 'template'
    : [NonNullable<V>] extends [ConstCheck<unknown>]
      ? 'const'
      : [NonNullable<V>] extends [Repeat]
        ? 'repeat'
        : [V] extends [readonly SwitchCase[]]
          ? 'cases'
          : [V] extends [readonly CheckDef[]]
            ? 'checks'
            : [V] extends [readonly InnerCandidate[]]
              ? 'inner'
              : [V] extends [ReadonlyMap<string, CompiledExpr>]
                ? 'expr-map'
                : 'none';

/** A table entry for every property of T, each the one slot kind its type implies. */
export type Slots<T> = { readonly [P in keyof T]-?: SlotFor<T[P]> };
type Slot = SlotFor<unknown> | 'expr' | 'template' | 'const' | 'repeat' | 'cases' | 'checks' | 'inner' | 'expr-map';

const BASE = { id: 'none', doc: 'none', pos: 'none', at: 'expr', when: 'expr', repeat: 'repeat', align: 'none', hidden: 'none' } as const;

const FIELD_SLOTS: { readonly [K in FieldDef['kind']]: Slots<Extract<FieldDef, { kind: K }>> } = {
  int: { ...BASE, kind: 'none', bytes: 'none', signed: 'none', endian: 'none', enumRef: 'none', flagsRef: 'none', bits: 'none', constant: 'const' },
  bytes: { ...BASE, kind: 'none', size: 'expr', constant: 'const' },
  str: { ...BASE, kind: 'none', size: 'expr', zeroTerminated: 'none', encoding: 'none', constant: 'const' },
  struct: { ...BASE, kind: 'none', type: 'none', size: 'expr' },
  switch: { ...BASE, kind: 'none', on: 'expr', cases: 'cases', otherwise: 'none', size: 'expr' },
  value: { ...BASE, kind: 'none', value: 'expr', enumRef: 'none', flagsRef: 'none' },
};
const CHECK_SLOTS: Slots<CheckDef> = { id: 'none', assert: 'expr', message: 'template', severity: 'none', pos: 'none' };
const CASE_SLOTS: Slots<SwitchCase> = { match: 'expr', type: 'none' };
const INNER_SLOTS: Slots<InnerCandidate> = { schema: 'none', when: 'expr' };
const REGION_SLOTS: Slots<RegionDecl> = {
  id: 'none', doc: 'none', each: 'expr', name: 'expr', when: 'expr', offset: 'expr', size: 'expr', markers: 'none', main: 'none', codec: 'expr', codecByMagic: 'none',
  codecs: 'none', chain: 'none', expectedSize: 'expr', expectedSizeModulo: 'none', inner: 'inner', checks: 'checks',
};
const DETECT_SLOTS: Slots<DetectRule> = { magic: 'none', when: 'expr', confirm: 'none', refines: 'none' };
/** Schema-level positions (types are walked one by one with forEachTypeExpr; regions, detection and facts here). */
const SCHEMA_SLOTS: Slots<Omit<SchemaDef, 'regions' | 'detect'>> = {
  id: 'none', file: 'none', title: 'none', description: 'none', endian: 'none', imports: 'none', root: 'none', types: 'none', enums: 'none', flagSets: 'none',
  summary: 'template', scans: 'none', facts: 'expr-map',
};

export type ExprVisitor = (e: CompiledExpr) => void;

function walkSlots<T extends object>(node: T, slots: Slots<T> | Record<string, Slot>, visit: ExprVisitor): void {
  for (const [key, slot] of Object.entries(slots) as [keyof T & string, Slot][]) {
    const v = node[key] as unknown;
    if (v === null || v === undefined) continue;
    switch (slot) {
      case 'none':
        break;
      case 'expr':
        visit(v as CompiledExpr);
        break;
      case 'template':
        forEachTemplateExpr(v as Template, visit);
        break;
      case 'const':
        if ((v as ConstCheck<unknown>).message) forEachTemplateExpr((v as ConstCheck<unknown>).message!, visit);
        break;
      case 'repeat': {
        const r = v as Repeat;
        switch (r.k) {
          case 'count':
            visit(r.count);
            break;
          case 'until':
            visit(r.until);
            break;
          case 'to-end':
            break;
        }
        break;
      }
      case 'cases':
        for (const c of v as readonly SwitchCase[]) walkSlots(c, CASE_SLOTS, visit);
        break;
      case 'checks':
        for (const c of v as readonly CheckDef[]) walkSlots(c, CHECK_SLOTS, visit);
        break;
      case 'inner':
        for (const c of v as readonly InnerCandidate[]) walkSlots(c, INNER_SLOTS, visit);
        break;
      case 'expr-map':
        for (const e of (v as ReadonlyMap<string, CompiledExpr>).values()) visit(e);
        break;
    }
  }
}

export function forEachTemplateExpr(t: Template, visit: ExprVisitor): void {
  for (const p of t.parts) if (p.k === 'hole') visit(p.expr);
}

/** Every expression of one field (its position, condition, repeat, size, value, cases, messages). */
export function forEachFieldExpr(f: FieldDef, visit: ExprVisitor): void {
  walkSlots(f, FIELD_SLOTS[f.kind] as Record<string, Slot>, visit);
}

/** Every expression a type holds: its fields' and its checks'. */
export function forEachTypeExpr(t: TypeDef, visit: ExprVisitor): void {
  if (t.endianExpr) visit(t.endianExpr);
  for (const f of t.fields) forEachFieldExpr(f, visit);
  for (const c of t.checks) walkSlots(c, CHECK_SLOTS, visit);
}

/** Every expression a schema holds outside its types: detection, summary, regions, facts. */
export function forEachSchemaExpr(s: SchemaDef, visit: ExprVisitor): void {
  walkSlots(s, SCHEMA_SLOTS as Record<string, Slot>, visit);
  if (s.detect) walkSlots(s.detect, DETECT_SLOTS, visit);
  for (const r of s.regions) walkSlots(r, REGION_SLOTS, visit);
}

/** The direct sub-expressions of an expression node (exhaustive: a new node kind must be added here). */
export function forEachChild(e: Expr, visit: (child: Expr) => void): void {
  switch (e.k) {
    case 'int':
    case 'str':
    case 'bool':
    case 'null':
    case 'name':
    case 'special':
    case 'enumref':
      return;
    case 'member':
      visit(e.object);
      return;
    case 'index':
      visit(e.object);
      visit(e.index);
      return;
    case 'unary':
      visit(e.arg);
      return;
    case 'binary':
      visit(e.left);
      visit(e.right);
      return;
    case 'cond':
      visit(e.test);
      visit(e.then);
      visit(e.else);
      return;
    case 'call':
    case 'apply':
      for (const a of e.args) visit(a);
      return;
  }
}

/** Whether any node of `e` (itself included) satisfies `test`. */
export function someNode(e: Expr, test: (node: Expr) => boolean): boolean {
  if (test(e)) return true;
  let found = false;
  forEachChild(e, (c) => {
    if (!found && someNode(c, test)) found = true;
  });
  return found;
}

/** The built-in variables (`_root`, `_parent`, `_region`...) an expression refers to. */
export function specialsOf(e: Expr, out = new Set<SpecialName>()): Set<SpecialName> {
  if (e.k === 'special') out.add(e.name);
  forEachChild(e, (c) => specialsOf(c, out));
  return out;
}

/** The built-in variables a type's expressions refer to. */
export function typeSpecials(t: TypeDef): Set<SpecialName> {
  const out = new Set<SpecialName>();
  forEachTypeExpr(t, (e) => specialsOf(e.ast, out));
  return out;
}
