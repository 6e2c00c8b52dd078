/**
 * Every node type of kimg in one place: the expression AST and the schema model.
 * The loader builds these from schema files; the interpreter and the code generator only read them.
 */

// ---------------------------------------------------------------------------------------------
// Expressions

/** Where a node came from, for error messages (defined with the errors that carry it). */
export type { SourcePos } from './core/errors.js';
import type { SourcePos } from './core/errors.js';

export type BinaryOp =
  | '+' | '-' | '*' | '/' | '%'
  | '<<' | '>>' | '&' | '|' | '^'
  | '<' | '<=' | '>' | '>=' | '==' | '!='
  | 'and' | 'or';

export type UnaryOp = '-' | '~' | 'not';

/** Built-in variables; everything else an identifier names is a field of the current struct. */
export type SpecialName = '_root' | '_parent' | '_' | '_index' | '_offset' | '_pos' | '_region' | '_file';

export type Expr =
  | { readonly k: 'int'; readonly value: bigint }
  | { readonly k: 'str'; readonly value: string }
  | { readonly k: 'bool'; readonly value: boolean }
  | { readonly k: 'null' }
  | { readonly k: 'name'; readonly name: string }
  | { readonly k: 'special'; readonly name: SpecialName }
  | { readonly k: 'member'; readonly object: Expr; readonly name: string }
  | { readonly k: 'index'; readonly object: Expr; readonly index: Expr }
  /** `machine::ARM64` or `pe.machine::ARM64`: an enum member's value, resolved at load time. */
  | { readonly k: 'enumref'; readonly schema: string | null; readonly enumName: string; readonly member: string }
  | { readonly k: 'unary'; readonly op: UnaryOp; readonly arg: Expr }
  | { readonly k: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly k: 'cond'; readonly test: Expr; readonly then: Expr; readonly else: Expr }
  | { readonly k: 'call'; readonly fn: BuiltinFn; readonly args: readonly Expr[] }
  /** A pure function of its evaluated arguments (src/expr/functions.ts: one implementation for every engine). */
  | { readonly k: 'apply'; readonly fn: PureFn; readonly args: readonly Expr[] };

/** Functions the engines evaluate themselves (they bind `_`, or are typed per engine). */
export type BuiltinFn = 'len' | 'min' | 'max' | 'any' | 'all' | 'count' | 'find';

/** Checksums, digests, text numbers, byte helpers: declared once in src/expr/functions.ts. */
export type PureFn = 'crc32' | 'crc32c' | 'adler32' | 'sha1' | 'sha256' | 'sum32' | 'parse_int' | 'zeroed' | 'slice' | 'cstr';

/** A parsed expression together with its source text (kept for messages, never for evaluation). */
export interface CompiledExpr {
  readonly source: string;
  readonly ast: Expr;
  readonly pos: SourcePos;
}

/** A message or summary template: literal text and `${expr[:format]}` holes. */
export type TemplatePart =
  | { readonly k: 'text'; readonly text: string }
  | { readonly k: 'hole'; readonly expr: CompiledExpr; readonly format: TemplateFormat };

export type TemplateFormat = 'auto' | 'hex' | 'dec' | 'oct' | 'size' | 'raw';

export interface Template {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
}

// ---------------------------------------------------------------------------------------------
// Schema model

export type Endian = 'le' | 'be';
export type Severity = 'error' | 'warning';

export interface EnumDef {
  readonly name: string;
  readonly schemaId: string;
  /** value -> member name (values as bigint so u64 enums stay exact). */
  readonly byValue: ReadonlyMap<bigint, string>;
  /** member name -> value. */
  readonly byName: ReadonlyMap<string, bigint>;
}

export interface FlagSetDef {
  readonly name: string;
  readonly schemaId: string;
  /** (mask, name) in declaration order. */
  readonly flags: readonly { readonly mask: bigint; readonly name: string }[];
}

export interface BitDef {
  readonly id: string;
  /** Lowest bit number. */
  readonly shift: number;
  readonly width: number;
  readonly enumRef: EnumDef | null;
}

/** A reference to a user type, resolved at load time. */
export interface TypeRef {
  readonly name: string;
  /** Resolved lazily by the loader once all types of all imported schemas exist. */
  target: TypeDef | null;
}

export interface RepeatCount {
  readonly k: 'count';
  readonly count: CompiledExpr;
}
export interface RepeatToEnd {
  readonly k: 'to-end';
}
/** Element after element until the condition holds on the one just read (`_`, `_index`); it is the last. */
export interface RepeatUntil {
  readonly k: 'until';
  readonly until: CompiledExpr;
}
export type Repeat = RepeatCount | RepeatToEnd | RepeatUntil;

interface FieldBase {
  readonly id: string;
  readonly doc: string | null;
  readonly pos: SourcePos;
  /** Position of the field in the current region; the cursor continues after it. */
  readonly at: CompiledExpr | null;
  /** The field is parsed only when this holds; otherwise its value is null. */
  readonly when: CompiledExpr | null;
  readonly repeat: Repeat | null;
  /** After the field, the cursor moves on to the next multiple of this, counted from the region's start. */
  readonly align: number | null;
  /** Hidden fields are parsed and usable in expressions but not shown by dump. */
  readonly hidden: boolean;
}

export interface IntField extends FieldBase {
  readonly kind: 'int';
  readonly bytes: 1 | 2 | 4 | 8;
  readonly signed: boolean;
  /** null: inherit the type's / schema's endianness. */
  readonly endian: Endian | null;
  readonly enumRef: EnumDef | null;
  readonly flagsRef: FlagSetDef | null;
  readonly bits: readonly BitDef[] | null;
  readonly constant: ConstCheck<bigint> | null;
}

export interface BytesField extends FieldBase {
  readonly kind: 'bytes';
  readonly size: CompiledExpr | null;
  readonly constant: ConstCheck<Uint8Array> | null;
}

export interface StrField extends FieldBase {
  readonly kind: 'str';
  /** Fixed size; null means "up to the terminator", bounded by the region. */
  readonly size: CompiledExpr | null;
  /** Stop at the first NUL inside the field. */
  readonly zeroTerminated: boolean;
  readonly encoding: 'ascii' | 'latin1' | 'utf8';
  readonly constant: ConstCheck<string> | null;
}

export interface StructField extends FieldBase {
  readonly kind: 'struct';
  readonly type: TypeRef;
  /** A sized sub-region: the struct is parsed inside it and the cursor skips all of it. */
  readonly size: CompiledExpr | null;
}

export interface SwitchCase {
  readonly match: CompiledExpr;
  readonly type: TypeRef;
}

export interface SwitchField extends FieldBase {
  readonly kind: 'switch';
  readonly on: CompiledExpr;
  readonly cases: readonly SwitchCase[];
  readonly otherwise: TypeRef | null;
  readonly size: CompiledExpr | null;
}

/** A derived value: computed, reads no bytes. */
export interface ValueField extends FieldBase {
  readonly kind: 'value';
  readonly value: CompiledExpr;
  readonly enumRef: EnumDef | null;
  readonly flagsRef: FlagSetDef | null;
}

export type FieldDef = IntField | BytesField | StrField | StructField | SwitchField | ValueField;

export interface ConstCheck<T> {
  readonly value: T;
  readonly severity: Severity;
  readonly message: Template | null;
}

export interface CheckDef {
  readonly id: string;
  readonly assert: CompiledExpr;
  readonly message: Template;
  readonly severity: Severity;
  readonly pos: SourcePos;
}

export interface TypeDef {
  readonly name: string;
  readonly schemaId: string;
  readonly doc: string | null;
  readonly endian: Endian;
  /** The byte order computed as each struct starts ("le" or "be"); then its integers' `endian` is null. */
  readonly endianExpr: CompiledExpr | null;
  readonly fields: readonly FieldDef[];
  readonly checks: readonly CheckDef[];
  readonly pos: SourcePos;
}

export interface MagicRule {
  readonly at: bigint;
  readonly bytes: Uint8Array;
}

export interface DetectRule {
  /** Cheap byte tests, all of which must hold before the root is parsed. */
  readonly magic: readonly MagicRule[];
  /** Evaluated on the parsed root; the schema applies only when it holds. */
  readonly when: CompiledExpr | null;
  /**
   * Field paths that still establish the format's identity after the magic (PE's signature at e_lfanew,
   * found only by parsing). A parse failing on one of them means "not this format"; any other failure
   * after the magic matched means "this format, damaged", which is an error, never a silent non-match.
   */
  readonly confirm: readonly string[];
  /** Schemas this one refines (a zboot file is also a PE file): dump shows only the most refined. */
  readonly refines: readonly string[];
}

/** An inner candidate naming no schema in particular: any format kimg recognises (every detector is tried). */
export const ANY_SCHEMA = '*';

export interface InnerCandidate {
  /** A schema id, or ANY_SCHEMA. */
  readonly schema: string;
  /** Chooses this candidate from what the outer layer says (e.g. the PE machine). */
  readonly when: CompiledExpr | null;
}

/** A region of the parsed file that holds another layer (a payload, a PE section). */
export interface RegionDecl {
  readonly id: string;
  readonly doc: string | null;
  /** For a family of regions: an array to walk, `_` naming each element in the other expressions. */
  readonly each: CompiledExpr | null;
  /** The region's name (e.g. the section name), by which `kimg extract --section` finds it. */
  readonly name: CompiledExpr | null;
  /** The region exists only when this holds (`if`). */
  readonly when: CompiledExpr | null;
  /** Where the region starts; with `markers`, where the search starts (null: 0). */
  readonly offset: CompiledExpr | null;
  /** The region's size; with `markers`, the size of the searched range (null: to the layer's end). */
  readonly size: CompiledExpr | null;
  /** Found by its markers: the bytes after the first `start` and before the first `end` that follows it. */
  readonly markers: { readonly start: Uint8Array; readonly end: Uint8Array } | null;
  /** The layer to follow by default (the kernel, not the initrd). */
  readonly main: boolean;
  /** Expression giving the codec's name in the header (compress_type); null when stored as is. */
  readonly codec: CompiledExpr | null;
  /** The codec is not named by the header: find it by the payload's magic (the codec plugins' sniffers). */
  readonly codecByMagic: boolean;
  /** Header name -> codec plugin name; null: the name means stored as is. */
  readonly codecs: ReadonlyMap<string, string | null>;
  /**
   * A chain of segments (an initramfs): from the region's start to its end, each segment is either a
   * stored one that an `inner` schema reads, or a stream a codec recognises by its magic, decoded and read
   * the same way; zero bytes between segments are padding.
   */
  readonly chain: boolean;
  /** Expected decoded size (e.g. the le32 trailer), checked after decoding. */
  readonly expectedSize: CompiledExpr | null;
  /** The expected size is stored modulo this (2^32 for gzip ISIZE and the zboot trailer). */
  readonly expectedSizeModulo: bigint | null;
  /** Schemas that may describe the region's content; empty means "detect among all". */
  readonly inner: readonly InnerCandidate[];
  /** Checks run, in the layer's root scope, when the pipeline follows this (main) region. */
  readonly checks: readonly CheckDef[];
}

export interface SchemaDef {
  readonly id: string;
  readonly file: string;
  readonly title: string;
  readonly description: string | null;
  readonly endian: Endian;
  /** alias -> imported schema */
  readonly imports: ReadonlyMap<string, SchemaDef>;
  readonly root: TypeRef;
  readonly types: ReadonlyMap<string, TypeDef>;
  readonly enums: ReadonlyMap<string, EnumDef>;
  readonly flagSets: ReadonlyMap<string, FlagSetDef>;
  readonly detect: DetectRule | null;
  readonly summary: Template | null;
  /** Regions holding further layers (payloads, PE sections). */
  readonly regions: readonly RegionDecl[];
  /** Strings to look for anywhere in the content (the kernel's version banner), reported by `info`. */
  readonly scans: readonly ScanDecl[];
  /**
   * Named facts a layer states about the boot image (`machine`: the CPU it is for), evaluated on the root.
   * The pipeline checks that every layer stating a fact agrees with the layers around it (a UKI for AMD64
   * must not carry a RISC-V kernel). A fact that evaluates to null is not stated.
   */
  readonly facts: ReadonlyMap<string, CompiledExpr>;
}

/** Find `prefix` in the bytes and report it up to `terminator` (at most maxLength bytes). */
export interface ScanDecl {
  readonly id: string;
  readonly prefix: Uint8Array;
  readonly terminator: number;
  readonly maxLength: number;
  /** Words of the string a one-line report shows (null: all). */
  readonly shortWords: number | null;
}

// ---------------------------------------------------------------------------------------------
// Lowered form: what both engines run (built by src/lower/lower.ts, ordered by its walkField)

/** How an element is read: one kind per reading mechanism; each engine has a primitive for each. */
export type ReadStep =
  /** `le` null: the struct's byte order, computed as it starts (`endian_expr`). */
  | { readonly k: 'int'; readonly field: IntField; readonly le: boolean | null }
  /** `fixed`: the constant's length when the field has no size of its own. */
  | { readonly k: 'bytes'; readonly field: BytesField; readonly size: CompiledExpr | null; readonly fixed: number }
  | { readonly k: 'str'; readonly field: StrField; readonly size: CompiledExpr }
  /** A string up to its NUL, bounded by the region and maxStringLength. */
  | { readonly k: 'strz'; readonly field: StrField }
  | { readonly k: 'value'; readonly field: ValueField; readonly expr: CompiledExpr }
  | { readonly k: 'struct'; readonly field: StructField; readonly type: TypeRef; readonly size: CompiledExpr | null }
  | { readonly k: 'switch'; readonly field: SwitchField; readonly size: CompiledExpr | null };

export type RepeatStep = Repeat;

/** A field's constant, checked on each element read, by the kind of value it compares. */
export type ValidateStep =
  | { readonly k: 'int'; readonly field: IntField; readonly constant: ConstCheck<bigint> }
  | { readonly k: 'bytes'; readonly field: BytesField; readonly constant: ConstCheck<Uint8Array> }
  | { readonly k: 'str'; readonly field: StrField; readonly constant: ConstCheck<string> };

/** One field as a sequence of steps; null means the step is absent. */
export interface FieldPlan {
  readonly field: FieldDef;
  readonly id: string;
  /** Index among the type's fields. */
  readonly index: number;
  readonly when: CompiledExpr | null;
  readonly at: CompiledExpr | null;
  readonly read: ReadStep;
  readonly validate: ValidateStep | null;
  readonly project: readonly BitDef[] | null;
  readonly repeat: RepeatStep | null;
  /** Padding after the field up to a multiple of this (from the region's start). */
  readonly align: number | null;
  /** Bytes the field occupies, when known statically (no `if`, fixed size and count, no `align`). */
  readonly staticSize: number | null;
}

export interface TypePlanIR {
  readonly type: TypeDef;
  /** Evaluated as each struct starts: its byte order (`endian_expr`). */
  readonly endian: CompiledExpr | null;
  readonly fields: readonly FieldPlan[];
  readonly checks: readonly CheckDef[];
  /** The built-in variables the type's expressions use. */
  readonly uses: ReadonlySet<SpecialName>;
  /** The types its fields parse (struct and switch targets), in field order. */
  readonly targets: readonly TypeDef[];
}
