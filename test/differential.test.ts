/**
 * Differential test: the compiled engine (src/codegen) against the interpreter (the reference), on
 * every built-in schema x every sample and corpus image, and on thousands of mutated headers and
 * random inputs, with and without layout, with default and tiny limits. Results (value, checks,
 * layout) and errors (class, code, message, where, expected, found) must be identical.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCompiled } from '../src/codegen/compile.js';
import { BufferSource, type ByteSource } from '../src/core/bytes.js';
import { FileSource } from '../src/core/file-source.js';
import { DEFAULT_LIMITS, withLimits, type Limits } from '../src/core/limits.js';
import { interpret } from '../src/interp/interpreter.js';
import { SchemaRegistry } from '../src/schema/registry.js';
import type { SchemaDef } from '../src/types.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const samplesDir = join(repoRoot, 'samples');
const corpusDir = resolve(repoRoot, '../shared/corpus');

type Outcome = { ok: { value: unknown; checks: unknown; layout: unknown } } | { err: Record<string, unknown> };

type EngineFn = (schema: SchemaDef, src: ByteSource, options: { limits: Limits; layout: boolean }) => { value: unknown; checks: unknown; layout: unknown };

function outcome(engine: EngineFn, schema: SchemaDef, src: ByteSource, limits: Limits, layout: boolean): Outcome {
  try {
    const r = engine(schema, src, { limits, layout });
    return { ok: { value: r.value, checks: r.checks, layout: r.layout } };
  } catch (e) {
    const x = e as Record<string, unknown> & Error;
    return { err: { class: x?.constructor?.name, name: x.name, code: x.code, message: x.message, where: x.where, expected: x.expected, found: x.found } };
  }
}

let compared = 0;
const tally = { ok: 0, err: new Map<string, number>() };
function same(schema: SchemaDef, src: ByteSource, limits: Limits, layout: boolean, label: string): Outcome {
  const a = outcome(interpret, schema, src, limits, layout);
  const b = outcome(parseCompiled, schema, src, limits, layout);
  compared++;
  deepStrictEqual(b, a, `${label}: compiled and interpreted differ (schema ${schema.id}, layout ${layout})`);
  if ('ok' in a) tally.ok++;
  else {
    const k = `${String(a.err.code)}${a.err.code === 'limit' ? `:${String(a.err.message).split(' ')[1]}` : ''}`;
    tally.err.set(k, (tally.err.get(k) ?? 0) + 1);
  }
  return a;
}

function imageFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile() && !/\.(md|json|txt)$/i.test(p))
    .sort();
}

const registry = new SchemaRegistry();
const builtins = registry.all();

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('every built-in schema on every sample and corpus file, both engines', async (t) => {
  const files = [...imageFiles(samplesDir), ...imageFiles(corpusDir)];
  if (!existsSync(corpusDir)) t.skip(`../shared/corpus absent (${corpusDir}); samples only`);
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const schema of builtins) {
      for (const layout of [false, true]) {
        same(schema, new BufferSource(bytes), DEFAULT_LIMITS, layout, file);
      }
      // through a file source too (the compiled parser's windowed variant)
      const fsrc = new FileSource(file);
      try {
        same(schema, fsrc, DEFAULT_LIMITS, true, `${file} (file source)`);
      } finally {
        fsrc.close();
      }
    }
  }
  if (files.length === 0) t.skip('no sample or corpus files present');
});

/** Offsets worth mutating in a PE / zboot / Image header. */
function hotOffsets(b: Uint8Array): { at: number; width: number }[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [
    { at: 0x3c, width: 4 }, // e_lfanew / pe_offset
    { at: 0x08, width: 4 }, // zboot payload offset / Image text_offset
    { at: 0x0c, width: 4 }, // zboot payload size
    { at: 0x18, width: 1 }, // compress_type
    { at: 0x38, width: 4 }, // arch magic / LINUX_PE_MAGIC
    { at: 0x00, width: 2 },
    { at: 0x04, width: 4 },
    { at: 0x30, width: 8 }, // Image flags / res
  ];
  if (b.length >= 0x40) {
    const pe = dv.getUint32(0x3c, true);
    if (pe + 24 + 120 < b.length) {
      out.push(
        { at: pe, width: 4 }, // signature
        { at: pe + 4, width: 2 }, // machine
        { at: pe + 6, width: 2 }, // NumberOfSections
        { at: pe + 20, width: 2 }, // SizeOfOptionalHeader
        { at: pe + 24, width: 2 }, // optional magic
        { at: pe + 24 + 92, width: 4 }, // NumberOfRvaAndSizes (PE32)
        { at: pe + 24 + 108, width: 4 }, // NumberOfRvaAndSizes (PE32+)
      );
      const opt = dv.getUint16(pe + 20, true);
      const sec = pe + 24 + opt;
      for (let s = 0; s < 3; s++) {
        out.push({ at: sec + s * 40, width: 8 }, { at: sec + s * 40 + 16, width: 4 }, { at: sec + s * 40 + 20, width: 4 }, { at: sec + s * 40 + 8, width: 4 });
      }
    }
  }
  return out.filter((o) => o.at >= 0 && o.at + o.width <= b.length);
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 17, 0x18, 0x40, 0x7f, 0x80, 0xff, 0x100, 0x10b, 0x20b, 0x1000, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

function mutate(base: Uint8Array, rnd: () => number): Uint8Array {
  let b = Uint8Array.from(base);
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const hot = hotOffsets(b);
    const r = rnd();
    if (r < 0.6 && hot.length) {
      const h = hot[Math.floor(rnd() * hot.length)]!;
      const v = rnd() < 0.7 ? INTERESTING[Math.floor(rnd() * INTERESTING.length)]! : Math.floor(rnd() * 2 ** 32);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (h.width === 1) b[h.at] = v & 0xff;
      else if (h.width === 2) dv.setUint16(h.at, v & 0xffff, true);
      else if (h.width === 4) dv.setUint32(h.at, v >>> 0, true);
      else dv.setBigUint64(h.at, BigInt(v) * BigInt(1 + Math.floor(rnd() * 0xffff)), true);
    } else if (r < 0.8) {
      const at = Math.floor(rnd() * Math.min(b.length, 1024));
      if (at < b.length) b[at] = Math.floor(rnd() * 256);
    } else if (r < 0.95) {
      b = b.slice(0, Math.floor(rnd() * b.length));
    } else {
      // compress_type names, so that zboot's string compare takes both branches
      const names = ['gzip', 'zstd', 'lz4\0', 'xx'];
      const s = names[Math.floor(rnd() * names.length)]!;
      for (let i = 0; i < s.length && 0x18 + i < b.length; i++) b[0x18 + i] = s.charCodeAt(i);
    }
  }
  return b;
}

function randomLimits(rnd: () => number): Limits {
  const r = rnd();
  if (r < 0.75) return DEFAULT_LIMITS;
  return withLimits({
    maxExprSteps: Math.floor(rnd() * 80),
    maxDepth: Math.floor(rnd() * 4),
    maxArrayCount: Math.floor(rnd() * 24),
    maxStringLength: Math.floor(rnd() * 40),
    maxFields: Math.floor(rnd() * 200),
  });
}

test('fuzz: mutated real headers through both engines (>= 2000 inputs)', (t) => {
  const files = [...imageFiles(samplesDir), ...imageFiles(corpusDir)];
  if (files.length === 0) {
    t.skip('no sample or corpus files present');
    return;
  }
  // Bases: each file's first 64 KiB (the headers), and a few whole small files.
  const bases = files.map((f) => {
    const all = readFileSync(f);
    return all.length > 2 * 1024 * 1024 ? all.subarray(0, 65536) : all;
  });
  const rnd = prng(0x6b696d67);
  const deadline = Date.now() + 15_000;
  let inputs = 0;
  while (inputs < 2400 && Date.now() < deadline) {
    const base = bases[inputs % bases.length]!;
    // mutate a header-sized copy (fast) most of the time, the whole file sometimes
    const src = rnd() < 0.85 ? base.subarray(0, Math.min(base.length, 8192 + Math.floor(rnd() * 8192))) : base;
    const bytes = mutate(src, rnd);
    const limits = randomLimits(rnd);
    const layout = rnd() < 0.5;
    for (const schema of builtins) same(schema, new BufferSource(bytes), limits, layout, `fuzz input ${inputs}`);
    inputs++;
  }
  if (inputs < 2000) throw new Error(`only ${inputs} fuzzed inputs in the time budget`);
  t.diagnostic(`${inputs} mutated inputs, ${compared} comparisons so far; outcomes: ${tally.ok} ok, errors ${JSON.stringify([...tally.err])}`);
});

// Schemas that use what the built-ins do not: every special, loops, switches with a default and
// string cases, to-end arrays, unbounded strz, utf8, big-endian, signed bits, const messages.
const EXTRA: Record<string, string> = {
  'tmix.yaml': `
kimg: 1
id: tmix
title: test mix
endian: be
root: top
types:
  top:
    fields:
      - { id: n, type: u8 }
      - { id: kind, type: u8 }
      - { id: items, type: item, count: n }
      - { id: sig, type: s16le, const: -2, severity: warning, message: "sig \${_} \${sig:hex} at \${_pos} \${_offset}" }
      - { id: name, type: strz }
      - { id: uname, type: strz, size: 6, encoding: utf8 }
      - id: body
        type: switch
        on: kind
        size: "n * 2 + 1"
        cases:
          1: rec_a
          2: rec_b
          '"x"': rec_a
      - { id: total, value: "n * 3 - kind / 2 + (kind % 3) - (1 << 62) * 4 + -n" }
      - { id: big, type: u64le }
      - { id: mix, value: "big + 1 > 5 ? big >> 3 : -big" }
      - { id: sbits, type: s32, bits: [{ id: lo, bit: 0, width: 5 }, { id: hi, bit: 28, width: 4 }, { id: top, bit: 31 }] }
      - { id: m, value: "min(n, kind, 7) + max(n, 1) + len(name) + len(items) + (n > 0 ? items[0].v : 0) + (big & 0xff) + (big | 1) + (big ^ 3) + ~n" }
      - { id: tail, type: u16, repeat: to-end, at: "_region.size > 40 ? 40 : _region.size", if: "len(name) < 5 or not (n == 0)" }
    checks:
      - { id: c1, assert: "any(items, _.v > 3)", severity: warning, message: "none > 3 of \${count(items, _.v > 0)} \${_pos:hex}" }
      - { id: c2, assert: "all(items, _.v != 255)", message: "bad \${find(items, _.v == 255).v} \${_file.size:size}" }
      - { id: c3, assert: "name != \\"zz\\" and uname != name", severity: warning, message: "names \${name} \${uname:raw}" }
  item:
    fields:
      - { id: v, type: u8 }
      - { id: i, value: "_index + _offset + _parent.n + _pos" }
      - { id: r, value: "_root.kind" }
      - { id: w, type: u8, bits: [{ id: lo, bit: 0, width: 3 }, { id: f, bit: 7 }] }
    checks:
      - { id: small, assert: "v < 200", severity: warning, message: "item \${_index} is \${v}" }
  rec_a:
    fields:
      - { id: a, type: s8 }
      - { id: rest, type: bytes, size: "_region.size - 1" }
      - { id: reg, value: "_region.offset + _region.size" }
  rec_b:
    fields:
      - { id: b, type: u16le, const: 0x1234, message: "b is \${b:hex} \${_}" }
      - { id: more, type: u8, repeat: to-end }
`,
  'tstr.yaml': `
kimg: 1
id: tstr
title: strings and sub-regions
root: top
types:
  top:
    fields:
      - { id: tag, type: str, size: 2, const: "AB", severity: warning }
      - { id: len, type: u8 }
      - { id: blob, type: bytes, size: len, const: [1, 2, 3], severity: warning, message: "blob \${_}" }
      - { id: sub, type: inner, size: "len + 2" }
      - { id: subs, type: inner, count: 2, if: "len < 8" }
      - { id: words, type: u32be, count: "len % 4", const: 0x11223344, severity: warning, message: "word \${_:hex} at \${_pos}" }
      - { id: z, type: strz }
      - { id: sel, type: switch, on: z, cases: { '"a"': inner, '"b"': inner }, default: leaf }
  inner:
    fields:
      - { id: x, type: u8 }
      - { id: deep, type: inner, if: "x == 1" }
      - { id: where, value: "_offset * 100 + _pos" }
  leaf:
    fields:
      - { id: y, type: s64be }
      - { id: yy, value: "y * y * y" }
      - { id: q, value: "y / 3 + y % 5 + (y << 2)" }
`,
};

test('fuzz: extra schemas using every construct, random and structured inputs', (t) => {
  tally.ok = 0;
  tally.err.clear();
  const dir = mkdtempSync(join(tmpdir(), 'kimg-diff-'));
  try {
    for (const [name, text] of Object.entries(EXTRA)) writeFileSync(join(dir, name), text);
    const reg = new SchemaRegistry({ searchPath: [dir], builtins: false });
    const schemas = Object.keys(EXTRA).map((n) => reg.get(n.replace(/\.yaml$/, '')));
    const rnd = prng(42);
    for (let k = 0; k < 1500; k++) {
      const len = Math.floor(rnd() * 96);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) {
        const r = rnd();
        b[i] = r < 0.3 ? Math.floor(rnd() * 4) : r < 0.4 ? 0 : r < 0.5 ? 0x61 + Math.floor(rnd() * 3) : Math.floor(rnd() * 256);
      }
      const limits = randomLimits(rnd);
      for (const schema of schemas) same(schema, new BufferSource(b), limits, rnd() < 0.5, `extra input ${k}`);
    }
    t.diagnostic(`outcomes: ${tally.ok} ok, errors ${JSON.stringify([...tally.err])}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start offsets outside the input fail the same way', () => {
  const pe = registry.get('pe');
  const src = new BufferSource(new Uint8Array(16));
  for (const offset of [-1, 17]) {
    const a = (() => { try { interpret(pe, src, { offset }); } catch (e) { return e; } })() as Record<string, unknown>;
    const b = (() => { try { parseCompiled(pe, src, { offset }); } catch (e) { return e; } })() as Record<string, unknown>;
    deepStrictEqual({ m: b.message, w: b.where, c: b.code }, { m: a.message, w: a.where, c: a.code });
  }
});
