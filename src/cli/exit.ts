/** Exit codes (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  invalidInput: 3,
  io: 4,
  schema: 5,
} as const;

/** Severity of each code, least first: with several files kimg exits with the worst. */
const SEVERITY: readonly number[] = [EXIT.ok, EXIT.invalidInput, EXIT.io, EXIT.schema, EXIT.usage, EXIT.internal];

export function worstExit(a: number, b: number): number {
  return SEVERITY.indexOf(a) >= SEVERITY.indexOf(b) ? a : b;
}
