/**
 * x86 bzImage: Debian's genuine kernel read through the setup header, checked against `file` (the version
 * string) and against the payload cut by offset/length and decoded by the native `zstd -dc`, as the
 * kernel's scripts/extract-vmlinux does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { CORPUS, CORPUS_ABSENT, corpusPresent, hasCommand, sha256 } from './helpers.js';

const BZIMAGE = join(CORPUS, 'debian-sid-amd64.vmlinuz');

test('bzImage: setup header -> payload (codec found by magic) -> ELF vmlinux, as file and zstd -dc see it', async (t) => {
  if (!corpusPresent) {
    t.skip(CORPUS_ABSENT);
    return;
  }
  const k = new Kimg();
  const a = await k.analyze(BZIMAGE, { hash: true });
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(a.layers.map((l) => l.detections[0]?.schema.id), ['x86-bzimage', 'elf']);
  const h = a.layers[0]!.detections[0]!.result.value as Record<string, unknown>;
  assert.equal(a.layers[1]!.codec?.plugin, 'zstd');
  assert.equal(a.layers[1]!.codec?.header, null, 'the header names no codec');
  assert.ok(a.checks.every((c) => c.status === 'ok'), JSON.stringify(a.checks.filter((c) => c.status !== 'ok')));

  // The payload as extract-vmlinux cuts it: (setup_sects + 1) * 512 + payload_offset, payload_length bytes.
  const file = readFileSync(BZIMAGE);
  const setupSects = file[0x1f1]!;
  const payloadOffset = file.readUInt32LE(0x248);
  const payloadLength = file.readUInt32LE(0x24c);
  const start = (setupSects + 1) * 512 + payloadOffset;
  assert.equal(h['payload_start'], start);
  assert.equal(h['payload_length'], payloadLength);
  if (hasCommand('zstd')) {
    const z = spawnSync('zstd', ['-dc'], { input: file.subarray(start, start + payloadLength - 4), maxBuffer: 1 << 30 });
    assert.equal(z.status, 0, z.stderr.toString());
    assert.equal(a.layers[1]!.sha256, sha256(z.stdout));
    assert.equal(a.layers[1]!.size, z.stdout.length);
  } else t.diagnostic('zstd is not installed: payload oracle skipped');

  if (hasCommand('file')) {
    const f = spawnSync('file', ['-b', BZIMAGE], { encoding: 'utf8' }).stdout;
    const version = /version (.*?), RO-rootFS/.exec(f)?.[1] ?? /version ([^,]*)/.exec(f)?.[1];
    assert.ok(version, f);
    assert.equal(h['version_string'], version);
    assert.match(f, new RegExp(`bzImage, version ${(h['version_string'] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  } else t.diagnostic('file is not installed: version oracle skipped');
  // the decoded ELF header, as readelf -h sees it
  const elf = a.layers[1]!.detections[0]!.result.value as { header: Record<string, { value: number } | number | bigint> };
  assert.equal((elf.header['e_machine'] as unknown as number), 62);
});
