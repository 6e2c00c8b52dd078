/**
 * A thin view over the YAML document that remembers where every node came from, so that every
 * schema error can name file, line and column.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { SchemaError } from '../core/errors.js';
import type { SourcePos } from '../types.js';

export class YNode {
  constructor(
    readonly node: YamlNode | null,
    readonly file: string,
    private readonly lines: LineCounter,
    /** What this node is, for messages: "field 'size' of type coff_header". */
    readonly what: string,
  ) {}

  get pos(): SourcePos {
    const at = this.node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(at);
    return { file: this.file, line, col };
  }

  fail(code: string, message: string, hint?: string): never {
    throw new SchemaError(code, `${this.what}: ${message}`, this.pos, hint);
  }

  get isMap(): boolean {
    return isMap(this.node);
  }
  get isSeq(): boolean {
    return isSeq(this.node);
  }
  get isScalar(): boolean {
    return isScalar(this.node);
  }

  /** Map entries in order, keys as strings (numeric keys keep their source text: `0x10b`). */
  entries(): [string, YNode, YNode][] {
    if (!isMap(this.node)) this.fail('expected-map', `expected a mapping, got ${this.kindName()}`);
    const seen = new Set<string>();
    const out: [string, YNode, YNode][] = [];
    for (const pair of this.node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? (keyNode.source ?? String(keyNode.value)) : null;
      const kn = new YNode(keyNode, this.file, this.lines, this.what);
      if (key === null) return kn.fail('bad-key', 'mapping keys must be plain scalars');
      if (seen.has(key)) kn.fail('duplicate-key', `duplicate key '${key}'`);
      seen.add(key);
      out.push([key, kn, new YNode(pair.value as YamlNode | null, this.file, this.lines, `${this.what} › ${key}`)]);
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
    if (!isSeq(this.node)) this.fail('expected-list', `expected a list, got ${this.kindName()}`);
    return this.node.items.map((n, i) => new YNode(n as YamlNode, this.file, this.lines, `${this.what}[${i}]`));
  }

  scalar(): unknown {
    if (!isScalar(this.node)) this.fail('expected-scalar', `expected a single value, got ${this.kindName()}`);
    return this.node.value;
  }

  /** The scalar's text as written (expressions are written as YAML scalars). */
  text(): string {
    if (!isScalar(this.node)) this.fail('expected-scalar', `expected a single value, got ${this.kindName()}`);
    const v = this.node.value;
    if (typeof v === 'string') return v;
    return this.node.source ?? String(v);
  }

  str(): string {
    const v = this.scalar();
    if (typeof v !== 'string') this.fail('expected-string', `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(): boolean {
    const v = this.scalar();
    if (typeof v !== 'boolean') this.fail('expected-boolean', `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** An integer written as a YAML number (decimal or 0x...), exact beyond 2^53. */
  int(): bigint {
    const src = this.text().trim();
    if (!/^-?(0x[0-9a-fA-F_]+|0b[01_]+|0o[0-7_]+|[0-9_]+)$/.test(src)) this.fail('expected-integer', `expected an integer, got '${src}'`);
    const neg = src.startsWith('-');
    const v = BigInt(src.replace(/^-/, '').replace(/_/g, ''));
    return neg ? -v : v;
  }

  private kindName(): string {
    if (this.node === null) return 'nothing';
    if (isMap(this.node)) return 'a mapping';
    if (isSeq(this.node)) return 'a list';
    return JSON.stringify((this.node as { value?: unknown }).value);
  }
}

export function parseYamlFile(text: string, file: string): YNode {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, intAsBigInt: true });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    throw new SchemaError('yaml-syntax', `YAML syntax: ${err.message.split('\n')[0]}`, { file, line, col });
  }
  return new YNode(doc.contents as YamlNode | null, file, lines, 'schema');
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
