import type { BitDef } from '../types.js';

/** A bit-field integer as an object: the raw value and each declared bit range. */
export function bitsOf(v: number | bigint, bits: readonly BitDef[]): Record<string, unknown> {
  const out: Record<string, unknown> = { value: v };
  const big = BigInt(v);
  for (const b of bits) {
    const x = Number((big >> BigInt(b.shift)) & ((1n << BigInt(b.width)) - 1n));
    out[b.id] = b.width === 1 && !b.enumRef ? x === 1 : x;
  }
  return out;
}
