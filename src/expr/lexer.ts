/**
 * Expression scanner: text -> tokens. Knows characters, not grammar.
 */
export type TokenKind = 'int' | 'str' | 'ident' | 'op' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Character offset in the expression source. */
  readonly at: number;
  /** For int tokens. */
  readonly int?: bigint;
  /** For str tokens: the unescaped value. */
  readonly str?: string;
}

export class LexError extends Error {
  constructor(message: string, readonly at: number) {
    super(message);
  }
}

// Longest first, so that `<<` wins over `<`.
const OPERATORS = ['::', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '(', ')', '[', ']', '.', ',', '?', ':'];

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c >= '0' && c <= '9') {
      let j = i;
      if (c === '0' && /[xXbBoO]/.test(src[i + 1] ?? '')) j = i + 2;
      while (j < src.length && /[0-9A-Za-z_]/.test(src[j]!)) j++;
      const text = src.slice(i, j);
      const digits = text.replace(/_/g, '');
      let value: bigint;
      try {
        if (!/^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+)$/.test(digits)) throw new Error();
        value = BigInt(digits);
      } catch {
        throw new LexError(`malformed number '${text}'`, start);
      }
      out.push({ kind: 'int', text, at: start, int: value });
      i = j;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j]!)) j++;
      out.push({ kind: 'ident', text: src.slice(i, j), at: start });
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      const [value, end] = scanString(src, i);
      out.push({ kind: 'str', text: src.slice(i, end), at: start, str: value });
      i = end;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new LexError(`unexpected character '${c}'`, start);
    out.push({ kind: 'op', text: op, at: start });
    i += op.length;
  }
  out.push({ kind: 'eof', text: '', at: src.length });
  return out;
}

function scanString(src: string, start: number): [string, number] {
  const quote = src[start]!;
  let i = start + 1;
  let value = '';
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) return [value, i + 1];
    if (c !== '\\') {
      value += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined) break;
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', '"': '"', "'": "'" };
    if (e === 'x') {
      const h = src.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new LexError(`bad \\x escape, expected two hex digits`, i);
      value += String.fromCharCode(parseInt(h, 16));
      i += 4;
    } else if (Object.hasOwn(simple, e)) {
      value += simple[e];
      i += 2;
    } else {
      throw new LexError(`unknown escape '\\${e}'`, i);
    }
  }
  throw new LexError('unterminated string', start);
}
