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
  /**
   * Bytes every decoder of one analysis may produce together (the segments of an initramfs chain, nested
   * streams). Decoded layers are kept for random access until the analysis ends, so this also bounds the
   * temporary files they spill to.
   */
  readonly maxDecodedTotal: number;
  /**
   * Bytes of decoded layers one analysis keeps in memory; a decoded layer that does not fit in what is left
   * goes to a private temporary file instead (mode 0600 in the system's temporary directory, unlinked as
   * soon as it is open, so nothing is left behind even by SIGKILL). 0 spills every decoded layer.
   */
  readonly maxDecodedInMemory: number;
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
  maxDecodedTotal: 4 * 1024 * 1024 * 1024,
  maxDecodedInMemory: 16 * 1024 * 1024,
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
