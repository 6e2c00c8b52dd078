import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, asCodecError } from './_util.js';

/**
 * gzip (RFC 1952), as `gzip -n -9` writes it for the kernel. The member header is parsed here; the deflate
 * body is decoded by Node's built-in zlib (raw inflate); the CRC32/ISIZE trailer is then checked.
 *
 * Trailing data: only the first member is decoded. Raw inflate stops at the end of the deflate data; the
 * 8-byte trailer must follow it (we find it in the input fed so far and check CRC32 and ISIZE against the
 * output); anything after it (the zboot stub's padding, a size trailer, further members) is ignored.
 */
export const gzip: Codec = {
  name: 'gzip',
  description: 'gzip (RFC 1952) member, e.g. Image.gz and zboot "gzip" payloads',
  library: 'node:zlib',
  sniff: (head) => head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8,
  decode: decodeGzip,
};

async function readHeader(reader: ByteReader): Promise<void> {
  const fail = (m: string): never => {
    throw new CodecError('gzip', `gzip: ${m} at input offset ${reader.offset}`, reader.offset);
  };
  const h = await reader.read(10);
  if (h.length < 10) fail('truncated header');
  if (h[0] !== 0x1f || h[1] !== 0x8b) fail('bad magic (not a gzip stream)');
  if (h[2] !== 8) fail(`unsupported compression method ${h[2]}`);
  const flg = h[3]!;
  if (flg & 0xe0) fail('reserved header flags set');
  if (flg & 4) {
    const x = await reader.read(2);
    if (x.length < 2) fail('truncated FEXTRA');
    const n = x[0]! | (x[1]! << 8);
    if ((await reader.read(n)).length < n) fail('truncated FEXTRA');
  }
  for (const bit of [8, 16]) {
    if (flg & bit)
      for (;;) {
        const b = await reader.read(1);
        if (b.length === 0) fail('truncated header string');
        if (b[0] === 0) break;
      }
  }
  if (flg & 2 && (await reader.read(2)).length < 2) fail('truncated FHCRC');
}

async function* decodeGzip(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncGenerator<Uint8Array> {
  const zlib = await import('node:zlib');
  const reader = new ByteReader(source);
  await readHeader(reader);
  const headerLen = reader.offset;
  const gunzip = zlib.createInflateRaw({ chunkSize: 256 * 1024 });
  const queue: Uint8Array[] = [];
  let error: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  gunzip.on('data', (c: Uint8Array) => {
    queue.push(c);
    notify();
  });
  gunzip.on('error', (e) => {
    error = e;
    notify();
  });
  gunzip.on('end', () => {
    ended = true;
    notify();
  });
  let produced = 0;
  let crc = 0;
  const recent: Uint8Array[] = []; // the last few input chunks fed, to find a member trailer in
  // Feed input with back-pressure, yield output as it arrives.
  const feeder = (async () => {
    for (;;) {
      if (error || ended || gunzip.destroyed) return;
      const c = await reader.chunk(256 * 1024);
      // The consumer may have stopped (and destroyed the inflater) while we waited for input.
      if (gunzip.destroyed) return;
      if (!c) {
        gunzip.end(); // raw inflate reports a truncated deflate body as an error
        return;
      }
      const copy = c.slice();
      recent.push(copy);
      if (recent.length > 3) recent.shift();
      if (!gunzip.write(copy))
        await new Promise<void>((res) => {
          if (gunzip.destroyed) return res();
          const done = () => {
            gunzip.off('drain', done);
            gunzip.off('close', done);
            res();
          };
          gunzip.on('drain', done);
          gunzip.on('close', done);
        });
    }
  })().catch((e) => {
    error = e;
    notify();
  });
  try {
    for (;;) {
      while (queue.length) {
        const c = queue.shift()!;
        produced += c.length;
        crc = zlib.crc32(c, crc);
        yield c;
        if (produced > options.maxOutput) return;
      }
      if (error) {
        const off = headerLen + gunzip.bytesWritten;
        throw error instanceof CodecError ? error : asCodecError('gzip', `corrupt or unsupported stream near input offset ${off}`, error, off);
      }
      if (ended) {
        if (!hasTrailer(Buffer.concat(recent), crc >>> 0, produced)) {
          // Wait for the trailer bytes if they are still to come.
          const more = await reader.read(8);
          recent.push(more.slice());
          if (!hasTrailer(Buffer.concat(recent), crc >>> 0, produced))
            throw new CodecError('gzip', more.length < 8 ? 'gzip: stream truncated (no CRC32/ISIZE trailer)' : 'gzip: CRC32/ISIZE trailer does not match the decoded data', reader.offset);
        }
        return;
      }
      await new Promise<void>((r) => {
        wake = r;
        if (queue.length || error || ended) notify();
      });
    }
  } finally {
    gunzip.destroy();
    await reader.close();
    await feeder;
  }
}

/** Whether `buf` contains a gzip member trailer (le32 CRC32, le32 ISIZE) for output with this CRC and size. */
function hasTrailer(buf: Buffer, crc: number, size: number): boolean {
  const pat = Buffer.alloc(8);
  pat.writeUInt32LE(crc, 0);
  pat.writeUInt32LE(size % 0x100000000, 4);
  return buf.indexOf(pat) >= 0;
}
