/**
 * Checksums and digests over bytes, for schema checks (a uImage's header and data CRC-32, a FIT image's
 * `hash` nodes, a cpio crc archive's sums): crc32 (IEEE 802.3, as zlib and U-Boot compute it), crc32c
 * (Castagnoli, iSCSI / ext4 / btrfs), adler32 (RFC 1950), sha1 and sha256.
 *
 * Each is incremental (`digester(name)` -> update over chunks of any size, then `final()`) and one-shot
 * (`digest(name, bytes)`). Results: crc32/crc32c/adler32 as an unsigned 32-bit number, sha1/sha256 as bytes;
 * `hex()` formats either the way the tools print them (dumpimage: 8 hex digits, sha lowercase).
 *
 * Part of the parsing core: no `node:` import (it runs in a browser). Libraries chosen by measurement
 * (docs/codecs.md, "Checksums and digests"; `node bench/digests.mjs`): crc32 and crc32c are crc-32's
 * (slicing-by-16, pure JS), adler32 is adler-32's (both SheetJS), faster than a slicing-by-8 loop written
 * here and than @aws-crypto/crc32c; sha1/sha256 are @noble/hashes' (audited, pure JS, synchronous).
 * hash-wasm is 2-4x faster for the SHAs but can only be created asynchronously (wasm instantiation):
 * `preloadWasmHashes()` loads one instance per algorithm, which then serves digesters while it is free
 * (a second concurrent digester of the same algorithm falls back to noble).
 */
import { sha1 as nobleSha1 } from '@noble/hashes/legacy.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import ADLER32 from 'adler-32';
import CRC32 from 'crc-32';
// crc-32's CRC-32C module (same slicing-by-16 code, Castagnoli polynomial); it ships no typings of its own.
import CRC32C from 'crc-32/crc32c.js';

export type DigestName = 'crc32' | 'crc32c' | 'adler32' | 'sha1' | 'sha256';
export const DIGEST_NAMES: readonly DigestName[] = ['crc32', 'crc32c', 'adler32', 'sha1', 'sha256'];

/** What each digest produces: a 32-bit checksum, or a hash's bytes. */
export type DigestValue<N extends DigestName> = N extends 'sha1' | 'sha256' ? Uint8Array : number;

export interface Digester<N extends DigestName = DigestName> {
  readonly name: N;
  /** Feeds the next bytes; returns this. Not after final(). */
  update(bytes: Uint8Array): this;
  /** The result over everything fed. The digester is finished: update/final after it throw. */
  final(): DigestValue<N>;
}

/** An incremental digester. */
export function digester<N extends DigestName>(name: N): Digester<N> {
  switch (name as DigestName) {
    case 'crc32':
      return new SeededDigester('crc32', CRC32) as unknown as Digester<N>;
    case 'crc32c':
      return new SeededDigester('crc32c', CRC32C) as unknown as Digester<N>;
    case 'adler32':
      return new SeededDigester('adler32', ADLER32) as unknown as Digester<N>;
    case 'sha1':
      return new HashDigester('sha1') as unknown as Digester<N>;
    case 'sha256':
      return new HashDigester('sha256') as unknown as Digester<N>;
  }
}

/** One-shot: the digest of `bytes`. */
export function digest<N extends DigestName>(name: N, bytes: Uint8Array): DigestValue<N> {
  return digester(name).update(bytes).final();
}

/** The way the tools print a digest: a checksum as 8 lowercase hex digits, a hash as lowercase hex. */
export function hex(value: number | Uint8Array): string {
  if (typeof value === 'number') return (value >>> 0).toString(16).padStart(8, '0');
  let s = '';
  for (const b of value) s += b.toString(16).padStart(2, '0');
  return s;
}

export function isDigestName(name: string): name is DigestName {
  return (DIGEST_NAMES as readonly string[]).includes(name);
}

class Finished {
  private done = false;
  protected use(name: string): void {
    if (this.done) throw new Error(`${name}: digester already finished`);
  }
  protected finish(name: string): void {
    this.use(name);
    this.done = true;
  }
}

// ---------------------------------------------------------------------------------------------- CRCs, Adler-32

/** crc-32 and adler-32 (SheetJS) take the previous value as the seed of the next call: incremental as is. */
interface SeededSum {
  buf(data: Uint8Array, seed?: number): number;
}

class SeededDigester extends Finished {
  private value: number | undefined;
  constructor(
    readonly name: 'crc32' | 'crc32c' | 'adler32',
    private readonly sum: SeededSum,
  ) {
    super();
  }
  update(bytes: Uint8Array): this {
    this.use(this.name);
    this.value = this.sum.buf(bytes, this.value);
    return this;
  }
  final(): number {
    this.finish(this.name);
    // Nothing fed: the sum of no bytes (crc 0, adler 1), as the library gives for an empty buffer.
    return (this.value ?? this.sum.buf(new Uint8Array(0))) >>> 0;
  }
}

// ---------------------------------------------------------------------------------------------- SHA

interface IncrementalHash {
  update(bytes: Uint8Array): unknown;
  /** The digest's bytes. */
  bytes(): Uint8Array;
  /** Called once after bytes() (returns a pooled wasm instance). */
  release(): void;
}

/** hash-wasm's hasher, the part used here. */
interface WasmHasher {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(format: 'binary'): Uint8Array;
}

/** One preloaded hash-wasm instance per algorithm, and whether a digester holds it. */
const wasmPool: Partial<Record<'sha1' | 'sha256', { readonly hasher: WasmHasher; busy: boolean }>> = {};

/**
 * Loads hash-wasm's SHA-1 and SHA-256 (asynchronous: wasm instantiation), after which digesters use them
 * while they are free. Optional: without it, or where it fails (no WebAssembly), noble computes the same
 * digests. Resolves to whether the wasm hashes are in use.
 */
export async function preloadWasmHashes(): Promise<boolean> {
  try {
    const hw = await import('hash-wasm');
    const [sha1, sha256] = await Promise.all([hw.createSHA1(), hw.createSHA256()]);
    wasmPool.sha1 ??= { hasher: sha1, busy: false };
    wasmPool.sha256 ??= { hasher: sha256, busy: false };
    return true;
  } catch {
    return false;
  }
}

/** Which implementation a new sha1/sha256 digester would use now: for tests and reports. */
export function shaImplementation(name: 'sha1' | 'sha256'): 'hash-wasm' | '@noble/hashes' {
  const slot = wasmPool[name];
  return slot && !slot.busy ? 'hash-wasm' : '@noble/hashes';
}

function shaHash(name: 'sha1' | 'sha256'): IncrementalHash {
  const slot = wasmPool[name];
  if (slot && !slot.busy) {
    slot.busy = true;
    slot.hasher.init();
    return { update: (b) => slot.hasher.update(b), bytes: () => slot.hasher.digest('binary'), release: () => (slot.busy = false) };
  }
  const h = name === 'sha1' ? nobleSha1.create() : nobleSha256.create();
  return { update: (b) => h.update(b), bytes: () => h.digest(), release: () => undefined };
}

class HashDigester extends Finished {
  private readonly hash: IncrementalHash;
  constructor(readonly name: 'sha1' | 'sha256') {
    super();
    this.hash = shaHash(name);
  }
  update(bytes: Uint8Array): this {
    this.use(this.name);
    this.hash.update(bytes);
    return this;
  }
  final(): Uint8Array {
    this.finish(this.name);
    try {
      return this.hash.bytes();
    } finally {
      this.hash.release();
    }
  }
}
