/** The async side of kimg's LZMA-family decoders: keeps input buffered ahead, pulls output in bounded steps. */
import { CodecError } from '../errors.js';
import { yieldToEventLoop } from '../_util.js';
import type { DecodeOptions } from '../types.js';
import { InputBuffer, LzmaFormatError } from './input.js';

export interface StepDecoder {
  /** Decoded bytes (possibly none), or null when the input buffered so far is not enough to go on. */
  step(maxOut: number): Uint8Array | null;
  readonly done: boolean;
  /** Input bytes the stream occupied, once done. */
  readonly consumed: number | null;
}

/** Buffered input ahead of the decoder: an LZMA2 chunk (64 KiB + header) always fits. */
const LOOKAHEAD = 160 * 1024;
/** Output per step: bounds both the overshoot past maxOutput and the time between event-loop turns. */
const STEP = 256 * 1024;

export async function* driveDecoder(
  codec: string,
  source: AsyncIterable<Uint8Array>,
  options: DecodeOptions,
  make: (input: InputBuffer) => StepDecoder,
): AsyncGenerator<Uint8Array> {
  const input = new InputBuffer();
  const decoder = make(input);
  const it = source[Symbol.asyncIterator]();
  const pull = async (): Promise<void> => {
    const r = await it.next();
    if (r.done) input.finished = true;
    else input.push(r.value);
  };
  let produced = 0;
  try {
    for (;;) {
      while (!input.finished && input.available < LOOKAHEAD) await pull();
      let out: Uint8Array | null;
      try {
        out = decoder.step(STEP);
      } catch (e) {
        if (e instanceof LzmaFormatError) {
          const where = /input offset/.test(e.message) ? '' : ` at input offset ${e.offset}`;
          throw new CodecError(codec, `${codec}: ${e.message}${where}`, e.offset, { cause: e });
        }
        throw e;
      }
      if (out === null) {
        if (input.finished) throw new CodecError(codec, `${codec}: decoder stalled at input offset ${input.offset} (internal error)`, input.offset);
        await pull();
        continue;
      }
      if (out.length > 0) {
        produced += out.length;
        yield out;
        if (produced > options.maxOutput) return;
      }
      if (decoder.done) {
        options.onStreamEnd?.(decoder.consumed!);
        return;
      }
      await yieldToEventLoop();
    }
  } finally {
    await it.return?.();
  }
}
