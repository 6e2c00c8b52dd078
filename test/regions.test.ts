/**
 * Issue 10's region constructs and decoded layers read in full, on real inputs made by the real tools:
 * the region examples of docs/schema-dsl.md run through the pipeline; a vmlinux's section table (at its
 * end, 59 MiB into a decoded layer) against readelf and objcopy; a 2 MiB .cpio.gz's entries against cpio;
 * an IKCONFIG blob found by its markers, as scripts/extract-ikconfig finds it; the temporary files that
 * hold decoded layers (private, unlinked at once, nothing left behind).
 * Schemas not built in yet (the section-table ELF, cpio) are the stand-ins in test/fixtures/schemas.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpioOfFiles } from './inputs.js';
import { gzipSync } from 'node:zlib';
import { Kimg } from '../src/kimg.js';
import { extract, type ExtractTarget } from '../src/pipeline/extract.js';
import { AtomicFile } from '../src/pipeline/output.js';
import type { Analysis } from '../src/pipeline/pipeline.js';
import { TempFile } from '../src/pipeline/temp.js';
import { CORPUS, CORPUS_ABSENT, corpusManifest, corpusPresent, hasCommand, kimg, REPO, SAMPLES, sha256 } from './helpers.js';

const FIXTURES = join(REPO, 'test', 'fixtures', 'schemas');
const work = mkdtempSync(join(tmpdir(), 'kimg-regions-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(work, `${n++}-${name}`);

function primaryIds(a: Analysis): string[] {
  return a.layers.map((l) => l.detections[0]?.schema.id ?? '(no schema)');
}

async function extracted(k: Kimg, input: string, target: ExtractTarget): Promise<Buffer> {
  const out = fresh('out');
  await extract(k, input, target, new AtomicFile(out, false, [input]));
  return readFileSync(out);
}

// ---------------------------------------------------------------------------------------------
// The examples of docs/schema-dsl.md that say what the pipeline finds (# regions, # layers, # pipeline-error)

test('docs/schema-dsl.md region examples: regions, layers and pipeline errors as the doc says', async () => {
  const doc = readFileSync(join(REPO, 'docs', 'schema-dsl.md'), 'utf8');
  const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.startsWith('kimg: 1') && !/^# schema-error:/m.test(b));
  const dir = fresh('doc');
  mkdirSync(dir);
  for (const b of blocks) writeFileSync(join(dir, `${/^id: (\S+)$/m.exec(b)![1]}.yaml`), b);
  const k = new Kimg({ schemaPath: [dir], builtins: false });
  let checked = 0;
  for (const b of blocks) {
    const id = /^id: (\S+)$/m.exec(b)![1]!;
    for (const m of b.matchAll(/^# input: ([0-9a-f ]+)$/gm)) {
      const rest = b.slice(m.index! + m[0].length).split(/\n# input: /)[0]!;
      const regions = /^# regions: (.*)$/m.exec(rest)?.[1];
      const layers = /^# layers: (.*)$/m.exec(rest)?.[1];
      const error = /^# pipeline-error: (\S+)$/m.exec(rest)?.[1];
      if (!regions && !layers && !error) continue;
      const file = fresh(`${id}.bin`);
      writeFileSync(file, Buffer.from(m[1]!.replace(/\s+/g, ''), 'hex'));
      const a = await k.analyze(file);
      if (error) {
        assert.equal(a.error?.code, error, `${id}: ${a.error?.describe() ?? 'no error'}`);
      } else {
        assert.equal(a.error, null, `${id}: ${a.error?.describe()}`);
      }
      if (regions) assert.deepEqual(a.layers[0]!.regions.map((r) => [r.id, r.name, r.offset, r.size, r.codec]), JSON.parse(regions), `${id}: regions`);
      if (layers) assert.deepEqual(primaryIds(a), JSON.parse(layers), `${id}: layers`);
      checked++;
    }
  }
  assert.ok(checked >= 4, `${checked} doc inputs checked`);
});

test('the chain example: segments are layers with their index, offset and size; the decoded one says its codec', async () => {
  const doc = readFileSync(join(REPO, 'docs', 'schema-dsl.md'), 'utf8');
  const dir = fresh('chain-doc');
  mkdirSync(dir);
  for (const m of doc.matchAll(/```yaml\n(kimg: 1\nid: (tagged|segments|with-banner)\n[\s\S]*?)```/g)) writeFileSync(join(dir, `${m[2]}.yaml`), m[1]!);
  const k = new Kimg({ schemaPath: [dir], builtins: false });
  const seg = (body: string): Buffer => Buffer.concat([Buffer.from('SEG'), Buffer.from([body.length]), Buffer.from(body)]);
  const file = fresh('chain.bin');
  const stream = gzipSync(Buffer.concat([seg('de'), Buffer.alloc(5), seg('f')]));
  writeFileSync(file, Buffer.concat([Buffer.from('CHN1'), seg('ab'), Buffer.alloc(3), seg('c'), stream, Buffer.alloc(8)]));
  const a = await k.analyze(file);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(a.layers.map((l) => [l.index, l.parent, l.main, l.origin, l.from?.segment ?? null, l.from?.offset ?? null, l.from?.size ?? null, l.codec?.plugin ?? null]), [
    [0, null, true, 'file', null, null, null, null],
    [1, 0, false, 'segment', 0, 4, 6, null],
    [2, 0, false, 'segment', 1, 13, 5, null],
    [3, 0, false, 'decoded', 2, 18, stream.length, 'gzip'],
    // the second archive inside the decoded stream, after its padding: a segment of the decoded layer
    [4, 3, false, 'segment', 0, 11, 5, null],
  ]);
  // Every segment's regions are named and extractable, the inner ones too.
  assert.deepEqual(a.layers.map((l) => l.regions.map((r) => r.name)), [[null], ['ab'], ['c'], ['de'], ['f']]);
  assert.deepEqual(await extracted(k, file, { kind: 'section', name: 'f' }), Buffer.from('f'));
  assert.deepEqual(await extracted(k, file, { kind: 'section', name: '3:de' }), Buffer.from('de'));
  await assert.rejects(extracted(k, file, { kind: 'section', name: '2:de' }), /no section named "de" in layer 2 \(sections: c\)/);
  // Damaged chains: junk between segments, a corrupt stream, a stream inside a decoded segment.
  const junk = fresh('junk.bin');
  writeFileSync(junk, Buffer.concat([Buffer.from('CHN1'), seg('ab'), Buffer.from('XY')]));
  const j = await k.analyze(junk);
  assert.equal(j.error?.code, 'bad-segment');
  assert.match(j.error!.describe(), /segment 1 at 0xa of region rest \(layer 0\) is neither tagged nor a stream of gzip/);
  const gz = gzipSync(seg('zz'));
  gz[gz.length - 6]! ^= 0xff; // the CRC32 of the member
  const corrupt = fresh('corrupt.bin');
  writeFileSync(corrupt, Buffer.concat([Buffer.from('CHN1'), seg('ab'), gz]));
  assert.equal((await k.analyze(corrupt)).error?.kind, 'codec');
  const nested = fresh('nested.bin');
  writeFileSync(nested, Buffer.concat([Buffer.from('CHN1'), gzipSync(Buffer.concat([seg('a'), gzipSync(seg('b'))]))]));
  assert.equal((await k.analyze(nested)).error?.code, 'bad-segment');
});

// ---------------------------------------------------------------------------------------------
// A decoded layer read in full: the vmlinux inside Debian's bzImage

/** The corpus bzImage's vmlinux as scripts/extract-vmlinux gets it: the payload cut out, `zstd -dc`. */
function vmlinuxByTheTools(): string | null {
  if (!corpusPresent || !hasCommand('zstd')) return null;
  const bz = readFileSync(join(CORPUS, 'debian-sid-amd64.vmlinuz'));
  const v = new DataView(bz.buffer, bz.byteOffset, bz.byteLength);
  const setupSects = bz[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + v.getUint32(0x248, true);
  const payload = bz.subarray(start, start + v.getUint32(0x24c, true) - 4);
  const out = join(work, 'vmlinux');
  writeFileSync(out, execFileSync('zstd', ['-qdc'], { input: payload, maxBuffer: 256 << 20 }));
  return out;
}

/** Section names and (offset, size) of every section, from `readelf -S -W`. */
function readelfSections(path: string): { name: string; offset: number; size: number; type: string }[] {
  const text = execFileSync('readelf', ['-S', '-W', path], { encoding: 'utf8' });
  const out: { name: string; offset: number; size: number; type: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m) out.push({ name: m[1] === '0' ? '' : m[2]!, type: m[3]!, offset: parseInt(m[4]!, 16), size: parseInt(m[5]!, 16) });
  }
  return out;
}

test('a vmlinux decoded from a bzImage is read in full: its section table at the end, as readelf sees it', async (t) => {
  if (!corpusPresent) return t.skip(CORPUS_ABSENT);
  if (!hasCommand('readelf') || !hasCommand('zstd') || !hasCommand('objcopy')) return t.skip('readelf, objcopy (binutils) or zstd not installed');
  const vmlinux = vmlinuxByTheTools()!;
  const row = corpusManifest().find((r) => r.file === 'debian-sid-amd64.vmlinuz')!;
  assert.equal(sha256(readFileSync(vmlinux)), row.expectedSha256, 'the tools give the manifest\'s vmlinux');
  const theirs = readelfSections(vmlinux);
  const input = join(CORPUS, 'debian-sid-amd64.vmlinuz');
  for (const inMemory of [undefined, 0, 1 << 30]) {
    const k = new Kimg({ schemaPath: [FIXTURES], ...(inMemory === undefined ? {} : { limits: { maxDecodedInMemory: inMemory } }) });
    const a = await k.analyze(input, { scan: false });
    assert.equal(a.error, null, a.error?.describe());
    const elf = a.layers[1]!.detections.find((d) => d.schema.id === 'elf64-sections');
    assert.ok(elf, `layer 1 is read by the section-table schema (${primaryIds(a)})`);
    const value = elf.result.value as { e_shoff: number; names: { name: string }[]; sections: { sh_offset: bigint | number; sh_size: bigint | number }[] };
    assert.ok(value.e_shoff > 50 << 20, `the section table lies far beyond the first MiB (${value.e_shoff})`);
    assert.deepEqual(value.names.map((s) => s.name), theirs.map((s) => s.name), `section names (maxDecodedInMemory ${inMemory})`);
    assert.deepEqual(value.sections.map((s) => [Number(s.sh_offset), Number(s.sh_size)]), theirs.map((s) => [s.offset, s.size]));
  }
  // A section of the decoded layer, by name: found on layer 1 (the bzImage's PE has no .rodata), written
  // as objcopy dumps it.
  const k = new Kimg({ schemaPath: [FIXTURES] });
  const dumped = join(work, 'rodata.objcopy');
  execFileSync('objcopy', ['--dump-section', `.rodata=${dumped}`, vmlinux, join(work, 'discard')]);
  const ours = await extracted(k, input, { kind: 'section', name: '.rodata' });
  assert.equal(ours.length, theirs.find((s) => s.name === '.rodata')!.size);
  assert.ok(ours.equals(readFileSync(dumped)), '.rodata byte-identical to objcopy --dump-section');
  assert.ok((await extracted(k, input, { kind: 'section', name: '1:.rodata' })).equals(ours), 'LAYER:NAME names the same region');
  await assert.rejects(extracted(k, input, { kind: 'section', name: '0:.rodata' }), /no section named "\.rodata" in layer 0 \(sections: /);
});

test('decoded layers in temporary files: private, unlinked at once, nothing left in TMPDIR (even after SIGKILL)', async (t) => {
  // The file itself: mode 0600, and already unlinked while open (only the descriptor keeps it).
  const dir = fresh('tmp');
  mkdirSync(dir);
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = dir;
  try {
    const f = new TempFile('a test');
    assert.equal(fstatSync(f.fd).mode & 0o777, 0o600);
    assert.match(readlinkSync(`/proc/self/fd/${f.fd}`), /^\/.*\(deleted\)$/);
    assert.deepEqual(readdirSync(dir), [], 'nothing named in TMPDIR while it is open');
    f.append(Buffer.from('hello, '));
    f.append(Buffer.from('world'));
    const back = new Uint8Array(5);
    f.readInto(back, 7);
    assert.equal(Buffer.from(back).toString(), 'world');
    f.close();
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
  if (!corpusPresent) return t.skip(CORPUS_ABSENT);
  // A whole run that spills the 59 MiB vmlinux, and one killed while it decodes: TMPDIR stays empty.
  const input = join(CORPUS, 'debian-sid-amd64.vmlinuz');
  const env = { TMPDIR: dir };
  const ok = kimg(['info', '-S', FIXTURES, '--limit', 'maxDecodedInMemory=0', input], { env });
  assert.equal(ok.status, 0, ok.stderr.toString());
  assert.match(ok.stdout.toString(), /-> ELF64 with 46 sections/);
  assert.deepEqual(readdirSync(dir), []);
  const child = spawn(process.execPath, [join(REPO, 'dist/src/cli/kimg.mjs'), 'info', '-S', FIXTURES, '--limit', 'maxDecodedInMemory=0', input], { env: { ...process.env, ...env }, stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  const signal = await new Promise((r) => child.on('exit', (_code, sig) => r(sig)));
  assert.equal(signal, 'SIGKILL', 'killed while it ran');
  assert.deepEqual(readdirSync(dir), [], 'a killed kimg leaves no temporary file');
});

test('maxDecodedTotal bounds what all the decoders of one analysis produce together', async (t) => {
  if (!corpusPresent) return t.skip(CORPUS_ABSENT);
  const k = new Kimg({ limits: { maxDecodedTotal: 1 << 20 } });
  const a = await k.analyze(join(CORPUS, 'debian-sid-amd64.vmlinuz'));
  assert.match(a.error?.describe() ?? '', /limit maxDecodedTotal \(1048576\) exceeded/);
});

// ---------------------------------------------------------------------------------------------
// A 2 MiB .cpio.gz: entries beyond the first MiB of the decoded layer

const cpioOf = (files: Record<string, Uint8Array | string>): { archive: Buffer; names: string[] } => cpioOfFiles(fresh('tree'), files);

test('a 2 MiB .cpio.gz: every entry as cpio -t lists it, etc/motd (past the first MiB) extracted as cpio -i gives it', async (t) => {
  if (!hasCommand('cpio')) return t.skip('cpio not installed');
  const big = Buffer.from(execFileSync('head', ['-c', String(2 << 20), '/dev/urandom'], { maxBuffer: 8 << 20 }));
  const { archive, names } = cpioOf({ 'a/big.bin': big, 'etc/motd': 'Welcome to kimg\n', 'etc/hostname': 'box\n' });
  const path = fresh('initrd.cpio.gz');
  writeFileSync(path, execFileSync('gzip', ['-9', '-n'], { input: archive, maxBuffer: 64 << 20 }));
  const k = new Kimg({ schemaPath: [FIXTURES] });
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(primaryIds(a), ['(no schema)', 'cpio-newc']);
  assert.equal(a.layers[1]!.codec?.plugin, 'gzip');
  const entries = a.layers[1]!.regions;
  assert.deepEqual(entries.map((r) => r.name), names.filter((x) => x !== '.'));
  const motd = entries.find((r) => r.name === 'etc/motd')!;
  assert.ok(motd.offset > 2 << 20, `etc/motd at ${motd.offset}, beyond the first 2 MiB of the decoded layer`);
  const theirs = execFileSync('cpio', ['-i', '--quiet', '--to-stdout', 'etc/motd'], { input: archive });
  assert.ok((await extracted(k, path, { kind: 'section', name: 'etc/motd' })).equals(theirs));
  // The CLI, from the same file: the entry is found on the decoded layer.
  const out = fresh('motd');
  const r = kimg(['extract', '-S', FIXTURES, '--section', 'etc/motd', path, '-o', out]);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.ok(readFileSync(out).equals(theirs));
});

// ---------------------------------------------------------------------------------------------
// IKCONFIG: a region found by its markers, decoded, read as a kernel config

const IKCONFIG_SCHEMAS = {
  'ikconfig-image': `kimg: 1
id: ikconfig-image
title: RISC-V Image with an embedded kernel config (test stand-in)
root: r
detect:
  magic:
    - { at: 0x38, bytes: "RSC\\x05" }
  refines: [riscv-image]
types:
  r:
    fields:
      - { id: magic, type: bytes, size: 4, at: 0x38 }
regions:
  - id: ikconfig
    name: '"ikconfig"'
    markers: { start: "IKCFG_ST", end: "IKCFG_ED" }
    codec: '"gzip"'
    inner:
      - { schema: kconfig }
`,
  kconfig: `kimg: 1
id: kconfig
title: Linux kernel configuration (.config text; test stand-in)
root: c
detect:
  magic:
    - { at: 0, bytes: "#\\n# Automatically generated file; DO NOT EDIT.\\n" }
summary: kernel config, \${_file.size} bytes
types:
  c:
    fields:
      - { id: head, type: bytes, size: 46 }
`,
};

test('IKCONFIG: the config between IKCFG_ST and IKCFG_ED, found by markers, decoded as extract-ikconfig does', async (t) => {
  if (!corpusPresent) return t.skip(CORPUS_ABSENT);
  const config = readFileSync(join(CORPUS, 'configs', 'linux-6.1-arm64-tinyconfig-zboot.config'));
  const dir = fresh('ik-schemas');
  mkdirSync(dir);
  for (const [id, text] of Object.entries(IKCONFIG_SCHEMAS)) writeFileSync(join(dir, `${id}.yaml`), text);
  // A real Image with the blob placed as kernel/configs.c lays it out: "IKCFG_ST", config_data.gz, "IKCFG_ED".
  const image = Buffer.from(readFileSync(join(SAMPLES, 'riscv-gzip.Image')));
  const blob = Buffer.concat([Buffer.from('IKCFG_ST'), execFileSync('gzip', ['-9', '-n'], { input: config }), Buffer.from('IKCFG_ED')]);
  const at = 0x80000;
  blob.copy(image, at);
  const path = fresh('Image');
  writeFileSync(path, image);
  // The oracle, scripts/extract-ikconfig's method: the bytes after IKCFG_ST, through zcat (which stops at
  // the end of the gzip stream).
  const start = image.indexOf('IKCFG_ST') + 8;
  const rest = fresh('after-marker');
  writeFileSync(rest, image.subarray(start));
  const theirs = execFileSync('sh', ['-c', 'zcat < "$0" 2>/dev/null; true', rest]);
  assert.ok(theirs.equals(config));
  const k = new Kimg({ schemaPath: [dir] });
  const a = await k.analyze(path);
  assert.equal(a.error, null, a.error?.describe());
  assert.deepEqual(primaryIds(a), ['ikconfig-image', 'kconfig']);
  const region = a.layers[0]!.regions.find((r) => r.id === 'ikconfig')!;
  assert.deepEqual([region.offset, region.size], [at + 8, blob.length - 16]);
  assert.deepEqual([a.layers[1]!.main, a.layers[1]!.parent, a.layers[1]!.size], [false, 0, config.length]);
  assert.ok(a.checks.some((c) => c.layer === 1 && c.id === 'trailing_data' && c.status === 'ok'), 'the gzip stream ends where the end marker starts');
  // The region has a codec, so --section writes it decoded; --layer 1 writes the same layer.
  assert.ok((await extracted(k, path, { kind: 'section', name: 'ikconfig' })).equals(config));
  assert.ok((await extracted(k, path, { kind: 'layer', index: 1 })).equals(config));
  const text = kimg(['info', '-S', dir, path]);
  assert.equal(text.status, 0, text.stderr.toString());
  assert.match(text.stdout.toString(), new RegExp(`^ \\+ layer 1 in layer 0 ikconfig ikconfig \\(gzip\\): kernel config, ${config.length} bytes$`, 'm'));
  // No marker: no region, nothing followed; a start marker without its end: an error.
  const plain = await k.analyze(join(SAMPLES, 'riscv-gzip.Image'));
  assert.equal(plain.error, null);
  assert.deepEqual(primaryIds(plain), ['ikconfig-image']);
  const cut = Buffer.from(image);
  cut.fill(0, at + blob.length - 8, at + blob.length);
  const cutPath = fresh('Image-cut');
  writeFileSync(cutPath, cut);
  const bad = await k.analyze(cutPath);
  assert.equal(bad.error?.code, 'marker-missing');
  assert.match(bad.error!.describe(), /start marker "IKCFG_ST" at 0x80000 has no end marker "IKCFG_ED" after it/);
  const r = spawnSync(process.execPath, [join(REPO, 'dist/src/cli/kimg.mjs'), 'info', '-S', dir, cutPath]);
  assert.equal(r.status, 3);
});
