#!/usr/bin/env node
// Cold start: `kimg info` on a plain 26 MiB kernel Image (the Debian arm64 one), against `file` on the same
// image and against bare `node -e 0`, each run as a fresh process; median of N runs, wall time.
//   npm run build && node bench/startup.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSource, root } from './inputs.mjs';

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 15);
if (!existsSync(defaultSource)) {
  console.error(`bench: source image not found: ${defaultSource}`);
  process.exit(2);
}
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

function wall(cmd, argv) {
  const times = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: exit ${r.status} ${r.stderr}`);
    if (i >= 2) times.push(ms); // two warm-up runs fill the page cache
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

const rows = [
  ['node -e 0 (Node.js start-up alone)', process.execPath, ['-e', '0']],
  ['file IMAGE', 'file', [defaultSource]],
  ['kimg info IMAGE', process.execPath, [cli, 'info', defaultSource]],
  ['kimg info --json IMAGE', process.execPath, [cli, 'info', '--json', defaultSource]],
  ['kimg dump IMAGE', process.execPath, [cli, 'dump', defaultSource]],
].map(([name, cmd, argv]) => ({ name, ...wall(cmd, argv) }));
const file = rows.find((r) => r.name === 'file IMAGE').median;
const node = rows[0].median;
console.log(`cold start on ${defaultSource} (26 MiB plain arm64 Image), median of ${runs} runs (ms)`);
console.table(rows.map((r) => ({ command: r.name, 'median ms': +r.median.toFixed(1), 'min..max': `${r.min.toFixed(0)}..${r.max.toFixed(0)}`, 'vs file': +(r.median / file).toFixed(1), 'vs node -e 0': +(r.median / node).toFixed(2) })));
const info = rows.find((r) => r.name === 'kimg info IMAGE').median;
console.log(`goal: kimg info <= 150 ms -> ${info.toFixed(0)} ms (${info <= 150 ? 'met' : 'NOT met'})`);
export { rows };
