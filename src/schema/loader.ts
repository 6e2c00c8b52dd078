/**
 * Schema loader: schema files (YAML, data only) -> the validated model of ../types.ts.
 * Resolves imports inside the search path, type and enum references, and binds every expression.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaError } from '../core/errors.js';
import { realpathOrSelf } from '../core/paths.js';
import { bindExpr, BindError } from '../expr/bind.js';
import { ExprSyntaxError, parseExpr } from '../expr/parser.js';
import { splitTemplate, TemplateSyntaxError } from '../expr/template.js';
import type {
  BitDef, CheckDef, CompiledExpr, DetectRule, Endian, EnumDef, FieldDef, FlagSetDef, InnerCandidate,
  MagicRule, RegionDecl, Repeat, ScanDecl, SchemaDef, Severity, Template, TemplatePart, TypeDef, TypeRef,
} from '../types.js';
import { ANY_SCHEMA } from '../types.js';
import { fromYaml } from './located-yaml.js';
import { fromSnapshot, SNAPSHOT_FILE } from './snapshot.js';
import { PREBUILT_FILE, readPrebuilt } from './prebuilt.js';
import { validateTree } from './validate.js';
import { closest, INTEGER, rootNode, type YNode } from './yaml-node.js';
import { fieldKeysFor, KEYS, PLACEMENT_KEYS, quotedList, REPEAT_KEYS } from './keywords.js';

/** The schemas shipped with kimg. */
export const BUILTIN_SCHEMA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../schemas');
/** Written by the build: the built-in schemas already parsed (dist/schemas.snapshot.json). */
export const BUILTIN_SNAPSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..', SNAPSHOT_FILE);
/** Written by the build: the built-in schemas already built (dist/schemas.prebuilt.bin, ./prebuilt.ts). */
export const BUILTIN_PREBUILT = resolve(dirname(fileURLToPath(import.meta.url)), '../..', PREBUILT_FILE);

const SCHEMA_EXT = ['.yaml', '.yml'];

/** Identifiers: lower snake case, not starting with `_` (reserved for built-ins). */
const ID = /^[a-z][a-z0-9_]*$/;
/** Schema ids may contain dashes (file names). */
const SCHEMA_ID = /^[a-z][a-z0-9_-]*$/;
/** Names a plain object already has; refused so that no field can shadow or reach them. */
const FORBIDDEN_IDS = new Set(
  Object.getOwnPropertyNames(Object.prototype).concat(['prototype', 'value', 'and', 'or', 'not', 'true', 'false', 'null']),
);

const INT_TYPE = /^([us])(8|16|32|64)(le|be)?$/;

export interface LoaderOptions {
  /** Directories searched for `<id>.yaml`, in order. The built-in directory is appended unless `builtins: false`. */
  readonly searchPath?: readonly string[];
  readonly builtins?: boolean;
  /** Let imports leave the search path (off by default: a schema cannot read arbitrary files). */
  readonly allowOutsideImports?: boolean;
  /** Largest schema file accepted (limits.ts maxSchemaBytes), checked before the file is read. */
  readonly maxSchemaBytes?: number;
}

export class SchemaLoader {
  readonly searchPath: readonly string[];
  private readonly byFile = new Map<string, SchemaDef>();
  private readonly loading: string[] = [];
  private readonly allowOutside: boolean;
  private readonly builtinDir: string;
  private readonly maxSchemaBytes: number;

  constructor(options: LoaderOptions = {}) {
    const dirs = [...(options.searchPath ?? [])];
    if (options.builtins !== false) dirs.push(BUILTIN_SCHEMA_DIR);
    this.searchPath = dirs.map((d) => realpathOrSelf(resolve(d)));
    this.builtinDir = realpathOrSelf(BUILTIN_SCHEMA_DIR);
    this.allowOutside = options.allowOutsideImports ?? false;
    this.maxSchemaBytes = options.maxSchemaBytes ?? DEFAULT_LIMITS.maxSchemaBytes;
  }

  /** Every schema id found in the search path (first directory wins on duplicates). */
  listIds(): string[] {
    const ids = new Set<string>();
    for (const dir of this.searchPath) {
      let names: string[] = [];
      try {
        names = readdirNames(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const ext = SCHEMA_EXT.find((e) => n.endsWith(e));
        if (ext) ids.add(n.slice(0, -ext.length));
      }
    }
    return [...ids].sort();
  }

  /** Load by id (`pe`) or by path (`./my.yaml`). */
  load(idOrPath: string): SchemaDef {
    const file = this.locate(idOrPath, null);
    return this.loadFile(file);
  }

  /** Whether a schema id can be found (without loading it). */
  exists(id: string): boolean {
    try {
      this.locate(id, null);
      return true;
    } catch {
      return false;
    }
  }

  private locate(ref: string, from: string | null): string {
    const looksLikePath = ref.includes('/') || ref.includes(sep) || SCHEMA_EXT.some((e) => ref.endsWith(e));
    if (looksLikePath) {
      const base = from ? dirname(from) : process.cwd();
      const file = isAbsolute(ref) ? ref : resolve(base, ref);
      let real: string;
      try {
        real = realpathSync(file);
      } catch {
        throw new SchemaError('schema-not-found', `schema file '${ref}' not found (looked at ${file})`);
      }
      if (from && !this.allowOutside && !this.inSearchPath(real) && !isInside(real, dirname(from))) {
        throw new SchemaError('import-outside', `import '${ref}' resolves to ${real}, outside the schema search path`, undefined,
          'import schemas by id, or allow outside imports explicitly (--allow-outside-imports)');
      }
      return real;
    }
    if (!SCHEMA_ID.test(ref)) throw new SchemaError('bad-schema-id', `'${ref}' is not a schema id (lower case letters, digits, - and _)`);
    for (const dir of this.searchPath) {
      for (const ext of SCHEMA_EXT) {
        const file = join(dir, ref + ext);
        if (isFile(file)) return realpathOrSelf(file);
      }
    }
    throw new SchemaError('schema-not-found', `no schema '${ref}' in the search path`, undefined, `searched: ${this.searchPath.join(', ')}`);
  }

  private inSearchPath(file: string): boolean {
    return this.searchPath.some((d) => isInside(file, d));
  }

  loadFile(file: string): SchemaDef {
    const cached = this.byFile.get(file) ?? this.prebuiltDef(file);
    if (cached) return cached;
    if (this.loading.includes(file)) {
      const cycle = [...this.loading.slice(this.loading.indexOf(file)), file].map((f) => relative(process.cwd(), f) || f);
      throw new SchemaError('import-cycle', `import cycle: ${cycle.join(' -> ')}`);
    }
    const text = this.readSchemaText(file);
    this.loading.push(file);
    try {
      const tree = this.tree(file, text);
      validateTree(tree, file); // shape, against docs/kimg-schema.json (not again for the build-time snapshot)
      const def = new SchemaBuilder(this, file, rootNode(tree, file)).build();
      const base = basename(file).replace(/\.ya?ml$/, '');
      if (this.searchPath.includes(dirname(file)) && base !== def.id) {
        throw new SchemaError('id-mismatch', `schema file ${basename(file)} in the search path declares id '${def.id}'`, { file, line: 1, col: 1 },
          `name the file ${def.id}.yaml or set id: ${base} (schemas are found by file name)`);
      }
      this.byFile.set(file, def);
      return def;
    } finally {
      this.loading.pop();
    }
  }

  /**
   * A schema's detection magic without building the schema, when that is cheap and safe: for a
   * built-in schema read from the build's snapshot (validated when the build wrote it). `null`: the
   * schema declares no detection; `undefined`: not known this way (load the schema). Detection builds
   * only the schemas whose magic matches: building all nine built-ins was most of `kimg info`'s own
   * start-up (bench/startup.mjs).
   */
  detectMagic(id: string): readonly MagicRule[] | null | undefined {
    if (this.magicById.has(id)) return this.magicById.get(id);
    const file = this.locate(id, null);
    let magic: readonly MagicRule[] | null | undefined;
    const loaded = this.byFile.get(file) ?? this.prebuiltDef(file);
    if (loaded) magic = loaded.detect?.magic ?? null;
    else if (dirname(file) === this.builtinDir) {
      const tree = fromSnapshot(BUILTIN_SNAPSHOT, file.slice(this.builtinDir.length + 1), this.readSchemaText(file));
      const detect = tree ? rootNode(tree, file).fields(TOP_KEYS).get('detect') : undefined;
      magic = !tree ? undefined : detect ? magicRules(detect.fields(DETECT_KEYS).get('magic')) : null;
    }
    // Kept like the loaded schemas themselves (byFile): one answer per id for the loader's life.
    if (magic !== undefined) this.magicById.set(id, magic);
    return magic;
  }
  private readonly magicById = new Map<string, readonly MagicRule[] | null>();

  /**
   * A built-in schema from the build's compiled-schema snapshot (./prebuilt.ts), adopted as if built here.
   * Only while the search path is the built-in directory alone: a user directory could hold a schema of
   * the same id as one a built-in imports.
   */
  private prebuiltDef(file: string): SchemaDef | undefined {
    if (this.prebuilt === undefined) {
      const alone = this.searchPath.length === 1 && this.searchPath[0] === this.builtinDir;
      const names = alone ? readdirNames(this.builtinDir).filter((n) => SCHEMA_EXT.some((e) => n.endsWith(e))) : [];
      this.prebuilt = alone ? readPrebuilt(BUILTIN_PREBUILT, this.builtinDir, names, (f) => this.readSchemaText(f)) : null;
    }
    const def = this.prebuilt?.get(file);
    if (def) this.byFile.set(file, def);
    return def;
  }
  private prebuilt: ReadonlyMap<string, SchemaDef> | null | undefined;

  /**
   * The file's text, refused before reading when over maxSchemaBytes (a 50 MB schema took over a
   * minute and ~4 GB to load). Size from the open fd, and the read itself bounded, so a file that
   * grows between the two cannot slip past.
   */
  private readSchemaText(file: string): string {
    const tooBig = (size: number): SchemaError =>
      new SchemaError('limit', `limit maxSchemaBytes (${this.maxSchemaBytes}) exceeded: the schema file is ${size} bytes`, { file, line: 1, col: 1 },
        'a schema is a few KiB; raise the limit with --limit maxSchemaBytes=N');
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new SchemaError('schema-unreadable', `cannot read schema file ${file}: ${(e as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      if (size > this.maxSchemaBytes) throw tooBig(size);
      const buf = Buffer.allocUnsafe(this.maxSchemaBytes + 1); // only [0, n) is read: no need to zero 1 MiB per file
      let n = 0;
      for (let r = 0; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
      if (n > this.maxSchemaBytes) throw tooBig(n);
      return buf.toString('utf8', 0, n);
    } catch (e) {
      if (e instanceof SchemaError) throw e;
      throw new SchemaError('schema-unreadable', `cannot read schema file ${file}: ${(e as Error).message}`);
    } finally {
      closeSync(fd);
    }
  }

  /** The located tree: from the build's snapshot for an unchanged built-in schema, else from YAML. */
  private tree(file: string, text: string): ReturnType<typeof fromYaml> {
    if (dirname(file) === this.builtinDir) {
      const snap = fromSnapshot(BUILTIN_SNAPSHOT, file.slice(this.builtinDir.length + 1), text);
      if (snap !== undefined) return snap;
    }
    return fromYaml(text, file);
  }

  /** Used by the builder for `imports:`. */
  importSchema(ref: string, from: string, node: YNode): SchemaDef {
    try {
      return this.loadFile(this.locate(ref, from));
    } catch (e) {
      if (e instanceof SchemaError && e.pos === undefined) node.fail(e.code, e.message, e.hint);
      throw e;
    }
  }
}

// Allowed keys per construct: from the keyword table (./keywords.ts), which also generates the JSON Schema.
const TOP_KEYS = KEYS.schema;
const TYPE_KEYS = KEYS.type;
const FIELD_KEYS = KEYS.field;
const CHECK_KEYS = KEYS.check;
const REGION_KEYS = KEYS.region;

class SchemaBuilder {
  private id = '';
  private endian: Endian = 'le';
  private readonly imports = new Map<string, SchemaDef>();
  private readonly enums = new Map<string, EnumDef>();
  private readonly flagSets = new Map<string, FlagSetDef>();
  private readonly types = new Map<string, TypeDef>();
  private readonly refs: { ref: TypeRef; node: YNode }[] = [];

  constructor(private readonly loader: SchemaLoader, private readonly file: string, private readonly doc: YNode) {}

  build(): SchemaDef {
    const top = this.doc.fields(TOP_KEYS);
    const version = req(top, 'kimg', this.doc);
    if (version.int() !== 1n) version.fail('bad-version', `unsupported kimg schema version ${version.text()}`, 'this kimg reads version 1');
    const idNode = req(top, 'id', this.doc);
    this.id = idNode.str();
    if (!SCHEMA_ID.test(this.id)) idNode.fail('bad-id', `schema id '${this.id}' must be lower case letters, digits, - and _`);
    this.endian = top.has('endian') ? endianOf(top.get('endian')!) : 'le';

    for (const [alias, aliasNode, ref] of top.get('imports')?.entries() ?? []) {
      if (!ID.test(alias)) aliasNode.fail('bad-alias', `import alias '${alias}' must be a lower snake_case name`);
      if (FORBIDDEN_IDS.has(alias)) aliasNode.fail('reserved-name', `import alias '${alias}' is reserved`);
      this.imports.set(alias, this.loader.importSchema(ref.str(), this.file, ref));
    }
    for (const [name, nameNode, body] of top.get('enums')?.entries() ?? []) {
      checkId(name, nameNode, 'enum');
      this.enums.set(name, this.enumDef(name, body));
    }
    for (const [name, nameNode, body] of top.get('flags')?.entries() ?? []) {
      checkId(name, nameNode, 'flag set');
      this.flagSets.set(name, this.flagSetDef(name, body));
    }
    const typeEntries = req(top, 'types', this.doc).entries();
    // Field names of every type first, so that expressions can be checked against them.
    for (const [name, nameNode] of typeEntries) checkId(name, nameNode, 'type');
    for (const [name, , body] of typeEntries) this.types.set(name, this.typeDef(name, body));
    for (const { ref, node } of this.refs) ref.target = this.resolveType(ref.name, node);

    const rootNode = req(top, 'root', this.doc);
    const root: TypeRef = { name: rootNode.str(), target: null };
    root.target = this.resolveType(root.name, rootNode);
    const rootNames = new Set(root.target.fields.map((f) => f.id));

    return {
      id: this.id,
      file: this.file,
      title: req(top, 'title', this.doc).str(),
      description: top.get('description')?.str() ?? null,
      endian: this.endian,
      imports: this.imports,
      root,
      types: this.types,
      enums: this.enums,
      flagSets: this.flagSets,
      detect: top.has('detect') ? this.detectRule(top.get('detect')!, rootNames) : null,
      summary: top.has('summary') ? this.template(top.get('summary')!, rootNames) : null,
      regions: (top.get('regions')?.items() ?? []).map((n) => this.region(n, rootNames)),
      scans: (top.get('scans')?.items() ?? []).map((n) => this.scan(n)),
      facts: new Map((top.get('facts')?.entries() ?? []).map(([name, keyNode, value]) => {
        checkId(name, keyNode, 'fact');
        return [name, this.expr(value, rootNames)] as const;
      })),
    };
  }

  private enumDef(name: string, body: YNode): EnumDef {
    const byValue = new Map<bigint, string>();
    const byName = new Map<string, bigint>();
    for (const [key, keyNode, member] of body.entries()) {
      const value = intKey(key, keyNode);
      const label = member.str();
      if (byName.has(label)) member.fail('duplicate-name', `enum ${name} names '${label}' twice`);
      byValue.set(value, label);
      byName.set(label, value);
    }
    return { name, schemaId: this.id, byValue, byName };
  }

  private flagSetDef(name: string, body: YNode): FlagSetDef {
    const flags: { mask: bigint; name: string }[] = [];
    for (const [key, keyNode, member] of body.entries()) {
      const mask = intKey(key, keyNode);
      if (mask <= 0n) keyNode.fail('bad-mask', `flag mask must be positive, got ${key}`);
      const label = member.str();
      if (flags.some((f) => f.name === label)) member.fail('duplicate-name', `flag set ${name} names '${label}' twice`);
      flags.push({ mask, name: label });
    }
    return { name, schemaId: this.id, flags };
  }

  private typeDef(name: string, body: YNode): TypeDef {
    const t = body.fields(TYPE_KEYS);
    if (t.has('endian') && t.has('endian_expr')) t.get('endian_expr')!.fail('key-not-allowed', "a type has either 'endian' or 'endian_expr', not both");
    const endian = t.has('endian') ? endianOf(t.get('endian')!) : this.endian;
    const fieldNodes = req(t, 'fields', body).items();
    const names = new Set<string>();
    for (const fn of fieldNodes) {
      const idNode = fn.fields(FIELD_KEYS).get('id') ?? fn.fail('missing-key', "a field needs an 'id'");
      const id = idNode.str();
      checkId(id, idNode, 'field');
      if (names.has(id)) idNode.fail('duplicate-name', `type ${name} has two fields named '${id}'`);
      names.add(id);
    }
    const endianExpr = t.has('endian_expr') ? this.expr(t.get('endian_expr')!, names) : null;
    const fields = fieldNodes.map((fn) => this.field(fn, endianExpr ? null : endian, names, name));
    const checkIds = new Set<string>();
    const checks = (t.get('checks')?.items() ?? []).map((cn) => {
      const c = this.check(cn, names);
      if (checkIds.has(c.id)) cn.fail('duplicate-name', `type ${name} has two checks named '${c.id}'`);
      checkIds.add(c.id);
      return c;
    });
    return { name, schemaId: this.id, doc: t.get('doc')?.str() ?? null, endian, endianExpr, fields, checks, pos: body.pos };
  }

  private field(node: YNode, typeEndian: Endian | null, names: ReadonlySet<string>, typeName: string): FieldDef {
    const f = node.fields(FIELD_KEYS);
    const id = f.get('id')!.str();
    const expr = (key: string): CompiledExpr | null => (f.has(key) ? this.expr(f.get(key)!, names) : null);
    const base = {
      id,
      doc: f.get('doc')?.str() ?? null,
      pos: node.pos,
      at: expr('at'),
      when: expr('if'),
      repeat: this.repeat(f, names),
      align: f.has('align') ? alignOf(f.get('align')!) : null,
      hidden: f.get('hidden')?.bool() ?? false,
    };
    const severity: Severity = f.has('severity') ? severityOf(f.get('severity')!) : 'error';
    const message = f.has('message') ? this.template(f.get('message')!, names) : null;
    // Keys every field may carry as far as this check goes (a value field's 'type', 'at', 'count' and
    // 'repeat' get their own, clearer messages below).
    const only = (allowed: readonly string[], kind: string): void => {
      const common = ['id', 'doc', 'type', 'if', 'hidden', ...PLACEMENT_KEYS];
      for (const key of f.keys()) {
        if (!common.includes(key) && !allowed.includes(key)) {
          f.get(key)!.fail('key-not-allowed', `'${key}' does not apply to ${kind} fields`);
        }
      }
    };

    if (f.has('value')) {
      if (f.has('type')) f.get('type')!.fail('key-not-allowed', "a field has either 'type' or 'value', not both");
      only(fieldKeysFor('value'), 'derived (value)');
      if (base.at || base.repeat) node.fail('key-not-allowed', `a derived 'value' field reads no bytes, so ${quotedList(PLACEMENT_KEYS)} do not apply`);
      return { ...base, kind: 'value', value: this.expr(f.get('value')!, names), enumRef: this.enumRef(f.get('enum')), flagsRef: this.flagsRef(f.get('flags')) };
    }
    const typeNode = f.get('type') ?? node.fail('missing-key', `field '${id}' needs a 'type' (or a 'value')`);
    const type = typeNode.str();
    const intMatch = INT_TYPE.exec(type);
    if (intMatch) {
      only(fieldKeysFor('int', 'intSuffix'), 'integer');
      const bytes = (Number(intMatch[2]) / 8) as 1 | 2 | 4 | 8;
      const suffix = intMatch[3] as Endian | undefined;
      if (suffix && f.has('endian')) f.get('endian')!.fail('key-not-allowed', `type ${type} already says its byte order`);
      const constant = f.has('const') ? { value: f.get('const')!.int(), severity, message } : null;
      if (constant) {
        const limit = 1n << BigInt(bytes * 8);
        if (constant.value < -(limit >> 1n) || constant.value >= limit) f.get('const')!.fail('const-range', `const ${constant.value} does not fit ${type}`);
      }
      return {
        ...base,
        kind: 'int',
        bytes,
        signed: intMatch[1] === 's',
        endian: suffix ?? (f.has('endian') ? endianOf(f.get('endian')!) : typeEndian),
        enumRef: this.enumRef(f.get('enum')),
        flagsRef: this.flagsRef(f.get('flags')),
        bits: f.has('bits') ? this.bits(f.get('bits')!, bytes * 8) : null,
        constant,
      };
    }
    if (type === 'bytes') {
      only(fieldKeysFor('bytes'), 'bytes');
      const constant = f.has('const') ? { value: bytesOf(f.get('const')!), severity, message } : null;
      if (!f.has('size') && !constant) node.fail('missing-key', `bytes field '${id}' needs a 'size' (or a 'const' giving it)`);
      return { ...base, kind: 'bytes', size: expr('size'), constant };
    }
    if (type === 'str' || type === 'strz') {
      only(fieldKeysFor('str', 'strz'), 'string');
      if (type === 'str' && !f.has('size')) node.fail('missing-key', `str field '${id}' needs a 'size' (use strz for NUL-terminated)`);
      const enc = f.get('encoding')?.str() ?? 'ascii';
      if (enc !== 'ascii' && enc !== 'latin1' && enc !== 'utf8') f.get('encoding')!.fail('bad-encoding', `unknown encoding '${enc}'`, 'ascii, latin1 or utf8');
      return {
        ...base,
        kind: 'str',
        size: expr('size'),
        zeroTerminated: type === 'strz',
        encoding: enc as 'ascii' | 'latin1' | 'utf8',
        constant: f.has('const') ? { value: f.get('const')!.str(), severity, message } : null,
      };
    }
    if (type === 'switch') {
      only(fieldKeysFor('switch'), 'switch');
      const cases = req(f, 'cases', node).entries().map(([key, keyNode, target]) => ({
        match: this.exprText(key, keyNode, names),
        type: this.typeRef(target.str(), target),
      }));
      return {
        ...base,
        kind: 'switch',
        on: this.expr(req(f, 'on', node), names),
        cases,
        otherwise: f.has('default') ? this.typeRef(f.get('default')!.str(), f.get('default')!) : null,
        size: expr('size'),
      };
    }
    if (/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$/.test(type)) {
      only(fieldKeysFor('struct'), 'struct');
      return { ...base, kind: 'struct', type: this.typeRef(type, typeNode), size: expr('size') };
    }
    return typeNode.fail('bad-type', `unknown type '${type}' in ${typeName}.${id}`, 'u8..u64, s8..s64 (optionally le/be), bytes, str, strz, switch, or a type name');
  }

  private repeat(f: Map<string, YNode>, names: ReadonlySet<string>): Repeat | null {
    const kinds = REPEAT_KEYS.filter((k) => f.has(k));
    if (kinds.length > 1) f.get(kinds[1]!)!.fail('key-not-allowed', `use one of ${quotedList(REPEAT_KEYS)}, not several`);
    if (f.has('count')) return { k: 'count', count: this.expr(f.get('count')!, names) };
    if (f.has('until')) return { k: 'until', until: this.expr(f.get('until')!, names) };
    if (f.has('repeat')) {
      const r = f.get('repeat')!;
      if (r.str() !== 'to-end') r.fail('bad-repeat', `repeat must be 'to-end' (for a count use 'count: <expr>')`);
      return { k: 'to-end' };
    }
    return null;
  }

  private bits(node: YNode, width: number): BitDef[] {
    const ids = new Set<string>();
    return node.items().map((bn) => {
      const b = bn.fields(KEYS.bits);
      const idNode = req(b, 'id', bn);
      const id = idNode.str();
      checkId(id, idNode, 'bit field');
      if (ids.has(id)) idNode.fail('duplicate-name', `two bit fields named '${id}'`);
      ids.add(id);
      const shift = Number(req(b, 'bit', bn).int());
      const w = b.has('width') ? Number(b.get('width')!.int()) : 1;
      if (shift < 0 || w < 1 || shift + w > width) bn.fail('bad-bits', `bits ${shift}..${shift + w - 1} do not fit a ${width}-bit integer`);
      return { id, shift, width: w, enumRef: this.enumRef(b.get('enum')) };
    });
  }

  private check(node: YNode, names: ReadonlySet<string> | null): CheckDef {
    const c = node.fields(CHECK_KEYS);
    const idNode = req(c, 'id', node);
    checkId(idNode.str(), idNode, 'check');
    return {
      id: idNode.str(),
      assert: this.expr(req(c, 'assert', node), names),
      message: this.template(req(c, 'message', node), names),
      severity: c.has('severity') ? severityOf(c.get('severity')!) : 'error',
      pos: node.pos,
    };
  }

  private detectRule(node: YNode, rootNames: ReadonlySet<string>): DetectRule {
    const d = node.fields(DETECT_KEYS);
    const magic = magicRules(d.get('magic'));
    const refines = (d.get('refines')?.items() ?? []).map((r) => r.str());
    const confirm = (d.get('confirm')?.items() ?? []).map((c) => {
      const path = c.str();
      const head = /^[a-z_][a-z0-9_]*/.exec(path)?.[0];
      if (!head || !/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/.test(path)) c.fail('bad-confirm', `detect.confirm entry '${path}' is not a field path (a.b.c)`);
      if (!rootNames.has(head!)) c.fail('unknown-field', `detect.confirm names '${head}', which is not a field of the root type`, `fields: ${[...rootNames].join(', ')}`);
      return path;
    });
    return { magic, when: d.has('when') ? this.expr(d.get('when')!, rootNames) : null, confirm, refines };
  }

  private region(node: YNode, rootNames: ReadonlySet<string>): RegionDecl {
    const r = node.fields(REGION_KEYS);
    const idNode = req(r, 'id', node);
    checkId(idNode.str(), idNode, 'region');
    const each = r.has('each') ? this.expr(r.get('each')!, rootNames) : null;
    const codecs = new Map<string, string | null>();
    for (const [key, , plugin] of r.get('codecs')?.entries() ?? []) codecs.set(key, plugin.node?.t === 'scalar' && plugin.node.k === 'null' ? null : plugin.str());
    const inner: InnerCandidate[] = (r.get('inner')?.items() ?? []).map((cn) => {
      const c = cn.fields(KEYS.inner);
      const idNode = req(c, 'schema', cn);
      const id = idNode.str();
      if (id !== ANY_SCHEMA && !SCHEMA_ID.test(id)) idNode.fail('bad-schema-id', `inner candidate '${id}' is not a schema id (lower case letters, digits, - and _)`, 'inner candidates name schemas of the search path by id, not by path');
      if (id !== ANY_SCHEMA && !this.loader.exists(id)) idNode.fail('unknown-schema', `no schema '${id}' in the search path`, 'inner candidates name schemas by id');
      return { schema: id, when: c.has('when') ? this.expr(c.get('when')!, rootNames) : null };
    });
    if (r.has('checks') && (r.get('main')?.bool() !== true || r.has('each'))) {
      r.get('checks')!.fail('key-not-allowed', "region checks run when the pipeline follows the region: only on the 'main: true' region");
    }
    if (r.has('codec_by_magic') && r.has('codec')) r.get('codec_by_magic')!.fail('key-not-allowed', "a region has either 'codec' (named by the header) or 'codec_by_magic' (found by the payload's magic), not both");
    if (r.has('codecs') && !r.has('codec')) node.fail('missing-key', "a region with 'codecs' needs 'codec' (the expression naming the codec)");
    const chain = r.get('chain')?.bool() ?? false;
    if (chain) {
      for (const key of ['codec', 'codec_by_magic', 'expected_size', 'main'] as const) {
        if (r.has(key)) r.get(key)!.fail('key-not-allowed', `a chain region finds each segment's codec by its magic and lists its segments as layers of their own: '${key}' does not apply`);
      }
    }
    let markers: RegionDecl['markers'] = null;
    if (r.has('markers')) {
      const mn = r.get('markers')!;
      if (each) mn.fail('key-not-allowed', "a region found by its markers is one region: not with 'each'");
      const m = mn.fields(KEYS.markers);
      const start = bytesOf(req(m, 'start', mn));
      const end = bytesOf(req(m, 'end', mn));
      if (!start.length) m.get('start')!.fail('bad-value', 'a marker must not be empty');
      if (!end.length) m.get('end')!.fail('bad-value', 'a marker must not be empty');
      markers = { start, end };
    } else {
      req(r, 'offset', node);
      req(r, 'size', node);
    }
    return {
      id: idNode.str(),
      doc: r.get('doc')?.str() ?? null,
      each,
      name: r.has('name') ? this.expr(r.get('name')!, rootNames) : null,
      when: r.has('if') ? this.expr(r.get('if')!, rootNames) : null,
      offset: r.has('offset') ? this.expr(r.get('offset')!, rootNames) : null,
      size: r.has('size') ? this.expr(r.get('size')!, rootNames) : null,
      markers,
      main: r.get('main')?.bool() ?? false,
      codec: r.has('codec') ? this.expr(r.get('codec')!, rootNames) : null,
      codecByMagic: r.get('codec_by_magic')?.bool() ?? false,
      codecs,
      chain,
      expectedSize: r.has('expected_size') ? this.expr(r.get('expected_size')!, rootNames) : null,
      expectedSizeModulo: r.has('expected_size_modulo') ? r.get('expected_size_modulo')!.int() : null,
      inner,
      checks: (r.get('checks')?.items() ?? []).map((cn) => this.check(cn, rootNames)),
    };
  }

  private scan(node: YNode): ScanDecl {
    const s = node.fields(KEYS.scan);
    const idNode = req(s, 'id', node);
    checkId(idNode.str(), idNode, 'scan');
    return {
      id: idNode.str(),
      prefix: bytesOf(req(s, 'prefix', node)),
      terminator: s.has('terminator') ? Number(s.get('terminator')!.int()) & 0xff : 0,
      maxLength: s.has('max_length') ? Number(s.get('max_length')!.int()) : 256,
      shortWords: s.has('short_words') ? Number(s.get('short_words')!.int()) : null,
    };
  }

  private template(node: YNode, names: ReadonlySet<string> | null): Template {
    const source = node.str();
    let raw: ReturnType<typeof splitTemplate>;
    try {
      raw = splitTemplate(source);
    } catch (e) {
      if (e instanceof TemplateSyntaxError) node.fail('bad-template', e.message);
      throw e;
    }
    const parts: TemplatePart[] = raw.map((p) =>
      p.k === 'text' ? p : { k: 'hole', expr: this.exprText(p.hole.source, node, names), format: p.hole.format },
    );
    return { source, parts };
  }

  private expr(node: YNode, names: ReadonlySet<string> | null): CompiledExpr {
    return this.exprText(node.text(), node, names);
  }

  private exprText(source: string, node: YNode, names: ReadonlySet<string> | null): CompiledExpr {
    let ast: ReturnType<typeof parseExpr>;
    try {
      ast = parseExpr(source);
    } catch (e) {
      if (e instanceof ExprSyntaxError) node.failAt(e.at, source, 'bad-expression', `in expression '${source}' at column ${e.at + 1}: ${e.message}`);
      throw e;
    }
    try {
      ast = bindExpr(ast, { enumLookup: (alias, name) => this.lookupEnum(alias, name), names });
    } catch (e) {
      if (e instanceof BindError) node.fail('bad-reference', `in expression '${source}': ${e.message}`, e.hint);
      throw e;
    }
    return { source, ast, pos: node.pos };
  }

  /** An enum, or a flag set seen as one (`section_characteristics::MEM_WRITE` is its mask). */
  private lookupEnum(alias: string | null, name: string): EnumDef | null {
    const schema = alias === null ? null : this.imports.get(alias);
    if (alias !== null && !schema) return null;
    const found = schema ? schema.enums.get(name) : this.enums.get(name);
    if (found) return found;
    const flags = schema ? schema.flagSets.get(name) : this.flagSets.get(name);
    if (!flags) return null;
    return {
      name,
      schemaId: flags.schemaId,
      byValue: new Map(flags.flags.map((f) => [f.mask, f.name])),
      byName: new Map(flags.flags.map((f) => [f.name, f.mask])),
    };
  }

  private enumRef(node: YNode | undefined): EnumDef | null {
    if (!node) return null;
    const [alias, name] = splitRef(node.str());
    const e = this.lookupEnum(alias, name);
    if (!e) node.fail('unknown-enum', `unknown enum '${node.str()}'`, `enums here: ${[...this.enums.keys()].join(', ') || 'none'}`);
    return e;
  }

  private flagsRef(node: YNode | undefined): FlagSetDef | null {
    if (!node) return null;
    const [alias, name] = splitRef(node.str());
    const f = alias === null ? this.flagSets.get(name) : this.imports.get(alias)?.flagSets.get(name);
    if (!f) return node.fail('unknown-flags', `unknown flag set '${node.str()}'`, `flag sets here: ${[...this.flagSets.keys()].join(', ') || 'none'}`);
    return f;
  }

  private typeRef(name: string, node: YNode): TypeRef {
    const ref: TypeRef = { name, target: null };
    this.refs.push({ ref, node });
    return ref;
  }

  private resolveType(name: string, node: YNode): TypeDef {
    const [alias, local] = splitRef(name);
    if (alias === null) {
      const t = this.types.get(local);
      if (!t && /^[us]\d+(le|be)?$/.test(local)) node.fail('unknown-type', `unknown type '${name}'`, 'integer types are u8, u16, u32, u64, s8, s16, s32, s64, optionally with le or be');
      if (!t) node.fail('unknown-type', `unknown type '${name}'`, hintFrom(local, this.types.keys()));
      return t;
    }
    const imported = this.imports.get(alias);
    if (!imported) node.fail('unknown-import', `no import named '${alias}'`, `imports here: ${[...this.imports.keys()].join(', ') || 'none'}`);
    const t = imported.types.get(local);
    if (!t) node.fail('unknown-type', `schema ${imported.id} has no type '${local}'`, hintFrom(local, imported.types.keys()));
    return t;
  }
}

function req(map: Map<string, YNode>, key: string, owner: YNode): YNode {
  return map.get(key) ?? owner.fail('missing-key', `missing required key '${key}'`);
}

function checkId(id: string, node: YNode, what: string): void {
  if (!ID.test(id)) node.fail('bad-name', `${what} name '${id}' must be lower snake_case (a-z, 0-9, _; not starting with _)`);
  if (FORBIDDEN_IDS.has(id)) node.fail('reserved-name', `${what} name '${id}' is reserved`);
}

function splitRef(ref: string): [string | null, string] {
  const dot = ref.indexOf('.');
  return dot < 0 ? [null, ref] : [ref.slice(0, dot), ref.slice(dot + 1)];
}

function hintFrom(word: string, names: Iterable<string>): string {
  const list = [...names];
  const near = closest(word, list);
  return near ? `did you mean '${near}'?` : `types: ${list.join(', ')}`;
}

function intKey(key: string, node: YNode): bigint {
  if (!INTEGER.test(key) || key.startsWith('-')) node.fail('expected-integer', `expected an integer key, got '${key}'`);
  return BigInt(key.replace(/_/g, ''));
}

function endianOf(node: YNode): Endian {
  const v = node.str();
  if (v !== 'le' && v !== 'be') node.fail('bad-endian', `endian must be 'le' or 'be', got '${v}'`);
  return v;
}

function severityOf(node: YNode): Severity {
  const v = node.str();
  if (v !== 'error' && v !== 'warning') node.fail('bad-severity', `severity must be 'error' or 'warning', got '${v}'`);
  return v;
}

/** Byte strings: a YAML string (each char one byte, \xNN escapes), a list of byte values, or {hex: "..."}. */
const DETECT_KEYS = KEYS.detect;

function magicRules(node: YNode | undefined): MagicRule[] {
  return (node?.items() ?? []).map((mn) => {
    const m = mn.fields(KEYS.magic);
    const at = req(m, 'at', mn).int();
    if (at < 0n) m.get('at')!.fail('bad-offset', 'magic offset must not be negative');
    return { at, bytes: bytesOf(req(m, 'bytes', mn)) };
  });
}

function bytesOf(node: YNode): Uint8Array {
  if (node.isSeq) {
    return Uint8Array.from(node.items().map((b) => {
      const v = b.int();
      if (v < 0n || v > 255n) b.fail('bad-byte', `byte value ${v} is not in 0..255`);
      return Number(v);
    }));
  }
  if (node.isMap) {
    const h = req(node.fields(KEYS.hexBytes), 'hex', node);
    const text = h.str().replace(/\s+/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) h.fail('bad-hex', 'hex must be pairs of hex digits');
    return Uint8Array.from(Buffer.from(text, 'hex'));
  }
  const s = node.str();
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) node.fail('bad-byte', `character '${s[i]}' is not a single byte; use \\xNN escapes or a list`);
    out[i] = c;
  }
  return out;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isInside(file: string, dir: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function readdirNames(dir: string): string[] {
  return readdirSync(dir);
}

/** A field's `align`: a whole number of bytes, 1 to 2^20. */
function alignOf(node: YNode): number {
  const n = node.int();
  if (n < 1n || n > 0x100000n) node.fail('bad-align', `align must be 1 to 0x100000 bytes, got ${n}`);
  return Number(n);
}
