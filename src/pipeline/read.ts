import { open } from 'node:fs/promises';
import { ioError } from '../core/bytes.js';

export const CHUNK = 1 << 20;

/** The bytes [offset, offset+size) of a file, in chunks, without holding more than one chunk. */
export async function* readFileRange(path: string, offset: number, size: number, onProgress?: (done: number) => void): AsyncGenerator<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw ioError(e, path, 'open');
  }
  try {
    let done = 0;
    while (done < size) {
      const want = Math.min(CHUNK, size - done);
      const buf = new Uint8Array(want);
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
