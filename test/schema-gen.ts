/**
 * Random valid kimg schemas for differential testing (test/differential-random.test.ts): every field
 * construct, with `_root`, `_parent`, `_index`, `_pos`, `_offset` and `_file.size` in every expression
 * position. Deterministic from one seed.
 */

/** Deterministic choices from one seed (the schema shape); fast-check drives the seeds and the inputs. */
/**
 * Message text that would break out of a string literal if the code generator ever spliced schema text
 * into generated code (quotes, a backtick, a comment end, U+2028, a `${`-lookalike), as YAML escapes.
 */
const HOSTILE_TEXT = 'x\\"); process.exit(7); (\\" \\u2028 \\u2029 \' ` */ $ { ';

export class Rand {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

interface Scope {
  /** Integer fields of this type defined so far (usable by bare name). */
  ints: string[];
  /** Integer fields of the parent type (through `_parent.`), all of them: later ones are null when read. */
  parentInts: string[] | null;
  rootInts: string[];
  inArray: boolean;
}

export class SchemaGen {
  private types: string[] = [];
  private n = 0;
  constructor(private readonly r: Rand) {}

  intExpr(s: Scope, depth = 0): string {
    const r = this.r;
    const leaf = (): string => {
      const options: (() => string)[] = [
        () => String(r.int(9)),
        () => `0x${r.int(256).toString(16)}`,
        () => '_pos',
        () => '_offset',
        () => '_file.size',
      ];
      if (s.ints.length) options.push(() => r.pick(s.ints), () => r.pick(s.ints));
      if (s.rootInts.length) options.push(() => `_root.${r.pick(s.rootInts)}`);
      if (s.parentInts?.length) options.push(() => `_parent.${r.pick(s.parentInts!)}`);
      if (s.inArray) options.push(() => '_index');
      // Outside an array `_index` is an error ("used outside an array"), which both engines must raise
      // alike, also in a plain struct nested inside an array element (a divergence this once missed).
      else if (r.chance(s.parentInts ? 0.1 : 0.02)) return '_index';
      return r.pick(options)();
    };
    if (depth > 2 || r.chance(0.4)) return leaf();
    const a = this.intExpr(s, depth + 1);
    const b = this.intExpr(s, depth + 1);
    switch (r.int(6)) {
      case 0:
        return `(${a} ${r.pick(['+', '-', '*', '&', '|', '^'])} ${b})`;
      case 1:
        return `(${a} ${r.pick(['/', '%'])} ${b})`;
      case 2:
        return `(${a} ${r.pick(['<<', '>>'])} (${b} & 7))`;
      case 3:
        return `(${this.boolExpr(s, depth + 1)} ? ${a} : ${b})`;
      case 4:
        return `${r.pick(['min', 'max'])}(${a}, ${b})`;
      default:
        return `(-${a})`;
    }
  }

  boolExpr(s: Scope, depth = 0): string {
    const r = this.r;
    if (depth > 2 || r.chance(0.6)) return `${this.intExpr(s, depth + 1)} ${r.pick(['<', '<=', '>', '>=', '==', '!='])} ${this.intExpr(s, depth + 1)}`;
    const k = r.int(3);
    if (k === 0) return `(${this.boolExpr(s, depth + 1)} ${r.pick(['and', 'or'])} ${this.boolExpr(s, depth + 1)})`;
    if (k === 1) return `not (${this.boolExpr(s, depth + 1)})`;
    const ints = s.ints.length ? s.ints : ['_pos'];
    return `${r.pick(ints)} != null`;
  }

  /** Bounded small numbers for counts and sizes, still built from the scope. */
  small(s: Scope, mask: number): string {
    return `((${this.intExpr(s)}) & ${mask})`;
  }

  /** Emits a type; returns its name. */
  type(parentInts: string[] | null, rootInts: string[], inArray: boolean, depth: number): string {
    const r = this.r;
    const name = `t${this.n++}`;
    const scope: Scope = { ints: [], parentInts, rootInts, inArray };
    const isRoot = parentInts === null;
    const lines: string[] = [`  ${name}:`];
    if (r.chance(0.3)) lines.push(`    endian: ${r.pick(['le', 'be'])}`);
    lines.push('    fields:');
    const allInts: string[] = [];
    const count = 1 + r.int(depth === 0 ? 6 : 4);
    for (let i = 0; i < count; i++) {
      const id = `f${i}`;
      const opts: string[] = [];
      const kind = r.int(depth < 2 ? 9 : 6);
      if (i > 0 && r.chance(0.25)) opts.push(`if: "${this.boolExpr(scope)}"`);
      // A derived value reads no bytes: `at` does not apply to it (the loader refuses it).
      if (i > 0 && kind !== 5 && r.chance(0.15)) opts.push(`at: "${this.small(scope, 31)}"`);
      let isInt = false;
      if (kind <= 2) {
        opts.push(`type: ${r.pick(['u8', 'u16', 'u32', 'u64', 's8', 's16be', 'u32be', 's64'])}`);
        isInt = true;
        if (r.chance(0.15)) {
          opts.push(`const: ${r.int(3)}`);
          if (r.chance(0.5)) opts.push('severity: warning');
          if (r.chance(0.5)) opts.push(`message: "${id} is \${_:hex} at \${_pos}, root \${${rootInts[0] ? `_root.${rootInts[0]}` : '_offset'}}"`);
        }
        if (r.chance(0.15)) {
          opts.push(`count: "${this.small(scope, 3)}"`);
          isInt = false;
        }
      } else if (kind === 3) {
        opts.push(`type: bytes`, `size: "${this.small(scope, 7)}"`);
      } else if (kind === 4) {
        if (r.chance(0.5)) opts.push('type: strz');
        else opts.push('type: str', `size: "${this.small(scope, 5)}"`);
      } else if (kind === 5) {
        opts.push(`value: "${this.intExpr(scope)}"`);
        isInt = true;
      } else if (kind <= 7) {
        const arr = r.chance(0.4);
        const child = this.type([...scope.ints, ...(isRoot ? [] : [])], isRoot ? [...scope.ints] : rootInts, arr, depth + 1);
        opts.push(`type: ${child}`);
        // An array by count, or `until` a condition on the element just read (`_`, `_index`) holds.
        if (arr) opts.push(r.chance(0.7) ? `count: "${this.small(scope, 3)}"` : `until: "${r.chance(0.5) ? `_index >= ${r.int(3)}` : `_ != null and (${this.intExpr(scope)}) % 3 == _index`}"`);
        if (r.chance(0.3)) opts.push(`size: "${this.small(scope, 15)}"`);
      } else {
        const a = this.type([...scope.ints], isRoot ? [...scope.ints] : rootInts, false, depth + 1);
        const b = this.type([...scope.ints], isRoot ? [...scope.ints] : rootInts, false, depth + 1);
        opts.push('type: switch', `on: "${this.small(scope, 3)}"`, `cases: { 0: ${a}, 1: ${b} }`);
        if (r.chance(0.5)) opts.push(`default: ${a}`);
      }
      // Padding after a reading field (a derived value reads nothing and takes no align).
      if (kind !== 5 && r.chance(0.1)) opts.push(`align: ${1 + r.int(4)}`);
      lines.push(`      - { id: ${id}, ${opts.join(', ')} }`);
      if (isInt) {
        scope.ints.push(id);
        allInts.push(id);
      }
    }
    if (r.chance(0.4)) {
      lines.push('    checks:');
      lines.push(`      - { id: c0, assert: "${this.boolExpr(scope)}", message: "${r.chance(0.3) ? HOSTILE_TEXT : ''}failed at \${_pos:hex}: \${${this.intExpr(scope)}}"${r.chance(0.5) ? ', severity: warning' : ''} }`);
    }
    this.types.push(lines.join('\n'));
    return name;
  }

  schema(id: string): string {
    const root = this.type(null, [], false, 0);
    return `kimg: 1\nid: ${id}\ntitle: random schema\nendian: ${this.r.pick(['le', 'be'])}\nroot: ${root}\ntypes:\n${this.types.join('\n')}\n`;
  }
}

