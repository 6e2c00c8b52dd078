/**
 * Binding: turns a parsed expression into one the engines can run. Enum references become integer
 * constants; names are checked against the fields the expression can see, so that a typo in a
 * schema is reported when the schema loads, not when some file happens to reach it.
 */
import type { EnumDef, Expr } from '../types.js';

export interface BindContext {
  /** Resolve `enum` / `alias.enum` (or a flag set, whose members are masks); null when unknown. */
  enumLookup(alias: string | null, name: string): EnumDef | null;
  /** Field ids visible as bare names; null disables the check (scope not known statically). */
  readonly names: ReadonlySet<string> | null;
}

export class BindError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

export function bindExpr(e: Expr, ctx: BindContext): Expr {
  switch (e.k) {
    case 'int': case 'str': case 'bool': case 'null': case 'special':
      return e;
    case 'name':
      if (ctx.names && !ctx.names.has(e.name)) {
        throw new BindError(`unknown field '${e.name}'`, ctx.names.size ? `fields here: ${[...ctx.names].join(', ')}` : 'this struct has no fields');
      }
      return e;
    case 'enumref': {
      const en = ctx.enumLookup(e.schema, e.enumName);
      const label = `${e.schema ? `${e.schema}.` : ''}${e.enumName}`;
      if (!en) throw new BindError(`unknown enum '${label}'`);
      const v = en.byName.get(e.member);
      if (v === undefined) throw new BindError(`enum '${label}' has no member '${e.member}'`, `members: ${[...en.byName.keys()].join(', ')}`);
      return { k: 'int', value: v };
    }
    case 'member':
      return { ...e, object: bindExpr(e.object, ctx) };
    case 'index':
      return { ...e, object: bindExpr(e.object, ctx), index: bindExpr(e.index, ctx) };
    case 'unary':
      return { ...e, arg: bindExpr(e.arg, ctx) };
    case 'binary':
      return { ...e, left: bindExpr(e.left, ctx), right: bindExpr(e.right, ctx) };
    case 'cond':
      return { ...e, test: bindExpr(e.test, ctx), then: bindExpr(e.then, ctx), else: bindExpr(e.else, ctx) };
    case 'call':
    case 'apply':
      return { ...e, args: e.args.map((a) => bindExpr(a, ctx)) };
  }
}
