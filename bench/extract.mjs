#!/usr/bin/env node
// End-to-end extraction benchmark: `kimg extract` (a whole process: start-up, parse, decode, write) against
// the native decompressor (`tool -dc payload > out`) on the same payload, per codec, in one run.
// The payload is the Debian arm64 kernel Image compressed with the kernel's options and wrapped like a
// zboot payload (arm64 PE stub, compress_type, le32 size word), at 1x and 2x the Image's size so that
// the table shows whether memory grows with the image.
// Every implementation of a codec gets its own row (zstd: node:zlib where this Node has it, and wasm, picked
// with KIMG_ZSTD), paired with the native runs of the same payload.
//   npm run build && node bench/extract.mjs [--runs N] [--only gzip,zstd] [--scales 1,2]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cases, compressed, defaultSource, implementations, root, sourceImage, work } from './inputs.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', '3'));
const only = opt('--only', null)?.split(',');
const scales = opt('--scales', '1,2').split(',').map(Number);
const ARM64 = 0xaa64;

if (!existsSync(defaultSource)) {
  console.error(`bench: source image not found: ${defaultSource} (set KIMG_BENCH_SRC to a kernel Image)`);
  process.exit(2);
}
const { buildZboot } = await import(join(root, 'dist', 'test', 'pe-builder.js'));
const cli = join(root, 'dist', 'src', 'cli', 'kimg.mjs');

/** Wall seconds and peak RSS (KiB) of one command, measured by GNU time on the process itself. */
function timed(argv, env = {}) {
  const tf = join(work, 'time.out');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', tf, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  const [wall, rss] = readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { wall, rss };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

const rows = [];
for (const scale of scales) {
  const image = sourceImage(defaultSource, scale);
  const imageSize = statSync(image).size;
  const expected = sha(image);
  for (const c of cases) {
    const [name, plugin, compressType, , , native] = c;
    if (!compressType) continue; // not a zboot codec
    if (only && !only.includes(name)) continue;
    const { path: payload, reason } = compressed(image, c, scale === 1 ? '' : `.x${scale}`);
    if (!payload) {
      rows.push({ codec: name, scale, note: `skipped: ${reason}` });
      continue;
    }
    const efi = join(work, `zboot-${name}.x${scale}.efi`);
    if (!existsSync(efi)) {
      const p = readFileSync(payload);
      writeFileSync(efi, buildZboot(ARM64, p, compressType, compressType === 'gzip' ? null : imageSize));
    }
    const out = join(work, 'out.Image');
    const nativeOut = join(work, 'out.native');
    const variants = await implementations(plugin, name);
    const k = variants.map(() => []);
    const n = [];
    // Paired: in each round the native tool, then every implementation, so that load on the machine falls on all.
    for (let i = 0; i < runs; i++) {
      n.push(timed(['sh', '-c', `exec ${native} "${payload}" > "${nativeOut}"`]));
      variants.forEach(({ env }, v) => {
        rmSync(out, { force: true });
        k[v].push(timed([process.execPath, cli, 'extract', efi, '-o', out], env));
        if (i === 0 && sha(out) !== expected) k[v].wrong = true;
      });
    }
    const nw = median(n.map((x) => x.wall));
    variants.forEach(({ label }, v) => {
      const kw = median(k[v].map((x) => x.wall));
      rows.push({
        codec: label,
        scale,
        'image MiB': +(imageSize / 1048576).toFixed(1),
        'kimg s': kw,
        'native s': nw,
        'kimg/native': +(kw / Math.max(nw, 0.01)).toFixed(2),
        'kimg peak RSS MiB': +(Math.max(...k[v].map((x) => x.rss)) / 1024).toFixed(1),
        'native peak RSS MiB': +(Math.max(...n.map((x) => x.rss)) / 1024).toFixed(1),
        'byte-identical': !k[v].wrong && sha(nativeOut) === expected,
      });
    });
  }
}
rmSync(join(work, 'out.Image'), { force: true });
rmSync(join(work, 'out.native'), { force: true });
console.log(`kimg extract vs native decompressor, Node ${process.version}, median of ${runs} runs, wall seconds (GNU time, 10 ms resolution) and peak RSS`);
console.table(rows);
if (rows.some((r) => r['byte-identical'] === false)) process.exitCode = 1;
export { rows };
