/**
 * The layer pipeline. Generic: it follows what schemas declare and knows no format.
 *   detect the layer's formats -> evaluate their regions -> follow the most refined one's main region:
 *   decoded (streaming, into a kept layer: store.ts) when it names a codec, else the region itself is the
 *   next layer -> repeat until a layer has no main region. That is the main path (the kernel). Then every
 *   other region that says what it holds (`inner`) or is a chain of segments (chain.ts) is followed the
 *   same way (an initramfs beside the kernel). A layer no schema recognises may be a bare compressed
 *   stream, found by the codecs' magic.
 * Regions are evaluated in regions.ts, streams decoded in stream.ts, checks and facts in facts.ts.
 */
import { FileSource } from '../core/file-source.js';
import { KimgError, LimitError, PipelineError } from '../core/errors.js';
import type { Limits } from '../core/limits.js';
import type { Codec } from '../codecs/types.js';
import { hexInt, quoteBytes } from '../expr/format.js';
import { renderSummary } from '../render/summary.js';
import type { ByteSource } from '../core/bytes.js';
import { detect, type Damage, type DetectOutcome, type Detection, magicMiss } from '../detect/detect.js';
import type { ScanDecl, SchemaDef } from '../types.js';
import type { Analysis, LayerAccess, LayerReport, PipelineOptions, RegionInfo, Sink } from './analysis.js';
import { walkChain } from './chain.js';
import { checkFacts, layerFacts, schemaChecks } from './facts.js';
import {
  checkInLayer, chooseInner, type EvaluatedRegion, evaluateRegions, type Expect, expectedSize, type LayerRegions, mainRegion, regionCodec, runRegionChecks,
} from './regions.js';
import type { Analysed, Current, Follower } from './layer.js';
import { DecodedStore, FileBytes, type LayerBytes } from './store.js';
import { codecInfo, decodeRegion, sniff, streamRange } from './stream.js';

export type { Analysis, CheckReport, CheckStatus, LayerAccess, LayerReport, PipelineOptions, RegionInfo, Sink } from './analysis.js';

export async function analyze(path: string, options: PipelineOptions): Promise<Analysis> {
  const file = new FileSource(path);
  const analysis: Analysis = { file: path, size: file.size, layers: [], checks: [], error: null };
  const store = new DecodedStore(options.limits);
  try {
    const run = new Run(options, analysis, store);
    await run.run({ bytes: new FileBytes(path, file, 0, file.size), origin: 'file', parent: null, main: true, depth: 0, from: null, codec: null, expect: null, scans: [], sha256: null });
    file.assertUnchanged(); // an input rewritten meanwhile may have mixed two files' bytes
  } catch (e) {
    if (!(e instanceof KimgError)) throw e;
    analysis.error = e.locate({ file: path, layer: analysis.layers.length ? analysis.layers.length - 1 : 0 });
  } finally {
    store.close();
    file.close();
  }
  return analysis;
}

/** One analysis: the layers found so far and the regions still to follow. */
export class Run implements Follower {
  /** Regions other than the main ones, followed once the main path ends, in the order they were found. */
  private readonly side: (() => Promise<void>)[] = [];
  private stopped = false;

  constructor(readonly o: PipelineOptions, readonly a: Analysis, readonly store: DecodedStore) {}

  get limits(): Limits {
    return this.o.limits;
  }

  async run(file: Current): Promise<void> {
    await this.follow(file);
    for (let i = 0; i < this.side.length && !this.stopped; i++) await this.side[i]!();
  }

  /** Follows a path from `start`: each layer's main region, until a layer has none. Returns its first layer. */
  async follow(start: Current): Promise<Analysed | null> {
    let cur: Current | null = start;
    let first: Analysed | null = null;
    while (cur && !this.stopped) {
      const step = await this.step(cur);
      first ??= step.analysed;
      cur = step.next;
    }
    return first;
  }

  private async step(cur: Current): Promise<{ analysed: Analysed | null; next: Current | null }> {
    const index = this.a.layers.length;
    if (cur.depth >= this.limits.maxLayers) throw new LimitError('maxLayers', this.limits.maxLayers, { layer: index });
    const detected = this.detectLayer(cur, index);
    const detections = detected.matches;
    const primary = detections[0] ?? null;
    const size = cur.bytes?.size ?? 0;
    const regions: LayerRegions = primary && cur.bytes && !detected.damaged.length ? evaluateRegions(detections, cur.bytes.source, cur.bytes.fileOffset, this.limits, index) : { regions: [], failed: new Map() };
    const report: LayerReport = {
      index,
      size,
      origin: cur.origin,
      parent: cur.parent,
      main: cur.main,
      from: cur.from,
      codec: cur.codec,
      detections,
      rejected: detected.rejected,
      damaged: detected.damaged,
      facts: detected.damaged.length ? {} : layerFacts(detections, size, this.limits, index),
      summary: primary ? summarize(primary, size, this.limits) : null,
      summaries: Object.fromEntries(detections.map((d) => [d.schema.id, summarize(d, size, this.limits)])),
      regions: regions.regions.map((r) => r.info),
      scans: cur.scans,
      sha256: cur.sha256,
      decoded: cur.bytes !== null,
    };
    this.a.layers.push(report);
    if (!cur.bytes) return { analysed: null, next: null };
    if (detected.damaged.length) throw damagedError(detected.damaged[0]!, detections, index);
    checkFacts(this.a, report);
    this.a.checks.push(...schemaChecks(detections, index));
    const analysed: Analysed = { report, current: cur, regions };
    if (await this.offer(analysed, false)) return { analysed, next: null };

    if (!primary) {
      const codec = sniff(cur.bytes.source, this.o.codecs);
      if (codec) {
        const whole: RegionInfo = { schema: '(none)', id: 'stream', name: null, offset: 0, size, fileOffset: cur.bytes.fileOffset, codec: codec.name, segment: null };
        return { analysed, next: await this.decode(analysed, whole, codec, null, null, null, cur.main) };
      }
      // Every layer must be recognised: "gzip -> unrecognised data" is no answer.
      const how = index === 0 ? 'this file' : `layer ${index} (${describeOrigin(cur)})`;
      throw new PipelineError('unrecognised', `no schema and no codec recognises ${how}`, { layer: index }, {
        expected: `one of: ${this.o.registry.loader.listIds().join(', ')}; or a stream of ${this.o.codecs.names().join(', ')}`,
        found: `${quoteBytes(cur.bytes.source.slice(0, Math.min(16, size)))}${size > 16 ? '…' : ''}`,
      });
    }

    const main = mainRegion(primary.schema, regions);
    if (main instanceof KimgError) throw main;
    if (this.o.decode) {
      for (const er of regions.regions) if (er.decl !== main?.decl && (er.decl.chain || er.decl.inner.length)) this.side.push(() => this.followSide(analysed, er));
    }
    if (!main) {
      await this.endOfPath(analysed, primary);
      return { analysed, next: null };
    }
    runRegionChecks(main.decl.checks, main.scope, index, this.limits, this.a.checks);
    return { analysed, next: await this.enter(analysed, main, cur.main) };
  }

  /** The layer a region holds: decoded if it names a codec, else the region's bytes themselves. */
  private async enter(outer: Analysed, er: EvaluatedRegion, main: boolean): Promise<Current> {
    const cur = outer.current;
    const bytes = cur.bytes!;
    const index = outer.report.index;
    checkInLayer(er.schema, er.decl, er.info, bytes.size);
    const codec = regionCodec(er, bytes.source, this.o.codecs, this.limits, index);
    if (!codec && er.info.offset === 0 && er.info.size === bytes.size) {
      // A stored region that is the whole layer would be the same layer again, forever.
      throw new PipelineError('region-loop', `region ${er.decl.id} is the whole layer it belongs to, so following it would never end`, { schema: er.schema.id, offset: 0 }, {
        expected: 'a region smaller than its layer',
        found: `0x0..${hexInt(er.info.size)} of a ${hexInt(bytes.size)}-byte layer`,
      });
    }
    const expect = chooseInner(er, this.o.registry, this.limits, index);
    if (!codec) {
      return { bytes: bytes.slice(er.info.offset, er.info.size), origin: 'region', parent: index, main, depth: cur.depth + 1, from: er.info, codec: null, expect, scans: [], sha256: null };
    }
    const claimed = expectedSize(er, this.limits, index);
    if (!this.o.decode) {
      return { bytes: null, origin: 'decoded', parent: index, main, depth: cur.depth + 1, from: er.info, codec: codecInfo(codec.header, codec.codec), expect, scans: [], sha256: null };
    }
    return this.decode(outer, er.info, codec.codec, codec.header, expect, claimed, main);
  }

  /** Decodes a region of `outer` into the next layer, kept whole for random access. */
  async decode(
    outer: Analysed,
    region: RegionInfo,
    codec: Codec,
    header: string | null,
    expect: Expect,
    claimed: { value: number | bigint; modulo: bigint | null } | null,
    main: boolean,
  ): Promise<Current> {
    // Layers are pushed in the order they are analysed, and the decoded layer comes next.
    const index = this.a.layers.length;
    const last = expect?.schemas?.every((s) => !s.regions.some((r) => r.main)) ?? false;
    const sink: Sink | null = main ? this.o.sinkFor?.(index, last) ?? null : null;
    const decoded = await decodeRegion(
      outer.current.bytes!,
      region,
      codec,
      { scans: main ? this.scansFor(expect) : [], hash: main && this.o.hash, sink, capture: this.store.capture() },
      claimed,
      index,
      this.a.checks,
      this.o,
    );
    return {
      bytes: decoded.bytes,
      origin: 'decoded',
      parent: outer.report.index,
      main,
      depth: outer.current.depth + 1,
      from: region,
      codec: codecInfo(header, codec),
      expect,
      scans: decoded.scans,
      sha256: decoded.sha256,
    };
  }

  /** The scans run while a layer of the main path is decoded: its expected schemas', or every schema's. */
  private scansFor(expect: Expect): readonly ScanDecl[] {
    if (!this.o.scan) return [];
    return expect?.schemas ? expect.schemas.flatMap((s) => s.scans) : this.o.registry.all().flatMap((s) => s.scans);
  }

  /** A region other than the main one: a chain of segments, or one layer (and the path it starts). */
  private async followSide(outer: Analysed, er: EvaluatedRegion): Promise<void> {
    if (er.decl.chain) {
      await walkChain(this, outer, er);
      return;
    }
    await this.follow(await this.enter(outer, er, false));
  }

  /** The last layer of a path: scanned and hashed if it was not decoded (decoded ones were, while decoding). */
  private async endOfPath(layer: Analysed, primary: Detection): Promise<void> {
    const cur = layer.current;
    if (!cur.main) return;
    if (cur.origin !== 'decoded' && (this.o.scan || this.o.hash)) {
      const r = await streamRange(cur.bytes!, 0, cur.bytes!.size, { codec: null, scans: this.o.scan ? primary.schema.scans : [], hash: this.o.hash, sink: null, capture: null }, this.o);
      layer.report.scans = r.scans;
      layer.report.sha256 = r.sha256;
    }
    if (await this.offer(layer, true)) return;
  }

  /** Hands a layer to PipelineOptions.onLayer; true when it asks to stop. */
  private async offer(layer: Analysed, innermost: boolean): Promise<boolean> {
    if (!this.o.onLayer || this.stopped) return this.stopped;
    if (await this.o.onLayer(this.access(layer), innermost)) this.stopped = true;
    return this.stopped;
  }

  private access(layer: Analysed): LayerAccess {
    const bytes = layer.current.bytes!;
    const write = async (from: LayerBytes, offset: number, size: number, sink: Sink, codec: Codec | null): Promise<number> => {
      if (!codec && size > this.limits.maxDecodedSize) throw new LimitError('maxDecodedSize', this.limits.maxDecodedSize, { offset });
      const r = await streamRange(from, offset, size, { codec, scans: [], hash: false, sink, capture: null }, this.o);
      return r.total;
    };
    return {
      report: layer.report,
      writeLayer: (sink) => write(bytes, 0, bytes.size, sink, null),
      writeRegion: async (region, sink) => {
        const er = layer.regions.regions.find((r) => r.info === region);
        if (!er) throw new PipelineError('no-such-region', `region ${region.id} is not a region of layer ${layer.report.index}`, { layer: layer.report.index });
        checkInLayer(er.schema, er.decl, er.info, bytes.size);
        const codec = er.decl.chain ? null : regionCodec(er, bytes.source, this.o.codecs, this.limits, layer.report.index);
        return write(bytes, region.offset, region.size, sink, codec?.codec ?? null);
      },
    };
  }

  /**
   * The expected schemas and every schema that refines one of them (a user's ELF schema with section names
   * refining the built-in `elf`): a more precise reading of what the outer layer says is still that format.
   * Only schemas whose magic matches are loaded to ask.
   */
  private withRefinements(expected: readonly SchemaDef[], source: ByteSource): SchemaDef[] {
    const out = [...expected];
    const ids = new Set(expected.map((s) => s.id));
    const loader = this.o.registry.loader;
    const others: SchemaDef[] = [];
    for (const id of this.o.registry.ids()) {
      if (ids.has(id)) continue;
      const magic = loader.detectMagic(id);
      if (magic === null || (magic && magicMiss(magic, source))) continue;
      const def = loader.load(id);
      if (def.detect?.refines.length) others.push(def);
    }
    // Refinements of refinements too: repeat until nothing is added.
    for (let added = true; added; ) {
      added = false;
      for (const def of others) {
        if (ids.has(def.id) || !def.detect!.refines.some((r) => ids.has(r))) continue;
        out.push(def);
        ids.add(def.id);
        added = true;
      }
    }
    return out;
  }

  private detectLayer(cur: Current, index: number): DetectOutcome {
    if (!cur.bytes) return { matches: [], rejected: [], damaged: [] };
    const source = cur.bytes.source;
    const expected = cur.expect?.schemas;
    if (!cur.expect || !expected) return detect(this.o.registry, source, this.limits, this.o.engine);
    const got = detect(this.o.registry, source, this.limits, this.o.engine, this.withRefinements(expected, source));
    if (got.matches.length || got.damaged.length) return got;
    const actually = detect(this.o.registry, source, this.limits, this.o.engine).matches.filter((m) => m.refinedBy.length === 0).map((m) => m.schema.id);
    const magicOf = (s: SchemaDef): string => s.detect?.magic.map((m) => `${quoteBytes(m.bytes)} at ${hexInt(m.at)}`).join(' and ') ?? '';
    const foundMagic = expected[0]!.detect?.magic.map((m) => {
      const at = Number(m.at);
      return at + m.bytes.length <= source.size ? `${quoteBytes(source.slice(at, m.bytes.length))} at ${hexInt(at)}` : `nothing at ${hexInt(at)}`;
    }).join(' and ');
    throw new PipelineError('inner-mismatch',
      `${cur.expect.because} says this layer is ${expected.map((s) => s.id).join(' or ')}, but it is not: ${got.rejected[0]?.reason ?? 'no match'}`,
      { layer: index, schema: expected[0]!.id },
      { expected: expected.map((s) => `${s.title}${magicOf(s) ? ` (${magicOf(s)})` : ''}`).join(' or '), found: actually.length ? actually.join(' + ') : (foundMagic || 'unrecognised data') });
  }
}

/** A schema claimed the layer by its magic and then failed: the layer is that format, damaged. */
function damagedError(d: Damage, fallback: readonly Detection[], layer: number): KimgError {
  const e = d.error;
  if (e instanceof LimitError) return new LimitError(e.limit, e.value, { ...e.where, layer, schema: d.schema.id });
  const magic = d.schema.detect?.magic.map((m) => `${quoteBytes(m.bytes)} at ${hexInt(m.at)}`).join(' and ') ?? '';
  const instead = fallback.length ? `; only ${fallback.filter((f) => f.refinedBy.length === 0).map((f) => f.schema.id).join(' + ')} could be read` : '';
  return new PipelineError('damaged', `${d.schema.id} (${d.schema.title}) matches by its magic${magic ? ` (${magic})` : ''} but is damaged: ${e.message}${instead}`,
    { layer, schema: d.schema.id, ...(e.where.path !== undefined ? { path: e.where.path } : {}), ...(e.where.offset !== undefined ? { offset: e.where.offset } : {}) },
    { ...(e.expected !== undefined ? { expected: e.expected } : {}), ...(e.found !== undefined ? { found: e.found } : {}), cause: e });
}

function describeOrigin(cur: Current): string {
  if (cur.codec) return `decoded from ${cur.codec.header ?? cur.codec.plugin}`;
  if (cur.from) return `region ${cur.from.id}${cur.from.name ? ` ${cur.from.name}` : ''}${cur.from.segment !== null ? ` segment ${cur.from.segment}` : ''} of ${cur.from.schema}`;
  return cur.origin;
}

function summarize(d: Detection, size: number, limits: Limits): string {
  return d.schema.summary ? renderSummary(d.schema.summary, d.result, size, limits.maxExprSteps) : d.schema.title;
}
