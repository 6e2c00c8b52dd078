/**
 * The fuzz harness (test/fuzz/, docs/fuzzing.md) inside the test suite: a bounded, deterministic run
 * of each target from a fixed fast-check seed (the same inputs every time for a given seed set), with
 * the same oracles and watchdog as the long run (`npm run fuzz -- --time 3600`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { runCampaign, type CampaignStats } from './fuzz/campaign.js';
import { materialize, materializeInPlace, planArb } from './fuzz/mutate.js';
import { loadSeeds } from './fuzz/seeds.js';
import { HEADER_SEED_CAP } from './fuzz/worker.js';

const SEED = 0x6b696d67; // "kimg"
/** Calibrated for ~15 s (header) and ~20 s (pipeline) on the project's 2-core machines; capped in time too. */
const HEADER_RUNS = 24000;
const PIPELINE_RUNS = 800;

const seeds = loadSeeds();

function summary(s: CampaignStats): string {
  const top = Object.entries(s.tally).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${s.execs} inputs in ${(s.elapsedMs / 1000).toFixed(1)} s (${Math.round(s.execs / Math.max(0.001, s.elapsedMs / 1000))}/s), slowest ${s.maxMs.toFixed(0)} ms, peak rss ${(s.peakRss / 2 ** 20).toFixed(0)} MiB; ${top}`;
}

function noFindings(s: CampaignStats): void {
  assert.deepEqual(
    s.findings.map((f) => `${f.kind}: ${f.message} [${f.input}] plan ${JSON.stringify(f.plan)}\n${f.detail}`),
    [],
    `${s.target} fuzz found something (replay the plan with test/fuzz/mutate.ts materialize)`,
  );
}

test('fuzz seeds: samples, corpus, bare codec streams, synthetic shapes', (t) => {
  if (seeds.corpusMessage) {
    console.log(`# ${seeds.corpusMessage}`);
    t.diagnostic(seeds.corpusMessage);
  }
  const names = seeds.seeds.map((s) => s.name);
  assert.ok(names.includes('samples/arm64-gzip.efi'));
  assert.ok(names.some((n) => n.endsWith('#payload(zstd22)')), 'a bare zstd stream from a zboot payload');
  assert.ok(seeds.images.length >= 2, 'decoded Images for the inner-magic mutations');
});

test('fuzz seeds: corpus', { skip: seeds.corpusMessage ?? false }, () => {
  assert.ok(seeds.seeds.some((s) => s.name.startsWith('corpus/')));
});

test('an input built in place equals the copied one, and the seeds are restored', () => {
  const before = seeds.seeds.map((s) => createHash('sha256').update(s.bytes).digest('hex'));
  fc.assert(
    fc.property(planArb(seeds, { maxOps: 6, largeAbove: HEADER_SEED_CAP, synthOneIn: 4 }), (plan) => {
      const copy = materialize(plan, seeds, HEADER_SEED_CAP);
      const inPlace = materializeInPlace(plan, seeds, HEADER_SEED_CAP);
      try {
        assert.ok(Buffer.from(inPlace.bytes).equals(copy));
      } finally {
        inPlace.undo();
      }
    }),
    { seed: SEED, numRuns: 1500 },
  );
  assert.deepEqual(seeds.seeds.map((s) => createHash('sha256').update(s.bytes).digest('hex')), before);
});

test(`header fuzz: every built-in schema, interpreter vs compiled engine (${HEADER_RUNS} inputs, seed ${SEED})`, async (t) => {
  const s = await runCampaign({ target: 'header', seed: SEED, runsPerRound: HEADER_RUNS, maxRounds: 1, timeMs: 30_000 });
  t.diagnostic(summary(s));
  console.log(`# header fuzz: ${summary(s)}`);
  noFindings(s);
  assert.ok(s.execs >= Math.min(HEADER_RUNS, 1000), `ran only ${s.execs} inputs`);
});

test(`pipeline fuzz: info (decode, scan, hash) and extract into an AtomicFile (${PIPELINE_RUNS} inputs, seed ${SEED})`, async (t) => {
  const s = await runCampaign({ target: 'pipeline', seed: SEED, runsPerRound: PIPELINE_RUNS, maxRounds: 1, timeMs: 40_000 });
  t.diagnostic(summary(s));
  console.log(`# pipeline fuzz: ${summary(s)}`);
  noFindings(s);
  assert.ok(s.execs >= Math.min(PIPELINE_RUNS, 100), `ran only ${s.execs} inputs`);
  // The decoders were reached, not only the header checks.
  assert.ok(Object.keys(s.tally).some((k) => k.startsWith('info:ok:2')), 'some inputs decoded to an Image');
  assert.ok(Object.keys(s.tally).some((k) => k.includes(':decode')), 'some inputs gave a codec error');
});

// The verdict oracle must be able to say no: fed analyses that break each rule, it reports a finding.
test('fuzz verdict oracle: catches ok with an unrecognised layer, an extract that writes the input, info/extract disagreeing', async () => {
  const { mkdtempSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { gzipSync } = await import('node:zlib');
  const { Kimg } = await import('../src/kimg.js');
  const { checkVerdicts, Finding } = await import('./fuzz/targets.js');
  const { SAMPLES } = await import('./helpers.js');
  const dir = mkdtempSync(join(tmpdir(), 'kimg-oracle-'));
  try {
    const k = new Kimg();
    const input = join(dir, 'in');
    const out = join(dir, 'out');
    const text = gzipSync(Buffer.from('just text, not a kernel '.repeat(100)));
    writeFileSync(input, text);
    const a = await k.analyze(input, { hash: true });
    assert.ok(a.error, 'gzip of text is an error');
    // a pipeline that forgot to call it an error
    const lying = { ...a, error: null };
    await assert.rejects(checkVerdicts(k, input, text, out, lying, { kind: 'layer', index: 1 }, null), (e: unknown) => e instanceof Finding && e.signature === 'verdict:ok-with-unrecognised-layer');
    // an extract that "succeeded" by copying the input
    const image = readFileSync(join(SAMPLES, 'riscv-gzip.Image'));
    writeFileSync(input, image);
    writeFileSync(out, image);
    const b = await k.analyze(input);
    await assert.rejects(checkVerdicts(k, input, image, out, b, { kind: 'innermost' }, null), (e: unknown) => e instanceof Finding && e.signature === 'verdict:extract-wrote-input');
    // info ok but extract failed for another reason than "nothing to extract"
    const { PipelineError } = await import('../src/core/errors.js');
    const zb = readFileSync(join(SAMPLES, 'arm64-gzip.efi'));
    writeFileSync(input, zb);
    const c = await k.analyze(input, { hash: true });
    await assert.rejects(checkVerdicts(k, input, zb, out, c, { kind: 'innermost' }, new PipelineError('x', 'x')), (e: unknown) => e instanceof Finding && e.signature === 'verdict:info-ok-extract-failed');
    // the genuine answers pass
    writeFileSync(out, readFileSync(input).subarray(0, 10));
    await checkVerdicts(k, input, zb, out, c, { kind: 'innermost' }, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
