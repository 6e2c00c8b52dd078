/**
 * Work per input is bounded as a whole (maxFields, maxSchemaBytes), numbers on the command line are
 * exact or a usage error, and a deeply nested YAML schema is a schema error with a position.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BufferSource } from '../src/core/bytes.js';
import { LimitError, SchemaError } from '../src/core/errors.js';
import { DEFAULT_LIMITS, withLimits } from '../src/core/limits.js';
import { interpret } from '../src/interp/interpreter.js';
import { parseCompiled } from '../src/codegen/compile.js';
import { Kimg } from '../src/kimg.js';
import { kimg, SAMPLES } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-limits-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const ZBOOT = join(SAMPLES, 'arm64-gzip.efi');

/** 4096 rows of 4096 u8: each array is within maxArrayCount, together 16 M values. */
const NESTED = 'kimg: 1\nid: nested\ntitle: nested arrays\nendian: le\nroot: top\ntypes:\n  top:\n    fields:\n' +
  '      - { id: rows, type: row, count: 4096 }\n  row:\n    fields:\n      - { id: cells, type: u8, count: 4096 }\n';

test('maxFields stops nested arrays: the same LimitError, at the same point, from both engines', () => {
  writeFileSync(join(work, 'nested.yaml'), NESTED);
  const schema = new Kimg({ schemaPath: [work] }).loadSchema('nested');
  const src = new BufferSource(new Uint8Array(4096 * 4096));
  for (const limits of [DEFAULT_LIMITS, withLimits({ maxFields: 10_000 })]) {
    const errors = [interpret, parseCompiled].map((engine) => {
      const started = Date.now();
      try {
        engine(schema, src, { limits, layout: true });
      } catch (e) {
        assert.ok(Date.now() - started < 5_000, 'stopped early');
        return e;
      }
      return assert.fail('the parse must hit maxFields');
    });
    for (const e of errors) {
      assert.ok(e instanceof LimitError, String(e));
      assert.equal(e.limit, 'maxFields');
      assert.equal(e.value, limits.maxFields);
    }
    assert.equal((errors[0] as LimitError).describe(), (errors[1] as LimitError).describe());
    assert.match((errors[0] as LimitError).describe(), /field rows\[\d+\]\.cells|field cells/);
  }
  // Under the limit, both engines read every value.
  const small = withLimits({ maxFields: 1 + 4096 * 2 + 4096 * 4096 });
  assert.equal((interpret(schema, src, { limits: small }).value['rows'] as unknown[]).length, 4096);
});

test('maxFields by the CLI: parse --json of the 4096 x 4096 schema fails fast, exit 3, naming the limit', () => {
  writeFileSync(join(work, 'nested.yaml'), NESTED);
  const input = join(work, 'zeros.bin');
  writeFileSync(input, new Uint8Array(4096 * 4096));
  const started = Date.now();
  const r = kimg(['parse', '--json', join(work, 'nested.yaml'), input]);
  assert.equal(r.status, 3, r.stderr.toString());
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  assert.equal(JSON.parse(r.stderr.toString()).limit, 'maxFields');
  // Real kernels need a few hundred values per parse (measured on the corpus: under 200).
  const ok = kimg(['dump', '--all', '--limit', 'maxFields=1000', ZBOOT]);
  assert.equal(ok.status, 0, ok.stderr.toString());
});

test('maxSchemaBytes: a schema file over the limit is refused before it is read, exit 5, naming the limit', () => {
  const big = join(work, 'big.yaml');
  writeFileSync(big, NESTED + `description: "${'x'.repeat(2 * 1024 * 1024)}"\n`);
  const started = Date.now();
  const r = kimg(['parse', big, ZBOOT]);
  assert.equal(r.status, 5, r.stderr.toString());
  assert.ok(Date.now() - started < 5_000);
  assert.match(r.stderr.toString(), /big\.yaml:1:1: limit maxSchemaBytes \(1048576\) exceeded: the schema file is \d+ bytes/);
  assert.throws(() => new Kimg({ limits: { maxSchemaBytes: 100 } }).loadSchema(join(work, 'nested.yaml')), (e: unknown) => e instanceof SchemaError && /maxSchemaBytes \(100\)/.test(e.message));
  const raised = kimg(['parse', '--limit', 'maxSchemaBytes=4M', big, ZBOOT]);
  assert.doesNotMatch(raised.stderr.toString(), /maxSchemaBytes/, 'the limit can be raised');
});

test('--limit, --max-size, --offset: one number syntax; not a safe integer is a usage error naming the option', () => {
  const huge = kimg(['extract', ZBOOT, '-o', '/dev/null', '--limit', 'maxDecodedSize=99999999999999999999']);
  assert.equal(huge.status, 2, huge.stderr.toString());
  assert.match(huge.stderr.toString(), /--limit maxDecodedSize 99999999999999999999: too large/);
  assert.doesNotMatch(huge.stderr.toString(), /internal error| {4}at /);
  const word = kimg(['info', '--limit', 'maxFields=lots', ZBOOT]);
  assert.equal(word.status, 2);
  assert.match(word.stderr.toString(), /--limit maxFields lots: expected a non-negative integer/);
  assert.equal(kimg(['extract', ZBOOT, '-o', '/dev/null', '--max-size', '0x280000']).status, 0, 'hex');
  assert.equal(kimg(['extract', ZBOOT, '-o', '/dev/null', '--max-size', '3M']).status, 0, 'unit');
  assert.equal(kimg(['extract', ZBOOT, '-o', '/dev/null', '--max-size', '0x1K']).status, 3, 'hex with unit: 1 KiB is too small');
  assert.equal(kimg(['extract', ZBOOT, '-o', '/dev/null', '--max-size', '99999999999999999999']).status, 2);
  const fields = kimg(['info', '--limit', 'maxFields=0x20', ZBOOT]);
  assert.match(fields.stderr.toString(), /limit maxFields \(32\) exceeded/, 'hex in --limit');
  assert.equal(kimg(['parse', '--offset', '4K', 'dos-mz', ZBOOT]).status, 3, '--offset takes units too (no MZ at 4 KiB)');
});

test('a schema nested 2,000 levels deep (block or flow) is a schema error with a position, exit 5', () => {
  let block = 'kimg: 1\nid: deep\n';
  let indent = '';
  for (let i = 0; i < 2000; i++) {
    block += `${indent}k${i}:\n`;
    indent += '  ';
  }
  block += `${indent}x: 1\n`;
  const seqs = 'kimg: 1\nid: deep\nx:\n' + '- '.repeat(2000) + '1\n';
  const flow = 'kimg: 1\nid: deep\nx: ' + '['.repeat(3000) + ']'.repeat(3000) + '\n';
  for (const [name, text, where] of [['block', block, /:1\d\d:\d+: YAML nesting too deep: indentation/], ['seqs', seqs, /:4:\d+: YAML nesting too deep: indentation/], ['flow', flow, /:3:\d+: YAML nesting too deep: flow/]] as const) {
    const file = join(work, `deep-${name}.yaml`);
    writeFileSync(file, text);
    // (2,000 levels of block indentation are ~4 MB: past maxSchemaBytes, which is raised to reach the parser.)
    const r = kimg(['parse', '--limit', 'maxSchemaBytes=8M', file, ZBOOT]);
    assert.equal(r.status, 5, `${name}: ${r.stderr.toString()}`);
    assert.match(r.stderr.toString(), where);
    assert.doesNotMatch(r.stderr.toString(), /RangeError|internal error/);
  }
});
