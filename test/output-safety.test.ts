/**
 * Output safety under interruption: a long extraction killed by SIGINT or SIGTERM leaves neither the
 * output nor a temporary file, and a reader polling the target never sees a half-written file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, hasCommand, SAMPLES } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-safety-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** A bzip2 stream that takes kimg a couple of seconds to decode (bzip2 is the slowest codec). */
function slowInput(): { path: string; size: number } | null {
  if (!hasCommand('bzip2')) return null;
  const path = join(work, 'big.Image.bz2');
  const image = readFileSync(join(SAMPLES, 'riscv-gzip.Image'));
  const big = Buffer.concat(Array.from({ length: 12 }, () => image));
  if (!existsSync(path)) {
    const r = spawnSync('bzip2', ['-1', '-c'], { input: big, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0);
    writeFileSync(path, r.stdout);
  }
  return { path, size: big.length };
}

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('.kimg-'));
}

async function interrupted(signal: 'SIGINT' | 'SIGTERM'): Promise<void> {
  const input = slowInput()!;
  const dir = mkdtempSync(join(work, `${signal}-`));
  const out = join(dir, 'Image');
  const child = spawn(process.execPath, [CLI, 'extract', input.path, '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Wait until the temporary file exists and is growing, then interrupt.
  const started = Date.now();
  for (;;) {
    const tmp = leftovers(dir)[0];
    if (tmp && statSync(join(dir, tmp)).size > 0) break;
    assert.ok(Date.now() - started < 20_000, 'extraction started writing');
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill(signal);
  const [code, sig] = await new Promise<[number | null, string | null]>((r) => child.on('exit', (c, s) => r([c, s])));
  assert.equal(sig, signal, `ended by ${signal} (code ${code}, stderr ${stderr})`);
  assert.deepEqual(leftovers(dir), [], 'no temporary file left');
  assert.equal(existsSync(out), false, 'no output file');
}

test('SIGINT during a long extraction: no output, no temporary file', { timeout: 60_000 }, async (t) => {
  if (!slowInput()) return t.skip('bzip2 is not installed: cannot make a slow input');
  await interrupted('SIGINT');
});

test('SIGTERM during a long extraction: no output, no temporary file', { timeout: 60_000 }, async (t) => {
  if (!slowInput()) return t.skip('bzip2 is not installed: cannot make a slow input');
  await interrupted('SIGTERM');
});

test('a reader polling the target never sees a half-written output', { timeout: 60_000 }, async (t) => {
  const input = slowInput();
  if (!input) return t.skip('bzip2 is not installed: cannot make a slow input');
  const dir = mkdtempSync(join(work, 'reader-'));
  const out = join(dir, 'Image');
  const child = spawn(process.execPath, [CLI, 'extract', input.path, '-o', out], { stdio: 'ignore' });
  let done = false;
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => {
    done = true;
    r(c);
  }));
  const seen = new Set<number>();
  let polls = 0;
  while (!done) {
    if (existsSync(out)) seen.add(statSync(out).size);
    polls++;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.equal(await exited, 0);
  seen.add(statSync(out).size);
  assert.ok(polls > 50, `polled ${polls} times during the extraction`);
  assert.deepEqual([...seen], [input.size], 'the target only ever appeared complete');
});

test('progress bar: drawn on a terminal during a long extraction, absent when stderr is piped', { timeout: 60_000 }, async (t) => {
  const input = slowInput();
  if (!input) return t.skip('bzip2 is not installed: cannot make a slow input');
  if (!hasCommand('script')) return t.skip('script(1) is not installed: cannot give kimg a terminal');
  const dir = mkdtempSync(join(work, 'tty-'));
  // script(1) runs kimg on a pseudo-terminal and copies what it wrote there to its own stdout.
  const cmd = `"${process.execPath}" "${CLI}" extract "${input.path}" -o "${join(dir, 'a')}"`;
  const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'latin1' });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /\r\[#+\.*\] +\d+% .* read/, 'a progress line was drawn');
  assert.match(tty.stdout, /kimg: wrote layer 1/);
  const piped = spawnSync(process.execPath, [CLI, 'extract', input.path, '-o', join(dir, 'b')], { encoding: 'latin1' });
  assert.equal(piped.status, 0);
  assert.doesNotMatch(piped.stderr, /\r|%/, 'nothing but the final line when stderr is not a terminal');
  assert.match(piped.stderr, /^kimg: wrote layer 1 .*\n$/);
});

const ZBOOT = join(SAMPLES, 'arm64-gzip.efi');
const ZBOOT_KERNEL_SHA = '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0';

test('-o /dev/null needs no --force, writes into the device and leaves it a character device', () => {
  const r = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', '/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /wrote layer 1 .*, 2555904 bytes .* to \/dev\/null/);
  const forced = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', '/dev/null', '--force'], { encoding: 'utf8' });
  assert.equal(forced.status, 0, forced.stderr);
  assert.ok(statSync('/dev/null').isCharacterDevice(), '/dev/null is still a character device');
  assert.deepEqual(readdirSync('/dev').filter((f) => f.startsWith('.kimg-')), [], 'no temporary file beside the device');
});

test('-o a FIFO with a reader: the reader gets the exact bytes; the FIFO stays a FIFO', { timeout: 30_000 }, async (t) => {
  if (!hasCommand('mkfifo')) return t.skip('mkfifo is not installed');
  const dir = mkdtempSync(join(work, 'fifo-'));
  const fifo = join(dir, 'pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  reader.stdout.on('data', (d: Buffer) => chunks.push(d));
  const readerDone = new Promise<void>((r) => reader.on('exit', () => r()));
  // Give cat time to open its end (its open blocks until kimg opens the writing end).
  await new Promise((r) => setTimeout(r, 200));
  const kimgRun = spawn(process.execPath, [CLI, 'extract', ZBOOT, '-o', fifo], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  kimgRun.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => kimgRun.on('exit', (c) => r(c)));
  await readerDone;
  assert.equal(code, 0, err);
  assert.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), ZBOOT_KERNEL_SHA);
  assert.ok(lstatSync(fifo).isFIFO(), 'still a FIFO');
  assert.deepEqual(leftovers(dir), []);
});

test('-o a FIFO without a reader fails at once with an I/O error, not a hang; a socket is refused', (t) => {
  if (!hasCommand('mkfifo')) return t.skip('mkfifo is not installed');
  const dir = mkdtempSync(join(work, 'fifo-noreader-'));
  const fifo = join(dir, 'pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', fifo], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 4, `exit 4, got ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  assert.ok(Date.now() - started < 5_000, 'did not wait for a reader');
  assert.match(r.stderr, /cannot open the FIFO .*pipe for writing: no process is reading it/);
  assert.ok(lstatSync(fifo).isFIFO());
  assert.deepEqual(leftovers(dir), []);
  const dirOut = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', dir, '--force'], { encoding: 'utf8' });
  assert.equal(dirOut.status, 4, dirOut.stderr);
  assert.match(dirOut.stderr, /it is a directory/);
});

test('a temp file left by a SIGKILLed extract is removed by the next extract into that directory', { timeout: 60_000 }, async (t) => {
  const input = slowInput();
  if (!input) return t.skip('bzip2 is not installed: cannot make a slow input');
  const dir = mkdtempSync(join(work, 'sigkill-'));
  const child = spawn(process.execPath, [CLI, 'extract', input.path, '-o', join(dir, 'Image')], { stdio: 'ignore' });
  const started = Date.now();
  let tmp: string | undefined;
  for (;;) {
    tmp = leftovers(dir)[0];
    if (tmp && statSync(join(dir, tmp)).size > 0) break;
    assert.ok(Date.now() - started < 20_000, 'extraction started writing');
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  assert.match(tmp, new RegExp(`^\\.kimg-Image\\.${child.pid}\\.[0-9a-f]+\\.tmp$`), 'the temp name carries the pid');
  assert.deepEqual(leftovers(dir), [tmp], 'SIGKILL left its temp file');
  // A fresh one (under a minute old) may belong to a pid that was reused: kept.
  const kept = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', join(dir, 'other')], { encoding: 'utf8' });
  assert.equal(kept.status, 0, kept.stderr);
  assert.deepEqual(leftovers(dir), [tmp]);
  const old = new Date(Date.now() - 120_000);
  utimesSync(join(dir, tmp), old, old);
  const again = spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', join(dir, 'third')], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(leftovers(dir), [], 'the stale temp file of the dead process is gone');
  // A live process's temp file is never touched, however old.
  const mine = join(dir, `.kimg-x.${process.pid}.abcd.tmp`);
  writeFileSync(mine, 'x');
  utimesSync(mine, old, old);
  assert.equal(spawnSync(process.execPath, [CLI, 'extract', ZBOOT, '-o', join(dir, 'fourth')]).status, 0);
  assert.deepEqual(leftovers(dir), [`.kimg-x.${process.pid}.abcd.tmp`]);
});
