#!/usr/bin/env node
// Decoded layers with random access (issue 10): how a decoded layer's bytes are kept so that a schema can
// read anywhere in it (a vmlinux's section table at its end), measured on
//   - the 26 MiB Debian arm64 Image as a bare Image.gz (kimg info: the header is all it reads), and
//   - Debian's x86-64 bzImage, whose payload decodes to a 59 MiB ELF vmlinux read by the section-table
//     schema of the tests (test/fixtures/schemas/elf64-sections.yaml: e_shoff lies at the end).
// Strategies, each in a fresh process (peak RSS is the process's own), median of N runs:
//   head only     the old pipeline: the first 1 MiB kept (the section table cannot be read: it fails)
//   memory        the whole layer in memory (limits.maxDecodedInMemory = 2 GiB)
//   spill         the whole layer in a private temporary file (maxDecodedInMemory = 0)
//   default       what kimg does (maxDecodedInMemory's default: memory up to it, a temporary file beyond)
//   decode again  keep only what the parse asks for: a 1 MiB head first, then, each time the parse needs
//                 bytes outside what is kept, decode the stream again keeping those too (passes reported)
// Then, end to end (--baseline DIR: another checkout, built, e.g. main before decoded layers were kept):
// `kimg info` and `kimg extract` on both inputs, this checkout against the baseline, paired run by run.
// Ratios are against `head only` in the same run. Garbage is collected while decoding, as the CLI does
// (PipelineOptions.eagerGc), so that peak RSS shows what is kept rather than what awaits collection.
//   npm run build && node bench/decoded.mjs [--runs N]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { cases, compressed, defaultSource, root, work } from './inputs.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const dist = join(root, 'dist', 'src');
const schemas = join(root, 'test', 'fixtures', 'schemas');
const HEAD = 1 << 20;


async function parent() {
  const runs = Number(opt('--runs', '3'));
  const bz = resolve(root, '..', 'shared', 'corpus', 'debian-sid-amd64.vmlinuz');
  if (!existsSync(defaultSource) || !existsSync(bz)) {
    console.error(`bench: inputs not found (${defaultSource}, ${bz})`);
    process.exit(2);
  }
  mkdirSync(work, { recursive: true });
  const gz = compressed(defaultSource, cases.find((c) => c[0] === 'gzip')).path;
  const inputs = [
    ['Image.gz (26 MiB Image)', gz],
    ['bzImage (59 MiB vmlinux)', bz],
  ];
  const strategies = ['head only', 'memory', 'spill', 'default', 'decode again'];
  const rows = [];
  for (const [label, path] of inputs) {
    const results = Object.fromEntries(strategies.map((s) => [s, []]));
    for (let i = 0; i < runs; i++) {
      for (const s of strategies) {
        const r = spawnSync(process.execPath, [join(root, 'bench', 'decoded.mjs'), '--child', s, path], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`${s} on ${path}: ${r.stderr}`);
        results[s].push(JSON.parse(r.stdout.trim().split('\n').pop()));
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const base = median(results['head only'].map((x) => x.seconds));
    for (const s of strategies) {
      const xs = results[s];
      const sec = median(xs.map((x) => x.seconds));
      rows.push({
        input: label,
        strategy: s,
        'layer MiB': +(xs[0].size / 1048576).toFixed(1),
        'sections read': xs[0].sections ?? '-',
        passes: xs[0].passes,
        seconds: +sec.toFixed(3),
        'x head only': +(sec / base).toFixed(2),
        'peak RSS MiB': +(Math.max(...xs.map((x) => x.rss)) / 1024).toFixed(1),
        note: xs[0].note ?? '',
      });
    }
  }
  console.log(`decoded layers with random access, Node ${process.version}, median of ${runs} runs (each a fresh process)`);
  console.table(rows);
  const baseline = opt('--baseline', null);
  if (baseline) endToEnd(inputs, resolve(baseline), runs);
}

/** `kimg info` / `kimg extract` of this checkout and of a baseline checkout, wall seconds and peak RSS (GNU time). */
function endToEnd(inputs, baseline, runs) {
  const clis = [['this', join(root, 'dist', 'src', 'cli', 'kimg.mjs')], ['baseline', join(baseline, 'dist', 'src', 'cli', 'kimg.mjs')]];
  const out = join(work, 'decoded-out');
  const timeFile = join(work, 'decoded-time');
  const timed = (argv) => {
    rmSync(out, { force: true });
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    const [wall, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    return { wall, rss };
  };
  const rows = [];
  for (const [label, path] of inputs) {
    for (const command of [['info'], ['extract', '-o', out]]) {
      const got = Object.fromEntries(clis.map(([name]) => [name, []]));
      for (let i = 0; i < runs; i++) for (const [name, cli] of clis) got[name].push(timed([process.execPath, cli, command[0], path, ...command.slice(1)]));
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const w = (name) => median(got[name].map((x) => x.wall));
      const m = (name) => +(Math.max(...got[name].map((x) => x.rss)) / 1024).toFixed(1);
      rows.push({ input: label, command: `kimg ${command[0]}`, 'this s': w('this'), 'baseline s': w('baseline'), 'this/baseline': +(w('this') / Math.max(w('baseline'), 0.01)).toFixed(2), 'this peak RSS MiB': m('this'), 'baseline peak RSS MiB': m('baseline') });
    }
  }
  rmSync(out, { force: true });
  console.log(`end to end against ${baseline}, median of ${runs} paired runs, wall seconds (GNU time, 10 ms resolution) and peak RSS`);
  console.table(rows);
}

/** One strategy on one input; prints {seconds, rss (KiB), size, passes, sections, note}. */
async function child(strategy, path) {
  const { Kimg } = await import(join(dist, 'kimg.js'));
  const big = 2 * 1024 * 1024 * 1024;
  const limits = strategy === 'memory' ? { maxDecodedInMemory: big } : strategy === 'spill' ? { maxDecodedInMemory: 0 } : {};
  const k = new Kimg({ schemaPath: [schemas], limits });
  const t0 = performance.now();
  let out;
  if (strategy === 'memory' || strategy === 'spill' || strategy === 'default') {
    const a = await k.analyze(path, { scan: false, eagerGc: true });
    if (a.error) throw a.error;
    const last = a.layers[a.layers.length - 1];
    const elf = last.detections.find((d) => d.schema.id === 'elf64-sections');
    out = { size: last.size, passes: 1, sections: elf ? elf.result.value.sections.length : undefined };
  } else {
    out = await reparse(k, path, strategy === 'head only');
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ ...out, seconds, rss: process.resourceUsage().maxRSS }));
}

/**
 * The stream of the file's main payload decoded again and again, keeping only the ranges the parse has
 * asked for so far (a 1 MiB head at first). `headOnly`: one pass, whatever the parse then misses.
 */
async function reparse(k, path, headOnly) {
  const { FileSource } = await import(join(dist, 'core', 'file-source.js'));
  const { FileBytes } = await import(join(dist, 'pipeline', 'store.js'));
  const { streamRange } = await import(join(dist, 'pipeline', 'stream.js'));
  const { detect } = await import(join(dist, 'detect', 'detect.js'));
  const plan = await k.analyze(path, { decode: false, scan: false });
  const layer = plan.layers.find((l) => l.codec);
  const codec = k.codecs.get(layer.codec.plugin);
  const file = new FileSource(path);
  const bytes = new FileBytes(path, file, 0, file.size);
  const ranges = [[0, HEAD]];
  for (let passes = 1; ; passes++) {
    const kept = ranges.map(([start, end]) => ({ start, end, buf: new Uint8Array(end - start) }));
    const sink = {
      at: 0,
      write(chunk) {
        const from = this.at;
        const to = from + chunk.length;
        for (const r of kept) {
          const a = Math.max(from, r.start);
          const b = Math.min(to, r.end);
          if (a < b) r.buf.set(chunk.subarray(a - from, b - from), a - r.start);
        }
        this.at = to;
      },
    };
    const r = await streamRange(bytes, layer.from.offset, layer.from.size, { codec, scans: [], hash: false, sink, capture: null }, { limits: k.limits, eagerGc: true });
    for (const x of kept) x.end = Math.min(x.end, r.total);
    const source = new SparseSource(kept, r.total);
    try {
      const got = detect(k.schemas, source, k.limits, k.engine);
      const miss = got.damaged.map((d) => d.error.cause ?? d.error).find((e) => e instanceof Miss);
      if (miss) throw miss;
      const elf = got.matches.find((m) => m.schema.id === 'elf64-sections');
      return { size: r.total, passes, sections: elf ? elf.result.value.sections.length : undefined };
    } catch (e) {
      if (!(e instanceof Miss)) throw e;
      if (headOnly) return { size: r.total, passes, note: `needs bytes at 0x${e.offset.toString(16)}, beyond the head` };
      const start = Math.floor(e.offset / 65536) * 65536;
      ranges.push([start, Math.ceil((e.offset + e.length) / 65536) * 65536 + 65536]);
    }
  }
}

class Miss extends Error {
  constructor(offset, length) {
    super(`bytes at 0x${offset.toString(16)} not kept`);
    this.offset = offset;
    this.length = length;
  }
}

/** Random access over the kept ranges only; anything else is a Miss. */
class SparseSource {
  constructor(kept, size) {
    this.kept = kept;
    this.size = size;
  }
  window(offset, length) {
    const r = this.kept.find((x) => offset >= x.start && offset + length <= x.end);
    if (!r) throw new Miss(offset, length);
    return { bytes: r.buf, view: new DataView(r.buf.buffer), base: r.start };
  }
  slice(offset, length) {
    const w = this.window(offset, length);
    return w.bytes.slice(offset - w.base, offset - w.base + length);
  }
}

if (args[0] === '--child') {
  await child(args[1], args[2]);
} else {
  await parent();
}
