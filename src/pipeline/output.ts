/**
 * Output that never loses data: a temporary file beside the target, renamed into place only when
 * complete; an existing file is never replaced without `force`; the temporary file is removed on
 * any failure and on SIGINT/SIGTERM; the input itself is never the output.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { IoError, UsageError } from '../core/errors.js';
import type { Sink } from './pipeline.js';

const live = new Set<AtomicFile>();
let handlersInstalled = false;

function installSignalCleanup(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const f of live) f.abort();
      // Re-raise with the default action so the exit status says which signal ended us.
      process.kill(process.pid, sig);
    });
  }
  process.once('exit', () => {
    for (const f of live) f.abort();
  });
}

export class AtomicFile implements Sink {
  readonly tempPath: string;
  private fd: number | null;
  private done = false;

  constructor(readonly target: string, private readonly force: boolean, inputs: readonly string[] = []) {
    const abs = resolve(target);
    for (const input of inputs) {
      if (sameFile(abs, input)) throw new UsageError(`refusing to write the output over the input file ${input}`, { file: target });
    }
    if (!force && exists(abs)) {
      throw new IoError('EEXIST', `output file ${target} exists (use --force to replace it)`, { file: target });
    }
    this.tempPath = join(dirname(abs), `.kimg-${basename(abs)}.${randomBytes(4).toString('hex')}.tmp`);
    installSignalCleanup();
    try {
      this.fd = openSync(this.tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot create a temporary file in ${dirname(abs)}: ${(e as Error).message}`, { file: target }, e);
    }
    live.add(this);
  }

  write(chunk: Uint8Array): void {
    if (this.fd === null) throw new IoError('closed', 'output already closed', { file: this.target });
    let off = 0;
    try {
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot write ${this.target}: ${(e as Error).message}`, { file: this.target }, e);
    }
  }

  /** Flush and move into place. Without force, link() fails if the target appeared meanwhile. */
  commit(): void {
    if (this.fd === null || this.done) throw new IoError('closed', 'output already closed', { file: this.target });
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
      if (this.force) renameSync(this.tempPath, this.target);
      else {
        linkSync(this.tempPath, this.target);
        unlinkSync(this.tempPath);
      }
      this.done = true;
      live.delete(this);
    } catch (e) {
      this.abort();
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      const why = code === 'EEXIST' ? 'it appeared while writing (use --force to replace it)' : (e as Error).message;
      throw new IoError(code, `cannot move the output into place at ${this.target}: ${why}`, { file: this.target }, e);
    }
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    live.delete(this);
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
    }
    try {
      unlinkSync(this.tempPath);
    } catch {
      /* never created or already gone */
    }
  }
}

/** Raised when the reader of stdout went away (`| head`): not an error, just the end. */
export class BrokenPipe extends Error {}

export class StdoutSink implements Sink {
  private broken = false;
  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.broken = true;
    });
  }
  async write(chunk: Uint8Array): Promise<void> {
    if (this.broken) throw new BrokenPipe();
    const ok = this.out.write(chunk);
    if (!ok) {
      await new Promise<void>((resolveDrain, reject) => {
        const onDrain = (): void => {
          this.out.off('error', onError);
          resolveDrain();
        };
        const onError = (e: NodeJS.ErrnoException): void => {
          this.out.off('drain', onDrain);
          reject(e.code === 'EPIPE' ? new BrokenPipe() : e);
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
    if (this.broken) throw new BrokenPipe();
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return resolve(a) === resolve(b);
  }
}
