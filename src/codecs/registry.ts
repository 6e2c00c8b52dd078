/**
 * Codec registry. Importing this module loads no decoder library: every built-in plugin imports its library
 * with a dynamic `import()` inside `decode`, on first use.
 */
import type { Codec } from './types.js';
import { gzip } from './gzip.js';
import { zstd } from './zstd.js';
import { xz } from './xz.js';
import { lzma } from './lzma.js';
import { lz4Legacy } from './lz4-legacy.js';
import { lz4Frame } from './lz4-frame.js';
import { lzop } from './lzop.js';
import { bzip2 } from './bzip2.js';

export class CodecRegistry {
  private readonly byName = new Map<string, Codec>();

  /** Add a codec; a codec with the same name is replaced (lets a user plugin override a built-in). */
  register(codec: Codec): this {
    if (!codec.name) throw new Error('codec without a name');
    this.byName.set(codec.name, codec);
    return this;
  }

  get(name: string): Codec | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The first registered codec (in registration order) whose `sniff` recognises these leading bytes. */
  sniff(head: Uint8Array): Codec | undefined {
    for (const c of this.byName.values()) if (c.sniff?.(head)) return c;
    return undefined;
  }
}

/** The built-in codecs, in an order where the strict magics are tried before the loose LZMA-alone check. */
export const builtinCodecs: readonly Codec[] = [gzip, zstd, xz, lz4Legacy, lz4Frame, lzop, bzip2, lzma];

export function defaultCodecs(): CodecRegistry {
  const r = new CodecRegistry();
  for (const c of builtinCodecs) r.register(c);
  return r;
}

export { gzip, zstd, xz, lzma, lz4Legacy, lz4Frame, lzop, bzip2 };
