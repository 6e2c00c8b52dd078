/**
 * The fuzzing worker thread: runs fast-check rounds of one target and reports to the campaign
 * (./campaign.ts). Before each input it stores the plan and bumps a counter in shared memory, so
 * the campaign can tell a hang (the counter stops) and rebuild the input that hung, even when this
 * thread is stuck in a synchronous loop or runs out of heap.
 *
 * Loaded on its own (node --test runs every file under dist/test/), it does nothing.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { describePlan, materialize, materializeInPlace, planArb, type Plan } from './mutate.js';
import { loadSeeds } from './seeds.js';
import { crashFinding, Finding, headerTarget, pipelineTarget } from './targets.js';

export type TargetName = 'header' | 'pipeline';

export interface WorkerParams {
  readonly target: TargetName;
  /** fast-check seed of the first round; round r uses seed + r. */
  readonly seed: number;
  readonly firstRound: number;
  readonly runsPerRound: number;
  readonly maxRounds: number;
  /** Date.now() after which no new round starts and the current one is interrupted. */
  readonly deadline: number;
  readonly rssLimit: number;
  readonly known: readonly string[];
  /** SharedArrayBuffer: Int32 [0] inputs started, [1] plan length, [2] round, [3] heartbeats within an input; then the plan's JSON. */
  readonly control: SharedArrayBuffer;
}

export type WorkerMessage =
  | { readonly type: 'round'; readonly round: number; readonly execs: number; readonly tally: Record<string, number>; readonly maxMs: number; readonly peakRss: number; readonly interrupted: boolean }
  | { readonly type: 'finding'; readonly kind: Finding['kind']; readonly message: string; readonly signature: string; readonly detail: string; readonly plan: Plan; readonly input: string; readonly bytes: Uint8Array }
  | { readonly type: 'corpus'; readonly message: string }
  | { readonly type: 'done' };

export const CONTROL_BYTES = 16 + 64 * 1024;
/** Header seeds are capped (the header target reads only headers; copying a 27 MiB kernel per input would only slow it). */
export const HEADER_SEED_CAP = 2 * 1024 * 1024;

const TARGET_SHAPE: Record<TargetName, { maxOps: number; largeAbove: number; synthOneIn: number; rssEvery: number }> = {
  header: { maxOps: 6, largeAbove: HEADER_SEED_CAP, synthOneIn: 32, rssEvery: 64 },
  pipeline: { maxOps: 4, largeAbove: 4 * 1024 * 1024, synthOneIn: 8, rssEvery: 1 },
};

async function main(p: WorkerParams): Promise<void> {
  const port = parentPort!;
  const seeds = loadSeeds();
  if (seeds.corpusMessage) port.postMessage({ type: 'corpus', message: seeds.corpusMessage } satisfies WorkerMessage);
  const shape = TARGET_SHAPE[p.target];
  const cap = p.target === 'header' ? HEADER_SEED_CAP : Infinity;
  const ctl = new Int32Array(p.control, 0, 4);
  const planBuf = new Uint8Array(p.control, 16);
  const enc = new TextEncoder();
  const known = new Set(p.known);
  const arb = planArb(seeds, shape);
  const dir = p.target === 'pipeline' ? mkdtempSync(join(tmpdir(), 'kimg-fuzz-')) : '';
  const header = p.target === 'header' ? headerTarget() : null;
  const pipeline = p.target === 'pipeline' ? pipelineTarget(dir, () => Atomics.add(ctl, 3, 1)) : null;

  let execs = 0;
  let maxMs = 0;
  let peakRss = 0;
  let tally: Record<string, number> = {};

  const record = (plan: Plan): void => {
    const r = enc.encodeInto(JSON.stringify(plan), planBuf);
    Atomics.store(ctl, 1, r.written);
    Atomics.add(ctl, 0, 1);
  };
  const after = (t0: number): void => {
    const ms = performance.now() - t0;
    if (ms > maxMs) maxMs = ms;
    if (++execs % shape.rssEvery === 0) {
      const rss = process.memoryUsage.rss();
      if (rss > peakRss) peakRss = rss;
      if (rss > p.rssLimit) throw new Finding('memory', `rss ${Math.round(rss / 2 ** 20)} MiB over the ${Math.round(p.rssLimit / 2 ** 20)} MiB limit`, 'memory:rss', '');
    }
  };
  /** Known causes are counted, not failed again (no shrinking the same crasher every round). */
  const judge = (e: unknown): boolean => {
    const f = e instanceof Finding ? e : crashFinding('harness', e);
    if (known.has(f.signature)) {
      tally[`known:${f.signature.slice(0, 60)}`] = (tally[`known:${f.signature.slice(0, 60)}`] ?? 0) + 1;
      return true;
    }
    throw f;
  };

  const syncProp = fc.property(arb, (plan) => {
    record(plan);
    const t0 = performance.now();
    const input = materializeInPlace(plan, seeds, cap);
    try {
      const label = header!.exec(input.bytes, plan);
      tally[label] = (tally[label] ?? 0) + 1;
      after(t0);
    } catch (e) {
      return judge(e);
    } finally {
      input.undo();
    }
    return true;
  });
  const asyncProp = fc.asyncProperty(arb, async (plan) => {
    record(plan);
    const t0 = performance.now();
    try {
      const label = await pipeline!.exec(materialize(plan, seeds, cap), plan);
      tally[label] = (tally[label] ?? 0) + 1;
      after(t0);
    } catch (e) {
      return judge(e);
    }
    return true;
  });

  try {
    for (let round = p.firstRound; round < p.maxRounds && Date.now() < p.deadline; round++) {
      Atomics.store(ctl, 2, round);
      execs = 0;
      maxMs = 0;
      tally = {};
      const params = { seed: (p.seed + round) | 0, numRuns: p.runsPerRound, interruptAfterTimeLimit: Math.max(1, p.deadline - Date.now()), markInterruptAsFailure: false };
      // KimgErrors are the common outcome of a header parse, and their stack traces cost more than the
      // parse itself: off while fuzzing, back on to rebuild a finding (its signature names the src line).
      if (header) Error.stackTraceLimit = 0;
      const details = header ? fc.check(syncProp, params) : await fc.check(asyncProp, params);
      Error.stackTraceLimit = 10;
      if (details.failed && details.counterexample) {
        const plan = details.counterexample[0];
        const bytes = materialize(plan, seeds, cap);
        let f: Finding | null = null;
        try {
          if (header) header.exec(bytes, plan);
          else await pipeline!.exec(bytes, plan);
        } catch (e) {
          f = e instanceof Finding ? e : crashFinding('harness', e);
        }
        const original = details.errorInstance instanceof Finding ? details.errorInstance : null;
        f ??= original ?? new Finding('crash', `flaky: ${String(details.errorInstance)}`, `flaky:${String(details.errorInstance).slice(0, 80)}`, '');
        known.add(f.signature);
        if (original) known.add(original.signature);
        port.postMessage({ type: 'finding', kind: f.kind, message: f.message, signature: f.signature, detail: f.detail, plan, input: describePlan(plan, seeds), bytes } satisfies WorkerMessage);
      }
      port.postMessage({ type: 'round', round, execs, tally, maxMs, peakRss, interrupted: details.interrupted } satisfies WorkerMessage);
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  port.postMessage({ type: 'done' } satisfies WorkerMessage);
}

if (!isMainThread && parentPort && (workerData as { kimgFuzz?: boolean } | null)?.kimgFuzz) {
  await main((workerData as { params: WorkerParams }).params);
}
