/**
 * Hard limits against hostile input, all in one place. Every default is far above what a real kernel
 * needs; each can be changed from the API (`Limits` objects) and the CLI (`--limit name=value`).
 * A limit that is hit raises `LimitError` naming itself.
 */
export interface Limits {
  /** Elements in one array (sections, data directories...). */
  readonly maxArrayCount: number;
  /** Nesting of structs inside structs. */
  readonly maxDepth: number;
  /** Layers followed through regions and decoders (zboot inside a UKI...). */
  readonly maxLayers: number;
  /** Bytes a decoder may produce. */
  readonly maxDecodedSize: number;
  /** Regions a schema may declare for one file (a family of PE sections counts each). */
  readonly maxRegions: number;
  /** Expression evaluation steps for one parse. */
  readonly maxExprSteps: number;
  /** Bytes scanned by a NUL-terminated string without a fixed size. */
  readonly maxStringLength: number;
  /**
   * Values read in one parse, across all arrays and structs: each struct adds its field count when
   * entered, each array its element count. Per-array limits alone multiply (4096 x 4096 nested).
   */
  readonly maxFields: number;
  /** Bytes of one schema file (checked before it is read). */
  readonly maxSchemaBytes: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxArrayCount: 1 << 12,
  maxDepth: 32,
  maxLayers: 8,
  maxDecodedSize: 1024 * 1024 * 1024,
  maxRegions: 4096,
  maxExprSteps: 1_000_000,
  maxStringLength: 64 * 1024,
  maxFields: 1_000_000,
  maxSchemaBytes: 1024 * 1024,
});

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];

export function withLimits(overrides: Partial<Limits> | undefined): Limits {
  if (!overrides) return DEFAULT_LIMITS;
  const merged = { ...DEFAULT_LIMITS };
  for (const name of LIMIT_NAMES) {
    const v = overrides[name];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limit ${name} must be a non-negative integer, got ${String(v)}`);
    merged[name] = v;
  }
  return Object.freeze(merged);
}
