/**
 * What an analysis is made of: layers, the regions they declare, the checks run on them. Plain data, shared
 * by the pipeline's parts (pipeline.ts drives, regions.ts evaluates regions, stream.ts decodes, facts.ts
 * checks), the JSON shape (analysis-json.ts), extraction and the CLI.
 */
import type { KimgError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { CodecRegistry } from '../codecs/registry.js';
import type { Damage, Detection, Rejection } from '../detect/detect.js';
import type { Engine } from '../engine.js';
import type { SchemaRegistry } from '../schema/registry.js';
import type { ScanHit } from './scan.js';

export type CheckStatus = 'ok' | 'warning' | 'error';

export interface CheckReport {
  readonly layer: number;
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
}

/** A region of a layer, evaluated: where it is and what it is called. */
export interface RegionInfo {
  readonly schema: string;
  readonly id: string;
  readonly name: string | null;
  readonly offset: number;
  readonly size: number;
  /** Absolute offset in the input file, when the layer is a slice of the file. */
  readonly fileOffset: number | null;
  readonly codec: string | null;
  /** For one segment of a `chain` region: its index in the chain (the offset and size are the segment's). */
  readonly segment: number | null;
}

export interface LayerReport {
  readonly index: number;
  readonly size: number;
  /**
   * How the layer was reached: the file itself, a stored region of its parent, a decoded stream, or one
   * stored segment of a chain (an initramfs's uncompressed cpio archive).
   */
  readonly origin: 'file' | 'region' | 'decoded' | 'segment';
  /** The layer this one lies in (null for the file). */
  readonly parent: number | null;
  /**
   * On the main path: reached from the file through main regions only. The main path comes first in
   * `layers` (0, 1, ... innermost); the layers after it are the other regions that were followed (an
   * initramfs beside the kernel), each with its parent.
   */
  readonly main: boolean;
  /** The region of the parent layer this layer is (for every layer but the file). */
  readonly from: RegionInfo | null;
  /** Codec used to produce this layer. */
  readonly codec: { readonly header: string | null; readonly plugin: string; readonly library: string } | null;
  /** Schemas that apply, most refined first. */
  readonly detections: readonly Detection[];
  /** Schemas tried that do not apply, and why (for --verbose). */
  readonly rejected: readonly Rejection[];
  /** Schemas whose magic matched but which failed on this layer: the layer is damaged. */
  readonly damaged: readonly Damage[];
  /** Facts the layer's schemas state (`machine`), with the schema that stated each. */
  readonly facts: Readonly<Record<string, { readonly value: unknown; readonly schema: string }>>;
  /** The layer's one-line description: the most refined schema's summary. */
  readonly summary: string | null;
  /** Every matching schema's summary (or title), by schema id. */
  readonly summaries: Readonly<Record<string, string>>;
  /** Regions declared by the layer's schemas (the payload, every PE section). */
  readonly regions: readonly RegionInfo[];
  scans: readonly ScanHit[];
  /** sha256 of the layer's bytes, when asked for. */
  sha256: string | null;
  /** False when the pipeline stopped before producing this layer's bytes (decode not asked). */
  readonly decoded: boolean;
}

export interface Analysis {
  readonly file: string;
  readonly size: number;
  readonly layers: LayerReport[];
  readonly checks: CheckReport[];
  /** Set when the pipeline stopped on an error; layers hold what was found before it. */
  error: KimgError | null;
}

/** Receives a layer's bytes in order (a file being written, stdout). */
export interface Sink {
  write(chunk: Uint8Array): Promise<void> | void;
}

/**
 * A layer while the analysis runs, for PipelineOptions.onLayer: its report, and its regions' bytes (a
 * region with a codec is decoded). Valid only during the call: decoded layers are released afterwards.
 */
export interface LayerAccess {
  readonly report: LayerReport;
  /** Streams a region of this layer (one of report.regions) to the sink; returns the bytes written. */
  writeRegion(region: RegionInfo, sink: Sink): Promise<number>;
  /** Streams the whole layer to the sink; returns the bytes written. */
  writeLayer(sink: Sink): Promise<number>;
}

export interface PipelineOptions {
  readonly registry: SchemaRegistry;
  readonly codecs: CodecRegistry;
  readonly limits: Limits;
  readonly engine: Engine;
  /** Decode payloads (info, dump, extract of a decoded layer) or stop at the stored payload. */
  readonly decode: boolean;
  /** Look for declared strings (the version banner) in the layers of the main path. */
  readonly scan: boolean;
  /** Hash the layers of the main path. */
  readonly hash: boolean;
  /**
   * Where a decoded layer of the main path streams its bytes while it is decoded, if anywhere. `last`:
   * the layer is sure to end the main path (every schema it may be has no main region).
   */
  readonly sinkFor?: (layer: number, last: boolean) => Sink | null;
  /**
   * Called with each layer once it is analysed (its regions evaluated), and with the innermost layer of the
   * main path again, `innermost` true, when the main path ends. Returning true ends the analysis there (an
   * extraction that found what it wanted).
   */
  readonly onLayer?: (layer: LayerAccess, innermost: boolean) => Promise<boolean> | boolean;
  /** Progress of reading a stored region (bytes, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Collect garbage every few MiB while streaming, keeping RSS flat. It turns on V8's --expose-gc for
   * the process, so the CLI asks for it and the library leaves it off by default.
   */
  readonly eagerGc?: boolean;
}
