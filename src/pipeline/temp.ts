/**
 * Private temporary files, for decoded layers too large to keep in memory. Each is created with mode 0600
 * in a fresh directory (mode 0700) under os.tmpdir() and, where the system allows it (Linux, macOS), both
 * are unlinked as soon as the file is open: only the descriptor keeps the bytes, so nothing is left behind
 * when kimg ends, fails, is interrupted or even killed. Where an open file cannot be unlinked, it is
 * removed when closed and, failing that, when the process exits.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError } from '../core/errors.js';

/** Directories of temporary files that could not be unlinked while open, removed at exit. */
const pending = new Set<string>();
let exitHookInstalled = false;

function removeAtExit(dir: string): void {
  pending.add(dir);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const d of pending) rmSync(d, { recursive: true, force: true });
  });
}

export class TempFile {
  readonly fd: number;
  /** Bytes written so far (the file only grows, by appending). */
  size = 0;
  private dir: string | null;

  constructor(what: string) {
    const base = tmpdir();
    let dir: string;
    try {
      dir = mkdtempSync(join(base, 'kimg-'));
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot create a temporary directory in ${base} for ${what}: ${(e as Error).message}`, {}, e);
    }
    const path = join(dir, 'layer');
    try {
      this.fd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot create a temporary file in ${base} for ${what}: ${(e as Error).message}`, {}, e);
    }
    this.dir = dir;
    try {
      rmSync(dir, { recursive: true });
      this.dir = null;
    } catch {
      removeAtExit(dir);
    }
  }

  append(bytes: Uint8Array): void {
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.size + done);
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot write a temporary file in ${tmpdir()}: ${(e as Error).message}`, {}, e);
    }
    this.size += bytes.length;
  }

  /** Reads exactly `length` bytes at `position` into `into` (which the caller sized). */
  readInto(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, into.length - done, position + done);
      if (n === 0) throw new IoError('short-read', `temporary file ended at 0x${(position + done).toString(16)}`, { offset: position + done });
      done += n;
    }
  }

  private closed = false;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (this.dir !== null) {
      rmSync(this.dir, { recursive: true, force: true });
      pending.delete(this.dir);
      this.dir = null;
    }
  }
}
