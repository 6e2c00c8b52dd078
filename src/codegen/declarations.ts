/**
 * TypeScript declarations of what schemas parse to (`kimg types SCHEMA...`, and the built-in schemas'
 * src/builtin-schemas.ts): one namespace per schema, one interface per type, typed as the interpreter
 * and the compiled parsers build values:
 *
 *   u8..u32 / i8..i32 -> number, u64 / i64 -> bigint (an enum or flag set is its value type: the name
 *   is data for dump, not part of the value); bit fields -> { value, <bit>: number | boolean };
 *   bytes -> Uint8Array; str -> string; struct -> its interface; switch -> the union of its cases;
 *   repeat -> readonly T[]; `if:` -> T | null; a derived `value:` -> inferred from its expression
 *   (number | bigint for arithmetic, boolean for comparisons, unknown where it cannot tell).
 */
import type { Expr, FieldDef, SchemaDef, TypeDef } from '../types.js';
import { FUNCTIONS, type FnResult } from '../expr/functions.js';

/** `arm64-image` -> `Arm64Image`, `pe_file` -> `PeFile`. */
export function typeName(name: string): string {
  const p = name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z_]/.test(p) ? p : `_${p}`;
}

function ref(t: TypeDef): string {
  return `${typeName(t.schemaId)}.${typeName(t.name)}`;
}

function prop(id: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(id) ? id : JSON.stringify(id);
}

function union(types: readonly string[]): string {
  const parts = [...new Set(types.flatMap((t) => t.split(' | ')))];
  if (parts.includes('unknown')) return 'unknown';
  return parts.join(' | ');
}

const INT = 'number | bigint';

/** The TypeScript type of one field's value, before repeat and `if:`. */
function valueType(f: FieldDef, owner: TypeDef): string {
  switch (f.kind) {
    case 'int': {
      const scalar = f.bytes === 8 ? 'bigint' : 'number';
      if (!f.bits) return scalar;
      const bits = f.bits.map((b) => `readonly ${prop(b.id)}: ${b.width === 1 && !b.enumRef ? 'boolean' : 'number'}`);
      return `{ readonly value: ${scalar}; ${bits.join('; ')} }`;
    }
    case 'bytes':
      return 'Uint8Array';
    case 'str':
      return 'string';
    case 'struct':
      return ref(f.type.target!);
    case 'switch':
      return union([...f.cases.map((c) => ref(c.type.target!)), ...(f.otherwise ? [ref(f.otherwise.target!)] : [])]);
    case 'value':
      return f.enumRef || f.flagsRef ? INT : exprType(f.value.ast, owner);
  }
}

function fieldType(f: FieldDef, owner: TypeDef): string {
  let t = valueType(f, owner);
  if (f.repeat) t = `readonly (${t})[]`.replace(/^readonly \(([\w.]+)\)\[\]$/, 'readonly $1[]');
  if (f.when && t !== 'unknown') t = `${t} | null`;
  return t;
}

/** The field an expression names (`coff`, `pe.coff`, `pe.sections`) and the type holding it. */
function fieldOf(e: Expr, owner: TypeDef): { readonly f: FieldDef; readonly t: TypeDef } | null {
  if (e.k === 'name') {
    const f = owner.fields.find((x) => x.id === e.name);
    return f ? { f, t: owner } : null;
  }
  if (e.k !== 'member') return null;
  const parent = fieldOf(e.object, owner);
  if (parent?.f.kind !== 'struct' || parent.f.repeat) return null;
  const t = parent.f.type.target!;
  const f = t.fields.find((x) => x.id === e.name);
  return f ? { f, t } : null;
}

/**
 * A conservative static type of an expression's value (the evaluator normalises safe integers to
 * numbers). `seen`: derived fields being typed, so that one naming another cannot loop.
 */
function exprType(e: Expr, owner: TypeDef, seen: ReadonlySet<FieldDef> = new Set()): string {
  const sub = (x: Expr): string => exprType(x, owner, seen);
  switch (e.k) {
    case 'int':
      return e.value >= -0x1fffffffffffffn && e.value <= 0x1fffffffffffffn ? 'number' : 'bigint';
    case 'str':
      return 'string';
    case 'bool':
      return 'boolean';
    case 'null':
      return 'null';
    case 'name':
    case 'member': {
      const found = fieldOf(e, owner);
      if (!found || seen.has(found.f)) return 'unknown';
      if (found.f.kind !== 'value') return fieldType(found.f, found.t);
      return found.f.enumRef || found.f.flagsRef ? INT : exprType(found.f.value.ast, found.t, new Set([...seen, found.f]));
    }
    case 'special':
      return e.name === '_pos' || e.name === '_offset' || e.name === '_index' ? 'number' : 'unknown';
    case 'index':
      return 'unknown';
    case 'enumref':
      return 'number';
    case 'unary':
      return e.op === 'not' ? 'boolean' : INT;
    case 'binary':
      switch (e.op) {
        case '<': case '<=': case '>': case '>=': case '==': case '!=': case 'and': case 'or':
          return 'boolean';
        case '+': {
          const l = sub(e.left);
          const r = sub(e.right);
          if (l === 'string' && r === 'string') return 'string';
          return l === 'unknown' || r === 'unknown' || l.includes('string') || r.includes('string') ? 'unknown' : INT;
        }
        case '-': case '*': case '/': case '%': case '<<': case '>>': case '&': case '|': case '^':
          return INT;
      }
      return 'unknown';
    case 'cond':
      return union([sub(e.then), sub(e.else)]);
    case 'apply':
      return resultType(FUNCTIONS[e.fn].result);
    case 'call':
      switch (e.fn) {
        case 'len': case 'count': return 'number';
        case 'any': case 'all': return 'boolean';
        case 'min': case 'max': return INT;
        case 'find': {
          // The first element of a repeated field that satisfies the condition, or null.
          const found = e.args[0] ? fieldOf(e.args[0], owner) : null;
          return found?.f.repeat && found.f.kind !== 'value' ? `${valueType(found.f, found.t)} | null` : 'unknown';
        }
      }
  }
}

function resultType(r: FnResult): string {
  switch (r) {
    case 'u32': return 'number';
    case 'int': return INT;
    case 'bytes': return 'Uint8Array';
    case 'str': return 'string';
  }
}

function doc(lines: readonly string[], indent: string): string[] {
  const text = lines.flatMap((l) => l.split('\n')).map((l) => l.trim()).filter(Boolean).map((l) => l.replace(/\*\//g, '*\\/'));
  if (text.length === 0) return [];
  if (text.length === 1) return [`${indent}/** ${text[0]} */`];
  return [`${indent}/**`, ...text.map((l) => `${indent} * ${l}`), `${indent} */`];
}

function enumDoc(f: FieldDef): string | null {
  const e = f.kind === 'int' || f.kind === 'value' ? f.enumRef : null;
  const flags = f.kind === 'int' || f.kind === 'value' ? f.flagsRef : null;
  if (e) {
    const names = [...e.byValue].slice(0, 12).map(([v, n]) => `${n} = 0x${v.toString(16)}`);
    return `enum ${e.name}: ${names.join(', ')}${e.byValue.size > 12 ? ', ...' : ''}`;
  }
  if (flags) return `flags ${flags.name}: ${flags.flags.slice(0, 12).map((x) => `${x.name} = 0x${x.mask.toString(16)}`).join(', ')}${flags.flags.length > 12 ? ', ...' : ''}`;
  return null;
}

/** Every schema reachable from `roots` through imports, each once, in a stable order. */
function closure(roots: readonly SchemaDef[]): SchemaDef[] {
  const out = new Map<string, SchemaDef>();
  const visit = (s: SchemaDef): void => {
    if (out.has(s.id)) return;
    out.set(s.id, s);
    for (const i of s.imports.values()) visit(i);
  };
  roots.forEach(visit);
  return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The declarations, as the text of a module: `export namespace <Schema> { export interface <Type> }`
 * and `export interface <mapName>` from schema id to its root type.
 */
export function declarationsFor(schemas: readonly SchemaDef[], mapName = 'KimgSchemas'): string {
  const all = closure(schemas);
  const lines: string[] = [
    '// Generated by `kimg types` from kimg schema files: what each schema\'s parse produces.',
    `// Schemas: ${all.map((s) => s.id).join(', ')}.`,
    '',
  ];
  for (const s of all) {
    lines.push(...doc([`${s.id}: ${s.title}`, s.description ?? ''], ''));
    lines.push(`export namespace ${typeName(s.id)} {`);
    for (const t of s.types.values()) {
      lines.push(...doc([t.doc ?? '', t === s.root.target ? `The root of schema ${s.id}.` : ''], '  '));
      lines.push(`  export interface ${typeName(t.name)} {`);
      for (const f of t.fields) {
        lines.push(...doc([f.doc ?? '', enumDoc(f) ?? '', f.hidden ? '(hidden: not shown by dump)' : ''], '    '));
        lines.push(`    readonly ${prop(f.id)}: ${fieldType(f, t)};`);
      }
      lines.push('  }');
    }
    lines.push('}', '');
  }
  lines.push('/** Schema id -> the type its parse returns as `value`. */', `export interface ${mapName} {`);
  for (const s of schemas) lines.push(`  ${JSON.stringify(s.id)}: ${ref(s.root.target!)};`);
  lines.push('}', '');
  return lines.join('\n');
}
