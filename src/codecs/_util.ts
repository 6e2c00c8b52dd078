/** Internal helpers shared by the codec plugins (not part of the plugin interface). */
import { CodecError } from './errors.js';

/** Pulls exact byte counts out of an async chunk source; tracks how many input bytes were consumed. */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private done = false;
  /** Input bytes handed out so far (the offset of the next byte). */
  offset = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (!this.done && this.pos >= this.buf.length) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        this.buf = r.value;
        this.pos = 0;
      }
    }
    return this.pos < this.buf.length;
  }

  /** True when no input byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Next chunk of at most `max` bytes (a view, valid until the next call), or undefined at end of input. */
  async chunk(max = Infinity): Promise<Uint8Array | undefined> {
    if (!(await this.fill())) return undefined;
    const n = Math.min(max, this.buf.length - this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** Exactly `n` bytes (a copy when they span chunks); fewer only at end of input. */
  async read(n: number): Promise<Uint8Array> {
    if (n === 0) return new Uint8Array(0);
    const first = await this.chunk(n);
    if (!first) return new Uint8Array(0);
    if (first.length === n) return first;
    const out = new Uint8Array(n);
    out.set(first);
    let got = first.length;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) return out.subarray(0, got);
      out.set(c, got);
      got += c.length;
    }
    return out;
  }

  /** Fills `dest[at, at + n)` with the next `n` bytes (no intermediate copy); returns how many it got (fewer only at end of input). */
  async readInto(dest: Uint8Array, at: number, n: number): Promise<number> {
    let got = 0;
    while (got < n) {
      const c = await this.chunk(n - got);
      if (!c) break;
      dest.set(c, at + got);
      got += c.length;
    }
    return got;
  }

  /** Stop pulling from the source (lets a file-backed source close early). */
  async close(): Promise<void> {
    this.done = true;
    await this.it.return?.();
  }
}

/** Wrap anything thrown by a library into a CodecError (CodecErrors pass through). */
export function asCodecError(codec: string, what: string, err: unknown, inputOffset?: number): CodecError {
  if (err instanceof CodecError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CodecError(codec, `${codec}: ${what}: ${msg}`, inputOffset, { cause: err });
}

/** Adler-32 (RFC 1950), used by the lzop container to check blocks. */
export function adler32(data: Uint8Array, start = 1): number {
  let a = start & 0xffff;
  let b = (start >>> 16) & 0xffff;
  const NMAX = 5552;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + NMAX, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

let lastYield = performance.now();
/**
 * Let timers, I/O and signal handlers run when the current task has held the event loop for a while.
 * Decoders call it between bounded steps; awaiting a resolved promise alone would only run microtasks.
 */
export async function yieldToEventLoop(maxBusyMs = 10): Promise<void> {
  const now = performance.now();
  if (now - lastYield < maxBusyMs) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  lastYield = performance.now();
}

/** The part of a node:zlib stream (Inflate, ZstdDecompress...) that `throughZlibStream` drives. */
export interface ZlibStream extends NodeJS.EventEmitter {
  readonly destroyed: boolean;
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: Error): void;
}

/**
 * Pushes `input` through a node:zlib stream, whose work runs on libuv's thread pool (the event loop stays
 * free), and yields the stream's output in order as it arrives. Back-pressure both ways: input is pulled only
 * while the stream accepts more (`write()` true, or after 'drain'), and output waits for the consumer. The
 * stream may end before the input does (raw inflate and zstd stop at the end of their stream): the rest is
 * not pulled. Throws the stream's error or the input's, after yielding the output that preceded it.
 * When the consumer stops early, the stream is destroyed and the input's iterator returned.
 * Input chunks must stay valid after they were yielded (zlib reads them later, on its own thread).
 */
export async function* throughZlibStream(stream: ZlibStream, input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = [];
  let failure: { error: unknown } | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Uint8Array) => {
    queue.push(c);
    notify();
  };
  const onError = (error: unknown) => {
    failure ??= { error };
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  stream.on('data', onData);
  stream.on('error', onError);
  stream.on('end', onEnd);
  const stopped = () => failure !== undefined || ended || stream.destroyed;
  const feeder = (async () => {
    const it = input[Symbol.asyncIterator]();
    try {
      while (!stopped()) {
        const next = await it.next();
        // The consumer may have stopped (and destroyed the stream) while we waited for input.
        if (stopped()) return;
        if (next.done) {
          stream.end();
          return;
        }
        if (!stream.write(next.value)) await drainedOrClosed(stream);
      }
    } finally {
      await it.return?.();
    }
  })().catch((error: unknown) => {
    failure ??= { error };
    stream.destroy();
    notify();
  });
  try {
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (failure) throw failure.error;
      if (ended) return;
      await new Promise<void>((r) => {
        wake = r;
        if (queue.length || failure || ended) notify();
      });
    }
  } finally {
    stream.destroy();
    await feeder;
    stream.off('data', onData);
    stream.off('end', onEnd);
    // A late error from the destroyed stream must still find a listener, or it would be thrown at top level.
  }
}

function drainedOrClosed(stream: ZlibStream): Promise<void> {
  return new Promise<void>((resolve) => {
    if (stream.destroyed) return resolve();
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
