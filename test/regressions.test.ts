/**
 * Crashers found by the fuzz harness (docs/fuzzing.md), replayed: each file in test/regressions/ is
 * named by what it triggered, and must now give its specific KimgError (or parse) in both engines,
 * in `analyze` (kimg info) and in `extract` (no output file, no `.kimg-*` temporary left behind).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCompiled } from '../src/codegen/compile.js';
import { BufferSource } from '../src/core/bytes.js';
import { KimgError } from '../src/core/errors.js';
import { interpret } from '../src/interp/interpreter.js';
import { Kimg } from '../src/kimg.js';
import { extract } from '../src/pipeline/extract.js';
import { AtomicFile } from '../src/pipeline/output.js';
import { REPO } from './helpers.js';

const DIR = join(REPO, 'test/regressions');
const k = new Kimg({ limits: { maxDecodedSize: 64 * 1024 * 1024 } });
const work = mkdtempSync(join(tmpdir(), 'kimg-regressions-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

interface Regression {
  readonly file: string;
  /** What it triggered when found, and in which tree. */
  readonly found: string;
  /** Per schema: 'ok' or the ParseError/LimitError code both engines must give. */
  readonly schemas: Readonly<Record<string, string>>;
  /** analyze's error code (or 'ok'); extract of the innermost layer fails with the same code. */
  readonly pipeline: string;
  readonly todo?: string;
}

const REGRESSIONS: readonly Regression[] = [
  {
    file: 'tiny-4-zero-bytes.bin',
    found: 'RangeError (DataView offset) from the interpreter on a 4-byte input (arm64-image reads past the end); the interpreter rewrite (src/interp/plan.ts) while uncommitted, 2026-11-25; fixed before it landed in 220bf06',
    schemas: {
      'arm64-image': 'out-of-bounds',
      'riscv-image': 'out-of-bounds',
      'dos-mz': 'const-mismatch',
      pe: 'const-mismatch',
      'linux-zboot': 'const-mismatch',
      'loongarch-image': 'const-mismatch',
      uki: 'const-mismatch',
      elf: 'const-mismatch',
      'x86-bzimage': 'out-of-bounds',
      'android-boot': 'out-of-bounds',
      'android-vendor-boot': 'out-of-bounds',
      'cpio-newc': 'out-of-bounds',
      fdt: 'const-mismatch',
      uimage: 'out-of-bounds',
    },
    pipeline: 'unrecognised',
  },
  {
    file: 'zboot-gzip-empty-image.bin',
    found: 'RangeError (DataView offset) in detection of a 1 KiB zboot whose gzip payload holds an empty Image; the interpreter rewrite (src/interp/plan.ts) while uncommitted, 2026-11-25; fixed before it landed in 220bf06',
    schemas: {
      'arm64-image': 'const-mismatch',
      'riscv-image': 'const-mismatch',
      'dos-mz': 'ok',
      pe: 'ok',
      'linux-zboot': 'ok',
      'loongarch-image': 'ok',
      uki: 'ok',
      elf: 'const-mismatch',
      'x86-bzimage': 'const-mismatch',
      'android-boot': 'const-mismatch',
      'android-vendor-boot': 'const-mismatch',
      'cpio-newc': 'ok',
      fdt: 'const-mismatch',
      uimage: 'const-mismatch',
    },
    pipeline: 'decode',
  },
];

test('every file in test/regressions/ has an entry', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.bin')).sort();
  assert.deepEqual(files, REGRESSIONS.map((r) => r.file).sort());
});

for (const r of REGRESSIONS) {
  test(`regression ${r.file}: ${r.pipeline}`, { todo: r.todo ?? false }, async () => {
    const path = join(DIR, r.file);
    const bytes = new Uint8Array(readFileSync(path));
    for (const schema of k.schemas.all()) {
      const want = r.schemas[schema.id];
      assert.ok(want, `no expectation for schema ${schema.id}`);
      for (const [name, engine] of [['interpreter', interpret], ['compiled', parseCompiled]] as const) {
        let got: string;
        try {
          engine(schema, new BufferSource(bytes), { layout: true });
          got = 'ok';
        } catch (e) {
          assert.ok(e instanceof KimgError, `${name} ${schema.id}: not a KimgError: ${String((e as Error)?.stack ?? e)}`);
          got = e.code;
        }
        assert.equal(got, want, `${name} ${schema.id}`);
      }
    }
    const a = await k.analyze(path, { decode: true, scan: true, hash: true });
    assert.equal(a.error?.code ?? 'ok', r.pipeline, a.error?.describe());
    if (a.error) assert.ok(a.error instanceof KimgError);

    const dir = mkdtempSync(join(work, 'x-'));
    const out = join(dir, 'out');
    let code = 'ok';
    try {
      await extract(k, path, { kind: 'innermost' }, new AtomicFile(out, false, [path]));
    } catch (e) {
      assert.ok(e instanceof KimgError, `extract: not a KimgError: ${String((e as Error)?.stack ?? e)}`);
      code = e.code;
    }
    assert.equal(code, r.pipeline);
    assert.equal(existsSync(out), code === 'ok', code === 'ok' ? 'extract succeeded: output expected' : 'extract failed: no output expected');
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.kimg-')), [], 'no temporary file left behind');
  });
}
