/**
 * The CLI's one number syntax, for every numeric option (--offset, --max-size, --layer, --limit N).
 */
import { UsageError } from '../core/errors.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Decimal or 0x hex, optionally with a binary unit K, M, G, T (KiB, MB... accepted). Anything not a
 * safe integer is a usage error naming the option, never a number silently rounded
 * (99999999999999999999 is not 1e20 bytes).
 */
export function parseNumber(text: string, option: string): number {
  const m = /^(0x[0-9a-f]+|\d+)\s*(?:([KMGT])(?:i?B)?|(B))?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${option} ${text}: expected a non-negative integer (decimal or 0x hex, optionally with K, M, G or T: binary units)`);
  const value = Number(m[1]) * UNITS[(m[2] ?? m[3] ?? '').toUpperCase()]!;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${option} ${text}: too large (at most ${Number.MAX_SAFE_INTEGER})`);
  return value;
}
