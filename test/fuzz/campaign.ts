/**
 * A fuzz campaign: one target in a worker thread, watched from this thread. The watchdog reads the
 * worker's input counter every 50 ms: if it has not moved for `hangMs` the input in flight is a hang;
 * the worker is terminated (which stops even a synchronous endless loop), the input is rebuilt from
 * the plan the worker stored in shared memory, and a fresh worker goes on with the next round. A worker
 * that dies of heap exhaustion (resourceLimits) is a memory finding the same way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describePlan, materialize, type Plan } from './mutate.js';
import { loadSeeds } from './seeds.js';
import { CONTROL_BYTES, HEADER_SEED_CAP, type TargetName, type WorkerMessage, type WorkerParams } from './worker.js';

export interface CampaignOptions {
  readonly target: TargetName;
  readonly seed: number;
  readonly runsPerRound: number;
  readonly maxRounds: number;
  readonly timeMs: number;
  /** Per-input budget: an input running longer is a hang (2 s). */
  readonly hangMs?: number;
  /** RSS above this is a memory finding (bytes). */
  readonly rssLimit?: number;
  /** Heap of the worker (MiB): running out is a memory finding. */
  readonly heapMb?: number;
  /** Signatures already known (not failed again). */
  readonly known?: readonly string[];
  /** Where findings are written (input bytes + JSON), if anywhere. */
  readonly findingsDir?: string;
  readonly onRound?: (stats: CampaignStats) => void;
  readonly log?: (line: string) => void;
}

export interface FindingReport {
  readonly target: TargetName;
  readonly kind: string;
  readonly message: string;
  readonly signature: string;
  readonly detail: string;
  readonly plan: Plan;
  readonly input: string;
  readonly size: number;
  readonly file: string | null;
}

export interface CampaignStats {
  readonly target: TargetName;
  execs: number;
  rounds: number;
  workers: number;
  readonly tally: Record<string, number>;
  maxMs: number;
  peakRss: number;
  elapsedMs: number;
  readonly findings: FindingReport[];
  corpusMessage: string | null;
}

const WORKER = new URL('./worker.js', import.meta.url);

export async function runCampaign(o: CampaignOptions): Promise<CampaignStats> {
  // Pipeline: 2 s per operation (info, extract). Header: each parse is timed against 2 s in the worker
  // (targets.ts); the watchdog only has to catch a parse that never returns, past the oracle's own cost.
  const hangMs = o.hangMs ?? (o.target === 'pipeline' ? 2000 : 10_000);
  const start = Date.now();
  const deadline = start + o.timeMs;
  const known = new Set(o.known ?? []);
  const stats: CampaignStats = { target: o.target, execs: 0, rounds: 0, workers: 0, tally: {}, maxMs: 0, peakRss: 0, elapsedMs: 0, findings: [], corpusMessage: null };
  let nextRound = 0;

  const record = (f: Omit<FindingReport, 'file' | 'size'>, bytes: Uint8Array): void => {
    let file: string | null = null;
    if (o.findingsDir) {
      mkdirSync(o.findingsDir, { recursive: true });
      const name = `${o.target}-${f.kind}-${stats.findings.length}-${Date.now().toString(36)}`;
      file = join(o.findingsDir, `${name}.bin`);
      writeFileSync(file, bytes);
      writeFileSync(join(o.findingsDir, `${name}.json`), JSON.stringify({ ...f, size: bytes.length }, null, 2));
    }
    stats.findings.push({ ...f, size: bytes.length, file });
    known.add(f.signature);
    o.log?.(`FINDING ${o.target} ${f.kind}: ${f.message}\n  input: ${f.input}${file ? `\n  saved: ${file}` : ''}`);
  };

  while (nextRound < o.maxRounds && Date.now() < deadline) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    const ctl = new Int32Array(control, 0, 4);
    const params: WorkerParams = {
      target: o.target,
      seed: o.seed,
      firstRound: nextRound,
      runsPerRound: o.runsPerRound,
      maxRounds: o.maxRounds,
      deadline,
      rssLimit: o.rssLimit ?? 3 * 1024 ** 3,
      known: [...known],
      control,
    };
    stats.workers++;
    const worker = new Worker(WORKER, {
      workerData: { kimgFuzz: true, params },
      resourceLimits: { maxOldGenerationSizeMb: o.heapMb ?? 1024 },
      stdout: false,
      stderr: false,
    });
    let reported = 0;
    const ended = await new Promise<{ how: 'done' } | { how: 'hang' | 'died'; why: string }>((resolveEnd) => {
      const progress = (): number => Atomics.load(ctl, 0) + Atomics.load(ctl, 3);
      let last = progress();
      let lastMove = Date.now();
      let finished = false;
      const finish = (r: { how: 'done' } | { how: 'hang' | 'died'; why: string }): void => {
        if (finished) return;
        finished = true;
        clearInterval(timer);
        resolveEnd(r);
      };
      const timer = setInterval(() => {
        const now = progress();
        if (now !== last) {
          last = now;
          lastMove = Date.now();
        } else if (Atomics.load(ctl, 0) > 0 && Date.now() - lastMove > hangMs) {
          finish({ how: 'hang', why: `one input ran over ${hangMs} ms (stopped at ${Date.now() - lastMove} ms)` });
        }
      }, 50);
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'round') {
          stats.rounds++;
          stats.execs += m.execs;
          reported += m.execs;
          for (const [k, v] of Object.entries(m.tally)) stats.tally[k] = (stats.tally[k] ?? 0) + v;
          stats.maxMs = Math.max(stats.maxMs, m.maxMs);
          stats.peakRss = Math.max(stats.peakRss, m.peakRss);
          stats.elapsedMs = Date.now() - start;
          nextRound = m.round + 1;
          o.onRound?.(stats);
        } else if (m.type === 'finding') {
          record({ target: o.target, kind: m.kind, message: m.message, signature: m.signature, detail: m.detail, plan: m.plan, input: m.input }, m.bytes);
        } else if (m.type === 'corpus') {
          if (stats.corpusMessage === null) o.log?.(m.message);
          stats.corpusMessage = m.message;
        } else if (m.type === 'done') finish({ how: 'done' });
      });
      worker.on('error', (e: Error & { code?: string }) => finish({ how: 'died', why: `${e.code ?? e.name}: ${e.message}` }));
      worker.on('exit', (code) => finish({ how: 'died', why: `worker exited with code ${code}` }));
    });
    if (ended.how === 'done') {
      await worker.terminate();
      break;
    }
    // A hang or a death: the input in flight is the finding. Rebuild it from the stored plan.
    const inFlight = Atomics.load(ctl, 0);
    const round = Atomics.load(ctl, 2);
    await worker.terminate();
    if (inFlight > 0) {
      const len = Atomics.load(ctl, 1);
      const plan = JSON.parse(new TextDecoder().decode(new Uint8Array(control, 16, len))) as Plan;
      const seeds = loadSeeds();
      const bytes = materialize(plan, seeds, o.target === 'header' ? HEADER_SEED_CAP : Infinity);
      const kind = ended.how === 'hang' ? 'hang' : /OUT_OF_MEMORY/.test(ended.why) ? 'memory' : 'crash';
      const signature = `${kind}:${describePlan(plan, seeds)}`;
      if (!known.has(signature)) record({ target: o.target, kind, message: ended.why, signature, detail: '', plan, input: describePlan(plan, seeds) }, bytes);
      // Inputs of the round in flight, not yet reported.
      stats.execs += Math.max(0, inFlight - reported);
    } else {
      throw new Error(`fuzz worker failed before its first input: ${ended.why}`);
    }
    nextRound = round + 1;
  }
  stats.elapsedMs = Date.now() - start;
  return stats;
}
