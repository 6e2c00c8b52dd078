/**
 * One JSON shape for an analysis: `kimg info --json`, `kimg scan --json` and the library's
 * analysisJson(k.analyze()) agree, and real outputs (every sample, every corpus image, broken inputs)
 * validate against docs/analysis.schema.json.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ValidateFunction } from 'ajv';
import { analysisJson, Kimg, stringifyJson } from '../src/index.js';
import { CORPUS, CORPUS_ABSENT, corpusPresent, kimg, REPO, SAMPLES } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-json-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

type AjvCtor = new (o: object) => { compile(s: object): ValidateFunction; addSchema(s: object): void };
const Ajv = createRequire(import.meta.url)('ajv') as AjvCtor;
const schema = JSON.parse(readFileSync(join(REPO, 'docs/analysis.schema.json'), 'utf8')) as object & { $id: string };
const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateAnalysis = ajv.compile(schema);
const validateScanLine = ajv.compile({ anyOf: [{ $ref: `${schema.$id}#` }, { $ref: `${schema.$id}#/definitions/scanSkipped` }] });

function assertValid(validate: ValidateFunction, doc: unknown, what: string): void {
  assert.ok(validate(doc), `${what}: ${JSON.stringify(validate.errors, null, 1)}`);
}

/** Broken inputs: each takes a different path through the pipeline (unrecognised, damaged, corrupt codec). */
function brokenInputs(): string[] {
  const text = join(work, 'text.txt');
  writeFileSync(text, 'hello\n'.repeat(50));
  const zboot = readFileSync(join(SAMPLES, 'arm64-gzip.efi'));
  const corrupt = Buffer.from(zboot);
  const off = corrupt.readUInt32LE(8);
  for (let i = 0; i < 64; i++) corrupt[off + 300_000 + i]! ^= 0xff;
  writeFileSync(join(work, 'corrupt.efi'), corrupt);
  const lfanew = Buffer.from(zboot);
  lfanew.writeUInt32LE(0xfffffffc, 0x3c);
  writeFileSync(join(work, 'lfanew.efi'), lfanew);
  writeFileSync(join(work, 'half.efi'), zboot.subarray(0, zboot.length >> 1));
  return [text, join(work, 'corrupt.efi'), join(work, 'lfanew.efi'), join(work, 'half.efi')];
}

// Every file under samples/, the boot-format subdirectories included (unrecognised ones exit 3 and must validate too).
const samples = (readdirSync(SAMPLES, { recursive: true }) as string[]).filter((f) => !/\.(md|json)$/.test(f) && statSync(join(SAMPLES, f)).isFile()).map((f) => join(SAMPLES, f));

test('kimg info --json: every sample and broken input validates against docs/analysis.schema.json', () => {
  for (const file of [...samples, ...brokenInputs()]) {
    const r = kimg(['info', '--json', '--sha256', file]);
    assert.ok(r.status === 0 || r.status === 3, `${file}: exit ${r.status} ${r.stderr}`);
    const doc = JSON.parse(r.stdout.toString()) as { ok: boolean };
    assertValid(validateAnalysis, doc, file);
    assert.equal(validateAnalysis({ ...doc, formats: [] }), false, 'the schema refuses a key it does not document');
    assert.equal(doc.ok, r.status === 0, `${file}: ok is the exit code`);
  }
});

test('kimg info --json over the corpus (JSON Lines, one process): every line validates', { skip: !corpusPresent && CORPUS_ABSENT }, () => {
  const files = readdirSync(CORPUS).filter((f) => !f.endsWith('.md') && f !== 'configs').map((f) => join(CORPUS, f));
  const r = kimg(['info', '--json', ...files]);
  const lines = r.stdout.toString().trim().split('\n');
  assert.equal(lines.length, files.length, 'one line per file');
  lines.forEach((l, i) => {
    assertValid(validateAnalysis, JSON.parse(l), files[i]!);
  });
});

test('kimg scan --json: files, skipped entries and unreadable files all validate', () => {
  const dir = join(work, 'tree');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  copyFileSync(join(SAMPLES, 'arm64-lzo.efi'), join(dir, 'a.efi'));
  copyFileSync(join(SAMPLES, 'riscv-gzip.Image'), join(dir, 'sub', 'b.Image'));
  writeFileSync(join(dir, 'sub', 'notes.txt'), 'not a kernel\n');
  symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
  const fifo = spawnSync('mkfifo', [join(dir, 'fifo')]).status === 0;
  const r = kimg(['scan', '--json', dir]);
  assert.equal(r.status, 3, 'notes.txt is unrecognised: the worst verdict is 3');
  const lines = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { file: string; ok?: boolean; skipped?: string });
  for (const l of lines) assertValid(validateScanLine, l, l.file);
  assert.deepEqual(lines.map((l) => l.file.slice(dir.length + 1)), ['a.efi', 'dangling', ...(fifo ? ['fifo'] : []), 'sub/b.Image', 'sub/notes.txt']);
  assert.equal(lines[0]!.ok, true);
  assert.match(lines[1]!.skipped!, /dangling symbolic link/);
  assert.equal(lines.at(-1)!.ok, false);
});

test('the library and the CLI agree: analysisJson(await k.analyze(f)) is what kimg info --json prints, key for key', async () => {
  const k = new Kimg();
  for (const file of [join(SAMPLES, 'arm64-gzip.efi'), join(SAMPLES, 'riscv-gzip.Image.bz2'), brokenInputs()[0]!]) {
    const a = await k.analyze(file, { hash: true });
    const lib = JSON.parse(stringifyJson(analysisJson(a))) as { layers: Record<string, unknown>[] };
    const cli = JSON.parse(kimg(['info', '--json', '--sha256', file]).stdout.toString()) as unknown;
    assert.deepEqual(cli, lib, file);
    assertValid(validateAnalysis, lib, `${file} (library)`);
    // Names agree with the library's objects: every LayerReport key is a JSON layer key.
    for (const [i, layer] of a.layers.entries()) {
      for (const key of Object.keys(layer)) assert.ok(key in lib.layers[i]!, `LayerReport.${key} is in the JSON layer`);
    }
    for (const key of Object.keys(a)) assert.ok(key in (lib as object), `Analysis.${key} is in the JSON`);
  }
});
