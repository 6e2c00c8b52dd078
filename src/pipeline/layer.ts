/**
 * A layer inside the pipeline: its bytes and how it was reached (before it is analysed), and what
 * following it needs (after). Shared by the driver (pipeline.ts) and the chain walker (chain.ts).
 */
import type { Limits } from '../core/limits.js';
import type { Analysis, LayerReport, PipelineOptions, RegionInfo } from './analysis.js';
import type { Expect, LayerRegions } from './regions.js';
import type { ScanHit } from './scan.js';
import type { DecodedStore, LayerBytes } from './store.js';

/** A layer about to be analysed. */
export interface Current {
  /** Null when the pipeline stopped before producing the layer's bytes (decode not asked). */
  readonly bytes: LayerBytes | null;
  readonly origin: LayerReport['origin'];
  readonly parent: number | null;
  readonly main: boolean;
  /** Layers around this one (0 for the file): bounded by maxLayers. */
  readonly depth: number;
  readonly from: RegionInfo | null;
  readonly codec: LayerReport['codec'];
  /** What the outer layer says this layer is, and why (null: any format). */
  readonly expect: Expect;
  readonly scans: readonly ScanHit[];
  readonly sha256: string | null;
}

/** A layer once analysed: its report, and what following it needs. */
export interface Analysed {
  readonly report: LayerReport;
  readonly current: Current;
  readonly regions: LayerRegions;
}

/** What walking a chain needs from the run: its options, its store, and following a path. */
export interface Follower {
  readonly o: PipelineOptions;
  readonly a: Analysis;
  readonly limits: Limits;
  readonly store: DecodedStore;
  /** Analyses `start` and follows its main regions; returns the first layer (null when stopped). */
  follow(start: Current): Promise<Analysed | null>;
}
