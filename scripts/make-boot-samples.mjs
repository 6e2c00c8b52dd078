#!/usr/bin/env node
// Remakes the small boot-format samples in samples/boot/ with the real tools, through the same makers the
// tests use (test/inputs.ts): a stub kernel (the first 4 KiB of samples/riscv-gzip.Image: its real header, not
// a bootable kernel) in a legacy uImage (gzip and lz4 frame), a FIT, Android boot.img v2 and vendor_boot v3,
// newc and crc cpio archives, and an early + gzip initramfs. The DTB made from test/inputs.ts's TEST_DTS goes
// to samples/dtb/. Provenance and tool versions: samples/README.md.
//   npm run build && node scripts/make-boot-samples.mjs
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const m = await import(join(root, 'dist/test/inputs.js'));
const o = await import(join(root, 'dist/test/oracles.js'));
const out = join(root, 'samples/boot');
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'kimg-samples-'));
try {
  const stub = join(work, 'stub-kernel');
  writeFileSync(stub, readFileSync(join(root, 'samples/riscv-gzip.Image')).subarray(0, 4096));
  const kernel = { path: stub, arch: 'riscv', origin: 'first 4 KiB of samples/riscv-gzip.Image' };
  const keep = (from, name) => {
    copyFileSync(from, join(out, name));
    console.log(`samples/boot/${name}`);
  };
  for (const u of m.makeUImages(work, { kernel })) if (u.compression === 'gzip' || u.compression === 'lz4') keep(u.path, `uImage-stub-${u.compression}`);
  keep(m.makeFit(work, { kernel }).path, 'fit-stub.itb');
  keep(m.makeBootImages(work, { kernel: stub }).find((b) => b.headerVersion === 2).path, 'boot-v2-stub.img');
  keep(m.makeVendorBootImages(work)[0].path, 'vendor_boot-v3.img');
  keep(m.makeCpio(work, 'newc').path, 'tree.newc.cpio');
  keep(m.makeCpio(work, 'crc').path, 'tree.crc.cpio');
  keep(m.makeInitramfs(work, 'gzip').path, 'initramfs-early-gzip.img');
  copyFileSync(m.makeDtb(work).path, join(root, 'samples/dtb/kimg-test.dtb'));
  console.log('samples/dtb/kimg-test.dtb');
  for (const t of ['mkimage', 'dtc', 'mkbootimg', 'cpio', 'gzip', 'lz4']) console.log(`${t}: ${o.toolVersion(t)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
