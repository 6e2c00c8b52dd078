/**
 * Schema AST -> one specialised JavaScript function per struct type, cached per schema and variant.
 *
 * Generated only from the validated model (src/types.ts) through the safe builder in ./code.ts:
 * identifiers are generated, names and constants appear only as escaped literals or as entries of
 * the constants array `K`, helpers come from the runtime object `H` (./runtime.ts). The result must
 * agree with the interpreter (src/interp/interpreter.ts) on every input, errors included; the
 * differential test checks that.
 */
import { BufferSource, type ByteSource } from '../core/bytes.js';
import { ParseError } from '../core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';
import { hexInt, quoteBytes } from '../expr/format.js';
import type { ParseOptions, ParseResult } from '../engine.js';
import type { Engine } from '../engine.js';
import type {
  CheckDef, CompiledExpr, FieldDef, FieldPlan, IntField, ReadStep, RepeatStep, SchemaDef, Severity, StrField, SwitchField, Template, TypeDef, TypePlanIR,
  TypeRef, ValidateStep,
} from '../types.js';
import { lowerType, mayRecord, reachableTypes, usedSpecials, walkField, type FieldBackend } from '../lower/lower.js';
import { _, join, lit, Names, nil, objectLiteral, prop, type Code, type Name } from './code.js';
import { ANY, ExprGen, fieldType, intType, rt, storedType, withNull, type Binding, type ExprEnv, type SType } from './expr.js';
import { needsChecked, stepCount } from '../expr/steps.js';
import { runtime, type Ctx } from './runtime.js';

export interface Variant {
  /** Record offsets and sizes (ParseOptions.layout). */
  readonly layout: boolean;
  /** The source is a BufferSource: read its whole DataView directly, no windows. */
  readonly buffer: boolean;
}

type RootFn = (C: Ctx, p: number, rs: number, re: number, ri: unknown, P: unknown, R: unknown, ix: number | null, d: number) => Record<string, unknown>;

export interface CompiledSchema {
  readonly source: string;
  readonly consts: readonly unknown[];
  readonly usesRegion: boolean;
  readonly root: RootFn;
}

// Fixed vocabulary of the generated code (never schema text).
const N = {
  C: Names.fixed('C'), p: Names.fixed('p'), rs: Names.fixed('rs'), re: Names.fixed('re'), ri: Names.fixed('ri'),
  P: Names.fixed('P'), R: Names.fixed('R'), ix: Names.fixed('ix'), d: Names.fixed('d'), p0: Names.fixed('p0'),
  os: Names.fixed('os'), o: Names.fixed('o'), lf: Names.fixed('lf'), V: Names.fixed('V'), U: Names.fixed('U'),
  b: Names.fixed('b'), w: Names.fixed('w'), le: Names.fixed('le'), K: Names.fixed('K'), H: Names.fixed('H'), err: Names.fixed('err'),
};

const HELPERS = Object.keys(runtime).filter((k) => /^[a-zA-Z0-9]+$/.test(k));

/** One element being generated: where, under which path and index, and (inside a run) its static address. */
interface ElemCtx {
  readonly site: Site;
  /** `_index` of a struct parsed as this element (null when the field is not repeated). */
  readonly index: Code;
  /** The check id of a constant (the field's name, or `[i]` for an element). */
  readonly id: Code;
  readonly run: { readonly pos: Code; readonly addr: Code } | null;
}

/** What an element's code leaves behind: its value, its end cursor, its layout. */
interface ElemOut {
  readonly v: Code;
  readonly t: SType;
  readonly end: Code;
  readonly layout: Code;
  /** The cursor is already past it (value fields, arrays). */
  readonly moved?: boolean;
  /** Where its bytes are in V/U, and how many (constant checks compare in place). */
  readonly addr?: Code | null;
  readonly n?: Code | null;
  readonly staticN?: number | null;
}

type ElemGen = (c: ElemCtx) => ElemOut;
type FieldMode = { readonly k: 'checked'; readonly atDone: boolean } | { readonly k: 'run'; readonly pos: Code; readonly addr: Code };
type FieldGen = (m: FieldMode) => void;

class Unit {
  readonly names = new Names();
  readonly consts: unknown[] = [];
  readonly fnOf = new Map<TypeDef, Name>();
  readonly types: TypeDef[] = [];
  readonly early: boolean;
  readonly usesRegion: boolean;

  constructor(readonly schema: SchemaDef, readonly v: Variant) {
    for (const t of reachableTypes(schema.root.target!)) {
      this.fnOf.set(t, this.names.make('T'));
      this.types.push(t);
    }
    const used = usedSpecials(this.types);
    this.early = used.has('_root') || used.has('_parent');
    this.usesRegion = used.has('_region');
  }

  konst(v: unknown): Code {
    let i = this.consts.indexOf(v);
    if (i < 0) i = this.consts.push(v) - 1;
    return _`${N.K}[${i}]`;
  }

  /** Whether parsing the type can record check outcomes (then callers fix up their paths). */
  mayRecord(t: TypeDef): boolean {
    return mayRecord(t);
  }

  generate(): string {
    const fns = this.types.map((t) => new TypeGen(this, t).generate());
    const helpers = join(HELPERS.map((h) => _`const ${rt(h)} = ${N.H}[${h}];\n`));
    return _`"use strict";\n${helpers}${join(fns, _`\n`)}\nreturn ${this.fnOf.get(this.schema.root.target!)!};\n`.toString();
  }
}

interface Site {
  /** Absolute offset errors report (the element's position; the struct start in checks). */
  readonly off: Code;
  /** Absolute cursor that `_pos` is relative to (the field's start; the end cursor in checks). */
  readonly cur: Code;
  /** Relative field path (a string expression). */
  readonly path: Code;
}

function at(pos: Code, path: Code): Site {
  return { off: pos, cur: pos, path };
}

class TypeGen {
  private readonly out: Code[] = [];
  private readonly temps: Name[] = [];
  private readonly locals: Name[];
  /** Index of the field being generated (names of later fields are still null). */
  private current = 0;
  private readonly names: Names;
  private readonly buf: boolean;

  private readonly plan: TypePlanIR;
  /** Each field's steps, as the lowering orders them. */
  private readonly steps: readonly FieldGen[];

  constructor(private readonly u: Unit, private readonly t: TypeDef) {
    this.names = u.names;
    this.buf = u.v.buffer;
    this.locals = t.fields.map(() => this.names.make('f'));
    this.plan = lowerType(t);
    const b = this.backend();
    this.steps = this.plan.fields.map((f) => walkField(b, f));
  }

  private emit(c: Code): void {
    this.out.push(c);
  }

  private tmp(prefix = 't'): Name {
    const n = this.names.make(prefix);
    this.temps.push(n);
    return n;
  }

  generate(): Code {
    const { t, u } = this;
    const fields = t.fields;
    if (this.plan.endian) {
      // The byte order, computed as the struct starts (errors at its start, with its path).
      const site: Site = { off: _`${N.p0}`, cur: _`${N.p}`, path: _`""` };
      const v = this.compute(this.plan.endian, site);
      this.emit(_`if (${v.code} !== "le" && ${v.code} !== "be") throw ${rt('badEndian')}(${N.C}, ${this.plan.endian.source}, ${v.code}, ${N.p0});\n`);
      this.emit(_`${N.le} = ${v.code} === "le";\n`);
    }
    const plan = this.plan.fields;
    let i = 0;
    while (i < plan.length) {
      // A run: fields of static size (the first may have `at`), read under one bounds check.
      let j = i;
      let total = 0;
      while (j < plan.length) {
        const size = plan[j]!.staticSize;
        if (size === null || (j > i && plan[j]!.at)) break;
        total += size;
        j++;
      }
      if (j - i >= 1 && total > 0) {
        this.run(i, j, total);
        i = j;
      } else {
        this.steps[i]!({ k: 'checked', atDone: false });
        i++;
      }
    }
    // checks, at the end of the struct
    this.current = fields.length;
    for (const c of t.checks) this.check(c);

    const body = this.out;
    const decl: Code[] = [];
    decl.push(_`if (${N.d} > ${N.C}.md) throw ${rt('depth')}(${N.C}, ${N.p});\n`);
    decl.push(_`if ((${N.C}.nf += ${this.t.fields.length}) > ${N.C}.mf) throw ${rt('fieldLimit')}(${N.C}, "", ${N.p});\n`);
    decl.push(_`const ${N.p0} = ${N.p}, ${N.os} = ${N.p} - ${N.rs};\n`);
    if (this.locals.length) decl.push(_`let ${join(this.locals.map((l) => _`${l} = null`), _`, `)};\n`);
    if (this.temps.length) decl.push(_`let ${join(this.temps, _`, `)};\n`);
    if (u.early) {
      decl.push(_`const ${N.o} = ${objectLiteral(fields.map((f) => [f.id, _`null`] as const))};\n`);
      decl.push(_`if (${N.R} === null) ${N.R} = ${N.o};\n`);
    }
    if (u.v.layout) decl.push(_`const ${N.lf} = [];\n`);
    if (this.plan.endian) decl.push(_`let ${N.le} = true;\n`);
    if (this.buf) decl.push(_`const ${N.V} = ${N.C}.V, ${N.U} = ${N.C}.U;\n`);
    else decl.push(_`let ${N.V}, ${N.U}, ${N.b}, ${N.w};\n`);
    const end: Code[] = [];
    if (!u.early) end.push(_`const ${N.o} = ${objectLiteral(fields.map((f, k) => [f.id, this.locals[k]!] as const))};\n`);
    end.push(_`${N.C}.end = ${N.p};\n`);
    if (u.v.layout) end.push(_`${N.C}.lay = { type: ${u.konst(t)}, offset: ${N.p0}, size: ${N.p} - ${N.p0}, fields: ${N.lf} };\n`);
    end.push(_`return ${N.o};\n`);
    const name = u.fnOf.get(t)!;
    return _`function ${name}(${N.C}, ${N.p}, ${N.rs}, ${N.re}, ${N.ri}, ${N.P}, ${N.R}, ${N.ix}, ${N.d}) {\n${join(decl)}${join(body)}${join(end)}}\n`;
  }

  // ---------------------------------------------------------------------------------------------
  // expressions

  private env(site: Site): ExprEnv {
    const self = this;
    return {
      names: this.names,
      temps: this.temps,
      C: _`${N.C}`,
      local(name: string): Binding {
        const o = self.override;
        if (o && !o.repeated && o.id === name) return o.value;
        const k = self.t.fields.findIndex((f) => f.id === name);
        if (k < 0) return { code: _`${rt('member')}(${self.u.early ? N.o : _`{}`}, ${name})`, t: ANY };
        const local = self.locals[k]!;
        if (k >= self.current) return { code: _`${local}`, t: { k: 'null' } };
        const f = self.t.fields[k]!;
        // A conditional value field is null when its `if` did not hold, whatever type its expression has.
        if (f.kind === 'value') {
          const vt = self.valueTypes.get(k) ?? ANY;
          return { code: _`${local}`, t: f.when ? withNull(vt) : vt };
        }
        return { code: _`${local}`, t: fieldType(f) };
      },
      parent: _`${N.P}`,
      root: _`${N.R}`,
      index: _`${N.ix}`,
      offset: _`${N.os}`,
      pos: _`(${site.cur} - ${N.rs})`,
      region: _`${N.ri}`,
      elem: this.override ? this.override.value : this.until ? this.until.elem : null,
      loopIndex: this.until ? this.until.index : null,
    };
  }

  /** While an `until` condition is generated: the element just read and its index. */
  private until: { elem: Binding; index: Code } | null = null;

  private untilScope<T>(scope: { elem: Binding; index: Code }, fn: () => T): T {
    const saved = this.until;
    this.until = scope;
    try {
      return fn();
    } finally {
      this.until = saved;
    }
  }

  /** While a const message renders: the value found, as `_` and under the field's own name. */
  private override: { id: string; repeated: boolean; value: Binding } | null = null;

  private readonly valueTypes = new Map<number, SType>();

  /** Evaluates an expression into a new temporary, converting errors as Run.eval does. */
  private compute(ce: CompiledExpr, site: Site): Binding {
    const t = this.tmp();
    const env = this.env(site);
    const checked = new ExprGen(env, true).gen(ce.ast);
    let body: Code;
    if (needsChecked(ce.ast)) {
      body = _`${t} = ${checked.code};`;
    } else {
      const n = stepCount(ce.ast);
      const fast = new ExprGen(env, false).gen(ce.ast);
      body = _`if ((${N.C}.s += ${n}) > ${N.C}.ms) { ${N.C}.s -= ${n}; ${t} = ${checked.code}; } else ${t} = ${fast.code};`;
    }
    this.emit(_`try { ${body} } catch (${N.err}) { throw ${rt('exprError')}(${N.C}, ${N.err}, ${ce.source}, ${site.path}, ${site.off}); }\n`);
    return { code: _`${t}`, t: checked.t };
  }

  /** One step for a literal whose value is known statically. */
  private literalStep(site: Site): void {
    this.emit(_`if (++${N.C}.s > ${N.C}.ms) throw ${rt('exprError')}(${N.C}, ${rt('stepError')}, "", ${site.path}, ${site.off});\n`);
  }

  private truthy(b: Binding): Code {
    return new ExprGen(this.env(at(_`0`, _`""`)), false).truthy(b);
  }

  /** A condition (`if:`, `assert:`); a value of the wrong kind is the same ParseError as in the interpreter. */
  private cond(ce: CompiledExpr, site: Site): Code {
    const v = this.compute(ce, site);
    const t = v.t;
    if (t.k === 'bool' || (t.k === 'num' && !t.nul) || (t.k === 'big' && !t.nul)) return this.truthy(v);
    const b = this.tmp('b');
    this.emit(_`try { ${b} = ${rt('truthy')}(${v.code}); } catch (${N.err}) { throw ${rt('exprError')}(${N.C}, ${N.err}, ${ce.source}, ${site.path}, ${site.off}); }\n`);
    return _`${b}`;
  }

  private render(m: Template, site: Site): Code {
    const s = this.tmp('s');
    this.emit(_`${s} = "";\n`);
    for (const part of m.parts) {
      if (part.k === 'text') this.emit(_`${s} += ${part.text};\n`);
      else {
        const v = this.compute(part.expr, site);
        this.emit(_`${s} += ${rt('formatValue')}(${v.code}, ${part.format});\n`);
      }
    }
    return _`${s}`;
  }

  private mismatch(severity: Severity, message: Template | null, site: Site, id: Code, fallback: Code, expected: Code, found: Code, found_: Binding, f: FieldDef): void {
    let text = fallback;
    if (message) {
      this.override = { id: f.id, repeated: f.repeat !== null, value: found_ };
      try {
        text = this.render(message, site);
      } finally {
        this.override = null;
      }
    }
    if (severity === 'error') this.emit(_`throw ${rt('constError')}(${N.C}, ${text}, ${expected}, ${found}, ${site.path}, ${site.off});\n`);
    else this.emit(_`${rt('constWarning')}(${N.C}, ${id}, ${site.path}, ${text}, ${expected}, ${found});\n`);
  }

  private constPass(severity: Severity, id: Code, site: Site): Code {
    return severity === 'warning' ? _` else ${rt('constPass')}(${N.C}, ${id}, ${site.path});` : nil;
  }

  private block(fn: () => void): Code {
    const saved = this.out.splice(0);
    fn();
    const inner = this.out.splice(0);
    this.out.push(...saved);
    return join(inner);
  }

  // ---------------------------------------------------------------------------------------------
  // fields

  private assign(k: number, value: Code): void {
    this.emit(_`${this.locals[k]!} = ${value};\n`);
    if (this.u.early) this.emit(_`${prop(N.o, this.t.fields[k]!.id)} = ${this.locals[k]!};\n`);
  }

  private leaf(pos: Code, size: Code | number): Code {
    return _`{ offset: ${pos}, size: ${size}, struct: null, elements: null }`;
  }

  /** A run of fields [i, j) of static total size, under one bounds check (else field by field). */
  private run(i: number, j: number, total: number): void {
    const first = this.plan.fields[i]!;
    if (first.at) {
      this.current = i;
      this.position(first.field, at(_`${N.p}`, lit(first.id)));
    }
    const fast = this.block(() => {
      if (!this.buf) this.emit(_`${N.w} = ${N.C}.S.window(${N.p}, ${total}); ${N.V} = ${N.w}.view; ${N.U} = ${N.w}.bytes; ${N.b} = ${N.p} - ${N.w}.base;\n`);
      let k = 0;
      for (let x = i; x < j; x++) {
        const f = this.plan.fields[x]!;
        const pos = k === 0 ? _`${N.p}` : _`(${N.p} + ${k})`;
        const base = this.buf ? _`${N.p}` : _`${N.b}`;
        const addr = k === 0 ? base : _`(${base} + ${k})`;
        this.steps[x]!({ k: 'run', pos, addr });
        k += f.staticSize!;
      }
      this.emit(_`${N.p} += ${total};\n`);
    });
    const slow = this.block(() => {
      for (let x = i; x < j; x++) this.steps[x]!({ k: 'checked', atDone: x === i && first.at !== null });
    });
    this.emit(_`if (${N.p} + ${total} <= ${N.re}) {\n${fast}} else {\n${slow}}\n`);
  }

  private position(f: FieldDef, site: Site): void {
    const v = this.compute(f.at!, site);
    const sz = this.tmp();
    this.emit(_`${sz} = ${N.re} - ${N.rs};\n`);
    const intCheck = v.t.k === 'num' && !v.t.nul ? _`${v.code} < 0 || ${v.code} > ${sz}` : _`!${rt('isInt')}(${v.code}) || ${v.code} < 0 || ${v.code} > ${sz}`;
    this.emit(_`if (${intCheck}) throw ${rt('position')}(${N.C}, ${f.at!.source}, ${v.code}, ${sz}, ${site.path}, ${site.off});\n`);
    this.emit(_`${N.p} = ${N.rs} + ${v.t.k === 'num' ? v.code : _`Number(${v.code})`};\n`);
  }

  private valueField(k: number, site: Site): Code {
    const f = this.t.fields[k] as Extract<FieldDef, { kind: 'value' }>;
    const v = this.compute(f.value, site);
    const t = storedType(v.t);
    this.valueTypes.set(k, t);
    if (v.t.k === 'num' || v.t.k === 'bool' || v.t.k === 'str' || v.t.k === 'null' || v.t.k === 'bytes' || v.t.k === 'struct' || v.t.k === 'array' || v.t.k === 'fields') return v.code;
    return _`(typeof ${v.code} === "bigint" ? ${rt('norm')}(${v.code}) : ${v.code})`;
  }

  /**
   * The compiler's primitives for the lowering's steps (src/lower/lower.ts orders them). An element is a
   * generator called where its code goes (per element of an unrolled array, inside a loop's body); a
   * field is a generator called in one of two modes: on its own with bounds checks, or inside a run of
   * static size at a static address.
   */
  private backend(): FieldBackend<ElemGen, FieldGen> {
    return {
      read: {
        int: (s) => (c) => {
          const addr = c.run ? c.run.addr : this.checkedWindow(lit(s.field.bytes), c.site);
          const pos = c.run ? c.run.pos : _`${N.p}`;
          const v = this.tmp('v');
          this.emit(_`${v} = ${this.intRead(s.field, s.le === null ? _`${N.le}` : lit(s.le), addr)};\n`);
          return { v: _`${v}`, t: intType(s.field.bytes, s.field.signed), end: _`${pos} + ${s.field.bytes}`, layout: this.leaf(pos, s.field.bytes), addr, n: lit(s.field.bytes), staticN: s.field.bytes };
        },
        bytes: (s) => (c) => {
          let n: Code;
          let staticN: number | null = null;
          if (c.run) {
            if (s.size) this.literalStep(c.site);
            staticN = s.size ? Number((s.size.ast as { value: bigint }).value) : s.fixed;
            n = lit(staticN);
          } else n = s.size ? this.size(s.size, c.site) : lit(s.fixed);
          const addr = c.run ? c.run.addr : this.checkedWindow(n, c.site);
          const pos = c.run ? c.run.pos : _`${N.p}`;
          const v = this.tmp('v');
          this.emit(this.buf ? _`${v} = ${N.U}.slice(${c.site.off}, ${c.site.off} + ${n});\n` : _`${v} = ${N.C}.S.slice(${c.site.off}, ${n});\n`);
          return { v: _`${v}`, t: { k: 'bytes', nul: false }, end: _`${pos} + ${n}`, layout: this.leaf(pos, n), addr, n, staticN };
        },
        str: (s) => (c) => {
          let n: Code;
          if (c.run) {
            this.literalStep(c.site);
            n = lit(Number((s.size.ast as { value: bigint }).value));
          } else n = this.size(s.size, c.site);
          const addr = c.run ? c.run.addr : this.checkedWindow(n, c.site);
          const pos = c.run ? c.run.pos : _`${N.p}`;
          const v = this.tmp('v');
          this.emit(_`${v} = ${this.decode(s.field, addr, n, s.field.zeroTerminated)};\n`);
          return { v: _`${v}`, t: { k: 'str', nul: false }, end: _`${pos} + ${n}`, layout: this.leaf(pos, n), addr, n, staticN: null };
        },
        strz: (s) => (c) => this.strUnbounded(s.field, c.site),
        value: (_s, f) => (c) => {
          const pos = c.run ? c.run.pos : _`${N.p}`;
          return { v: this.valueField(f.index, c.site), t: ANY, end: pos, layout: this.leaf(pos, 0), moved: true };
        },
        struct: (s) => (c) => this.sub(s.type, s.size, c.site, c.index),
        switch: (s) => (c) => this.switchField(s.field, s.size, c.site, c.index),
      },
      validate: (one, step, f) => (c) => {
        const r = one(c);
        this.constant(step, f.field, c.site, c.id, r);
        return r;
      },
      project: (one, f) => (c) => {
        const r = one(c);
        const s = f.read as Extract<ReadStep, { k: 'int' }>;
        return { ...r, v: this.bits(s.field, s.le, r.v, r.addr!) };
      },
      repeat: (one, rep, f) => (c) => (c.run ? this.unrolled(one, rep, f, c.run) : this.loop(one, rep, f)),
      store: (one, f) => (m) => {
        this.current = f.index;
        const lay = this.u.v.layout;
        const r =
          m.k === 'run'
            ? one({ site: at(m.pos, lit(f.id)), index: _`null`, id: lit(f.id), run: { pos: m.pos, addr: m.addr } })
            : one({ site: at(_`${N.p}`, lit(f.id)), index: _`null`, id: lit(f.id), run: null });
        this.assign(f.index, r.v);
        if (lay) this.emit(_`${N.lf}.push(${r.layout});\n`);
        if (m.k === 'checked' && !r.moved) this.emit(_`${N.p} = ${r.end};\n`);
      },
      align: (next, f) => (m) => {
        next(m);
        // Only fields of dynamic size are aligned (the lowering gives aligned fields no static size).
        const n = f.align!;
        const padded = this.tmp('n');
        this.emit(_`${padded} = ${N.rs} + Math.ceil((${N.p} - ${N.rs}) / ${n}) * ${n};\n`);
        this.emit(_`if (${padded} > ${N.re}) throw ${rt('alignFail')}(${N.C}, ${N.p}, ${padded}, ${N.re}, ${n}, ${lit(f.id)});\n`);
        this.emit(_`${N.p} = ${padded};\n`);
      },
      position: (next, f) => (m) => {
        this.current = f.index;
        if (m.k === 'checked' && !m.atDone) this.position(f.field, at(_`${N.p}`, lit(f.id)));
        next(m);
      },
      guard: (next, f) => (m) => {
        this.current = f.index;
        const body = this.block(() => next(m));
        const c = this.cond(f.when!, at(_`${N.p}`, lit(f.id)));
        this.emit(_`if (${c}) {\n${body}}${this.u.v.layout ? _` else ${N.lf}.push(null);` : nil}\n`);
      },
    };
  }

  /** An array by count or to the end of the region, element by element; the cursor ends after it. */
  private loop(one: ElemGen, rep: RepeatStep, f: FieldPlan): ElemOut {
    const lay = this.u.v.layout;
    const site = at(_`${N.p}`, lit(f.id));
    const fp = this.tmp('q');
    const arr = this.tmp('a');
    const els = this.tmp('l');
    const i = this.tmp('i');
    this.emit(_`${fp} = ${N.p}; ${arr} = [];${lay ? _` ${els} = [];` : nil}\n`);
    // Expressions inside elements see the field's scope: `_pos` is where the field starts.
    const inner = (): Code => {
      const path = _`(${f.id + '['} + ${i} + "]")`;
      // errors at the element, `_pos` at the field's start
      const esite: Site = { off: _`${N.p}`, cur: _`${fp}`, path };
      return this.block(() => {
        const r = one({ site: esite, index: _`${i}`, id: _`("[" + ${i} + "]")`, run: null });
        this.emit(_`${arr}.push(${r.v});\n`);
        if (lay) this.emit(_`${els}.push(${r.layout});\n`);
        const end = this.tmp('n');
        this.emit(_`${end} = ${r.end};\n`);
        if (rep.k !== 'count') this.emit(_`if (${end} <= ${N.p}) throw ${rt('noProgress')}(${N.C}, ${path}, ${N.p}, ${rep.k});\n`);
        this.emit(_`${N.p} = ${end};\n`);
      });
    };
    switch (rep.k) {
      case 'count': {
        const c = this.compute(rep.count, site);
        this.emit(_`if (!${rt('isInt')}(${c.code}) || ${c.code} < 0) throw ${rt('badCount')}(${N.C}, ${c.code}, ${site.path}, ${N.p});\n`);
        this.emit(_`if (${c.code} > ${N.C}.ma) throw ${rt('arrayLimit')}(${N.C}, ${site.path}, ${N.p});\n`);
        const n = this.tmp('c');
        this.emit(_`${n} = Number(${c.code});\n`);
        this.emit(_`if ((${N.C}.nf += ${n}) > ${N.C}.mf) throw ${rt('fieldLimit')}(${N.C}, ${site.path}, ${N.p});\n`);
        const body = inner();
        this.emit(_`for (${i} = 0; ${i} < ${n}; ${i}++) {\n${body}}\n`);
        break;
      }
      case 'until': {
        // After each element, the condition with `_` the element and `_index` its index.
        const body = inner();
        const done = this.block(() => {
          const c = this.untilScope({ elem: { code: _`${arr}[${i}]`, t: ANY }, index: _`${i}` }, () => this.cond(rep.until, site));
          this.emit(_`if (${c}) break;\n`);
        });
        this.emit(_`for (${i} = 0; ; ${i}++) {\nif (${i} >= ${N.C}.ma) throw ${rt('arrayLimit')}(${N.C}, ${site.path}, ${N.p});\nif (++${N.C}.nf > ${N.C}.mf) throw ${rt('fieldLimit')}(${N.C}, ${site.path}, ${N.p});\n${body}${done}}\n`);
        break;
      }
      case 'to-end': {
        const body = inner();
        this.emit(_`${i} = 0;\nwhile (${N.p} < ${N.re}) {\nif (${i} >= ${N.C}.ma) throw ${rt('arrayLimit')}(${N.C}, ${site.path}, ${N.p});\nif (++${N.C}.nf > ${N.C}.mf) throw ${rt('fieldLimit')}(${N.C}, ${site.path}, ${N.p});\n${body}${i}++;\n}\n`);
        break;
      }
    }
    return { v: _`${arr}`, t: ANY, end: _`${N.p}`, layout: _`{ offset: ${fp}, size: ${N.p} - ${fp}, struct: null, elements: ${els} }`, moved: true };
  }

  /** An array of static count and element size inside a run: one element per static address. */
  private unrolled(one: ElemGen, rep: RepeatStep, f: FieldPlan, run: { pos: Code; addr: Code }): ElemOut {
    const site = at(run.pos, lit(f.id));
    // Only a literal count gives a field a static size, so only such arrays are inside runs.
    const count = rep.k === 'count' && rep.count.ast.k === 'int' ? Number(rep.count.ast.value) : 0;
    const width = count > 0 ? f.staticSize! / count : 0;
    this.literalStep(site);
    this.emit(_`if (${count} > ${N.C}.ma) throw ${rt('arrayLimit')}(${N.C}, ${site.path}, ${run.pos});\n`);
    this.emit(_`if ((${N.C}.nf += ${count}) > ${N.C}.mf) throw ${rt('fieldLimit')}(${N.C}, ${site.path}, ${run.pos});\n`);
    const vals: Code[] = [];
    const els: Code[] = [];
    for (let e = 0; e < count; e++) {
      const epos = _`(${run.pos} + ${e * width})`;
      const eaddr = _`(${run.addr} + ${e * width})`;
      const r = one({ site: at(epos, lit(`${f.id}[${e}]`)), index: lit(e), id: lit(`[${e}]`), run: { pos: epos, addr: eaddr } });
      vals.push(r.v);
      els.push(r.layout);
    }
    return { v: _`[${join(vals, _`, `)}]`, t: ANY, end: _`${run.pos} + ${count * width}`, layout: _`{ offset: ${run.pos}, size: ${count * width}, struct: null, elements: [${join(els, _`, `)}] }`, moved: true };
  }

  /** Bounds check and window for n bytes at the cursor; the address of the cursor in V/U. */
  private checkedWindow(n: Code, site: Site): Code {
    this.need(_`${N.p}`, n, site);
    return this.window(_`${N.p}`, n);
  }

  private need(pos: Code, n: Code, site: Site): void {
    this.emit(_`if (${pos} + ${n} > ${N.re}) throw ${rt('need')}(${N.C}, ${pos}, ${n}, ${N.rs}, ${N.re}, ${site.path});\n`);
  }

  /** Makes [pos, pos+n) readable through V/U and returns the address of pos in them. */
  private window(pos: Code, n: Code): Code {
    if (this.buf) return pos;
    this.emit(_`${N.w} = ${N.C}.S.window(${pos}, ${n}); ${N.V} = ${N.w}.view; ${N.U} = ${N.w}.bytes; ${N.b} = ${pos} - ${N.w}.base;\n`);
    return _`${N.b}`;
  }

  private size(e: CompiledExpr, site: Site): Code {
    const v = this.compute(e, site);
    const n = this.tmp('z');
    this.emit(_`${n} = ${rt('size')}(${N.C}, ${e.source}, ${v.code}, ${site.path}, ${site.off});\n`);
    return _`${n}`;
  }

  private intRead(f: IntField, le: Code, addr: Code): Code {
    switch (f.bytes) {
      case 1: return f.signed ? _`${N.V}.getInt8(${addr})` : _`${N.U}[${addr}]`;
      case 2: return f.signed ? _`${N.V}.getInt16(${addr}, ${le})` : _`${N.V}.getUint16(${addr}, ${le})`;
      case 4: return f.signed ? _`${N.V}.getInt32(${addr}, ${le})` : _`${N.V}.getUint32(${addr}, ${le})`;
      case 8: return f.signed ? _`${N.V}.getBigInt64(${addr}, ${le})` : _`${N.V}.getBigUint64(${addr}, ${le})`;
    }
  }

  /** The field's constant, on the element just read (`r.v` is a temporary holding it). */
  private constant(step: ValidateStep, f: FieldDef, site: Site, id: Code, r: ElemOut): void {
    const v = r.v;
    const c = step.constant;
    const found: Binding = { code: v, t: r.t };
    let test: Code;
    let body: Code;
    switch (step.k) {
      case 'int': {
        const want = step.constant.value;
        test = _`${v} !== ${step.field.bytes === 8 ? lit(want) : lit(Number(want))}`;
        body = this.block(() => {
          this.mismatch(c.severity, c.message, site, id, _`${f.id + ' is '} + ${rt('hexInt')}(${v}) + ${`, expected ${hexInt(want)}`}`, lit(hexInt(want)), _`${rt('hexInt')}(${v})`, found, f);
        });
        break;
      }
      case 'bytes': {
        const bytes = step.constant.value;
        if (bytes.length <= 16) {
          const addr = r.addr!;
          const parts = [...bytes].map((x, i) => _`${N.U}[${i === 0 ? addr : _`${addr} + ${i}`}] !== ${x}`);
          const lenTest = r.staticN === bytes.length ? null : _`${r.n!} !== ${bytes.length}`;
          const all = lenTest ? [lenTest, ...parts] : parts;
          test = all.length ? join(all, _` || `) : _`false`;
        } else test = _`!${rt('sameBytes')}(${v}, ${this.u.konst(bytes)})`;
        body = this.block(() => {
          this.mismatch(c.severity, c.message, site, id, lit(`${f.id} does not match`), lit(quoteBytes(bytes)), _`${rt('quoteBytes')}(${v})`, found, f);
        });
        break;
      }
      case 'str': {
        const want = step.constant.value;
        test = _`${v} !== ${want}`;
        body = this.block(() => {
          this.mismatch(c.severity, c.message, site, id, _`${f.id + ' is '} + ${rt('json')}(${v})`, lit(JSON.stringify(want)), _`${rt('json')}(${v})`, found, f);
        });
        break;
      }
    }
    this.emit(_`if (${test}) {\n${body}}${this.constPass(c.severity, id, site)}\n`);
  }

  /** An integer split into its bit ranges: an object literal of the value and each range. */
  /** `le` null: the struct's computed byte order (then 64-bit ranges take the BigInt path). */
  private bits(f: IntField, le: boolean | null, v: Code, addr: Code): Code {
    const entries: [string, Code][] = [['value', v]];
    for (const b of f.bits!) {
      let x: Code;
      if (f.bytes < 8) {
        const shift = b.shift;
        const w = b.width;
        if (w >= 32) x = f.signed ? _`Number(BigInt(${v}) & 4294967295n)` : v;
        else {
          const mask = 2 ** w - 1;
          x = shift === 0 ? _`(${v} & ${mask})` : f.signed ? _`((${v} >> ${shift}) & ${mask})` : _`((${v} >>> ${shift}) & ${mask})`;
          if (f.signed && shift + w > f.bytes * 8) x = _`Number((BigInt(${v}) >> ${BigInt(shift)}) & ${(1n << BigInt(w)) - 1n})`;
        }
      } else if (le !== null && b.shift + b.width <= 32 && b.width < 32) {
        // the low word holds it: no BigInt arithmetic
        const low = le ? addr : _`(${addr} + 4)`;
        x = _`((${N.V}.getUint32(${low}, ${le}) >>> ${b.shift}) & ${2 ** b.width - 1})`;
      } else {
        x = _`Number((${v} >> ${BigInt(b.shift)}) & ${(1n << BigInt(b.width)) - 1n})`;
      }
      entries.push([b.id, b.width === 1 && !b.enumRef ? _`(${x} === 1)` : x]);
    }
    return objectLiteral(entries);
  }

  private decode(f: StrField, addr: Code, len: Code, stopAtNul: boolean): Code {
    if (f.encoding === 'utf8') {
      if (!stopAtNul) return _`${rt('utf8')}.decode(${N.U}.subarray(${addr}, ${addr} + ${len}))`;
      const z = this.tmp('z');
      this.emit(_`${z} = ${rt('nul')}(${N.U}, ${addr}, ${addr} + ${len}); if (${z} < 0) ${z} = ${len};\n`);
      return _`${rt('utf8')}.decode(${N.U}.subarray(${addr}, ${addr} + ${z}))`;
    }
    return _`${rt('latin1z')}(${N.U}, ${addr}, ${addr} + ${len}, ${stopAtNul})`;
  }

  private strUnbounded(f: StrField, site: Site): ElemOut {
    const mx = this.tmp('m');
    const at = this.tmp('z');
    const v = this.tmp('v');
    const p = _`${N.p}`;
    this.emit(_`${mx} = ${N.re} - ${p}; if (${mx} > ${N.C}.ml) ${mx} = ${N.C}.ml;\n`);
    const addr = this.window(p, _`(${mx} > 0 ? ${mx} : 0)`);
    this.emit(_`${at} = ${rt('nul')}(${N.U}, ${addr}, ${addr} + ${mx});\n`);
    this.emit(_`if (${at} < 0) { if (${mx} === ${N.C}.ml) throw ${rt('stringLimit')}(${N.C}, ${site.path}, ${p}); throw ${rt('unterminated')}(${N.C}, ${N.re}, ${site.path}, ${p}); }\n`);
    this.emit(_`${v} = ${this.decode(f, addr, _`${at}`, false)};\n`);
    return { v: _`${v}`, t: { k: 'str', nul: false }, end: _`${N.p} + ${at} + 1`, layout: this.leaf(p, _`${at} + 1`), addr: null, n: null, staticN: null };
  }

  private sub(ref: TypeRef, sizeExpr: CompiledExpr | null, site: Site, index: Code): ElemOut {
    const type = ref.target!;
    const u = this.u;
    const p = _`${N.p}`;
    const v = this.tmp('v');
    const fn = u.fnOf.get(type)!;
    const parent = u.early ? _`${N.o}` : _`null`;
    const records = u.mayRecord(type);
    let k0: Name | null = null;
    if (records) {
      k0 = this.tmp('k');
      this.emit(_`${k0} = ${N.C}.checks.length;\n`);
    }
    let end: Code;
    if (sizeExpr) {
      const n = this.size(sizeExpr, site);
      this.need(p, n, site);
      const ri = u.usesRegion ? _`{ offset: ${p}, size: ${n} }` : _`null`;
      this.emit(_`try { ${v} = ${fn}(${N.C}, ${p}, ${p}, ${p} + ${n}, ${ri}, ${parent}, ${N.R}, ${index}, ${N.d} + 1); } catch (${N.err}) { throw ${rt('prefix')}(${N.err}, ${site.path}); }\n`);
      end = _`${N.p} + ${n}`;
    } else {
      this.emit(_`try { ${v} = ${fn}(${N.C}, ${p}, ${N.rs}, ${N.re}, ${N.ri}, ${parent}, ${N.R}, ${index}, ${N.d} + 1); } catch (${N.err}) { throw ${rt('prefix')}(${N.err}, ${site.path}); }\n`);
      const e = this.tmp('n');
      this.emit(_`${e} = ${N.C}.end;\n`);
      end = _`${e}`;
    }
    if (k0) this.emit(_`if (${N.C}.checks.length > ${k0}) ${rt('prefixChecks')}(${N.C}, ${k0}, ${site.path});\n`);
    let layout: Code = nil;
    if (u.v.layout) {
      const l = this.tmp('y');
      this.emit(_`${l} = { offset: ${p}, size: ${end} - ${p}, struct: ${N.C}.lay, elements: null };\n`);
      layout = _`${l}`;
    }
    return { v: _`${v}`, t: ANY, end, layout };
  }

  private switchField(f: SwitchField, size: CompiledExpr | null, site: Site, index: Code): ElemOut {
    const on = this.compute(f.on, site);
    const ch = this.tmp('h');
    this.emit(_`${ch} = -1;\n`);
    // Cases are tried in order; each match expression is evaluated only if the earlier ones failed.
    const tryCase = (c: number): Code =>
      this.block(() => {
        if (c >= f.cases.length) return;
        const m = this.compute(f.cases[c]!.match, site);
        const direct = (on.t.k === 'num' || on.t.k === 'big' || on.t.k === 'int' || on.t.k === 'null') && (m.t.k === 'num' || m.t.k === 'big' || m.t.k === 'int');
        const eq = direct ? _`${on.code} == ${m.code}` : _`${rt('caseEquals')}(${N.C}, ${on.code}, ${m.code}, ${f.on.source}, ${f.cases[c]!.match.source}, ${site.path}, ${site.off})`;
        const rest = tryCase(c + 1);
        this.emit(_`if (${eq}) ${ch} = ${c};${rest.isEmpty ? nil : _` else {\n${rest}}`}\n`);
      });
    this.emit(tryCase(0));
    const chosen: (TypeRef | null)[] = [...f.cases.map((c) => c.type), f.otherwise];
    const v = this.tmp('v');
    const e = this.tmp('n');
    const l = this.tmp('y');
    const branches: Code[] = [];
    chosen.forEach((ref, c) => {
      if (!ref) return;
      const b = this.block(() => {
        const r = this.sub(ref, size, site, index);
        this.emit(_`${v} = ${r.v}; ${e} = ${r.end};${this.u.v.layout ? _` ${l} = ${r.layout};` : nil}\n`);
      });
      branches.push(_`${c === f.cases.length ? _`default` : _`case ${c}`}: {\n${b}break;\n}\n`);
    });
    if (!f.otherwise) {
      const expected = f.cases.map((c) => c.match.source).join(' or ');
      branches.push(_`default: throw ${rt('noCase')}(${N.C}, ${f.on.source}, ${on.code}, ${expected}, ${site.path}, ${site.off});\n`);
    }
    this.emit(_`switch (${ch}) {\n${join(branches)}}\n`);
    return { v: _`${v}`, t: ANY, end: _`${e}`, layout: _`${l}` };
  }

  private check(c: CheckDef): void {
    // errors at the struct start, `_pos` at the cursor at the end of the struct
    const site: Site = { off: _`${N.p0}`, cur: _`${N.p}`, path: _`""` };
    const ok = this.cond(c.assert, site);
    const fail = this.block(() => {
      const msg = this.render(c.message, site);
      if (c.severity === 'error') this.emit(_`throw ${rt('assertion')}(${N.C}, ${msg}, ${c.id}, ${N.p0});\n`);
      else this.emit(_`${N.C}.checks.push({ id: ${c.id}, path: "", severity: ${c.severity}, ok: false, message: ${msg} });\n`);
    });
    this.emit(_`if (${ok}) ${N.C}.checks.push({ id: ${c.id}, path: "", severity: ${c.severity}, ok: true, message: "" });\nelse {\n${fail}}\n`);
  }
}

// -----------------------------------------------------------------------------------------------
// compile, cache, run

/** Per schema: the four variants, indexed by layout * 2 + buffer. */
const cache = new WeakMap<SchemaDef, (CompiledSchema | undefined)[]>();

/** The generated source of a schema's parser (for inspection and tests). */
export function generateSource(schema: SchemaDef, variant: Variant): { source: string; consts: readonly unknown[]; usesRegion: boolean } {
  const unit = new Unit(schema, variant);
  return { source: unit.generate(), consts: unit.consts, usesRegion: unit.usesRegion };
}

/** Compiles (once per schema and variant) the schema's parser. */
export function compileSchema(schema: SchemaDef, variant: Variant): CompiledSchema {
  let perSchema = cache.get(schema);
  if (!perSchema) cache.set(schema, (perSchema = [undefined, undefined, undefined, undefined]));
  const slot = (variant.layout ? 2 : 0) + (variant.buffer ? 1 : 0);
  return perSchema[slot] ?? (perSchema[slot] = build(schema, variant));
}

function build(schema: SchemaDef, variant: Variant): CompiledSchema {
  const g = generateSource(schema, variant);
  const consts = Object.freeze([...g.consts]);
  // The only code kimg generates. `g.source` is the text of a `Code` value, which only the `_` tagged
  // template (code.ts) can make: identifiers come from `Names` (never from schema text), every string is a
  // JSON.stringify'd literal (U+2028/9 escaped), constants travel in `K`, helpers in the frozen `H`.
  const make = new Function('H', 'K', g.source) as (h: typeof runtime, k: readonly unknown[]) => RootFn;
  return { source: g.source, consts, usesRegion: g.usesRegion, root: make(runtime, consts) };
}

/** Parses with the compiled parser: the same contract and results as `interpret`. */
export function parseCompiled(schema: SchemaDef, source: ByteSource, options: ParseOptions = {}): ParseResult {
  const layout = options.layout ?? false;
  const buffer = source instanceof BufferSource;
  const c = compileSchema(schema, { layout, buffer });
  const limits: Limits = options.limits ?? DEFAULT_LIMITS;
  const start = options.offset ?? 0;
  const size = source.size;
  if (start < 0 || start > size) {
    throw new ParseError('out-of-bounds', `start offset ${hexInt(start)} is outside the input (${size} bytes)`, { schema: schema.id, offset: start });
  }
  const w = buffer ? (source as ByteSource).window(0, 0) : null;
  const C: Ctx = {
    s: 0,
    ms: limits.maxExprSteps,
    md: limits.maxDepth,
    ma: limits.maxArrayCount,
    mf: limits.maxFields,
    nf: 0,
    ml: limits.maxStringLength,
    lim: limits,
    schema: schema.id,
    checks: [],
    size,
    file: null,
    S: source,
    V: w ? w.view : null,
    U: w ? w.bytes : null,
    end: 0,
    lay: null,
  };
  const ri = c.usesRegion ? { offset: 0, size } : null;
  const value = c.root(C, start, 0, size, ri, null, null, null, 1);
  return { schema, value, layout: layout ? (C.lay as ParseResult['layout']) : null, checks: C.checks };
}

/** The compiled engine, for Kimg and the pipeline (see src/detect/detect.ts). */
export const compiledEngine: Engine = (schema, source, options) => parseCompiled(schema, source, options);
