/**
 * Decoding and streaming: a range of a layer's bytes, optionally through a codec, to the consumers that
 * want it in order (scanners, a hash, an output, the capture of a decoded layer). Memory: one chunk, the
 * scanners' tails, and what the capture keeps (store.ts).
 */
import type { ByteSource } from '../core/bytes.js';
import { DecodeError, LimitError, PipelineError } from '../core/errors.js';
import { hexInt, humanSize } from '../expr/format.js';
import type { CodecRegistry } from '../codecs/registry.js';
import { CodecError } from '../codecs/errors.js';
import type { Codec } from '../codecs/types.js';
import type { ScanDecl } from '../types.js';
import type { CheckReport, LayerReport, PipelineOptions, RegionInfo, Sink } from './analysis.js';
import { COLLECT_EVERY, collectGarbage } from './gc.js';
import { StreamScanner, type ScanHit } from './scan.js';
import type { Capture, LayerBytes } from './store.js';

/** Longest run of decoding without yielding to the event loop (signals are handled between turns). */
const EVENT_LOOP_TURN_MS = 25;

/** Bytes a codec sniffer sees: enough for LZMA-alone (no magic) to trial-decode its first symbols. */
const SNIFF_BYTES = 4096;

export function sniff(source: ByteSource, codecs: CodecRegistry): Codec | null {
  const head = source.slice(0, Math.min(SNIFF_BYTES, source.size));
  return codecs.sniff(head) ?? null;
}

export function codecInfo(header: string | null, codec: Codec): NonNullable<LayerReport['codec']> {
  return { header, plugin: codec.name, library: codec.library };
}

export interface StreamRequest {
  /** Decode the range with this codec, or pass the stored bytes through. */
  readonly codec: Codec | null;
  readonly scans: readonly ScanDecl[];
  readonly hash: boolean;
  readonly sink: Sink | null;
  /** Keeps the (decoded) bytes as a layer. */
  readonly capture: Capture | null;
}

export interface StreamResult {
  total: number;
  /** Input bytes the decoded stream occupied, when the codec reports its end; null otherwise. */
  consumed: number | null;
  scans: ScanHit[];
  sha256: string | null;
}

type StreamOptions = Pick<PipelineOptions, 'limits' | 'onProgress' | 'eagerGc'>;

/** Streams [offset, offset + size) of `bytes`, decoded if asked, to everything the request names. */
export async function streamRange(bytes: LayerBytes, offset: number, size: number, req: StreamRequest, o: StreamOptions): Promise<StreamResult> {
  const scanner = new StreamScanner(req.scans);
  // Fetched, not imported: only --sha256 hashes (start-up, README).
  const hasher = req.hash ? process.getBuiltinModule('node:crypto').createHash('sha256') : null;
  let total = 0;
  let collectedAt = 0;
  let inputDone = 0;
  // Without a decoder every consumer below is done with a chunk before the next read: reuse one buffer.
  // (A capture copies what it keeps; a sink may hold a chunk only until its write resolves.)
  const input = bytes.read(offset, size, {
    onProgress: (n) => {
      inputDone = n;
      o.onProgress?.(n, size);
    },
    reuse: req.codec === null,
  });
  // Offsets in messages: in the file when the bytes are a slice of it, else in the layer.
  const base = bytes.fileOffset !== null ? bytes.fileOffset + offset : offset;
  const max = o.limits.maxDecodedSize;
  let stream: AsyncIterable<Uint8Array> = input;
  let consumed: number | null = null;
  if (req.codec) stream = req.codec.decode(input, { maxOutput: max, onStreamEnd: (n) => { consumed ??= n; } });
  // Decoders resolve through microtasks only while they need no input (a bomb of zeros): give the event
  // loop a turn every few tens of ms so that SIGINT/SIGTERM/SIGHUP and timers are handled during any decode.
  let turnAt = Date.now();
  try {
    for await (const chunk of stream) {
      if (Date.now() - turnAt >= EVENT_LOOP_TURN_MS) {
        await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
        turnAt = Date.now();
      }
      if (req.codec && total + chunk.length > max) {
        throw new LimitError('maxDecodedSize', max, { offset: base + inputDone });
      }
      total += chunk.length;
      req.capture?.add(chunk);
      if (!scanner.done) scanner.push(chunk);
      hasher?.update(chunk);
      // Stored bytes nobody keeps, hashes or writes, with nothing left to find: stop reading.
      if (!req.codec && !hasher && !req.capture && !req.sink && scanner.done) break;
      if (req.sink) await req.sink.write(chunk);
      // Decoded chunks are new garbage each time; undecoded reads reuse one buffer and make none.
      if (o.eagerGc && req.codec && total - collectedAt >= COLLECT_EVERY) {
        collectedAt = total;
        collectGarbage();
      }
    }
  } catch (e) {
    if (e instanceof CodecError) {
      const at = e.inputOffset !== undefined ? base + e.inputOffset : base + inputDone;
      throw new DecodeError(`${e.codec} stream is corrupt: ${e.message}`, { offset: at }, { cause: e, expected: `a valid ${e.codec} stream`, found: `${humanSize(total)} decoded before the failure` });
    }
    throw e;
  } finally {
    // A decoder may stop reading at its end-of-stream marker: close the input now, not at GC.
    await input.return(undefined);
  }
  scanner.finish();
  if (req.codec && total === 0) {
    throw new DecodeError(`${req.codec.name} stream decoded to nothing`, { offset: base }, { expected: 'decoded data', found: '0 bytes' });
  }
  return { total, consumed, scans: scanner.hits, sha256: hasher ? hasher.digest('hex') : null };
}

export interface Decoded extends StreamResult {
  /** The decoded layer's bytes, when captured. */
  readonly bytes: LayerBytes | null;
}

/**
 * Decodes a region of a layer into a new layer (index `layer`), checking what the codec and the header
 * say (into `checks`): bytes after the stream's end are a warning (as the native tools say), a decoded
 * size other than the header's claim an error.
 */
export async function decodeRegion(
  bytes: LayerBytes,
  region: RegionInfo,
  codec: Codec,
  req: Omit<StreamRequest, 'codec'>,
  expectedSize: { value: number | bigint; modulo: bigint | null } | null,
  layer: number,
  checks: CheckReport[],
  o: StreamOptions,
): Promise<Decoded> {
  const r = await streamRange(bytes, region.offset, region.size, { ...req, codec }, o);
  if (r.consumed !== null) {
    const extra = region.size - r.consumed;
    const at = (region.fileOffset ?? region.offset) + r.consumed;
    checks.push({
      layer,
      id: 'trailing_data',
      status: extra > 0 ? 'warning' : 'ok',
      message: extra > 0 ? `${extra} bytes after the end of the ${codec.name} stream, at ${region.fileOffset !== null ? 'file ' : 'layer '}offset ${hexInt(at)} (not decoded)` : 'the stream ends where the region does',
    });
  }
  if (expectedSize) {
    const total = BigInt(r.total);
    const got = expectedSize.modulo ? total % expectedSize.modulo : total;
    const want = BigInt(expectedSize.value);
    const ok = got === want;
    checks.push({
      layer,
      id: 'decoded_size',
      status: ok ? 'ok' : 'error',
      message: ok ? `decoded ${r.total} bytes, as the size word says` : `decoded ${r.total} bytes, but the size word says ${want}${expectedSize.modulo ? ` (mod ${hexInt(expectedSize.modulo)})` : ''}`,
    });
    if (!ok) {
      throw new PipelineError('size-mismatch', `decoded size does not match the stored size word`, { layer }, { expected: `${want} bytes${expectedSize.modulo ? ` (mod ${hexInt(expectedSize.modulo)})` : ''}`, found: `${r.total} (${humanSize(r.total)})` });
    }
  }
  return { ...r, bytes: req.capture ? req.capture.finish() : null };
}
