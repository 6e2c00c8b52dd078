// Benchmark inputs, made reproducibly under bench/.work/ (git-ignored): a real kernel Image compressed by
// each native tool with the kernel build's options (from a pipe, as the kernel's Makefiles do).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const work = join(root, 'bench', '.work');
export const defaultSource = process.env.KIMG_BENCH_SRC ?? resolve(root, '..', 'shared', 'corpus', 'debian-bookworm-6.1-cloud-arm64.vmlinuz');

/** [name, codec plugin, zboot compress_type (null: not a zboot codec), file suffix, make command reading $SRC, native decoder] */
export const cases = [
  ['gzip', 'gzip', 'gzip', 'gz', 'gzip -n -9 < "$SRC"', 'gzip -dc'],
  ['zstd', 'zstd', 'zstd', 'zst', 'cat "$SRC" | zstd -q -22 --ultra -T1', 'zstd -qdc'],
  ['xz', 'xz', 'xzkern', 'xz', 'cat "$SRC" | xz --check=crc32 --lzma2=dict=32MiB', 'xz -dc'],
  ['xz+arm64', 'xz', 'xzkern', 'arm64.xz', 'cat "$SRC" | xz --check=crc32 --arm64 --lzma2=dict=32MiB', 'xz -dc'],
  ['lzma', 'lzma', 'lzma', 'lzma', 'cat "$SRC" | lzma -9', 'lzma -dc'],
  ['lz4-legacy', 'lz4-legacy', 'lz4', 'lz4', 'cat "$SRC" | lz4 -q -l -9', 'lz4 -qdc'],
  // The frame format as U-Boot's `mkimage -C lz4` payloads carry it (no zboot compress_type: bench/extract.mjs skips it).
  ['lz4-frame', 'lz4-frame', null, 'frame.lz4', 'cat "$SRC" | lz4 -q -9', 'lz4 -qdc'],
  ['lzop', 'lzop', 'lzo', 'lzo', 'cat "$SRC" | lzop -9', 'lzop -dc'],
  ['bzip2', 'bzip2', 'bzip2', 'bz2', 'bzip2 -9 < "$SRC"', 'bzip2 -dc'],
];

export const have = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** The source Image, repeated `scale` times (to show how time and memory grow with size). */
export function sourceImage(src, scale) {
  mkdirSync(work, { recursive: true });
  if (scale === 1) return src;
  const path = join(work, `image.x${scale}`);
  if (!existsSync(path)) {
    const one = readFileSync(src);
    writeFileSync(path, Buffer.concat(Array.from({ length: scale }, () => one)));
  }
  return path;
}

/** Compress `image` for one case; returns the path, or null with the reason when the tool is missing. */
export function compressed(image, [_name, , , suffix, make], tag = '') {
  const tool = make.split('|').pop().trim().split(' ')[0];
  const path = join(work, `k${tag}.${suffix}`);
  if (existsSync(path)) return { path };
  if (!have(tool)) return { path: null, reason: `${tool} not installed (apt-get install ${tool === 'lzop' ? 'lzop' : tool})` };
  execFileSync('sh', ['-c', `${make} > "${path}.tmp" && mv "${path}.tmp" "${path}"`], { env: { ...process.env, SRC: image } });
  return { path };
}

/**
 * The implementations of a case's codec on this Node, each with the environment that selects it in a kimg
 * process and the codec object for in-process runs: zstd has two (libzstd from node:zlib where Node has it,
 * zstddec's wasm), lzop two (kimg's LZO1X decoder, lzo-ts), lz4-legacy two (one block at a time, two in
 * flight on libuv's thread pool), the others one. Needs the build (dist/).
 */
export async function implementations(plugin, name = plugin) {
  const dist = join(root, 'dist', 'src', 'codecs');
  switch (plugin) {
    case 'zstd': {
      const { zstdCodec, zstdImplementations } = await import(join(dist, 'zstd.js'));
      return zstdImplementations().map((implementation) => ({
        label: `zstd (${implementation === 'zlib' ? 'node:zlib' : 'wasm'})`,
        env: { KIMG_ZSTD: implementation },
        codec: zstdCodec(implementation),
      }));
    }
    case 'lzop': {
      const { lzopCodec } = await import(join(dist, 'lzop.js'));
      return ['kimg', 'lzo-ts'].map((implementation) => ({ label: `lzop (${implementation})`, env: { KIMG_LZO: implementation }, codec: lzopCodec(implementation) }));
    }
    case 'lz4-legacy': {
      const { lz4LegacyCodec } = await import(join(dist, 'lz4-legacy.js'));
      return [1, 2].map((depth) => ({ label: depth === 1 ? 'lz4-legacy' : 'lz4-legacy (2 in flight)', env: { KIMG_LZ4_DEPTH: String(depth) }, codec: lz4LegacyCodec(depth) }));
    }
    default:
      return [{ label: name, env: {}, codec: undefined }];
  }
}
