/**
 * A view over a schema file's located tree (see located.ts) that remembers where every node came from,
 * so that every schema error can name file, line and column.
 */
import { SchemaError } from '../core/errors.js';
import type { SourcePos } from '../types.js';
import type { LNode, Pos } from './located.js';

export class YNode {
  constructor(
    readonly node: LNode | null,
    readonly file: string,
    /** What this node is, for messages: "schema › types › coff_header › fields[2]". */
    readonly what: string,
    private readonly at: Pos = node?.p ?? [1, 1],
  ) {}

  get pos(): SourcePos {
    return { file: this.file, line: this.at[0], col: this.at[1] };
  }

  fail(code: string, message: string, hint?: string): never {
    throw new SchemaError(code, `${this.what}: ${message}`, this.pos, hint);
  }

  /**
   * Fails pointing at a character inside this scalar: exact for a one-line scalar that holds `source`
   * as written (plain or quoted without escapes), else at the scalar's start.
   */
  failAt(offset: number, source: string, code: string, message: string): never {
    const n = this.node;
    let col = this.at[1];
    if (n?.t === 'scalar' && !n.src.includes('\n')) {
      const inner = n.src.indexOf(source);
      if (inner >= 0) col += (n.q ? 1 : 0) + inner + offset;
    }
    throw new SchemaError(code, `${this.what}: ${message}`, { file: this.file, line: this.at[0], col });
  }

  get isMap(): boolean {
    return this.node?.t === 'map';
  }
  get isSeq(): boolean {
    return this.node?.t === 'seq';
  }
  get isScalar(): boolean {
    return this.node?.t === 'scalar';
  }

  /** Map entries in order, keys as written (numeric keys keep their source text: `0x10b`). */
  entries(): [string, YNode, YNode][] {
    const n = this.node;
    if (n?.t !== 'map') return this.fail('expected-map', `expected a mapping, got ${this.kindName()}`);
    const seen = new Set<string>();
    const out: [string, YNode, YNode][] = [];
    for (const [key, keyPos, value] of n.e) {
      const kn = new YNode(null, this.file, this.what, keyPos);
      if (key === null) return kn.fail('bad-key', 'mapping keys must be plain scalars');
      if (seen.has(key)) kn.fail('duplicate-key', `duplicate key '${key}'`);
      seen.add(key);
      out.push([key, kn, new YNode(value, this.file, `${this.what} › ${key}`, value?.p ?? keyPos)]);
    }
    return out;
  }

  /** Map access, rejecting keys not in `allowed` with a did-you-mean hint. */
  fields(allowed: readonly string[]): Map<string, YNode> {
    const out = new Map<string, YNode>();
    for (const [key, keyNode, value] of this.entries()) {
      if (!allowed.includes(key)) {
        const guess = closest(key, allowed);
        keyNode.fail('unknown-key', `unknown key '${key}'`, guess ? `did you mean '${guess}'?` : `allowed: ${allowed.join(', ')}`);
      }
      out.set(key, value);
    }
    return out;
  }

  items(): YNode[] {
    const n = this.node;
    if (n?.t !== 'seq') return this.fail('expected-list', `expected a list, got ${this.kindName()}`);
    return n.e.map((x, i) => new YNode(x, this.file, `${this.what}[${i}]`));
  }

  /** The scalar's text as written (expressions are written as YAML scalars). */
  text(): string {
    const n = this.node;
    if (n?.t !== 'scalar') return this.fail('expected-scalar', `expected a single value, got ${this.kindName()}`);
    return n.k === 'str' ? (n.v as string) : n.src;
  }

  str(): string {
    const n = this.node;
    if (n?.t !== 'scalar' || n.k !== 'str') return this.fail('expected-string', `expected a string, got ${this.kindName()}`);
    return n.v as string;
  }

  bool(): boolean {
    const n = this.node;
    if (n?.t !== 'scalar' || n.k !== 'bool') return this.fail('expected-boolean', `expected true or false, got ${this.kindName()}`);
    return n.v as boolean;
  }

  /** An integer written as a YAML number (decimal or 0x...), exact beyond 2^53. */
  int(): bigint {
    const src = this.text().trim();
    if (!INTEGER.test(src)) this.fail('expected-integer', `expected an integer, got '${src}'`);
    const neg = src.startsWith('-');
    const v = BigInt(src.replace(/^-/, '').replace(/_/g, ''));
    return neg ? -v : v;
  }

  private kindName(): string {
    const n = this.node;
    if (n === null) return 'nothing';
    if (n.t === 'map') return 'a mapping';
    if (n.t === 'seq') return 'a list';
    return n.k === 'str' ? JSON.stringify(n.v) : n.src;
  }
}

/** Integers as schema files write them: a digit must follow any prefix, `_` only between digits. */
export const INTEGER = /^-?(0x[0-9a-fA-F](_?[0-9a-fA-F])*|0b[01](_?[01])*|0o[0-7](_?[0-7])*|[0-9](_?[0-9])*)$/;

export function rootNode(tree: LNode | null, file: string): YNode {
  return new YNode(tree, file, 'schema');
}

/** Levenshtein-nearest candidate within distance 3, for hints. */
export function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = 4;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
