/**
 * The generic traversal (src/walk.ts) reaches every expression of every built-in schema: compared with a
 * reflective walk that finds every CompiledExpr-shaped object in the model, whatever property holds it.
 * (That a table entry cannot be left out or mis-declared is checked by the compiler: see the
 * @ts-expect-error lines below, which fail the build if the type check stops catching them.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchemaRegistry } from '../src/schema/registry.js';
import type { CheckDef, CompiledExpr, RegionDecl, SchemaDef } from '../src/types.js';
import { forEachSchemaExpr, forEachTypeExpr, specialsOf, type Slots } from '../src/walk.js';

/** Every object that looks like a CompiledExpr, found by walking all properties (types and imports excluded). */
function reflectiveExprs(node: unknown, out: Set<CompiledExpr>, seen = new Set<unknown>()): void {
  if (node === null || typeof node !== 'object' || seen.has(node) || node instanceof Uint8Array) return;
  seen.add(node);
  if ('ast' in node && 'source' in node && 'pos' in node) {
    out.add(node as CompiledExpr);
    return;
  }
  const values = node instanceof Map ? [...node.values()] : Array.isArray(node) ? node : Object.entries(node).filter(([k]) => k !== 'target').map(([, v]) => v);
  for (const v of values) reflectiveExprs(v, out, seen);
}

test('the traversal reaches exactly the expressions a reflective walk finds, in every built-in schema', () => {
  const schemas = new SchemaRegistry().all();
  assert.ok(schemas.length >= 9);
  let total = 0;
  for (const s of schemas) {
    const walked = new Set<CompiledExpr>();
    for (const t of s.types.values()) forEachTypeExpr(t, (e) => walked.add(e));
    forEachSchemaExpr(s, (e) => walked.add(e));
    const found = new Set<CompiledExpr>();
    const { imports: _imports, root: _root, ...rest } = s as SchemaDef & Record<string, unknown>;
    reflectiveExprs(rest, found);
    const missed = [...found].filter((e) => !walked.has(e)).map((e) => `${e.pos.line}:${e.pos.col} ${e.source}`);
    assert.deepEqual(missed, [], `${s.id}: expressions the traversal does not reach`);
    assert.equal(walked.size, found.size, `${s.id}: the traversal visits nothing else`);
    total += walked.size;
  }
  assert.ok(total > 100, `${total} expressions`);
});

test('specialsOf finds _root/_parent/_index anywhere in an expression', () => {
  const e = { k: 'cond', test: { k: 'special', name: '_index' }, then: { k: 'member', object: { k: 'special', name: '_parent' }, name: 'x' }, else: { k: 'call', fn: 'len', args: [{ k: 'special', name: '_root' }] } } as const;
  assert.deepEqual([...specialsOf(e)].sort(), ['_index', '_parent', '_root']);
});

// Compile-time checks (the build fails if any of these stops being an error).
// @ts-expect-error an expression position declared as holding none
const checkMissingAssert: Slots<CheckDef> = { id: 'none', assert: 'none', message: 'template', severity: 'none', pos: 'none' };
// @ts-expect-error a property left out of a table
const regionMissingKey: Slots<Pick<RegionDecl, 'offset' | 'size'>> = { offset: 'expr' };
void checkMissingAssert;
void regionMissingKey;
