import { close, open, read } from 'node:fs';
import { ioError } from '../core/file-source.js';

export const CHUNK = 1 << 20;

/**
 * The bytes [offset, offset+size) of a file, in chunks, without holding more than one chunk. Through
 * node:fs's callbacks: node:fs/promises (file handles, and the streams and readline it loads) cost more of
 * `kimg info`'s start-up than the reads themselves (docs/performance.md).
 * With `reuse`, every chunk is the same buffer, overwritten by the next read: only for consumers that
 * are done with a chunk before asking for the next (scanning, hashing, synchronous writes); decoders
 * may keep chunks and get fresh ones.
 */
export async function* readFileRange(path: string, offset: number, size: number, onProgress?: (done: number) => void, reuse = false): AsyncGenerator<Uint8Array> {
  let fd: number;
  try {
    fd = await new Promise<number>((resolve, reject) => open(path, 'r', (e, n) => (e ? reject(e) : resolve(n))));
  } catch (e) {
    throw ioError(e, path, 'open');
  }
  try {
    let done = 0;
    const shared = reuse ? new Uint8Array(Math.min(CHUNK, size)) : null;
    while (done < size) {
      const want = Math.min(CHUNK, size - done);
      const buf = shared ? shared.subarray(0, want) : new Uint8Array(want);
      let got = 0;
      while (got < want) {
        let n: number;
        try {
          n = await new Promise<number>((resolve, reject) => read(fd, buf, got, want - got, offset + done + got, (e, bytesRead) => (e ? reject(e) : resolve(bytesRead))));
        } catch (e) {
          throw ioError(e, path, 'read');
        }
        if (n === 0) throw ioError(Object.assign(new Error(`file ended at 0x${(offset + done + got).toString(16)}, before the region's end`), { code: 'ESHORT' }), path, 'read');
        got += n;
      }
      done += want;
      onProgress?.(done);
      yield buf;
    }
  } finally {
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}
