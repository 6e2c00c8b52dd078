/**
 * The build's compiled-schema snapshot (src/schema/prebuilt.ts): the definitions it hands out are the ones
 * the loader builds, it is used only while fresh, and never when a user directory could change an import.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { realpathOrSelf } from '../src/core/paths.js';
import { BUILTIN_PREBUILT, BUILTIN_SCHEMA_DIR, SchemaLoader } from '../src/schema/loader.js';
import { readPrebuilt, writePrebuilt } from '../src/schema/prebuilt.js';
import type { SchemaDef } from '../src/types.js';

const tempDir = (): string => realpathOrSelf(mkdtempSync(join(tmpdir(), 'kimg-prebuilt-')));

test('every built-in definition adopted from dist/schemas.prebuilt.bin equals the one built from the schema file', { skip: !existsSync(BUILTIN_PREBUILT) && 'dist/schemas.prebuilt.bin not built' }, () => {
  const adopted = new SchemaLoader();
  const empty = tempDir();
  try {
    // An extra (empty) directory in the search path: the loader builds everything itself.
    const built = new SchemaLoader({ searchPath: [empty] });
    const ids = adopted.listIds();
    assert.ok(ids.length >= 9, ids.join(', '));
    const dir = realpathOrSelf(BUILTIN_SCHEMA_DIR);
    for (const id of ids) {
      const a = adopted.load(id);
      assert.deepStrictEqual(a, built.load(id), id);
      assert.equal(a.file, join(dir, `${id}.yaml`), 'file names are this installation\'s, not the build\'s');
      assert.equal(a.root.target?.pos.file, a.file);
    }
    // One graph: an import is the same object as the schema loaded by its id.
    assert.equal(adopted.load('pe').imports.get('dos'), adopted.load('dos-mz'));
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('the snapshot is used only for exactly the files and texts it was built from', () => {
  const dir = tempDir();
  const out = tempDir();
  try {
    for (const id of ['dos-mz', 'pe']) copyFileSync(join(BUILTIN_SCHEMA_DIR, `${id}.yaml`), join(dir, `${id}.yaml`));
    const loader = new SchemaLoader({ searchPath: [dir], builtins: false });
    const defs: Record<string, SchemaDef> = { 'dos-mz.yaml': loader.load('dos-mz'), 'pe.yaml': loader.load('pe') };
    const texts = Object.fromEntries(Object.keys(defs).map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
    const snap = join(out, 'prebuilt.bin');
    writePrebuilt(snap, dir, defs, texts);
    assert.ok(!readFileSync(snap).includes(Buffer.from(dir)), 'no path of the build in the snapshot');
    const read = (names: string[]) => readPrebuilt(snap, dir, names, (f) => readFileSync(f, 'utf8'));

    const fresh = read(['dos-mz.yaml', 'pe.yaml']);
    assert.ok(fresh);
    assert.deepStrictEqual(fresh.get(join(dir, 'pe.yaml')), defs['pe.yaml']);
    // Elsewhere, the names are of where it is read.
    const moved = tempDir();
    try {
      for (const n of Object.keys(defs)) copyFileSync(join(dir, n), join(moved, n));
      assert.equal(readPrebuilt(snap, moved, ['dos-mz.yaml', 'pe.yaml'], (f) => readFileSync(f, 'utf8'))?.get(join(moved, 'pe.yaml'))?.root.target?.pos.file, join(moved, 'pe.yaml'));
    } finally {
      rmSync(moved, { recursive: true, force: true });
    }

    assert.equal(read(['dos-mz.yaml', 'pe.yaml', 'extra.yaml']), null, 'a file it was not built from');
    assert.equal(read(['pe.yaml']), null, 'a file gone');
    writeFileSync(join(dir, 'pe.yaml'), `${texts['pe.yaml']}\n# edited\n`);
    assert.equal(read(['dos-mz.yaml', 'pe.yaml']), null, 'a text edited');
    writeFileSync(snap, 'not a V8 serialization');
    assert.equal(read(['dos-mz.yaml']), null, 'unreadable');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('a user schema directory turns the snapshot off: a built-in imports the user\'s schema of that id', () => {
  const user = tempDir();
  try {
    const text = readFileSync(join(BUILTIN_SCHEMA_DIR, 'dos-mz.yaml'), 'utf8').replace('title: DOS MZ header', 'title: my DOS header');
    writeFileSync(join(user, 'dos-mz.yaml'), text);
    const pe = new SchemaLoader({ searchPath: [user] }).load('pe');
    assert.equal(pe.imports.get('dos')?.title, 'my DOS header');
    assert.equal(new SchemaLoader().load('pe').imports.get('dos')?.title, 'DOS MZ header');
  } finally {
    rmSync(user, { recursive: true, force: true });
  }
});
