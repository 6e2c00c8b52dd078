/**
 * The set of schemas kimg knows, and detection: which of them describe a given input.
 * Several can apply at once (a zboot file is MZ + PE + zboot); `refines` says which one to show.
 */
import type { ByteSource } from '../core/bytes.js';
import { KimgError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import { interpret, type ParseResult } from '../interp/interpreter.js';
import { evaluate } from '../expr/evaluate.js';
import { truthy } from '../expr/values.js';
import type { SchemaDef } from '../types.js';
import { SchemaLoader, type LoaderOptions } from './loader.js';
import { rootScope } from './scope.js';

export interface Detection {
  readonly schema: SchemaDef;
  readonly result: ParseResult;
  /** Ids of other matching schemas that refine this one (then dump shows those instead). */
  readonly refinedBy: string[];
}

export interface Rejection {
  readonly schema: string;
  /** Why it did not apply: a magic mismatch, a parse error, or `when` false. */
  readonly reason: string;
}

export interface DetectOutcome {
  /** Every schema that applies, most refined first. */
  readonly matches: Detection[];
  readonly rejected: Rejection[];
}

/** A parser for a schema; the interpreter by default, the compiled engine when selected. */
export type Engine = (schema: SchemaDef, source: ByteSource, options: { limits: Limits; layout: boolean; offset?: number }) => ParseResult;

export const interpreterEngine: Engine = (schema, source, options) => interpret(schema, source, options);

export class SchemaRegistry {
  readonly loader: SchemaLoader;
  private detectables: SchemaDef[] | null = null;

  constructor(options: LoaderOptions = {}) {
    this.loader = new SchemaLoader(options);
  }

  get(idOrPath: string): SchemaDef {
    return this.loader.load(idOrPath);
  }

  /** Every schema in the search path (loading all of them: use for listing and detection only). */
  all(): SchemaDef[] {
    return this.loader.listIds().map((id) => this.loader.load(id));
  }

  private detectable(): SchemaDef[] {
    this.detectables ??= this.all().filter((s) => s.detect !== null);
    return this.detectables;
  }

  detect(source: ByteSource, limits: Limits, engine: Engine = interpreterEngine, candidates?: readonly SchemaDef[]): DetectOutcome {
    const matches: Detection[] = [];
    const rejected: Rejection[] = [];
    for (const schema of candidates ?? this.detectable()) {
      const reason = this.tryDetect(schema, source, limits, engine, matches);
      if (reason !== null) rejected.push({ schema: schema.id, reason });
    }
    for (const m of matches) {
      for (const other of matches) if (other.schema.detect?.refines.includes(m.schema.id)) m.refinedBy.push(other.schema.id);
    }
    // Most refined first: those nobody refines, then the rest.
    matches.sort((a, b) => a.refinedBy.length - b.refinedBy.length);
    return { matches, rejected };
  }

  /** Returns null when the schema applies (pushing it to `into`), else why not. */
  private tryDetect(schema: SchemaDef, source: ByteSource, limits: Limits, engine: Engine, into: Detection[]): string | null {
    const rule = schema.detect;
    if (!rule) return 'declares no detection rule';
    for (const m of rule.magic) {
      const at = Number(m.at);
      if (at + m.bytes.length > source.size) return `input too short for magic at 0x${at.toString(16)}`;
      const w = source.window(at, m.bytes.length);
      for (let i = 0; i < m.bytes.length; i++) {
        if (w.bytes[at - w.base + i] !== m.bytes[i]) return `no magic at 0x${at.toString(16)}`;
      }
    }
    let result: ParseResult;
    try {
      result = engine(schema, source, { limits, layout: true });
    } catch (e) {
      if (e instanceof KimgError) return e.describe();
      throw e;
    }
    if (rule.when) {
      try {
        const ok = truthy(evaluate(rule.when.ast, rootScope(result.value, source.size), { steps: 0, maxSteps: limits.maxExprSteps }));
        if (!ok) return `detect.when is false: ${rule.when.source}`;
      } catch (e) {
        return `detect.when failed: ${(e as Error).message}`;
      }
    }
    into.push({ schema, result, refinedBy: [] });
    return null;
  }
}
