/**
 * Codec plugins: how kimg turns a stored (compressed) payload back into bytes.
 *
 * A codec only knows its stream format. Which codec a header's `compress_type` string means is data
 * (the schema's extraction declaration), and output limits, checksums and sinks belong to the pipeline.
 */

/** Options every decoder receives. */
export interface DecodeOptions {
  /**
   * Hard ceiling on decoded bytes. A decoder may stop early once it has produced more than this;
   * the pipeline enforces the limit again on what it receives, so a codec that cannot stop early
   * is still safe, only slower to fail.
   */
  readonly maxOutput: number;
  /** Called once, when the decoder reaches the end of the (first) stream it decodes, with the number of
   *  input bytes that stream occupied (header to end marker/trailer inclusive). */
  readonly onStreamEnd?: (consumed: number) => void;
}

export interface Codec {
  /** Canonical plugin name, used in schema `codecs:` maps and in messages ("zstd", "lz4-legacy"). */
  readonly name: string;
  /** One line for `kimg codecs` / README: the stream format it reads. */
  readonly description: string;
  /** The library that does the decoding ("node:zlib", "fzstd@0.1.1"...), for reports. */
  readonly library: string;
  /**
   * Recognise a bare stream by its first bytes (Image.gz and friends). Optional: a codec without
   * a magic cannot be found by sniffing, only named by a header.
   */
  sniff?(head: Uint8Array): boolean;
  /**
   * Decode a stream. `source` yields the stored bytes in order (chunks of any size); the result yields
   * decoded bytes in order. Must stream: memory may not grow with the size of the input or output.
   * Errors thrown must be `CodecError` (see ./errors.ts) with the byte offset in the *input* where the
   * stream went wrong when the library reports it.
   */
  decode(source: AsyncIterable<Uint8Array>, options: DecodeOptions): AsyncIterable<Uint8Array>;
}
