/**
 * Detection: which schemas describe an input. Several can apply at once (a zboot file is MZ + PE + zboot);
 * `refines` says which one to show. A schema whose magic matched and which then fails is a damaged match,
 * never a silent non-match. It runs an engine on every candidate, so it sits above the schema layer.
 */
import type { ByteSource } from '../core/bytes.js';
import { KimgError, LimitError, ParseError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Engine, ParseResult } from '../engine.js';
import { evaluate } from '../expr/evaluate.js';
import { rootScope } from '../expr/scope.js';
import { truthy } from '../expr/values.js';
import { interpret } from '../interp/interpreter.js';
import type { SchemaRegistry } from '../schema/registry.js';
import type { MagicRule, SchemaDef } from '../types.js';

export interface Detection {
  readonly schema: SchemaDef;
  readonly result: ParseResult;
  /** Ids of other matching schemas that refine this one (then dump shows those instead). */
  readonly refinedBy: string[];
}

export interface Rejection {
  readonly schema: string;
  /** Why it did not apply: a magic mismatch, `when` false, or a `confirm` field that did not hold. */
  readonly reason: string;
}

/**
 * A schema whose magic matched but which could not be read: its parse, a check, `when` or a limit failed
 * after the format had claimed the input. Not a non-match: the input is that format, damaged.
 */
export interface Damage {
  readonly schema: SchemaDef;
  readonly error: KimgError;
}

export interface DetectOutcome {
  /** Every schema that applies, most refined first. */
  readonly matches: Detection[];
  readonly rejected: Rejection[];
  /** Schemas that claimed the input by their magic and then failed on it. */
  readonly damaged: Damage[];
}

export const interpreterEngine: Engine = (schema, source, options) => interpret(schema, source, options);

export function detect(registry: SchemaRegistry, source: ByteSource, limits: Limits, engine: Engine = interpreterEngine, candidates?: readonly SchemaDef[]): DetectOutcome {
  const matches: Detection[] = [];
  const rejected: Rejection[] = [];
  const damaged: Damage[] = [];
  for (const schema of candidates ?? registry.ids()) {
    let def: SchemaDef;
    if (typeof schema === 'string') {
      // A built-in whose magic does not match is rejected without being built.
      const magic = registry.loader.detectMagic(schema);
      if (magic === null) continue;
      const miss = magic ? magicMiss(magic, source) : null;
      if (miss) {
        rejected.push({ schema, reason: miss });
        continue;
      }
      def = registry.loader.load(schema);
      if (def.detect === null) continue;
    } else def = schema;
    const outcome = tryDetect(def, source, limits, engine, matches);
    if (typeof outcome === 'string') rejected.push({ schema: def.id, reason: outcome });
    else if (outcome !== null) damaged.push({ schema: def, error: outcome });
  }
  for (const m of matches) {
    for (const other of matches) if (other.schema.detect?.refines.includes(m.schema.id)) m.refinedBy.push(other.schema.id);
  }
  // Most refined first: those nobody refines, then the rest.
  matches.sort((a, b) => a.refinedBy.length - b.refinedBy.length);
  return { matches, rejected, damaged };
}

/**
 * Returns null when the schema applies (pushing it to `into`), a reason when it does not, or the error
 * when its magic matched but reading it failed (a damaged match). A failure is a non-match only where
 * the schema says its identity is still being established: a field named in `detect.confirm`.
 */
function tryDetect(schema: SchemaDef, source: ByteSource, limits: Limits, engine: Engine, into: Detection[]): string | KimgError | null {
  const rule = schema.detect;
  if (!rule) return 'declares no detection rule';
  const miss = magicMiss(rule.magic, source);
  if (miss) return miss;
  let result: ParseResult;
  try {
    result = engine(schema, source, { limits, layout: true });
  } catch (e) {
    if (!(e instanceof KimgError)) throw e;
    if (e instanceof ParseError && isConfirmField(rule.confirm, e.where.path)) return `not confirmed: ${e.describe()}`;
    return e.locate({ schema: schema.id });
  }
  if (rule.when) {
    let ok: boolean;
    try {
      ok = truthy(evaluate(rule.when.ast, rootScope(result.value, source.size), { steps: 0, maxSteps: limits.maxExprSteps }));
    } catch (e) {
      if (e instanceof LimitError) return e.locate({ schema: schema.id, path: 'detect.when' });
      return new ParseError('detect-when', `detect.when could not be evaluated: ${(e as Error).message}`, { schema: schema.id, path: 'detect.when' }, { expected: rule.when.source });
    }
    if (!ok) return `detect.when is false: ${rule.when.source}`;
  }
  into.push({ schema, result, refinedBy: [] });
  return null;
}

/** Why the magic bytes do not match (a rejection reason), or null when they all do. */
export function magicMiss(magic: readonly MagicRule[], source: ByteSource): string | null {
  for (const m of magic) {
    const at = Number(m.at);
    if (at + m.bytes.length > source.size) return `input too short for magic at 0x${at.toString(16)}`;
    const w = source.window(at, m.bytes.length);
    for (let i = 0; i < m.bytes.length; i++) {
      if (w.bytes[at - w.base + i] !== m.bytes[i]) return `no magic at 0x${at.toString(16)}`;
    }
  }
  return null;
}

/** True when an error's field path is one of the confirm fields, or inside one (`pe.signature`, `sig[0]`). */
function isConfirmField(confirm: readonly string[], path: string | undefined): boolean {
  if (!path) return false;
  return confirm.some((c) => path === c || path.startsWith(`${c}.`) || path.startsWith(`${c}[`));
}
