/**
 * Output that never loses data: a temporary file beside the target, renamed into place only when
 * complete; an existing file is never replaced without `force`; the temporary file is removed on
 * any failure and on SIGINT/SIGTERM; the input itself is never the output.
 */
import { closeSync, constants, fsyncSync, ftruncateSync, linkSync, lstatSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { IoError, UsageError } from '../core/errors.js';
import { specialFileKind, type SpecialFileKind } from '../core/file-source.js';
import type { Sink } from './analysis.js';

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

/**
 * Temporary names carry the writer's pid, so that a later kimg can tell a temp file left by a killed
 * process (SIGKILL runs no cleanup) from one still being written.
 *
 * Why not an unnamed file: Linux offers O_TMPFILE + linkat(AT_SYMLINK_FOLLOW, "/proc/self/fd/N"), but
 * Node exposes no linkat with that flag, and fs.linkSync('/proc/self/fd/N', target) on an O_TMPFILE
 * fd fails with EXDEV (checked on Linux 6.x, Node 20/22; see docs/security.md). Hence the fallback.
 */
const TEMP_NAME = /^\.kimg-.*\.(\d+)\.[0-9a-f]+\.tmp$/;
const STALE_AFTER_MS = 60_000;

/** Removes `.kimg-*.<pid>.<hex>.tmp` files in `dir` whose pid is not alive and that are older than a minute. */
export function removeStaleTempFiles(dir: string, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isFile() || now - st.mtimeMs < STALE_AFTER_MS) continue;
      unlinkSync(path);
      removed.push(path);
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/** What an existing output path is, when it is not a regular file (or null when it is one or absent). */
function specialKind(abs: string): SpecialFileKind | null {
  try {
    return specialFileKind(statSync(abs));
  } catch {
    return null;
  }
}

/**
 * Writes straight into an existing device or FIFO (`-o /dev/null`, `-o >(cmd)`): no temporary file and
 * never a rename, which would replace the device node with a regular file. No O_TRUNC (meaningless or
 * harmful on a device); a FIFO is opened non-blocking so that one without a reader fails at once
 * (ENXIO) instead of hanging, then switched back to blocking writes.
 */
export class DeviceOutput implements Sink {
  private fd: number | null;
  constructor(readonly target: string, readonly kind: string) {
    try {
      // The non-blocking open fails at once (ENXIO) on a FIFO without a reader; once it succeeded, a
      // blocking open cannot wait (the reader is there), and gives the blocking fd to write with
      // (Node has no fcntl to clear O_NONBLOCK).
      const probe = openSync(target, constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        this.fd = openSync(target, constants.O_WRONLY);
      } finally {
        closeSync(probe);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      const why = code === 'ENXIO' ? 'no process is reading it' : (e as Error).message;
      throw new IoError(code, `cannot open the ${kind} ${target} for writing: ${why}`, { file: target }, e);
    }
  }
  write(chunk: Uint8Array): void {
    writeAll(this.fd, chunk, this.target);
  }
  commit(): void {
    this.abort();
  }
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Writes the whole chunk to an open output (short writes happen on pipes and devices). */
function writeAll(fd: number | null, chunk: Uint8Array, target: string, position: number | null = null): void {
  if (fd === null) throw new IoError('closed', 'output already closed', { file: target });
  let off = 0;
  try {
    while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off, position === null ? null : position + off);
  } catch (e) {
    throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot write ${target}: ${(e as Error).message}`, { file: target }, e);
  }
}

/** The output for `-o PATH`: a device or FIFO is written in place, anything else atomically. */
export function openOutput(target: string, force: boolean, inputs: readonly string[] = []): Sink & { abort(): void; commit(): void; rewind?(): void } {
  const abs = resolve(target);
  const kind = specialKind(abs);
  if (kind === 'socket' || kind === 'directory') throw new IoError('EINVAL', `refusing to write the output to ${target}: it is a ${kind}`, { file: target });
  if (kind) return new DeviceOutput(abs, kind);
  return new AtomicFile(target, force, inputs);
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
    const kind = specialKind(abs);
    if (kind) throw new IoError('EINVAL', `refusing to replace the ${kind} ${target} with a regular file`, { file: target });
    removeStaleTempFiles(dirname(abs));
    this.tempPath = join(dirname(abs), `.kimg-${basename(abs)}.${process.pid}.${randomHex()}.tmp`);
    installSignalCleanup();
    try {
      this.fd = openSync(this.tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot create a temporary file in ${dirname(abs)}: ${(e as Error).message}`, { file: target }, e);
    }
    live.add(this);
  }

  private position = 0;

  write(chunk: Uint8Array): void {
    writeAll(this.fd, chunk, this.target, this.position);
    this.position += chunk.length;
  }

  /** Starts the output again, empty (what was written was not the layer wanted after all). */
  rewind(): void {
    if (this.fd === null || this.done) throw new IoError('closed', 'output already closed', { file: this.target });
    try {
      ftruncateSync(this.fd, 0);
    } catch (e) {
      throw new IoError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot truncate ${this.tempPath}: ${(e as Error).message}`, { file: this.target }, e);
    }
    this.position = 0;
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

/**
 * Eight random hex digits for a temporary name. node:crypto is fetched here, not imported: every command
 * imports this module, and loading node:crypto cost more of `kimg info`'s start-up than its own work.
 */
function randomHex(): string {
  return process.getBuiltinModule('node:crypto').randomBytes(4).toString('hex');
}
