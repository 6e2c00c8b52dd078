#!/usr/bin/env node
/**
 * The hostile and damaged inputs of the trust issue, each run through the CLI as a user would, with the
 * outcome measured: exit code, wall time, peak RSS (GNU time). Run: `node bench/cases.mjs` after
 * `npm run build`. Inputs are made here from the bundled samples and the native tools; nothing is kept.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(repo, 'dist/src/cli/kimg.mjs');
const work = mkdtempSync(join(tmpdir(), 'kimg-cases-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const zboot = readFileSync(join(repo, 'samples/arm64-gzip.efi'));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

let n = 0;
function file(name, bytes) {
  const p = join(work, `${n++}-${name}`);
  writeFileSync(p, bytes);
  return p;
}
function patched(name, patch) {
  const b = Buffer.from(zboot);
  patch(b, b.readUInt32LE(0x3c));
  return file(name, b);
}

/** Runs kimg under GNU time: exit code, seconds, peak RSS in MiB, the first line of stderr. */
function run(args) {
  const t0 = process.hrtime.bigint();
  const r = TIME
    ? spawnSync(TIME, ['-f', 'KIMG_RSS_KB=%M', process.execPath, cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })
    : spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rss = /KIMG_RSS_KB=(\d+)/.exec(r.stderr ?? '')?.[1];
  const err = (r.stderr ?? '').split('\n').find((l) => l.startsWith('kimg:')) ?? '';
  return { status: r.status, secs, rssMiB: rss ? Number(rss) / 1024 : null, err };
}

const cases = [];
function add(what, args, expect) {
  cases.push({ what, args, expect });
}

add('zboot, NumberOfSections 0xFFFF', ['info', patched('nsec', (b, pe) => b.writeUInt16LE(0xffff, pe + 6))], 3);
add('zboot, e_lfanew 0xFFFFFFFC', ['info', patched('lfanew', (b) => b.writeUInt32LE(0xfffffffc, 0x3c))], 3);
add('zboot, NumberOfRvaAndSizes 0xFFFFFFFF', ['info', patched('rva', (b, pe) => b.writeUInt32LE(0xffffffff, pe + 24 + 108))], 3);
add('zboot, 64 bytes', ['info', file('64', zboot.subarray(0, 64))], 3);
add('zboot, cut in half', ['info', file('half', zboot.subarray(0, zboot.length >> 1))], 3);
add('zboot, extract of e_lfanew 0xFFFFFFFC', ['extract', patched('lfanew2', (b) => b.writeUInt32LE(0xfffffffc, 0x3c)), '-o', join(work, 'out1')], 3);
add('--limit maxExprSteps=50', ['info', '--limit', 'maxExprSteps=50', join(repo, 'samples/arm64-gzip.efi')], 3);
add('--limit maxDepth=2', ['info', '--limit', 'maxDepth=2', join(repo, 'samples/arm64-gzip.efi')], 3);
const text = Buffer.from(Array.from({ length: 1 << 16 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(''));
add('gzip of text', ['info', file('text.gz', gzipSync(text))], 3);
add('extract of a plain Image (the input itself)', ['extract', join(repo, 'samples/riscv-gzip.Image'), '-o', join(work, 'out2')], 3);
add('/bin/ls (an ELF, not a kernel container)', ['extract', '/bin/ls', '-o', join(work, 'out3')], 3);
{
  const p = join(work, 'sparse.Image');
  // a 5 GiB sparse file with an arm64 Image header: --max-size must bound the stored layer too
  const img = readFileSync(join(repo, 'samples/riscv-gzip.Image')).subarray(0, 4096);
  writeFileSync(p, img);
  const fd = openSync(p, 'r+');
  ftruncateSync(fd, 5 * 1024 ** 3);
  closeSync(fd);
  add('sparse 5 GiB Image, --layer 0 --max-size 100M', ['extract', '--layer', '0', '--max-size', '100M', p, '-o', join(work, 'out4')], 3);
}
if (spawnSync('bzip2', ['--help']).status !== null) {
  const bomb = join(work, 'bomb.bz2');
  execFileSync('sh', ['-c', `head -c 4294967296 /dev/zero | bzip2 -9 > ${bomb}`]);
  add('bzip2 bomb (4 GiB of zeros), --max-size 100M', ['extract', '--max-size', '100M', bomb, '-o', join(work, 'out5')], 3);
}
if (spawnSync('lz4', ['--version']).status === 0) {
  // U-Boot's lz4: the frame format, 4 MiB blocks; 4 GiB of zeros is ~16 MB of frame.
  const bomb = join(work, 'bomb.lz4');
  execFileSync('sh', ['-c', `head -c 4294967296 /dev/zero | lz4 -q -B7 -c > ${bomb}`]);
  add('lz4 frame bomb (4 GiB of zeros), --max-size 100M', ['extract', '--max-size', '100M', bomb, '-o', join(work, 'out-lz4')], 3);
}
if (spawnSync('xz', ['--version']).status === 0) {
  for (const [name, cmd] of [['xz', 'xz -0 -T1'], ['lzma', 'xz --format=lzma -0']]) {
    const file = join(work, `bomb.${name}`);
    execFileSync('sh', ['-c', `head -c 4294967296 /dev/zero | ${cmd} > ${file}`]);
    add(`${name} bomb (4 GiB of zeros), --max-size 100M`, ['extract', '--max-size', '100M', file, '-o', join(work, `out-${name}`)], 3);
  }
}

console.log('| case | exit (expected) | time s | peak RSS MiB | message |');
console.log('|---|---|---|---|---|');
let bad = 0;
for (const c of cases) {
  const r = run(c.args);
  if (r.status !== c.expect) bad++;
  console.log(`| ${c.what} | ${r.status} (${c.expect}) | ${r.secs.toFixed(2)} | ${r.rssMiB === null ? '-' : r.rssMiB.toFixed(0)} | ${r.err.slice(0, 160).replace(/\|/g, '\\|')} |`);
}
if (bad) {
  console.log(`\n${bad} case(s) with an unexpected exit code`);
  process.exitCode = 1;
}
