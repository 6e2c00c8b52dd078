/**
 * The long fuzz run: `npm run fuzz -- --time 3600 [--seed N] [--target header|pipeline|both] [--out DIR]`.
 * Both targets run at once, each in its own worker thread (two cores). Progress every 60 s; findings
 * (input bytes + JSON with the plan and the error) go to --out (default: $TMPDIR/kimg-fuzz-findings);
 * a summary as JSON at the end (--json FILE). Exit status 1 when anything was found.
 *
 * Not a test file (`npm test` runs dist/test/*.test.js); loaded by the test runner anyway (Node 20's
 * `node --test dist/test/` loads every file under it), it does nothing.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCampaign, type CampaignStats } from './campaign.js';
import type { TargetName } from './worker.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function line(s: CampaignStats): string {
  const secs = Math.max(1, s.elapsedMs) / 1000;
  return `${s.target}: ${s.execs} inputs in ${secs.toFixed(0)} s (${(s.execs / secs).toFixed(0)}/s), ${s.rounds} rounds, ${s.findings.length} findings, slowest input ${s.maxMs.toFixed(0)} ms, peak rss ${(s.peakRss / 2 ** 20).toFixed(0)} MiB`;
}

async function main(): Promise<void> {
  const time = Number(arg('time', '600'));
  const seed = Number(arg('seed', String(Date.now() % 0x7fffffff)));
  const which = arg('target', 'both');
  const out = arg('out', join(tmpdir(), 'kimg-fuzz-findings'));
  const json = arg('json', '');
  const targets: TargetName[] = which === 'both' ? ['header', 'pipeline'] : [which as TargetName];
  console.log(`kimg fuzz: ${targets.join(' + ')} for ${time} s, seed ${seed}, findings to ${out}`);
  const live = new Map<TargetName, CampaignStats>();
  let lastPrint = Date.now();
  const results = await Promise.all(
    targets.map((target) =>
      runCampaign({
        target,
        seed,
        runsPerRound: target === 'header' ? 20000 : 500,
        maxRounds: Number.MAX_SAFE_INTEGER,
        timeMs: time * 1000,
        findingsDir: out,
        log: (l) => console.log(l),
        onRound: (s) => {
          live.set(target, s);
          if (Date.now() - lastPrint >= 60_000) {
            lastPrint = Date.now();
            for (const v of live.values()) console.log(line(v));
          }
        },
      }),
    ),
  );
  console.log('--- done');
  let total = 0;
  for (const r of results) {
    console.log(line(r));
    total += r.execs;
    const top = Object.entries(r.tally).sort((a, b) => b[1] - a[1]).slice(0, 12);
    for (const [k, v] of top) console.log(`    ${String(v).padStart(9)}  ${k}`);
    for (const f of r.findings) console.log(`  FINDING ${f.kind}: ${f.message}\n    ${f.input}\n    ${f.file ?? ''}`);
  }
  console.log(`total: ${total} inputs, seed ${seed}`);
  if (json) writeFileSync(json, JSON.stringify({ seed, time, results }, null, 2));
  process.exitCode = results.some((r) => r.findings.length) ? 1 : 0;
}

if (process.env['NODE_TEST_CONTEXT'] !== undefined) {
  test('long fuzz run entry point (npm run fuzz -- --time SECONDS)', { skip: 'run by `npm run fuzz`, not by the test suite' }, () => {});
} else {
  await main();
}
