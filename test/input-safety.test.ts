/**
 * Inputs kimg must not trust: a FIFO (open() would wait forever for a writer), a directory, a
 * device, and a file that changes while it is being read.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IoError } from '../src/core/errors.js';
import { FileSource } from '../src/core/file-source.js';
import { Kimg } from '../src/kimg.js';
import { extract } from '../src/pipeline/extract.js';
import { hasCommand, kimg, SAMPLES } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-input-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ZBOOT = join(SAMPLES, 'arm64-gzip.efi');

test('a FIFO without a writer is refused at once (exit 4, names the type), for every command', (t) => {
  if (!hasCommand('mkfifo')) return t.skip('mkfifo is not installed');
  const fifo = join(work, 'in.fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const args of [['info', fifo], ['dump', fifo], ['parse', 'pe', fifo], ['extract', fifo, '-o', join(work, 'x')]]) {
    const started = Date.now();
    const r = kimg(args);
    assert.equal(r.status, 4, `${args[0]}: ${r.stderr.toString()}`);
    assert.ok(Date.now() - started < 10_000, `${args[0]} did not hang`);
    assert.match(r.stderr.toString(), /it is a FIFO \(named pipe\); kimg reads regular files only/);
  }
});

test('a directory and a character device are refused with their type named, exit 4', () => {
  const dir = kimg(['info', work]);
  assert.equal(dir.status, 4);
  assert.match(dir.stderr.toString(), /it is a directory/);
  const dev = kimg(['info', '/dev/null']);
  assert.equal(dev.status, 4);
  assert.match(dev.stderr.toString(), /it is a character device/);
});

test('FileSource.assertUnchanged: silent on an untouched file, throws on a size or mtime change', () => {
  const path = join(work, 'src.bin');
  copyFileSync(ZBOOT, path);
  const src = new FileSource(path);
  try {
    src.assertUnchanged();
    const st = statSync(path);
    utimesSync(path, st.atime, new Date(st.mtimeMs + 5000));
    assert.throws(() => src.assertUnchanged(), (e: unknown) => e instanceof IoError && e.code === 'changed' && /mtime .* → /.test(e.message));
    appendFileSync(path, 'x');
    assert.throws(() => src.assertUnchanged(), /the file changed while being read: size 934400 → 934401 bytes/);
    const other = join(work, 'other.bin');
    copyFileSync(ZBOOT, other);
    renameSync(other, path);
    assert.throws(() => src.assertUnchanged(), /replaced by another file/);
  } finally {
    src.close();
  }
});

for (const how of ['grows', 'is touched'] as const) {
  test(`a file that ${how} while analyze() reads it is an error, never ok`, async () => {
    const path = join(work, `changing-${how.replace(' ', '-')}.efi`);
    copyFileSync(ZBOOT, path);
    let changed = false;
    const a = await new Kimg().analyze(path, {
      decode: true,
      onProgress: () => {
        if (changed) return;
        changed = true;
        if (how === 'grows') appendFileSync(path, 'appended');
        else utimesSync(path, new Date(), new Date(Date.now() + 10_000));
      },
    });
    assert.ok(changed, 'the progress hook ran during the read');
    assert.ok(a.error instanceof IoError, `an I/O error, got ${String(a.error)}`);
    assert.equal(a.error.code, 'changed');
    assert.match(a.error.describe(), /changing-.*\.efi, layer \d+: the file changed while being read: (size 934400 → 934408 bytes|mtime)/);
  });
}

test('extract --raw: a file changed after the analysis, while its stored range is copied, is an error and nothing is committed', async () => {
  const path = join(work, 'changing-during-copy.efi');
  copyFileSync(ZBOOT, path);
  let committed = false;
  let changed = false;
  const out = {
    write(): void {
      // The analysis is over when the raw copy writes: change the input now.
      if (!changed) {
        changed = true;
        appendFileSync(path, 'appended');
      }
    },
    commit(): void {
      committed = true;
    },
    abort(): void {},
  };
  await assert.rejects(extract(new Kimg(), path, { kind: 'raw' }, out), (e: unknown) => {
    assert.ok(e instanceof IoError && e.code === 'changed', String(e));
    assert.match(e.message, /the file changed while being extracted: size 934400 → 934408 bytes/);
    return true;
  });
  assert.ok(changed, 'the copy ran');
  assert.equal(committed, false);
});
