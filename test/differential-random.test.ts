/**
 * A differential test that cannot be dodged by the choice of schemas: fast-check generates random valid
 * schemas that use every field construct (ints of every width and byte order, bytes, str/strz, nested and
 * sized structs, switch with cases and default, value fields, arrays by count, `at`, `if`, const checks,
 * type checks with templates) and put `_root`, `_parent`, `_index`, `_pos`, `_offset` and `_file.size` in
 * every expression position, inside nested `if`s, switches and arrays; then random inputs. The compiled
 * engine and the interpreter must give identical results and identical errors.
 */
import { test } from 'node:test';
import { deepStrictEqual } from 'node:assert/strict';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseCompiled } from '../src/codegen/compile.js';
import { BufferSource } from '../src/core/bytes.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { SchemaError } from '../src/core/errors.js';
import { interpret } from '../src/interp/interpreter.js';
import { SchemaRegistry } from '../src/schema/registry.js';
import type { SchemaDef } from '../src/types.js';
import { Rand, SchemaGen } from './schema-gen.js';

type Outcome = { ok: unknown } | { err: Record<string, unknown> };
function outcome(run: () => { value: unknown; checks: unknown; layout: unknown }): Outcome {
  try {
    const r = run();
    return { ok: { value: r.value, checks: r.checks, layout: r.layout } };
  } catch (e) {
    const x = e as Record<string, unknown> & Error;
    return { err: { class: x?.constructor?.name, code: x.code, message: x.message, where: x.where, expected: x.expected, found: x.found } };
  }
}

const RUNS = Number(process.env['KIMG_DIFF_RUNS'] ?? 400);
const SEED = Number(process.env['KIMG_DIFF_SEED'] ?? 20261202);

test('random schemas x random inputs: compiled and interpreted results and errors are identical', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kimg-rdiff-'));
  let schemas = 0;
  let refused = 0;
  let comparisons = 0;
  const tally = new Map<string, number>();
  try {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { minLength: 4, maxLength: 4 }), (seed, inputs) => {
        const id = `r${seed}`;
        const text = new SchemaGen(new Rand(seed)).schema(id);
        const file = join(dir, `${id}.yaml`);
        writeFileSync(file, text);
        let schema: SchemaDef;
        try {
          schema = new SchemaRegistry({ searchPath: [dir], builtins: false }).get(id);
        } catch (e) {
          // The generator writes only valid schemas: a refusal is a generator bug, or a loader bug.
          if (e instanceof SchemaError) refused++;
          throw e;
        } finally {
          rmSync(file, { force: true });
        }
        schemas++;
        for (const bytes of inputs) {
          for (const layout of [false, true]) {
            const src = new BufferSource(bytes);
            const limits = { ...DEFAULT_LIMITS, maxExprSteps: 2000 };
            const a = outcome(() => interpret(schema, src, { limits, layout }));
            const b = outcome(() => parseCompiled(schema, src, { limits, layout }));
            deepStrictEqual(b, a, `seed ${seed}, input ${Buffer.from(bytes).toString('hex')}, layout ${layout}\n${text}`);
            comparisons++;
            const k = 'ok' in a ? 'ok' : String(a.err.code);
            tally.set(k, (tally.get(k) ?? 0) + 1);
          }
        }
      }),
      // KIMG_DIFF_RUNS / KIMG_DIFF_SEED run it longer or elsewhere (CI keeps the fixed, quick default).
      { numRuns: RUNS, seed: SEED },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`${schemas} schemas (${refused} refused at load), ${comparisons} comparisons; outcomes ${JSON.stringify([...tally])}`);
  assert.equal(refused, 0);
  assert.equal(schemas, RUNS);
  assert.ok((tally.get('ok') ?? 0) > comparisons / 10, 'enough inputs parse to the end to compare values');
});
