/**
 * The build's compiled-schema snapshot (dist/schemas.prebuilt.bin): every built-in schema as the loader
 * builds it. A SchemaDef is plain data (objects, arrays, Maps, bigints, byte arrays), so V8's serializer
 * writes it whole and keeps the graph as it is: imports shared, types referring to types. Reading it back
 * costs about 2 ms where building the three schemas a zboot kernel needs cost about 10, most of the
 * schema work of a `kimg info` (docs/performance.md, "Start-up").
 *
 * It is used only while it is exactly what the build would make again: the same schema files, each with
 * the text it was built from. Otherwise, or when this Node's V8 cannot read it (written by a newer one),
 * the loader builds the schemas from the tree snapshot (./snapshot.ts) as before. File names in it are
 * relative to the schema directory, since the package may be installed anywhere.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { SchemaDef } from '../types.js';

export const PREBUILT_FILE = 'schemas.prebuilt.bin';

interface Prebuilt {
  readonly version: 1;
  /** Schema file name -> the text its definition was built from. */
  readonly texts: Readonly<Record<string, string>>;
  /** Schema file name -> its definition. */
  readonly defs: Readonly<Record<string, SchemaDef>>;
}

/** Marks a file name relative to the built-in schema directory. */
const BUILTIN = 'kimg-builtin-schema:';

/** Every object of a graph once, cycles included. */
function eachObject(root: unknown, visit: (o: Record<string, unknown>) => void): void {
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length) {
    const o = stack.pop();
    if (o === null || typeof o !== 'object' || seen.has(o) || ArrayBuffer.isView(o)) continue;
    seen.add(o);
    if (o instanceof Map) {
      for (const [k, v] of o) stack.push(k, v);
      continue;
    }
    visit(o as Record<string, unknown>);
    for (const k in o) {
      const v = (o as Record<string, unknown>)[k];
      if (v !== null && typeof v === 'object') stack.push(v);
    }
  }
}

/**
 * Writes the definitions (by schema file name) and the texts they came from. `npm run build` runs it
 * (build-snapshot.ts) on what the loader built from the built-in directory.
 */
export function writePrebuilt(path: string, schemaDir: string, defs: Readonly<Record<string, SchemaDef>>, texts: Readonly<Record<string, string>>): void {
  const v8 = process.getBuiltinModule('node:v8');
  // A copy, so that the loader's own objects keep their absolute file names.
  const copy = v8.deserialize(v8.serialize(defs)) as Record<string, SchemaDef>;
  const prefix = schemaDir + sep;
  eachObject(copy, (o) => {
    if (typeof o['file'] === 'string' && o['file'].startsWith(prefix)) o['file'] = BUILTIN + o['file'].slice(prefix.length);
  });
  eachObject(copy, (o) => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string' && v.includes(schemaDir)) throw new Error(`prebuilt schemas: ${k} names the build's schema directory: ${v}`);
    }
  });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, v8.serialize({ version: 1, texts, defs: copy } satisfies Prebuilt));
  renameSync(tmp, path);
}

/**
 * The built-in definitions by absolute file name, if the snapshot at `path` is fresh: written for exactly
 * the files `names` of `schemaDir`, each still with the text `readText` gives. Null otherwise.
 */
export function readPrebuilt(path: string, schemaDir: string, names: readonly string[], readText: (file: string) => string): Map<string, SchemaDef> | null {
  let snap: Prebuilt;
  try {
    snap = process.getBuiltinModule('node:v8').deserialize(readFileSync(path)) as Prebuilt;
    if (snap.version !== 1) return null;
    const built = Object.keys(snap.texts);
    if (built.length !== names.length || names.some((n) => snap.texts[n] === undefined || snap.texts[n] !== readText(join(schemaDir, n)))) return null;
  } catch {
    return null; // absent, unreadable by this V8, or a schema file unreadable: the loader says why when it gets there
  }
  const absolute = new Map<string, string>(); // one string per file, as the loader makes them
  eachObject(snap.defs, (o) => {
    const f = o['file'];
    if (typeof f !== 'string' || !f.startsWith(BUILTIN)) return;
    let abs = absolute.get(f);
    if (abs === undefined) absolute.set(f, (abs = join(schemaDir, f.slice(BUILTIN.length))));
    o['file'] = abs;
  });
  return new Map(Object.entries(snap.defs).map(([name, def]) => [join(schemaDir, name), def]));
}
