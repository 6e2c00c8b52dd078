/**
 * Every genuine image (samples/ always, ../shared/corpus when present) goes through info and extract,
 * and the extracted kernel must be byte-identical to what the native decompressor produced.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { extract } from '../src/pipeline/extract.js';
import { AtomicFile } from '../src/pipeline/output.js';
import { CORPUS, CORPUS_ABSENT, corpusManifest, corpusPresent, SAMPLES, samplesManifest, sha256File } from './helpers.js';

const k = new Kimg();
const work = mkdtempSync(join(tmpdir(), 'kimg-corpus-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/**
 * The kernel as `kimg extract` writes it. A plain Image is its own innermost layer: a default extract
 * refuses it (there is nothing inside), so those are copied with --layer 0, on purpose.
 */
async function checkExtraction(path: string, expectedBytes: number, expectedSha: string, plain = false): Promise<void> {
  const out = join(work, `${Math.random().toString(16).slice(2)}.Image`);
  if (plain) {
    await assert.rejects(extract(k, path, { kind: 'innermost' }, new AtomicFile(out, false, [path])), /the file itself is the innermost layer/);
  }
  const r = await extract(k, path, plain ? { kind: 'layer', index: 0 } : { kind: 'innermost' }, new AtomicFile(out, false, [path]));
  assert.equal(r.bytes, expectedBytes, `${path}: extracted size`);
  assert.equal(sha256File(out), expectedSha, `${path}: extracted sha256`);
  rmSync(out);
}

for (const s of samplesManifest()) {
  test(`sample ${s.file}: extracts byte-identical (${s.expected_bytes} bytes, sha256 ${s.expected_sha256.slice(0, 12)}…)`, async () => {
    await checkExtraction(join(SAMPLES, s.file), s.expected_bytes, s.expected_sha256, s.layers === 'image');
  });
  test(`sample ${s.file}: info finds the layers the manifest says`, async () => {
    const a = await k.analyze(join(SAMPLES, s.file), { hash: true });
    assert.equal(a.error, null, a.error?.describe());
    assert.ok(!a.checks.some((c) => c.status === 'error'), JSON.stringify(a.checks));
    const last = a.layers[a.layers.length - 1]!;
    assert.equal(last.sha256, s.expected_sha256);
    assert.equal(last.size, s.expected_bytes);
    if (s.layers === 'zboot') {
      assert.equal(a.layers.length, 2);
      assert.equal(a.layers[0]!.detections[0]!.schema.id, 'linux-zboot');
      assert.equal(a.layers[1]!.codec?.header, s.compress_type);
      assert.match(last.detections[0]!.schema.id, /^(arm64|riscv)-image$/);
    } else if (s.layers === 'stream') {
      assert.equal(a.layers.length, 2);
      assert.equal(a.layers[1]!.codec?.plugin, s.compress_type);
    } else {
      assert.equal(a.layers.length, 1);
    }
  });
}

test('corpus: every image in ../shared/corpus extracts byte-identical to its MANIFEST', async (t) => {
  if (!corpusPresent) {
    t.skip(CORPUS_ABSENT);
    return;
  }
  const rows = corpusManifest();
  assert.ok(rows.length >= 13, `MANIFEST rows read: ${rows.length}`);
  for (const row of rows) {
    await t.test(`${row.file} (${row.layers}${row.compressType ? `, ${row.compressType}` : ''}) -> ${row.expectedBytes} bytes, sha256 ${row.expectedSha256.slice(0, 12)}…`, async () => {
      const path = join(CORPUS, row.file);
      assert.equal(sha256File(path), row.sha256, 'input file matches the MANIFEST');
      await checkExtraction(path, row.expectedBytes, row.expectedSha256, row.layers === 'image');
      const a = await k.analyze(path);
      assert.equal(a.error, null, a.error?.describe());
      if (row.layers === 'zboot > image') {
        const zboot = a.layers[0]!.detections[0]!;
        assert.equal(zboot.schema.id, 'linux-zboot');
        assert.equal(zboot.result.value['compress_type'], row.compressType);
        assert.equal(zboot.result.value['payload_offset'], row.payloadOffset);
        assert.equal(zboot.result.value['payload_size'], row.payloadSize);
        // 6.1 kernels leave LINUX_PE_MAGIC zero: a warning, never an error (FORMATS.md).
        const peMagic = a.checks.find((c) => c.id.endsWith('linux_pe_magic'));
        if (row.file.includes('linux6.1') || ['lzma', 'xzkern', 'lz4', 'lzo'].includes(row.compressType ?? '')) assert.equal(peMagic?.status, 'warning');
        else assert.equal(peMagic?.status, 'ok');
      } else if (row.layers === 'bzImage > ELF vmlinux') {
        assert.deepEqual(a.layers.map((l) => l.detections[0]?.schema.id), ['x86-bzimage', 'elf']);
      } else {
        assert.equal(a.layers.length, 1);
      }
    });
  }
});

test('corpus: banner of the Debian kernel and of the 7.2 builds', async (t) => {
  if (!corpusPresent) {
    t.skip(CORPUS_ABSENT);
    return;
  }
  const deb = await k.analyze(join(CORPUS, 'debian-bookworm-6.1-cloud-arm64.vmlinuz'));
  assert.match(deb.layers[0]!.scans[0]!.text, /^Linux version 6\.1\.0-\d+-cloud-arm64 \(debian-kernel@lists\.debian\.org\)/);
  const z = await k.analyze(join(CORPUS, 'arm64-zstd.efi'));
  assert.match(z.layers[1]!.scans[0]!.text, /^Linux version 7\.2\.13 /);
  // 7.2 pads the compressed Image to image_size: the decoded size equals the header's image_size.
  const img = z.layers[1]!.detections[0]!.result.value;
  assert.equal(img['image_size'], BigInt(z.layers[1]!.size));
  assert.ok(readFileSync(join(CORPUS, 'arm64-zstd.efi')).length > 0);
});
