/**
 * The build-time snapshot of the built-in schemas: each file's located tree, keyed by file name, with the
 * file's text it was made from, so that an edited schema is re-read from YAML. The text itself, not a
 * hash of it: comparing a few KiB costs nothing, where node:crypto cost a tenth of `kimg info`'s own
 * start-up to load (docs/performance.md).
 */
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LNode } from './located.js';
import { fromYaml } from './located-yaml.js';

export const SNAPSHOT_FILE = 'schemas.snapshot.json';

interface Snapshot {
  readonly version: 2;
  readonly files: Record<string, { readonly text: string; readonly tree: LNode | null }>;
}

let cache: { readonly path: string; readonly snap: Snapshot | null } | null = null;

/** Trees handed out from the snapshot: validated when the build wrote it, so not validated again. */
const fromTheSnapshot = new WeakSet<object>();

/** Whether a tree came from the build-time snapshot (see validate.ts). */
export function isSnapshotTree(tree: LNode): boolean {
  return fromTheSnapshot.has(tree);
}

/** The tree for a built-in schema file from the snapshot, or null if absent or stale. */
export function fromSnapshot(snapshotPath: string, fileName: string, text: string): LNode | null | undefined {
  if (cache?.path !== snapshotPath) {
    let snap: Snapshot | null = null;
    try {
      snap = JSON.parse(readFileSync(snapshotPath, 'utf8')) as Snapshot;
      if (snap.version !== 2) snap = null; // an older build's: read the YAML
    } catch {
      snap = null;
    }
    cache = { path: snapshotPath, snap };
  }
  const entry = cache.snap?.files[fileName];
  if (!entry || entry.text !== text) return undefined;
  if (entry.tree !== null) fromTheSnapshot.add(entry.tree);
  return entry.tree;
}

/**
 * Writes the snapshot for every .yaml file of a directory (run by `npm run build`). `check` validates
 * each tree first (build-snapshot passes the JSON Schema validation): trees read back from the
 * snapshot are trusted to have passed it.
 */
export function writeSnapshot(schemaDir: string, snapshotPath: string, check?: (tree: LNode | null, file: string) => void): number {
  const files: Record<string, { text: string; tree: LNode | null }> = {};
  for (const name of readdirSync(schemaDir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')).sort()) {
    const text = readFileSync(join(schemaDir, name), 'utf8');
    const tree = fromYaml(text, join(schemaDir, name));
    check?.(tree, join(schemaDir, name));
    files[name] = { text, tree };
  }
  const tmp = `${snapshotPath}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: 2, files } satisfies Snapshot));
  renameSync(tmp, snapshotPath);
  return Object.keys(files).length;
}
