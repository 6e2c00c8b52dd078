/**
 * Shared test plumbing: where the repo, the samples and the shared corpus are, and the corpus MANIFEST.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CodecRegistry, defaultCodecs } from '../src/codecs/registry.js';
import type { Codec } from '../src/codecs/types.js';
import { zstdCodec, zstdImplementations, type ZstdImplementation } from '../src/codecs/zstd.js';
import { lz4LegacyCodec } from '../src/codecs/lz4-legacy.js';
import { lzopCodec } from '../src/codecs/lzop.js';

/** dist/test/helpers.js -> repo root. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SAMPLES = join(REPO, 'samples');
export const CORPUS = resolve(REPO, '../shared/corpus');
export const CLI = join(REPO, 'dist/src/cli/kimg.mjs');
export const corpusPresent = existsSync(join(CORPUS, 'MANIFEST.md'));
export const CORPUS_ABSENT = `../shared/corpus is absent (it sits beside the checkout on the project's machines and in CI): corpus tests skipped`;

export interface ManifestRow {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly layers: string;
  readonly compressType: string | null;
  readonly payloadOffset: number | null;
  readonly payloadSize: number | null;
  readonly expectedBytes: number;
  readonly expectedSha256: string;
}

/** The corpus MANIFEST's table, read at run time (it is the corpus's own record, not ours). */
export function corpusManifest(): ManifestRow[] {
  const text = readFileSync(join(CORPUS, 'MANIFEST.md'), 'utf8');
  const rows: ManifestRow[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 11 || !/^[\w.-]+$/.test(cells[1] ?? '') || cells[1] === 'file' || !/^\d+$/.test(cells[2] ?? '')) continue;
    const num = (s: string): number | null => (s === '-' ? null : Number(s));
    rows.push({
      file: cells[1]!,
      bytes: Number(cells[2]),
      sha256: cells[3]!,
      layers: cells[4]!,
      compressType: cells[5] === '-' ? null : cells[5]!,
      payloadOffset: num(cells[6]!),
      payloadSize: num(cells[7]!),
      expectedBytes: Number(cells[8]),
      expectedSha256: cells[9]!,
    });
  }
  return rows;
}

export interface SampleRow {
  readonly file: string;
  readonly layers: 'zboot' | 'image' | 'stream';
  readonly compress_type: string | null;
  readonly expected_bytes: number;
  readonly expected_sha256: string;
}

export function samplesManifest(): SampleRow[] {
  return JSON.parse(readFileSync(join(SAMPLES, 'manifest.json'), 'utf8')) as SampleRow[];
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}

/** Run the CLI; never throws, returns the process result. */
export function kimg(args: readonly string[], options: { input?: Uint8Array; env?: Record<string, string>; cwd?: string } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(process.execPath, [CLI, ...args], {
    input: options.input,
    env: { ...process.env, ...(options.env ?? {}) },
    cwd: options.cwd ?? REPO,
    maxBuffer: 256 * 1024 * 1024,
  });
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** One implementation of a codec for a test to run through; `skip` says why it cannot run on this Node. */
export interface CodecUnderTest {
  /** For test names: the codec's name, with the implementation when it has several ("zstd (wasm)"). */
  readonly label: string;
  readonly codec: Codec;
  readonly skip: string | undefined;
}

const ZSTD_LABELS: Record<ZstdImplementation, string> = { zlib: 'zstd (node:zlib)', wasm: 'zstd (wasm)' };

/**
 * Every implementation of the codec `name`: zstd has two (node:zlib's libzstd where Node has it, zstddec's
 * wasm otherwise), chosen at run time, so its tests run through both; the others have one (the registry's).
 */
export function implementationsOf(name: string): CodecUnderTest[] {
  // lz4-legacy: one block at a time (the default) and two in flight on libuv's thread pool (KIMG_LZ4_DEPTH=2).
  if (name === 'lz4-legacy') {
    return [
      { label: 'lz4-legacy', codec: lz4LegacyCodec(1), skip: undefined },
      { label: 'lz4-legacy (2 blocks in flight)', codec: lz4LegacyCodec(2), skip: undefined },
    ];
  }
  // lzop: kimg's LZO1X decoder (the default) and lzo-ts (KIMG_LZO=lzo-ts).
  if (name === 'lzop') {
    return [
      { label: 'lzop', codec: lzopCodec('kimg'), skip: undefined },
      { label: 'lzop (lzo-ts)', codec: lzopCodec('lzo-ts'), skip: undefined },
    ];
  }
  if (name !== 'zstd') return [{ label: name, codec: defaultCodecs().get(name)!, skip: undefined }];
  const here = zstdImplementations();
  return (['zlib', 'wasm'] as const).map((impl) => ({
    label: ZSTD_LABELS[impl],
    codec: zstdCodec(impl),
    skip: here.includes(impl) ? undefined : `node:zlib of Node ${process.version} has no zstd (Node >= 22.15 / 23.8): ${ZSTD_LABELS[impl]} skipped`,
  }));
}

/** The default codecs, with zstd fixed to one implementation when `codec` is a zstd variant. */
export function registryWith(codec: Codec): CodecRegistry {
  return defaultCodecs().register(codec);
}
