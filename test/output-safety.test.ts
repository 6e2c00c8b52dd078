/**
 * Output safety under interruption: a long extraction killed by SIGINT or SIGTERM leaves neither the
 * output nor a temporary file, and a reader polling the target never sees a half-written file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => ((done = true), r(c))));
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
