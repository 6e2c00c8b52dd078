/** The .xz integrity checks: CRC32 (zlib's), CRC64 (ECMA-182, as .xz defines it) and SHA-256. */
import { crc32 } from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';

export interface Integrity {
  readonly name: string;
  update(data: Uint8Array): void;
  /** The value as stored in the stream (little-endian for the CRCs). */
  digest(): Uint8Array;
}

class Crc32 implements Integrity {
  readonly name = 'CRC32';
  private value = 0;
  update(data: Uint8Array): void {
    this.value = crc32(data, this.value);
  }
  digest(): Uint8Array {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.value, true);
    return out;
  }
}

// CRC64 table, reflected polynomial 0xC96C5795D7870F42, in 32-bit halves (no BigInt on the hot path).
const CRC64_LO = new Uint32Array(256);
const CRC64_HI = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let lo = n;
  let hi = 0;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      lo = (lo ^ 0xd7870f42) >>> 0;
      hi = (hi ^ 0xc96c5795) >>> 0;
    }
  }
  CRC64_LO[n] = lo;
  CRC64_HI[n] = hi;
}

class Crc64 implements Integrity {
  readonly name = 'CRC64';
  private lo = 0xffffffff;
  private hi = 0xffffffff;
  update(data: Uint8Array): void {
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < data.length; i++) {
      const t = (lo ^ data[i]!) & 0xff;
      lo = (CRC64_LO[t]! ^ ((lo >>> 8) | (hi << 24))) >>> 0;
      hi = (CRC64_HI[t]! ^ (hi >>> 8)) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
  }
  digest(): Uint8Array {
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint32(0, ~this.lo >>> 0, true);
    v.setUint32(4, ~this.hi >>> 0, true);
    return out;
  }
}

class Sha256 implements Integrity {
  readonly name = 'SHA-256';
  private readonly hash: Hash = createHash('sha256');
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.hash.digest());
  }
}

class NoCheck implements Integrity {
  readonly name = 'none';
  update(): void {}
  digest(): Uint8Array {
    return new Uint8Array(0);
  }
}

/** Size in bytes of the check field for each of the 16 check IDs (the reserved ones included). */
export function checkSize(id: number): number {
  return id === 0 ? 0 : 4 << Math.floor((id - 1) / 3);
}

/** The integrity check for a .xz check ID, or null for the reserved IDs nobody defines. */
export function makeIntegrity(id: number): Integrity | null {
  switch (id) {
    case 0:
      return new NoCheck();
    case 1:
      return new Crc32();
    case 4:
      return new Crc64();
    case 10:
      return new Sha256();
    default:
      return null;
  }
}

/** CRC32 of a byte range (headers, index, footer fields). */
export function crc32Of(data: Uint8Array): number {
  return crc32(data);
}
