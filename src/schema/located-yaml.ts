/**
 * YAML text -> located tree. The only module that uses the YAML library, and it loads it on first use
 * (synchronously, from its CommonJS build): start-up with built-in schemas never pays for it.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { SchemaError } from '../core/errors.js';
import type { LEntry, LNode, Pos } from './located.js';

let yamlLib: typeof Yaml | null = null;

/**
 * The YAML library and the conversion below recurse once per nesting level, so a schema nested
 * 2,000 levels deep overflowed the stack (a RangeError, reported as a kimg bug). Real schemas nest a
 * few levels; these bounds are checked on the text before the parser runs.
 */
export const MAX_YAML_INDENT = 256;
export const MAX_YAML_FLOW_DEPTH = 64;

/** Rejects text whose block indentation or flow ([ {) nesting is deeper than any schema needs. */
function checkNesting(text: string, file: string): void {
  const tooDeep = (line: number, col: number, what: string): SchemaError =>
    new SchemaError('yaml-too-deep', `YAML nesting too deep: ${what}`, { file, line, col }, 'schemas nest a few levels; split deep structure into named types');
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let quote: '"' | "'" | null = null;
  let atIndent = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      atIndent = true;
      continue;
    }
    if (atIndent) {
      // Block nesting: leading spaces plus the "- " of nested sequence entries on the same line.
      if (c === ' ' || c === '-' || c === '\t') {
        if (i - lineStart > MAX_YAML_INDENT) throw tooDeep(line, i - lineStart + 1, `indentation beyond ${MAX_YAML_INDENT} columns`);
        if (c !== '-' || text[i + 1] === ' ' || text[i + 1] === '\n') continue;
      }
      atIndent = false;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") {
      const prev = text[i - 1];
      if (prev === undefined || ' \t[{,:-'.includes(prev)) quote = c;
    } else if (c === '#' && (i === lineStart || ' \t'.includes(text[i - 1]!))) {
      const end = text.indexOf('\n', i);
      i = (end < 0 ? text.length : end) - 1;
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_YAML_FLOW_DEPTH) throw tooDeep(line, i - lineStart + 1, `flow collections ([ {) nested beyond ${MAX_YAML_FLOW_DEPTH} levels`);
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
}

export function fromYaml(text: string, file: string): LNode | null {
  checkNesting(text, file);
  try {
    return parseYaml(text, file);
  } catch (e) {
    // A stack overflow the bounds above did not foresee: still a schema error, never a crash.
    if (e instanceof RangeError) throw new SchemaError('yaml-too-deep', `YAML nesting too deep to read (${e.message})`, { file, line: 1, col: 1 });
    throw e;
  }
}

function parseYaml(text: string, file: string): LNode | null {
  yamlLib ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = yamlLib;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, intAsBigInt: true });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    throw new SchemaError('yaml-syntax', `YAML syntax: ${err.message.split('\n')[0]}`, { file, line, col });
  }
  const pos = (n: YamlNode | null | undefined): Pos => {
    const { line, col } = lines.linePos(n?.range?.[0] ?? 0);
    return [line, col];
  };
  const convert = (n: YamlNode | null): LNode | null => {
    if (n === null || n === undefined) return null;
    if (isMap(n)) {
      const entries: LEntry[] = n.items.map((pair) => {
        const key = pair.key as YamlNode | null;
        const keyText = isScalar(key) ? (key.source ?? String(key.value)) : null;
        return [keyText, pos(key), convert(pair.value as YamlNode | null)];
      });
      return { t: 'map', p: pos(n), e: entries };
    }
    if (isSeq(n)) return { t: 'seq', p: pos(n), e: n.items.map((x) => convert(x as YamlNode)).filter((x): x is LNode => x !== null) };
    if (isScalar(n)) {
      const v = n.value;
      const src = n.source ?? String(v);
      if (typeof v === 'string') {
        const quoted = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE';
        return quoted ? { t: 'scalar', p: pos(n), k: 'str', v, src, q: true } : { t: 'scalar', p: pos(n), k: 'str', v, src };
      }
      if (typeof v === 'boolean') return { t: 'scalar', p: pos(n), k: 'bool', v, src };
      if (v === null || v === undefined) return { t: 'scalar', p: pos(n), k: 'null', v: null, src };
      return { t: 'scalar', p: pos(n), k: 'num', v: src, src };
    }
    return { t: 'scalar', p: pos(n), k: 'null', v: null, src: '' };
  };
  return convert(doc.contents as YamlNode | null);
}
