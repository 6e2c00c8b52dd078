#!/usr/bin/env node
// Cold start, each command a fresh process, all rows interleaved run by run (a busy moment of a shared
// machine slows every row alike), median wall time of N runs; ratios against `node -e 0` in the same run.
//
//   before: main's CLI as this branch found it (util.parseArgs, ~70 unbundled modules), built from git
//           (the merge-base with main) under bench/.work/before-<rev>/ with this checkout's node_modules;
//   after:  the bundled CLI (dist/src/cli/kimg.mjs, the package's bin), and for comparison the same code
//           unbundled (dist/src/cli/main.js);
//   packed: `npm pack` + `npm install -g --prefix bench/.work/packed`, its installed `kimg`.
// Then a batch: `kimg info` over every corpus and sample file in one process vs `file` over the same files.
//   npm run build && node bench/startup.mjs [--runs N] [--before REV | --no-before] [--no-packed]
// (--before: the revision to compare with; on main itself, after a merge, give the commit before it.)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSource, root, work } from './inputs.mjs';

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 15);
if (!existsSync(defaultSource)) {
  console.error(`bench: source image not found: ${defaultSource}`);
  process.exit(2);
}
const corpus = resolve(defaultSource, '..');
const zboot = [join(corpus, 'arm64-zstd.efi'), join(root, 'samples/arm64-gzip.efi')].find(existsSync);
const bundled = join(root, 'dist/src/cli/kimg.mjs');
const unbundled = join(root, 'dist/src/cli/main.js');

function git(...a) {
  return execFileSync('git', ['-C', root, ...a], { encoding: 'utf8' }).trim();
}

/** main's CLI at the merge-base, built once per revision (tsc only: that CLI was never bundled). */
function beforeCli() {
  let rev;
  try {
    rev = args.includes('--before') ? git('rev-parse', '--verify', `${args[args.indexOf('--before') + 1]}^{commit}`) : git('merge-base', 'HEAD', 'main');
  } catch {
    return { cli: null, why: 'no main branch to compare with (--before REV names one)' };
  }
  if (rev === git('rev-parse', 'HEAD')) return { cli: null, why: `HEAD is the merge-base with main: give the revision to compare with, --before REV` };
  const dir = join(work, `before-${rev.slice(0, 12)}`);
  const cli = join(dir, 'dist/src/cli/main.js');
  if (!existsSync(cli)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git -C "${root}" archive ${rev} | tar -x -C "${dir}"`]);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, stdio: 'inherit' });
    execFileSync(process.execPath, ['dist/src/schema/build-snapshot.js'], { cwd: dir, stdio: 'ignore' });
  }
  return { cli, why: null, rev: rev.slice(0, 12) };
}

/** The package as users get it: packed from this checkout, installed globally into a private prefix. */
function packedCli() {
  const dir = join(work, 'packed');
  const bin = join(dir, 'prefix/bin/kimg');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' });
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (pack.status !== 0 || !tgz) return { bin: null, why: `npm pack failed: ${pack.stderr.trim().split('\n').pop()}` };
  const install = spawnSync('npm', ['install', '-g', '--silent', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', join(dir, 'prefix'), join(dir, tgz)], { encoding: 'utf8' });
  if (install.status !== 0 || !existsSync(bin)) return { bin: null, why: `npm install -g failed: ${install.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ')}` };
  return { bin, why: null };
}

const rows = [
  { name: 'node -e 0 (Node.js start-up alone)', cmd: process.execPath, argv: ['-e', '0'] },
  { name: 'file IMAGE', cmd: 'file', argv: [defaultSource] },
];
const before = args.includes('--no-before') ? { cli: null, why: '--no-before' } : beforeCli();
const packed = args.includes('--no-packed') ? { bin: null, why: '--no-packed' } : packedCli();
for (const [label, file] of [['IMAGE', defaultSource], ['ZBOOT', zboot]]) {
  if (before.cli) rows.push({ name: `before: kimg info ${label} (main ${before.rev}, unbundled)`, cmd: process.execPath, argv: [before.cli, 'info', file] });
  rows.push({ name: `after: kimg info ${label} (bundled)`, cmd: process.execPath, argv: [bundled, 'info', file], goal: true });
  rows.push({ name: `after, unbundled: kimg info ${label}`, cmd: process.execPath, argv: [unbundled, 'info', file] });
  if (packed.bin) rows.push({ name: `packed install: kimg info ${label}`, cmd: packed.bin, argv: ['info', file] });
}
rows.push({ name: 'after: kimg --version (yargs, no command)', cmd: process.execPath, argv: [bundled, '--version'] });
rows.push({ name: 'after: kimg dump IMAGE', cmd: process.execPath, argv: [bundled, 'dump', defaultSource] });

// CPU time (user + system, GNU time) as well as wall time: on a shared machine other processes stretch
// wall time, far less the CPU a process itself uses. GNU time reports 10 ms steps: its mean is read.
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const cpuFile = join(work, 'startup-time.txt');
mkdirSync(work, { recursive: true });
const times = rows.map(() => []);
const cpus = rows.map(() => []);
for (let i = 0; i < runs + 2; i++) {
  rows.forEach((r, k) => {
    const t0 = process.hrtime.bigint();
    const p = TIME ? spawnSync(TIME, ['-o', cpuFile, '-f', '%U %S', r.cmd, ...r.argv], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawnSync(r.cmd, r.argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (p.status !== 0) throw new Error(`${r.cmd} ${r.argv.join(' ')}: exit ${p.status} ${p.stderr}`);
    if (i < 2) return; // two warm-up rounds fill the page cache
    times[k].push(ms);
    if (TIME) cpus[k].push(readFileSync(cpuFile, 'utf8').trim().split(/\s+/).reduce((a, b) => a + Number(b) * 1000, 0));
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const node = median(times[0]);
const nodeCpu = TIME ? mean(cpus[0]) : null;
console.log(`cold start, median of ${runs} interleaved runs (ms); IMAGE = ${defaultSource} (26 MiB plain arm64 Image), ZBOOT = ${zboot}`);
if (!before.cli) console.log(`(no "before" rows: ${before.why})`);
if (!packed.bin) console.log(`(no "packed install" rows: ${packed.why})`);
console.table(rows.map((r, k) => ({
  command: r.name,
  'wall median ms': +median(times[k]).toFixed(1),
  'wall vs node -e 0': +(median(times[k]) / node).toFixed(2),
  ...(TIME ? { 'cpu mean ms': +mean(cpus[k]).toFixed(1), 'cpu vs node -e 0': +(mean(cpus[k]) / nodeCpu).toFixed(2) } : {}),
})));
for (const [k, r] of rows.entries()) {
  if (!r.goal) continue;
  const wall = median(times[k]) / node;
  const cpu = TIME ? mean(cpus[k]) / nodeCpu : null;
  console.log(`goal: ${r.name} <= 1.5x node -e 0 -> wall ${wall.toFixed(2)}x${cpu === null ? '' : `, cpu ${cpu.toFixed(2)}x`} (${Math.min(wall, cpu ?? wall) <= 1.5 ? 'met' : 'NOT met'})`);
}

// Batch: many files in one process, as `file` does them.
const files = [...new Set([corpus, join(root, 'samples')].flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : [])))].filter((f) => /\.(efi|Image|vmlinuz|bz2)$/.test(f));
const batch = [
  { name: `file (${files.length} files)`, cmd: 'file', argv: files },
  { name: `kimg info (${files.length} files, one process)`, cmd: process.execPath, argv: [bundled, 'info', ...files] },
  { name: `kimg scan --json (same files, one process)`, cmd: process.execPath, argv: [bundled, 'scan', '--json', ...files] },
];
const batchTimes = batch.map(() => []);
for (let i = 0; i < Math.max(3, Math.ceil(runs / 3)) + 1; i++) {
  batch.forEach((r, k) => {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(r.cmd, r.argv, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    if (p.status !== 0 && p.status !== 3) throw new Error(`${r.name}: exit ${p.status} ${p.stderr}`);
    if (i >= 1) batchTimes[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
}
const fileMs = median(batchTimes[0]);
console.log(`\nbatch over the corpus and samples (every layer decoded by kimg; file reads headers only), median of ${batchTimes[0].length}`);
console.table(batch.map((r, k) => ({ command: r.name, 'median ms': +median(batchTimes[k]).toFixed(1), 'vs file': +(median(batchTimes[k]) / fileMs).toFixed(1), 'ms per file': +(median(batchTimes[k]) / files.length).toFixed(1) })));
export { rows };
