/** Raised by a codec when its input is not a valid stream of its format. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    /** Codec plugin name. */
    readonly codec: string,
    message: string,
    /** Offset in the codec's input where the failure was detected, when known. */
    readonly inputOffset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
