/**
 * Fuzz seeds: every genuine kernel in samples/ and ../shared/corpus, the bare codec streams stored
 * inside the zboot samples (each codec's payload on its own, found by its magic), decoded kernel
 * Images (the base of the inner-magic mutations), and a few synthetic PE files (UKI, LoongArch) that
 * the genuine corpus lacks. Loaded once per process, in a fixed order (the fuzz is deterministic
 * for a given seed *and* a given seed set: with and without the corpus the inputs differ).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildLoongarchImage, buildPe, buildZboot } from '../pe-builder.js';

/** dist/test/fuzz/seeds.js -> repo root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SAMPLES_DIR = join(REPO_ROOT, 'samples');
export const CORPUS_DIR = resolve(REPO_ROOT, '../shared/corpus');

export interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface SeedSet {
  /** Whole files (and synthetic ones), for the mutators. */
  readonly seeds: readonly Seed[];
  /** Decoded kernel Images (arm64, riscv, LoongArch), for the inner-magic mutations. */
  readonly images: readonly Seed[];
  /** Set when ../shared/corpus is absent: say so, visibly. */
  readonly corpusMessage: string | null;
}

function imageFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !/\.(md|json|txt)$/i.test(n))
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile())
    .sort();
}

const le32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);

function isZboot(b: Uint8Array): boolean {
  return b.length > 0x40 && b[0] === 0x4d && b[1] === 0x5a && b[4] === 0x7a && b[5] === 0x69 && b[6] === 0x6d && b[7] === 0x67;
}

function compressType(b: Uint8Array): string {
  let s = '';
  for (let i = 0x18; i < 0x38 && b[i] !== 0; i++) s += String.fromCharCode(b[i]!);
  return s;
}

let cached: SeedSet | null = null;

export function loadSeeds(): SeedSet {
  if (cached) return cached;
  const seeds: Seed[] = [];
  const images: Seed[] = [];
  const corpusPresent = existsSync(CORPUS_DIR);
  const files = [...imageFiles(SAMPLES_DIR).map((p) => ['samples', p] as const), ...imageFiles(CORPUS_DIR).map((p) => ['corpus', p] as const)];
  const seenRaw = new Set<string>();
  for (const [where, path] of files) {
    const bytes = new Uint8Array(readFileSync(path));
    const name = `${where}/${path.slice(path.lastIndexOf('/') + 1)}`;
    seeds.push({ name, bytes });
    if (/\.Image$/.test(name)) images.push({ name, bytes: bytes.subarray(0, Math.min(bytes.length, 1 << 20)) });
    if (isZboot(bytes)) {
      // The stored payload alone: a bare stream of its codec (Image.zst, Image.lz4, ...).
      const off = le32(bytes, 8);
      const size = le32(bytes, 12);
      const ct = compressType(bytes);
      if (off + size + 4 <= bytes.length && !seenRaw.has(`${ct}:${size}`)) {
        seenRaw.add(`${ct}:${size}`);
        const stream = bytes.subarray(off, off + size);
        seeds.push({ name: `${name}#payload(${ct})`, bytes: stream });
        if (ct === 'gzip' && images.length < 8) {
          try {
            // A Uint8Array of its own: a Buffer's slice() is a view, and the mutators slice their bases.
            images.push({ name: `${name}#decoded`, bytes: new Uint8Array(gunzipSync(stream).subarray(0, 1 << 20)) });
          } catch {
            /* not a gzip member after all: keep it as a seed only */
          }
        }
      }
    }
  }
  // Synthetic shapes the genuine kernels lack (named so).
  const arm64 = images.find((s) => s.name.includes('arm64')) ?? images[0];
  const small = arm64 ? arm64.bytes.subarray(0, 64 * 1024) : new Uint8Array(4096);
  const loong = buildLoongarchImage(small);
  images.push({ name: 'synthetic/loongarch.Image', bytes: loong });
  seeds.push({ name: 'synthetic/loongarch.Image', bytes: loong });
  const gz = seeds.find((s) => s.name === 'samples/arm64-gzip.efi')?.bytes;
  if (gz) {
    const { bytes } = buildPe({
      machine: 0xaa64,
      sections: [
        { name: '.osrel', data: new TextEncoder().encode('ID=debian\nVERSION_ID=12\n') },
        { name: '.cmdline', data: new TextEncoder().encode('console=ttyAMA0 root=/dev/vda2 ro\0') },
        { name: '.linux', data: gz },
        { name: '.initrd', data: new TextEncoder().encode('070701' + 'initrd'.repeat(64)) },
      ],
    });
    seeds.push({ name: 'synthetic/uki(arm64-gzip.efi)', bytes });
  }
  seeds.push({ name: 'synthetic/zboot-empty-payload', bytes: buildZboot(0xaa64, new Uint8Array(0), 'gzip', 0) });
  cached = {
    seeds,
    images,
    corpusMessage: corpusPresent ? null : `../shared/corpus is absent (${CORPUS_DIR}): fuzzing from samples/ and synthetic seeds only`,
  };
  return cached;
}
