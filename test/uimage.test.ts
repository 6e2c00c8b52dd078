/**
 * The built-in U-Boot legacy image schema (schemas/uimage.yaml) on images made by `mkimage` for every
 * compression it supports, each payload compressed as U-Boot expects it (test/inputs.ts), against
 * `dumpimage -l` (every field it prints) and the payload's own bytes: `kimg extract` must give back the
 * kernel that went in. Both CRCs are verified by the schema: a flipped bit in the header or the data is
 * an error naming the check.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { kimg } from './helpers.js';
import { makeMultiUImage, makeUImages, workDir } from './inputs.js';
import { dumpimageList, mkimageList, requireTools } from './oracles.js';

const k = new Kimg();

interface UImage {
  readonly name: string;
  readonly time: number;
  readonly size: number;
  readonly load: number;
  readonly entry: number;
  readonly os: number;
  readonly arch: number;
  readonly type: number;
  readonly compression: number;
  readonly parts: { offset: number; size: number }[] | null;
}

/** The enum member name kimg gives a value (U-Boot's short name, '-' written '_'). */
function memberName(schemaEnum: string, value: number): string {
  const e = k.loadSchema('uimage').enums.get(schemaEnum)!;
  return e.byValue.get(BigInt(value))!;
}

async function headerOf(file: string): Promise<UImage> {
  const a = await k.analyze(file);
  assert.equal(a.error, null, a.error?.describe());
  assert.equal(a.layers[0]?.detections[0]?.schema.id, 'uimage');
  return a.layers[0]!.detections[0]!.result.value as unknown as UImage;
}

test('uImage for every mkimage -C: every field dumpimage -l prints, and the kernel extracted byte for byte', async (t) => {
  if (!requireTools(t, 'mkimage', 'dumpimage', 'gzip', 'bzip2', 'lzma', 'lzop', 'lz4', 'zstd')) return;
  const dir = workDir(t, 'uimage');
  const images = makeUImages(dir)!;
  assert.ok(images.length >= 7, `mkimage -C: ${images.map((i) => i.compression).join(' ')}`);
  let fields = 0;
  for (const img of images) {
    const h = await headerOf(img.path);
    for (const listing of [dumpimageList(img.path)!, mkimageList(img.path)!]) {
      assert.equal(listing.kind, 'legacy');
      if (listing.kind !== 'legacy') continue;
      assert.equal(h.name, listing.name, `${img.compression}: name`);
      assert.equal(h.time, listing.createdUnix, `${img.compression}: created`);
      assert.equal(memberName('arch', h.arch), listing.arch.replace(/-/g, '_'), `${img.compression}: arch`);
      assert.equal(memberName('os', h.os), listing.os.replace(/-/g, '_'), `${img.compression}: os`);
      assert.equal(memberName('image_type', h.type), listing.type, `${img.compression}: type`);
      assert.equal(memberName('compression', h.compression), listing.compression, `${img.compression}: compression`);
      assert.equal(h.size, listing.dataSize, `${img.compression}: data size`);
      assert.equal(BigInt(h.load), listing.load, `${img.compression}: load`);
      assert.equal(BigInt(h.entry), listing.entry, `${img.compression}: entry`);
      fields += 9;
    }
    assert.equal(h.size, img.payloadSize);
    const out = join(dir, `kernel-from-${img.compression}`);
    const r = kimg(['extract', '-o', out, img.path]);
    assert.equal(r.status, 0, `${img.compression}: ${r.stderr}`);
    assert.ok(readFileSync(out).equals(readFileSync(img.kernel.path)), `${img.compression}: the kernel that went in`);
    const info = kimg(['info', img.path]);
    assert.equal(info.status, 0, info.stderr.toString());
    assert.match(info.stdout.toString(), /^ok {6}layer 0 uimage:header_crc$/m);
    assert.match(info.stdout.toString(), /^ok {6}layer 0 uimage:data_crc$/m);
  }
  t.diagnostic(`${images.length} images (${images.map((i) => i.compression).join(', ')}), ${fields} fields equal to dumpimage -l and mkimage -l`);
});

test('uImage damage: a flipped bit in the header or the data is its CRC check failing; a cut image is damaged', async (t) => {
  if (!requireTools(t, 'mkimage', 'gzip')) return;
  const dir = workDir(t, 'uimage-bad');
  const img = makeUImages(dir)!.find((i) => i.compression === 'gzip')!;
  const good = readFileSync(img.path);
  const flip = (at: number): Buffer => Buffer.from(good.map((b, i) => (i === at ? b ^ 0x10 : b)));
  const cases: [string, Buffer, RegExp][] = [
    ['header byte (the name)', flip(40), /check header_crc.*the header's CRC-32 is/],
    ['data byte', flip(64 + 1000), /check data_crc.*the data's CRC-32 is/],
    ['cut inside the data', good.subarray(0, 64 + 100), /run past the end of the input/],
  ];
  for (const [what, bytes, message] of cases) {
    const f = join(dir, `bad-${what.replace(/\W+/g, '-')}`);
    writeFileSync(f, bytes);
    const r = kimg(['info', f]);
    assert.equal(r.status, 3, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr.toString(), message, what);
    const x = kimg(['extract', '-o', join(dir, 'never'), f]);
    assert.equal(x.status, 3, `${what}: extract must refuse`);
  }
});

test('multi-file uImage: the part table as dumpimage -l lists it; the first part (the kernel) extracted', async (t) => {
  if (!requireTools(t, 'mkimage', 'dumpimage', 'cpio', 'dtc', 'gzip')) return;
  const dir = workDir(t, 'uimage-multi');
  const multi = makeMultiUImage(dir)!;
  const h = await headerOf(multi.path);
  const listing = dumpimageList(multi.path)!;
  assert.equal(listing.kind, 'legacy');
  if (listing.kind !== 'legacy') return;
  assert.deepEqual(h.parts!.map((p) => p.size), [...listing.contents!]);
  assert.deepEqual(h.parts!.map((p) => p.size), multi.partSizes);
  const bytes = readFileSync(multi.path);
  h.parts!.forEach((p, i) => {
    assert.ok(bytes.subarray(p.offset, p.offset + p.size).equals(readFileSync(multi.parts[i]!)), `part ${i}`);
  });
  const out = join(dir, 'kernel');
  const r = kimg(['extract', '-o', out, multi.path]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(readFileSync(out).equals(readFileSync(multi.parts[0]!)));
});
