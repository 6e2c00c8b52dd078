
/**
 * Random access to the bytes of one layer. The interpreter asks for small windows; a file source
 * reads only those (a header parse of a 26 MiB kernel touches a few KiB), a buffer source is free.
 */
export interface ByteSource {
  readonly size: number;
  /** A window holding at least [offset, offset+length), which the caller has checked is inside `size`. */
  window(offset: number, length: number): Window;
  /** A copy of [offset, offset+length). */
  slice(offset: number, length: number): Uint8Array;
}

export interface Window {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Absolute offset of bytes[0]. */
  readonly base: number;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  private readonly whole: Window;
  constructor(readonly bytes: Uint8Array) {
    this.size = bytes.length;
    this.whole = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), base: 0 };
  }
  window(): Window {
    return this.whole;
  }
  slice(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }
}

export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * The bytes as UTF-8 text, each byte that is not part of a well-formed sequence (overlong, surrogate,
 * truncated, beyond U+10FFFF) shown as the four characters `\xNN`: text meant for people (the kernel
 * banner) keeps its non-ASCII letters, and garbage stays visible instead of becoming U+FFFD or latin1.
 */
export function utf8Visible(bytes: Uint8Array): string {
  let s = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      s += String.fromCharCode(b);
      i++;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    let cp = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need > 0; // a missing continuation byte (end of input) reads as undefined below
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    const min = need === 1 ? 0x80 : need === 2 ? 0x800 : 0x10000;
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      s += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      s += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return s;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
