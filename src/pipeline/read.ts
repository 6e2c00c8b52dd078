import { open } from 'node:fs/promises';
import { ioError } from '../core/file-source.js';

export const CHUNK = 1 << 20;

/**
 * The bytes [offset, offset+size) of a file, in chunks, without holding more than one chunk.
 * With `reuse`, every chunk is the same buffer, overwritten by the next read: only for consumers that
 * are done with a chunk before asking for the next (scanning, hashing, synchronous writes); decoders
 * may keep chunks and get fresh ones.
 */
export async function* readFileRange(path: string, offset: number, size: number, onProgress?: (done: number) => void, reuse = false): AsyncGenerator<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
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
          ({ bytesRead: n } = await fh.read(buf, got, want - got, offset + done + got));
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
    await fh.close();
  }
}
