/**
 * The state of one parse (budget, checks, nesting, the bytes) and how its errors are made: with the
 * schema id, the field path and the offset. Paths are kept as a stack of segments and turned into
 * text only when an error or a check outcome needs them.
 */
import { BufferSource, type ByteSource } from '../core/bytes.js';
import { KimgError, LimitError, ParseError } from '../core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../core/limits.js';
import { StepLimitError, type Budget, type Scope } from '../expr/evaluate.js';
import { hexInt } from '../expr/format.js';
import { ExprTypeError } from '../expr/values.js';
import type { SchemaDef } from '../types.js';
import type { ExprFn } from './expr.js';
import type { CheckOutcome, FieldLayout, ParseOptions, Struct, StructLayout } from '../engine.js';

/** An expression with what its errors quote. */
export interface CExpr {
  readonly source: string;
  readonly fn: ExprFn;
}

/** The scope of one struct being parsed, and the region it is parsed in. */
export class Frame implements Scope {
  pos: number;
  index: number | null;
  elem: unknown = null;
  /** The struct's byte order, when its type computes it (`endian_expr`). */
  le = true;
  constructor(
    readonly obj: Struct,
    readonly parent: Frame | null,
    readonly root: Struct,
    /** Region-relative start of the struct. */
    readonly offset: number,
    index: number | null,
    /** Absolute bounds of the region. */
    readonly start: number,
    readonly end: number,
    readonly region: { readonly offset: number; readonly size: number },
    readonly file: { readonly size: number },
    /** Field layouts, aligned with the type's fields (layout runs only). */
    readonly lay: (FieldLayout | null)[] | null,
  ) {
    this.pos = offset;
    this.index = index;
  }
}

export class Run {
  readonly limits: Limits;
  readonly budget: Budget;
  readonly checks: CheckOutcome[] = [];
  readonly withLayout: boolean;
  readonly file: { readonly size: number };
  readonly schemaId: string;
  /** Path of the struct being parsed: field ids and array indexes. */
  readonly path: (string | number)[] = [];
  depth = 0;
  /** Values read so far, for maxFields. */
  fields = 0;
  /** The whole input when it is in memory (then `base` is 0): reads need no window. */
  readonly whole: boolean;
  view: DataView;
  bytes: Uint8Array;
  base = 0;
  /** What the last element read returned besides its value: its end cursor and layout. */
  end = 0;
  lay: FieldLayout | null = null;
  /** The layout of the struct parseStruct just finished (layout runs only). */
  slay: StructLayout | null = null;

  constructor(schema: SchemaDef, readonly src: ByteSource, options: ParseOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.budget = { steps: 0, maxSteps: this.limits.maxExprSteps };
    this.withLayout = options.layout ?? false;
    this.file = { size: src.size };
    this.schemaId = schema.id;
    this.whole = src instanceof BufferSource;
    // A file source is read window by window, on demand.
    const w = this.whole ? src.window(0, 0) : { view: new DataView(new ArrayBuffer(0)), bytes: new Uint8Array(0) };
    this.view = w.view;
    this.bytes = w.bytes;
  }

  /** Makes [pos, pos+n) readable through `view`/`bytes`; returns the address of pos in them. */
  window(pos: number, n: number): number {
    if (this.whole) return pos;
    const w = this.src.window(pos, n);
    this.view = w.view;
    this.bytes = w.bytes;
    this.base = w.base;
    return pos - w.base;
  }

  /** The path text of the current struct, then of `id` and `[index]` in it when given. */
  pathText(id?: string, index?: number | null): string {
    let s = '';
    for (const p of this.path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
    if (id !== undefined) s += s === '' ? id : `.${id}`;
    if (index !== undefined && index !== null) s += `[${index}]`;
    return s;
  }

  fail(code: string, message: string, offset: number, id?: string, index?: number | null, detail?: { expected?: string; found?: string }): ParseError {
    return new ParseError(code, message, { schema: this.schemaId, path: this.pathText(id, index), offset }, detail);
  }

  located<E extends KimgError>(e: E, offset: number, id?: string, index?: number | null): E {
    return e.locate({ schema: this.schemaId, path: this.pathText(id, index), offset });
  }

  /** Evaluates an expression; its errors become parse errors at `pos`, as the reference says. */
  compute(x: CExpr, s: Scope, pos: number, id?: string, index?: number | null): unknown {
    try {
      return x.fn(s, this.budget);
    } catch (err) {
      throw this.exprError(err, x.source, pos, id, index);
    }
  }

  exprError(err: unknown, source: string, pos: number, id?: string, index?: number | null): unknown {
    if (err instanceof StepLimitError) return this.located(new LimitError('maxExprSteps', this.limits.maxExprSteps), pos, id, index);
    if (err instanceof ExprTypeError) return this.fail('expression', `in '${source}': ${err.message}`, pos, id, index);
    if (err instanceof KimgError) return err;
    if (err instanceof RangeError) return this.fail('expression', `in '${source}': ${err.message}`, pos, id, index);
    return err;
  }

  /** Bounds check of n bytes at pos in the region [start, end). */
  need(pos: number, n: number, start: number, end: number, id: string, index: number | null): void {
    if (pos + n > end) {
      const inFile = end === this.src.size && start === 0;
      throw this.fail('out-of-bounds', `${n} bytes at ${hexInt(pos)} run past the end of the ${inFile ? 'input' : 'region'} (${hexInt(end)})`, pos, id, index, {
        expected: `${n} bytes`,
        found: `${Math.max(0, end - pos)}`,
      });
    }
  }
}
