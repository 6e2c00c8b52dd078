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

export function fromYaml(text: string, file: string): LNode | null {
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
