#!/usr/bin/env node
// Codec benchmark: kimg's built plugins (dist/src/codecs) vs the native CLI decompressors, on a realistic
// kernel payload compressed the way the kernel build does it.
//   npm run build && node bench/codecs.mjs [--runs N] [--only gzip,zstd,...] [--scales 1,2]
// Inputs are made reproducibly under bench/.work/ (git-ignored) from
// ../shared/corpus/debian-bookworm-6.1-cloud-arm64.vmlinuz (or $KIMG_BENCH_SRC), repeated `scale` times
// before compressing (scale 2: the 26 MiB Image twice, 52 MiB). Every implementation of a codec gets its
// own row (zstd: node:zlib where this Node has it, and wasm), measured in the same run.
import { existsSync, mkdirSync, readFileSync, createReadStream, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { cases, compressed, defaultSource, have, implementations, root, sourceImage, work } from './inputs.mjs';

const src = defaultSource;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 3) || 3;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined;
const scales = (args.includes('--scales') ? args[args.indexOf('--scales') + 1] : '1').split(',').map(Number);

if (!existsSync(src)) {
  console.error(`bench: source image not found: ${src}`);
  process.exit(2);
}
mkdirSync(work, { recursive: true });

const { defaultCodecs } = await import(join(root, 'dist', 'src', 'codecs', 'registry.js'));
const reg = defaultCodecs();

async function* fileSource(path) {
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) yield c;
}
const best = (xs) => Math.min(...xs);
const rows = [];
for (const scale of scales) {
  const image = sourceImage(src, scale);
  const expected = createHash('sha256').update(readFileSync(image)).digest('hex');
  const imageSize = statSync(image).size;
  for (const c of cases) {
    const [name, plugin, , , , native] = c;
    if (only && !only.includes(name)) continue;
    const { path, reason } = compressed(image, c, scale === 1 ? '' : `.x${scale}`);
    if (!path) {
      rows.push({ name, scale, note: `skipped: ${reason}` });
      continue;
    }
    const csize = statSync(path).size;
    // The native tool's runs come first, then each implementation's, all on the same file in this run.
    const ntimes = [];
    const ntool = native.split(' ')[0];
    if (have(ntool)) {
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        execFileSync('sh', ['-c', `${native} "${path}" > /dev/null`]);
        ntimes.push(performance.now() - t0);
      }
    }
    for (const { label, codec: variant } of await implementations(plugin, name)) {
      const codec = variant ?? reg.get(plugin);
      const times = [];
      let ok = true;
      const rssBefore = process.memoryUsage().rss;
      for (let i = 0; i < runs; i++) {
        const h = createHash('sha256');
        let n = 0;
        const t0 = performance.now();
        for await (const c of codec.decode(fileSource(path), { maxOutput: 1 << 30 })) {
          h.update(c);
          n += c.length;
        }
        times.push(performance.now() - t0);
        ok &&= n === imageSize && h.digest('hex') === expected;
      }
      const rssDelta = process.memoryUsage().rss - rssBefore;
      const mbps = (ms) => +(imageSize / 1048576 / (ms / 1000)).toFixed(1);
      rows.push({
        name: label,
        scale,
        library: codec.library,
        ok,
        'MB/s': mbps(best(times)),
        'native MB/s': ntimes.length ? mbps(best(ntimes)) : 'n/a',
        'kimg/native': ntimes.length ? +(best(ntimes) / best(times)).toFixed(2) : 'n/a',
        ratio: +(csize / imageSize).toFixed(3),
        'rss growth MiB': Math.round(rssDelta / 1048576),
      });
    }
  }
}
console.log(`source: ${src} (${statSync(src).size} bytes) x ${scales.join(', x')}, Node ${process.version}, best of ${runs} runs, MB/s = decoded MiB per second; kimg/native = native time / kimg time`);
console.table(rows);
if (rows.some((r) => r.ok === false)) process.exitCode = 1;
