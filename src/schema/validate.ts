
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { SchemaError } from '../core/errors.js';
import type { LNode, Pos } from './located.js';
import { isSnapshotTree } from './snapshot.js';
import { closest } from './yaml-node.js';
import { buildJsonSchema, PLACEMENT_KEYS, quotedList } from './keywords.js';

/** The JSON Schema of the kimg schema language (shipped in docs/, referenced by every built-in schema). */
export const JSON_SCHEMA_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/kimg-schema.json');

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type JsonSchema = { [key: string]: unknown };

interface Compiled {
  readonly validate: ValidateFunction;
  /** Every sub-schema object of the JSON Schema -> the name of the definition it belongs to. */
  readonly owner: WeakMap<object, string>;
}

let compiled: Compiled | null = null;
let enabled = true;

/** Where a JSON pointer's node came from. */
interface Loc {
  readonly pos: Pos;
  /** Where its key is written, for a mapping entry. */
  readonly keyPos: Pos | null;
  readonly node: LNode | null;
  /** The loader's name for the place: "schema › types › r › fields[2]". */
  readonly what: string;
}

/**
 * Checks the shape of a schema file's located tree against the JSON Schema; throws a positioned
 * SchemaError for the most useful of the mistakes found. Trees from the built-in snapshot were
 * validated at build time and are let through at once.
 */
export function validateTree(tree: LNode | null, file: string): void {
  if (!enabled || (tree !== null && isSnapshotTree(tree))) return;
  const error = validationError(tree, file);
  if (error) throw error;
}

/** The SchemaError validateTree would throw (null when the shape is valid); never skips. */
export function validationError(tree: LNode | null, file: string): SchemaError | null {
  const locs = new Map<string, Loc>();
  const data = toJson(tree, file, '', 'schema', tree?.p ?? [1, 1], null, locs);
  const { validate, owner } = compile();
  if (validate(data)) return null;
  const candidates = (validate.errors ?? [])
    .map((e, order) => ({ order, c: describe(e, data, locs, owner) }))
    .filter((x): x is { order: number; c: Candidate } => x.c !== null);
  if (candidates.length === 0) {
    const e = validate.errors![0]!;
    const loc = locs.get(e.instancePath) ?? locs.get('')!;
    return new SchemaError('invalid', `${loc.what}: ${e.message ?? 'invalid'}`, { file, line: loc.pos[0], col: loc.pos[1] });
  }
  candidates.sort((a, b) => a.c.rank - b.c.rank || a.c.pos[0] - b.c.pos[0] || a.c.pos[1] - b.c.pos[1] || a.order - b.order);
  const best = candidates[0]!.c;
  return new SchemaError(best.code, best.message, { file, line: best.pos[0], col: best.pos[1] }, best.hint);
}

/**
 * Runs `fn` with validation turned off (tests use it to see what the loader alone says about a file,
 * to show where the two layers agree). Not for production use.
 */
export function withoutValidation<T>(fn: () => T): T {
  const was = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = was;
  }
}

/** The JSON Schema as an object: generated from the keyword table (docs/kimg-schema.json is its committed copy). */
export function jsonSchema(): JsonSchema {
  return buildJsonSchema();
}

/** Keywords the JSON Schema uses for editors (VS Code / yaml-language-server): annotations for ajv. */
const EDITOR_KEYWORDS = ['errorMessage', 'patternErrorMessage', 'markdownDescription'];

function compile(): Compiled {
  if (compiled) return compiled;
  type AjvClass = new (options: Options) => {
    addVocabulary(keywords: string[]): unknown;
    compile(schema: object): ValidateFunction;
  };
  const Ajv = createRequire(import.meta.url)('ajv') as AjvClass;
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strictSchema: true,
    strictTuples: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
    // The JSON Schema is checked against its meta-schema by the tests, not at every start; and one
    // file is validated per schema load, so compiling fast matters more than validating fast.
    validateSchema: false,
    code: { optimize: false },
  });
  ajv.addVocabulary(EDITOR_KEYWORDS);
  const schema = jsonSchema();
  const owner = new WeakMap<object, string>();
  const defs = (schema['definitions'] ?? {}) as Record<string, object>;
  for (const [name, def] of Object.entries(defs)) mark(def, name, owner);
  mark(schema, 'schema', owner);
  compiled = { validate: ajv.compile(schema), owner };
  return compiled;
}

function mark(s: unknown, name: string, owner: WeakMap<object, string>): void {
  if (typeof s !== 'object' || s === null || owner.has(s)) return;
  owner.set(s, name);
  for (const v of Object.values(s)) mark(v, name, owner);
}

// ---------------------------------------------------------------------------------------------
// Located tree -> JSON, remembering where each JSON pointer came from

const INT_SRC = /^-?(0x[0-9a-fA-F_]+|0b[01_]+|0o[0-7_]+|[0-9_]+)$/;

function esc(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function toJson(n: LNode | null, file: string, ptr: string, what: string, pos: Pos, keyPos: Pos | null, locs: Map<string, Loc>): JsonValue {
  locs.set(ptr, { pos: n?.p ?? pos, keyPos, node: n, what });
  if (n === null) return null;
  switch (n.t) {
    case 'map': {
      // Own properties only, defined (not assigned): a key named __proto__ stays a plain key.
      const out: { [key: string]: JsonValue } = {};
      for (const [key, kp, value] of n.e) {
        if (key === null) throw new SchemaError('bad-key', `${what}: mapping keys must be plain scalars`, { file, line: kp[0], col: kp[1] });
        if (Object.hasOwn(out, key)) continue; // duplicate keys: a YAML error reported before
        const v = toJson(value, file, `${ptr}/${esc(key)}`, `${what} › ${key}`, value?.p ?? kp, kp, locs);
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'seq':
      return n.e.map((x, i) => toJson(x, file, `${ptr}/${i}`, `${what}[${i}]`, x.p, null, locs));
    case 'scalar':
      if (n.k === 'str') return n.v as string;
      if (n.k === 'bool') return n.v as boolean;
      if (n.k === 'null') return null;
      // Numbers: integers as the loader reads them (any size, 0x/0b/0o) become JSON integers. Any other
      // numeral (1.5, 1.0, +5, 1e3, .inf), which the loader does not take for an integer, becomes 0.5:
      // a number that is not an integer (messages quote the numeral as written).
      if (INT_SRC.test(n.src.trim())) {
        const src = n.src.trim();
        const neg = src.startsWith('-');
        const v = Number(BigInt(src.replace(/^-/, '').replace(/_/g, '')));
        return neg ? -v : v;
      }
      return 0.5;
  }
}

// ---------------------------------------------------------------------------------------------
// ajv errors -> the loader's codes and messages

interface Candidate {
  /** Lower is reported first: unknown keys, keys not applying, wrong values, missing keys. */
  readonly rank: number;
  readonly pos: Pos;
  readonly code: string;
  readonly message: string;
  readonly hint: string | undefined;
}

/** Field kinds of the JSON Schema, named as the loader names them in "'x' does not apply to … fields". */
const KIND_NAMES: Record<string, string> = {
  valueField: 'derived (value)',
  intField: 'integer',
  intSuffixField: 'integer',
  bytesField: 'bytes',
  strField: 'string',
  strzField: 'string',
  switchField: 'switch',
  structField: 'struct',
};

const ENUM_VALUES: Record<string, { code: string; message: (v: string) => string; hint?: string }> = {
  endian: { code: 'bad-endian', message: (v) => `endian must be 'le' or 'be', got '${v}'` },
  severity: { code: 'bad-severity', message: (v) => `severity must be 'error' or 'warning', got '${v}'` },
  encoding: { code: 'bad-encoding', message: (v) => `unknown encoding '${v}'`, hint: 'ascii, latin1 or utf8' },
  repeat: { code: 'bad-repeat', message: () => `repeat must be 'to-end' (for a count use 'count: <expr>')` },
};

const NAME_RULE = 'must be lower snake_case (a-z, 0-9, _; not starting with _)';

function describe(e: ErrorObject, data: JsonValue, locs: Map<string, Loc>, owner: WeakMap<object, string>): Candidate | null {
  const def = (e.parentSchema && owner.get(e.parentSchema)) ?? '';
  const loc = locs.get(e.instancePath) ?? locs.get('')!;
  const segs = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const prop = segs[segs.length - 1] ?? '';
  const value = at(data, segs);
  const got = kindName(loc.node);
  const make = (rank: number, pos: Pos, code: string, message: string, hint?: string): Candidate => ({ rank, pos, code, message, hint });
  const failHere = (rank: number, code: string, message: string, hint?: string): Candidate => make(rank, loc.pos, code, `${loc.what}: ${message}`, hint);

  // An error about a mapping key (propertyNames): point at the key.
  if (e.propertyName !== undefined) {
    const keyLoc = locs.get(`${e.instancePath}/${esc(e.propertyName)}`);
    const pos = keyLoc?.keyPos ?? loc.pos;
    const key = e.propertyName;
    const keyFail = (code: string, message: string): Candidate => make(2, pos, code, `${loc.what}: ${message}`);
    const container = prop;
    if (segs.length === 1 && container === 'imports') {
      return e.keyword === 'not' ? keyFail('reserved-name', `import alias '${key}' is reserved`) : keyFail('bad-alias', `import alias '${key}' must be a lower snake_case name`);
    }
    if (def === 'name') {
      const what = segs.length === 1 ? ({ types: 'type', enums: 'enum', flags: 'flag set' } as Record<string, string>)[container] ?? 'name' : 'name';
      return e.keyword === 'not' ? keyFail('reserved-name', `${what} name '${key}' is reserved`) : keyFail('bad-name', `${what} name '${key}' ${NAME_RULE}`);
    }
    if (def === 'flagSet' && e.keyword === 'not') return keyFail('bad-mask', `flag mask must be positive, got ${key}`);
    if (def === 'enum' || def === 'flagSet') return keyFail('expected-integer', `expected an integer key, got '${key}'`);
    return keyFail('bad-key', `key '${key}' ${e.message ?? 'is not valid'}`);
  }

  switch (e.keyword) {
    case 'if':
    case 'propertyNames':
    case 'anyOf':
    case 'allOf':
    case 'oneOf':
      return null; // the errors of the branch say more
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const child = locs.get(`${e.instancePath}/${esc(key)}`);
      const kind = KIND_NAMES[def];
      if (kind !== undefined) {
        const field = (value ?? {}) as { [k: string]: JsonValue };
        const atValue = (message: string): Candidate => make(1, child?.pos ?? loc.pos, 'key-not-allowed', `${child?.what ?? loc.what}: ${message}`);
        if (def === 'valueField' && key === 'type') return atValue("a field has either 'type' or 'value', not both");
        if (def === 'valueField' && PLACEMENT_KEYS.includes(key)) {
          return failHere(1, 'key-not-allowed', `a derived 'value' field reads no bytes, so ${quotedList(PLACEMENT_KEYS)} do not apply`);
        }
        if (def === 'intSuffixField' && key === 'endian') return atValue(`type ${String(field['type'])} already says its byte order`);
        return atValue(`'${key}' does not apply to ${kind} fields`);
      }
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const guess = closest(key, allowed);
      return make(0, child?.keyPos ?? loc.pos, 'unknown-key', `${loc.what}: unknown key '${key}'`, guess ? `did you mean '${guess}'?` : `allowed: ${allowed.join(', ')}`);
    }
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      const field = (value ?? {}) as { [k: string]: JsonValue };
      const id = String(field['id']);
      if (def === 'field' && key === 'id') return failHere(4, 'missing-key', "a field needs an 'id'");
      if (def === 'typedField' && key === 'type') return failHere(4, 'missing-key', `field '${id}' needs a 'type' (or a 'value')`);
      if (def === 'strField' && key === 'size') return failHere(4, 'missing-key', `str field '${id}' needs a 'size' (use strz for NUL-terminated)`);
      if (def === 'bytesField' && key === 'size') return failHere(4, 'missing-key', `bytes field '${id}' needs a 'size' (or a 'const' giving it)`);
      return failHere(4, 'missing-key', `missing required key '${key}'`);
    }
    case 'dependencies': {
      const p = e.params as { property: string; missingProperty: string };
      if (def === 'region' && p.property === 'codecs') return failHere(4, 'missing-key', "a region with 'codecs' needs 'codec' (the expression naming the codec)");
      return failHere(4, 'missing-key', `'${p.property}' needs '${p.missingProperty}'`);
    }
    case 'type': {
      if (segs.length === 1 && prop === 'kimg') return intError(failHere, value, loc.node);
      if (def === 'integer' || def === 'byte' || isIntSchema(e.parentSchema)) return intError(failHere, value, loc.node);
      if (def === 'expression') return failHere(2, 'expected-scalar', `expected a single value, got ${got}`);
      const first = String((e.params as { type: string | string[] }).type).split(',')[0];
      if (first === 'object') return failHere(2, 'expected-map', `expected a mapping, got ${got}`);
      if (first === 'array') return failHere(2, 'expected-list', `expected a list, got ${got}`);
      if (first === 'boolean') return failHere(2, 'expected-boolean', `expected true or false, got ${got}`);
      if (first === 'string') return failHere(2, 'expected-string', `expected a string, got ${got}`);
      return failHere(2, 'expected-integer', `expected an integer, got ${got}`);
    }
    case 'pattern': {
      const v = String(value);
      if (segs.length === 1 && prop === 'kimg') {
        return INT_SRC.test(v) ? failHere(3, 'bad-version', `unsupported kimg schema version ${v}`, 'this kimg reads version 1') : intError(failHere, value, loc.node);
      }
      if (def === 'integer' || def === 'byte' || isIntSchema(e.parentSchema)) return intError(failHere, value, loc.node);
      if (def === 'schemaId' && segs.includes('inner')) {
        return failHere(3, 'bad-schema-id', `inner candidate '${v}' is not a schema id (lower case letters, digits, - and _)`, 'inner candidates name schemas of the search path by id, not by path');
      }
      if (def === 'schemaId') return failHere(3, 'bad-id', `schema id '${v}' must be lower case letters, digits, - and _`);
      if (def === 'name') {
        if (segs.length === 2 && segs[0] === 'imports') return failHere(3, 'bad-alias', `import alias '${v}' must be a lower snake_case name`);
        return failHere(3, 'bad-name', `${nameKind(segs)} name '${v}' ${NAME_RULE}`);
      }
      if (def === 'bytes' && prop === 'hex') return failHere(3, 'bad-hex', 'hex must be pairs of hex digits');
      if (def === 'bytes') {
        const c = [...v].find((ch) => ch.charCodeAt(0) > 255) ?? '?';
        return failHere(3, 'bad-byte', `character '${c}' is not a single byte; use \\xNN escapes or a list`);
      }
      if (def === 'field' && prop === 'type') {
        const field = at(data, segs.slice(0, -1)) as { [k: string]: JsonValue } | null;
        const typeName = segs[1] ?? '?';
        return failHere(3, 'bad-type', `unknown type '${v}' in ${typeName}.${String(field?.['id'])}`, 'u8..u64, s8..s64 (optionally le/be), bytes, str, strz, switch, or a type name');
      }
      return failHere(3, 'bad-value', `'${v}' ${e.message ?? 'is not valid'}`);
    }
    case 'enum': {
      const rule = ENUM_VALUES[prop];
      if (rule) return failHere(3, rule.code, rule.message(String(value)), rule.hint);
      return failHere(3, 'bad-value', `'${String(value)}' is not one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}`);
    }
    case 'not': {
      if (def === 'name') return failHere(3, 'reserved-name', `${nameKind(segs)} name '${String(value)}' is reserved`);
      const custom = (e.parentSchema as { errorMessage?: string }).errorMessage;
      if (custom) return failHere(1, 'key-not-allowed', custom);
      return failHere(3, 'bad-value', e.message ?? 'is not allowed');
    }
    case 'minimum':
    case 'maximum': {
      if (segs.length === 1 && prop === 'kimg' && !Number.isInteger(value)) return intError(failHere, value, loc.node);
      if (segs.length === 1 && prop === 'kimg') return failHere(3, 'bad-version', `unsupported kimg schema version ${loc.node?.t === 'scalar' ? loc.node.src : String(value)}`, 'this kimg reads version 1');
      if (def === 'detect' && prop === 'at') return failHere(3, 'bad-offset', 'magic offset must not be negative');
      if (def === 'byte') return failHere(3, 'bad-byte', `byte value ${String(value)} is not in 0..255`);
      if (def === 'bitRange') {
        // as the loader says it: at the bit range, with the bits it would cover
        const range = (at(data, segs.slice(0, -1)) ?? {}) as { [k: string]: JsonValue };
        const field = (at(data, segs.slice(0, -3)) ?? {}) as { [k: string]: JsonValue };
        const shift = typeof range['bit'] === 'number' ? range['bit'] : 0;
        const width = typeof range['width'] === 'number' ? range['width'] : 1;
        const bits = /^[us](8|16|32|64)/.exec(String(field['type']))?.[1] ?? '?';
        const owner = locs.get(e.instancePath.replace(/\/[^/]*$/, ''))!;
        return make(3, owner.pos, 'bad-bits', `${owner.what}: bits ${shift}..${shift + width - 1} do not fit a ${bits}-bit integer`);
      }
      return failHere(3, 'bad-value', `${String(value)} ${e.message ?? 'is out of range'}`);
    }
    default:
      return failHere(3, 'bad-value', e.message ?? 'is not valid');
  }
}

function intError(failHere: (rank: number, code: string, message: string) => Candidate, value: JsonValue | undefined, node: LNode | null): Candidate {
  if (value !== null && typeof value === 'object') return failHere(2, 'expected-scalar', `expected a single value, got ${kindName(node)}`);
  const text = node?.t === 'scalar' ? (node.k === 'str' ? String(node.v) : node.src).trim() : String(value);
  return failHere(2, 'expected-integer', `expected an integer, got '${text}'`);
}

/** A sub-schema for integers written inline (`{ type: [integer, string], pattern, minimum }`). */
function isIntSchema(s: unknown): boolean {
  const t = (s as { type?: unknown } | null)?.type;
  return Array.isArray(t) && t.includes('integer');
}

/** What kind of name an `id` names, from where it is: "field", "check", "bit field", "region", "scan". */
function nameKind(segs: readonly string[]): string {
  const list = segs[segs.length - 3];
  if (list === 'fields') return 'field';
  if (list === 'bits') return 'bit field';
  if (list === 'checks') return 'check';
  if (list === 'regions') return 'region';
  if (list === 'scans') return 'scan';
  return 'name';
}

function at(data: JsonValue, segs: readonly string[]): JsonValue | undefined {
  let v: JsonValue | undefined = data;
  for (const s of segs) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? v[Number(s)] : Object.hasOwn(v, s) ? v[s] : undefined;
  }
  return v;
}

/** How the loader names a node's kind in "expected …, got X". */
function kindName(n: LNode | null): string {
  if (n === null) return 'nothing';
  if (n.t === 'map') return 'a mapping';
  if (n.t === 'seq') return 'a list';
  return n.k === 'str' ? JSON.stringify(n.v) : n.src;
}
