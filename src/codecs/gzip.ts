import type { Codec, DecodeOptions } from './types.js';
import { CodecError } from './errors.js';
import { ByteReader, asCodecError, throughZlibStream, yieldToEventLoop } from './_util.js';

/**
 * gzip (RFC 1952), as `gzip -n -9` writes it for the kernel. The member header is parsed here; the deflate
 * body is decoded by Node's built-in zlib (raw inflate); the CRC32/ISIZE trailer is then checked.
 *
 * Trailing data: only the first member is decoded, as the kernel's lib/decompress_inflate.c does. Raw inflate
 * stops at the end of the deflate data (zlib's bytesWritten is exactly the input it consumed); the 8-byte
 * trailer follows it and is checked (CRC32, then ISIZE, each with its own message); the member's length is
 * reported through onStreamEnd, and anything after it (padding, a size trailer, further members) is not read.
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
  const zlib = process.getBuiltinModule('node:zlib'); // built in: no import() to wait for (and no ESM facade)
  const reader = new ByteReader(source);
  await readHeader(reader);
  const headerLen = reader.offset;
  const gunzip = zlib.createInflateRaw({ chunkSize: 256 * 1024 });
  let produced = 0;
  let crc = 0;
  // The last few input chunks fed, with their input offsets: the member trailer follows the deflate data in them.
  const recent: { at: number; data: Uint8Array }[] = [];
  let fedTo = headerLen;
  async function* feed(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const c = await reader.chunk(256 * 1024);
      if (!c) return; // raw inflate reports a truncated deflate body as an error at end()
      const copy = c.slice();
      recent.push({ at: fedTo, data: copy });
      fedTo += copy.length;
      if (recent.length > 4) recent.shift();
      yield copy;
    }
  }
  try {
    try {
      for await (const c of throughZlibStream(gunzip, feed())) {
        produced += c.length;
        crc = zlib.crc32(c, crc);
        yield c;
        if (produced > options.maxOutput) return;
        await yieldToEventLoop();
      }
    } catch (error) {
      const off = headerLen + gunzip.bytesWritten;
      // zlib's Z_BUF_ERROR at end() means the deflate data stopped short: input ran out, not corruption.
      if ((error as { code?: string }).code === 'Z_BUF_ERROR' && reader.offset === fedTo && (await reader.atEnd()))
        throw new CodecError('gzip', `gzip: stream truncated at input offset ${fedTo} (deflate data not finished)`, fedTo, { cause: error });
      throw error instanceof CodecError ? error : asCodecError('gzip', `corrupt or unsupported stream near input offset ${off}`, error, off);
    }
    // The deflate data ended (the stream ended without an error): the 8-byte trailer follows it.
    // zlib counts in bytesWritten the input inflate consumed: the deflate data ends exactly there.
    const deflateEnd = headerLen + gunzip.bytesWritten;
    const trailer = new Uint8Array(8);
    let got = 0;
    for (const { at, data } of recent) {
      const from = Math.max(deflateEnd + got, at);
      if (from >= at + data.length || from !== deflateEnd + got) continue;
      const n = Math.min(8 - got, at + data.length - from);
      trailer.set(data.subarray(from - at, from - at + n), got);
      got += n;
    }
    if (got < 8 && deflateEnd + got < fedTo) throw new CodecError('gzip', `gzip: internal: trailer at input offset ${deflateEnd} no longer buffered`, deflateEnd);
    if (got < 8) {
      const more = await reader.read(8 - got);
      trailer.set(more, got);
      got += more.length;
    }
    if (got < 8) throw new CodecError('gzip', `gzip: stream truncated at input offset ${deflateEnd + got} (CRC32/ISIZE trailer incomplete)`, deflateEnd + got);
    const dv = new DataView(trailer.buffer);
    const storedCrc = dv.getUint32(0, true);
    const storedSize = dv.getUint32(4, true);
    if (storedCrc !== crc >>> 0)
      throw new CodecError('gzip', `gzip: CRC32 mismatch at input offset ${deflateEnd} (stored ${hex(storedCrc)}, decoded data has ${hex(crc >>> 0)})`, deflateEnd);
    if (storedSize !== produced % 0x100000000)
      throw new CodecError('gzip', `gzip: ISIZE mismatch at input offset ${deflateEnd + 4} (stored ${storedSize}, decoded ${produced % 0x100000000} bytes mod 2^32)`, deflateEnd + 4);
    options.onStreamEnd?.(deflateEnd + 8);
  } finally {
    gunzip.destroy();
    await reader.close();
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
