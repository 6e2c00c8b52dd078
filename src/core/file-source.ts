/**
 * File-backed byte sources and the checks around reading files: the only part of src/core that touches the
 * file system (the parsing core imports ./bytes.ts, which does not, so it can run where there is no `node:fs`).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { ByteSource, Window } from './bytes.js';
import { IoError } from './errors.js';

const PAGE = 64 * 1024;

export type SpecialFileKind = 'directory' | 'FIFO' | 'socket' | 'character device' | 'block device';

/** What a non-regular file is (null for a regular file), in words for messages and decisions. */
export function specialFileKind(st: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): SpecialFileKind | null {
  if (st.isFile()) return null;
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  return 'block device';
}

/**
 * Reads a file on demand through one sliding window; never the whole file. Only regular files: the
 * open is non-blocking, so a FIFO without a writer is refused at once instead of hanging in open(),
 * and a device is refused before any read (its "size" means nothing).
 */
export class FileSource implements ByteSource {
  readonly size: number;
  /** Modification time (ns) when opened, for assertUnchanged(). */
  readonly mtimeNs: bigint;
  private readonly state: FileState;
  private fd: number | null;
  private current: Window = { bytes: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)), base: 0 };

  constructor(readonly path: string) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw ioError(e, path, 'open');
    }
    this.fd = fd;
    const st = fstatSync(fd, { bigint: true });
    const kind = specialFileKind(st);
    if (kind) {
      this.close();
      throw new IoError('not-a-file', `cannot read ${path}: it is a ${kind === 'FIFO' ? 'FIFO (named pipe)' : kind}; kimg reads regular files only`, { file: path });
    }
    this.size = Number(st.size);
    this.mtimeNs = st.mtimeNs;
    this.state = fileState(st);
  }

  /**
   * Throws if the file's size or modification time differ from when it was opened: what was read may
   * mix two versions of the file, so no answer drawn from it can be trusted.
   */
  assertUnchanged(): void {
    if (this.fd === null) throw new IoError('closed', 'file already closed', { file: this.path });
    // Parts of the pipeline reopen the file by name: a file renamed over it counts as a change too.
    const changes = fileChanges(this.state, fileState(fstatSync(this.fd, { bigint: true })));
    const byName = currentFileState(this.path);
    if (typeof byName === 'string' || byName.identity !== this.state.identity) changes.push(...fileChanges(this.state, byName).slice(0, 1));
    if (changes.length) throw new IoError('changed', `the file changed while being read: ${changes.join(', ')}`, { file: this.path }, undefined);
  }

  window(offset: number, length: number): Window {
    const c = this.current;
    if (offset >= c.base && offset + length <= c.base + c.bytes.length) return c;
    const base = offset - (offset % 4096);
    const want = Math.min(Math.max(PAGE, offset + length - base), this.size - base);
    const bytes = this.read(base, want);
    this.current = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), base };
    return this.current;
  }

  slice(offset: number, length: number): Uint8Array {
    const c = this.current;
    if (offset >= c.base && offset + length <= c.base + c.bytes.length) return c.bytes.slice(offset - c.base, offset - c.base + length);
    return this.read(offset, length);
  }

  private read(offset: number, length: number): Uint8Array {
    if (this.fd === null) throw new IoError('closed', 'file already closed', { file: this.path });
    const out = new Uint8Array(length);
    let done = 0;
    try {
      while (done < length) {
        const n = readSync(this.fd, out, done, length - done, offset + done);
        if (n === 0) throw new IoError('short-read', `file shrank while reading (wanted ${length} bytes at 0x${offset.toString(16)})`, { file: this.path, offset });
        done += n;
      }
    } catch (e) {
      throw ioError(e, this.path, 'read');
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** What identifies one version of a file: its size, modification time and inode. */
export interface FileState {
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly identity: string;
}

export function fileState(st: { size: bigint; mtimeNs: bigint; dev: bigint; ino: bigint }): FileState {
  return { size: st.size, mtimeNs: st.mtimeNs, identity: `${st.dev}:${st.ino}` };
}

/** The file's state now, by name; a string (the errno code) when it can no longer be stat'ed. */
export function currentFileState(path: string): FileState | string {
  try {
    return fileState(statSync(path, { bigint: true }));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

/** How `now` differs from `before`, in words (empty when it is the same version of the file). */
export function fileChanges(before: FileState, now: FileState | string): string[] {
  if (typeof now === 'string') return [`no longer readable by its name (${now})`];
  const changes: string[] = [];
  if (now.identity !== before.identity) changes.push('replaced by another file');
  if (now.size !== before.size) changes.push(`size ${before.size} → ${now.size} bytes`);
  if (now.mtimeNs !== before.mtimeNs) changes.push(`mtime ${nsIso(before.mtimeNs)} → ${nsIso(now.mtimeNs)}`);
  return changes;
}

function nsIso(ns: bigint): string {
  return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, -1)}${(ns % 1_000_000n).toString().padStart(6, '0')}Z`;
}

export function ioError(e: unknown, path: string, what: string): IoError {
  if (e instanceof IoError) return e;
  const code = (e as NodeJS.ErrnoException)?.code ?? 'EIO';
  const reason = (e as Error)?.message ?? String(e);
  return new IoError(code, `cannot ${what} file: ${reason.replace(/^[A-Z]+: /, '')}`, { file: path }, e);
}

/** The Uint8Array's bytes as latin1 text (each byte one char), for messages and string compares. */
