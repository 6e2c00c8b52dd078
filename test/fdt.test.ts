/**
 * The built-in devicetree blob schema (schemas/fdt.yaml) on real DTBs (Debian's arm64 kernel package's,
 * in samples/dtb, and one dtc makes from a .dts in the test) against `dtc -I dtb -O dts` (every node,
 * in order; every property's name and bytes; the memory reservations) and `fdtdump` (the header).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kimg } from '../src/kimg.js';
import { kimg } from './helpers.js';
import { makeDtb, realDtbs, workDir } from './inputs.js';
import { dtcDecompile, fdtdump, requireTools, type DtNode } from './oracles.js';

const k = new Kimg();

interface Item {
  readonly token: number;
  readonly name: string | null;
  readonly data: Uint8Array | null;
  readonly child: { name: string; items: Item[] } | null;
}

/** Compares a node with dtc's, recursively; returns the number of names and values compared. */
function compareNode(path: string, ours: { name: string; items: readonly Item[] }, theirs: DtNode): number {
  assert.equal(ours.name, theirs.name, `${path}: node name`);
  const props = ours.items.filter((i) => i.token === 3);
  const children = ours.items.filter((i) => i.token === 1).map((i) => i.child!);
  assert.deepEqual(props.map((p) => p.name), theirs.properties.map((p) => p.name), `${path}: property names`);
  let n = 1;
  props.forEach((p, i) => {
    assert.ok(Buffer.from(p.data!).equals(Buffer.from(theirs.properties[i]!.value)), `${path}/${p.name}: value`);
    n += 2;
  });
  assert.deepEqual(children.map((c) => c.name), theirs.children.map((c) => c.name), `${path}: children`);
  children.forEach((c, i) => {
    n += compareNode(`${path}/${c.name}`, c, theirs.children[i]!);
  });
  return n;
}

test('DTBs (Debian arm64 kernel package, dtc-made): every node, property and reservation as dtc reads them; the header as fdtdump prints it', async (t) => {
  if (!requireTools(t, 'dtc', 'fdtdump')) return;
  const dir = workDir(t, 'fdt');
  const inputs = [...realDtbs(), makeDtb(dir)!];
  assert.ok(inputs.length >= 3);
  for (const input of inputs) {
    const a = await k.analyze(input.path);
    assert.equal(a.error, null, a.error?.describe());
    assert.equal(a.layers[0]?.detections[0]?.schema.id, 'fdt');
    const v = a.layers[0]!.detections[0]!.result.value as Record<string, unknown> & { root: { name: string; items: Item[] }; reservations: { address: bigint; size: bigint }[] };
    const dtc = dtcDecompile(input.path)!;
    let fields = compareNode('', v.root, dtc.root);
    const reservations = v.reservations.slice(0, -1);
    assert.deepEqual(reservations.map((r) => [BigInt(r.address), BigInt(r.size)]), dtc.reservations.map((r) => [r.address, r.size]));
    fields += reservations.length * 2;
    const dump = fdtdump(input.path)!;
    for (const [key, want] of Object.entries(dump.header)) {
      assert.equal(Number(v[key]), want, `${input.path}: header ${key}`);
      fields++;
    }
    t.diagnostic(`${input.origin}: ${fields} names, values and header fields equal to dtc and fdtdump`);
    const info = kimg(['info', input.path]);
    assert.equal(info.status, 0, info.stderr.toString());
    // Per-token checks are one line per check, not one per token.
    assert.ok(info.stdout.toString().split('\n').length < 40, info.stdout.toString());
  }
});

test('DTB damage: a cut blob, a structure block that does not start with FDT_BEGIN_NODE', async (t) => {
  if (!requireTools(t, 'dtc')) return;
  const dir = workDir(t, 'fdt-bad');
  const good = readFileSync(makeDtb(dir)!.path);
  const offStruct = good.readUInt32BE(8);
  const cases: [string, Buffer, RegExp][] = [
    ['cut blob', good.subarray(0, good.length - 40), /run past the end|past totalsize/],
    ['first token not BEGIN_NODE', (() => { const b = Buffer.from(good); b.writeUInt32BE(3, offStruct); return b; })(), /FDT_BEGIN_NODE|out-of-bounds|run past/],
  ];
  for (const [what, bytes, message] of cases) {
    const f = join(dir, `bad-${what.replace(/\W+/g, '-')}.dtb`);
    writeFileSync(f, bytes);
    const r = kimg(['info', f]);
    assert.equal(r.status, 3, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr.toString(), message, what);
  }
});
