/**
 * Where the CLI's inputs come from: a named file, standard input (`-`), or every file under a
 * directory (`kimg scan`). kimg reads by random access, so a pipe on stdin is first copied to a private
 * temporary file, removed when the command is done, on error and on SIGINT/SIGTERM/SIGHUP.
 */
import { closeSync, fstatSync, lstatSync, mkdtempSync, openSync, readdirSync, rmSync, type Stats, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError, LimitError, UsageError } from '../core/errors.js';
import { specialFileKind, type SpecialFileKind } from '../core/file-source.js';

export const STDIN_NAME = '-';

/** A file to read and the name to show for it (`-` for stdin). */
export interface Input {
  readonly path: string;
  readonly shown: string;
}

const spools = new Set<string>();
let cleanupInstalled = false;

function removeSpools(): void {
  for (const dir of spools) rmSync(dir, { recursive: true, force: true });
  spools.clear();
}

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', removeSpools);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      removeSpools();
      // End by the signal, as the atomic output's handler does (pipeline/output.ts).
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Standard input as a file: itself when it is one (`kimg info - < f`, random access works), else its
 * bytes copied (at most `maxBytes`) to a temporary file only this user can read.
 */
export async function stdinAsFile(maxBytes: number): Promise<{ path: string; release(): void }> {
  const st = fstatSync(0);
  if (st.isFile()) return { path: '/dev/stdin', release() {} };
  const kind = specialFileKind(st);
  if (kind === 'directory') throw new IoError('not-a-file', 'cannot read standard input: it is a directory', { file: STDIN_NAME });
  if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe a file into kimg (kimg info - < vmlinuz) or name it');
  installCleanup();
  const dir = mkdtempSync(join(tmpdir(), 'kimg-stdin-'));
  spools.add(dir);
  const path = join(dir, 'stdin');
  const release = (): void => {
    rmSync(dir, { recursive: true, force: true });
    spools.delete(dir);
  };
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      let total = 0;
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxBytes) throw new LimitError('maxDecodedSize', maxBytes, { file: STDIN_NAME }); // standard input larger than a layer may be
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
      }
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    release();
    if (e instanceof LimitError) throw e;
    throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot copy standard input to a temporary file in ${tmpdir()}: ${(e as Error).message}`, { file: STDIN_NAME }, e);
  }
  return { path, release };
}

/** A directory given where a file is expected: an error that points to `kimg scan`. */
export function refuseDirectory(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    return; // FileSource reports a missing or unreadable file in its own words
  }
  if (isDir) throw new IoError('not-a-file', `cannot read ${path}: it is a directory (kimg scan ${path} reads every file under it)`, { file: path });
}

/** An entry found by a scan: a regular file to read, or something skipped and why. */
export type ScanEntry = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'skipped'; readonly path: string; readonly why: string };

/**
 * Every entry under `root`, depth first, names sorted (so runs compare). Symbolic links are followed
 * to files but not into directories (no loops); FIFOs, sockets and devices are listed as skipped.
 */
export function* walk(root: string): Generator<ScanEntry> {
  let st: Stats;
  try {
    st = lstatSync(root);
  } catch (e) {
    throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot read ${root}: ${(e as Error).message}`, { file: root }, e);
  }
  if (!st.isDirectory()) {
    yield* entryFor(root);
    return;
  }
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      yield { kind: 'skipped', path: dir, why: `cannot list the directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      continue;
    }
    const subdirs: string[] = [];
    for (const name of names) {
      const path = join(dir, name);
      let entry: ReturnType<typeof lstatSync>;
      try {
        entry = lstatSync(path);
      } catch {
        continue; // gone since readdir
      }
      if (entry.isDirectory()) subdirs.push(path);
      else yield* entryFor(path);
    }
    stack.push(...subdirs.reverse());
  }
}

function* entryFor(path: string): Generator<ScanEntry> {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    yield { kind: 'skipped', path, why: `${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'a dangling symbolic link' : (e as Error).message}` };
    return;
  }
  const kind: SpecialFileKind | null = specialFileKind(st);
  if (kind === null) yield { kind: 'file', path };
  else if (kind === 'directory') yield { kind: 'skipped', path, why: 'a symbolic link to a directory (not followed)' };
  else yield { kind: 'skipped', path, why: `a ${kind}; kimg reads regular files only` };
}
