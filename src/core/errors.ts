/** Where a node came from, for error messages: schema file, line and column (1-based). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * kimg's error classes. Every expected failure is one of these, carries where it happened and what
 * was expected, and maps to an exit code; anything else reaching the CLI is a bug.
 */
export type ErrorKind = 'schema' | 'parse' | 'limit' | 'codec' | 'pipeline' | 'io' | 'usage';

export interface ErrorWhere {
  /** Input file, when known. */
  file?: string;
  /** Layer index in the pipeline, 0 = the file itself. */
  layer?: number;
  /** Schema id. */
  schema?: string;
  /** Field path, e.g. `pe.optional_header.data_directories[4].size`. */
  path?: string;
  /** Absolute byte offset in the layer's bytes. */
  offset?: number;
}

export abstract class KimgError extends Error {
  abstract readonly kind: ErrorKind;
  /** Short machine-readable code, e.g. `out-of-bounds`, `const-mismatch`. */
  abstract readonly code: string;
  readonly where: ErrorWhere;
  readonly expected: string | undefined;
  readonly found: string | undefined;

  constructor(message: string, where: ErrorWhere = {}, detail: { expected?: string; found?: string; cause?: unknown } = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.where = where;
    this.expected = detail.expected;
    this.found = detail.found;
  }

  /** Adds context known only further up (file name, layer), keeping what is already set. */
  locate(more: ErrorWhere): this {
    for (const [k, v] of Object.entries(more) as [keyof ErrorWhere, never][]) {
      if (this.where[k] === undefined && v !== undefined) this.where[k] = v;
    }
    return this;
  }

  /** One line: what, where, expected vs found. */
  describe(): string {
    const w = this.where;
    const at: string[] = [];
    if (w.file !== undefined) at.push(w.file);
    if (w.layer !== undefined) at.push(`layer ${w.layer}`);
    if (w.schema !== undefined) at.push(`schema ${w.schema}`);
    if (w.path !== undefined && w.path !== '') at.push(`field ${w.path}`);
    if (w.offset !== undefined) at.push(`offset 0x${w.offset.toString(16)}`);
    let line = at.length ? `${at.join(', ')}: ${this.message}` : this.message;
    const detail = [this.expected !== undefined ? `expected ${this.expected}` : '', this.found !== undefined ? `found ${this.found}` : ''].filter(Boolean);
    if (detail.length) line += ` (${detail.join(', ')})`;
    return line;
  }

  toJSON(): Record<string, unknown> {
    return {
      error: this.code,
      kind: this.kind,
      message: this.message,
      ...this.where,
      ...(this.expected !== undefined ? { expected: this.expected } : {}),
      ...(this.found !== undefined ? { found: this.found } : {}),
    };
  }
}

/** A schema file is malformed (unknown key, bad expression, unknown type...). */
export class SchemaError extends KimgError {
  readonly kind = 'schema';
  readonly code: string;
  readonly pos: SourcePos | undefined;
  readonly hint: string | undefined;
  constructor(code: string, message: string, pos?: SourcePos, hint?: string) {
    super(message);
    this.code = code;
    this.pos = pos;
    this.hint = hint;
  }
  override describe(): string {
    const at = this.pos ? `${this.pos.file}:${this.pos.line}:${this.pos.col}: ` : '';
    return `${at}${this.message}${this.hint ? ` (hint: ${this.hint})` : ''}`;
  }
  override toJSON(): Record<string, unknown> {
    return { error: this.code, kind: this.kind, message: this.message, ...(this.pos ?? {}), ...(this.hint ? { hint: this.hint } : {}) };
  }
}

/** The input does not fit the schema: out of bounds, wrong magic, failed assertion, bad value. */
export class ParseError extends KimgError {
  readonly kind = 'parse';
  readonly code: string;
  constructor(code: string, message: string, where: ErrorWhere, detail?: { expected?: string; found?: string; cause?: unknown }) {
    super(message, where, detail);
    this.code = code;
  }
}

/** A hard limit was reached (see core/limits.ts). */
export class LimitError extends KimgError {
  readonly kind = 'limit';
  readonly code = 'limit';
  constructor(readonly limit: string, readonly value: number, where: ErrorWhere = {}) {
    super(`limit ${limit} (${value}) exceeded`, where, { expected: `at most ${value}` });
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), limit: this.limit, value: this.value };
  }
}

/** The pipeline could not follow a layer: unknown codec, inner format mismatch, size mismatch. */
export class PipelineError extends KimgError {
  readonly kind = 'pipeline';
  readonly code: string;
  constructor(code: string, message: string, where: ErrorWhere = {}, detail?: { expected?: string; found?: string; cause?: unknown }) {
    super(message, where, detail);
    this.code = code;
  }
}

/** A decoder rejected its stream. */
export class DecodeError extends KimgError {
  readonly kind = 'codec';
  readonly code = 'decode';
  constructor(message: string, where: ErrorWhere = {}, detail?: { expected?: string; found?: string; cause?: unknown }) {
    super(message, where, detail);
  }
}

/** Reading or writing a file failed. */
export class IoError extends KimgError {
  readonly kind = 'io';
  readonly code: string;
  constructor(code: string, message: string, where: ErrorWhere = {}, cause?: unknown) {
    super(message, where, { cause });
    this.code = code;
  }
}

/** The command line or API call itself is wrong. */
export class UsageError extends KimgError {
  readonly kind = 'usage';
  readonly code = 'usage';
}
