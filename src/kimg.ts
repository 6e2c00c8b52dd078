/**
 * The library's front door: schemas, codecs, limits and engine in one object.
 *
 *   const k = new Kimg();
 *   const pe = k.parse('pe', bytes);            // typed plain objects
 *   const found = k.detect(bytes);               // which built-in schemas apply
 *   const a = await k.analyze('/boot/vmlinuz');  // every layer, decoded and checked
 */
import { BufferSource, type ByteSource } from './core/bytes.js';
import { FileSource } from './core/file-source.js';
import { withLimits, type Limits } from './core/limits.js';
import { type CodecRegistry, defaultCodecs } from './codecs/registry.js';
import type { Codec } from './codecs/types.js';
import { interpret, type ParseResult, type Struct } from './interp/interpreter.js';
import type { BuiltinSchemas } from './builtin-schemas.js';
import { compiledEngine } from './codegen/compile.js';
import { analyze, type Analysis, type PipelineOptions } from './pipeline/pipeline.js';
import { SchemaRegistry } from './schema/registry.js';
import { detect, type DetectOutcome } from './detect/detect.js';
import type { Engine } from './engine.js';
import type { SchemaDef } from './types.js';

export interface KimgOptions {
  /** Extra schema directories, searched before the built-in ones. */
  readonly schemaPath?: readonly string[];
  /** Include the built-in schemas (default true). */
  readonly builtins?: boolean;
  readonly allowOutsideImports?: boolean;
  readonly limits?: Partial<Limits>;
  /** Use the interpreter only, never generated code (for runtimes that forbid `new Function`). */
  readonly jitless?: boolean;
  /**
   * Parses of a schema interpreted before it is compiled (default 4). Compiling costs more than a few
   * interpreted parses, so a one-shot CLI run never compiles and a batch scan compiles what is hot.
   * 0 compiles on first use. The two engines give identical results (test/differential.test.ts).
   */
  readonly jitThreshold?: number;
  readonly codecs?: CodecRegistry;
}

const DEFAULT_JIT_THRESHOLD = 4;
const HOT = -1;

export class Kimg {
  readonly schemas: SchemaRegistry;
  readonly codecs: CodecRegistry;
  readonly limits: Limits;
  readonly engine: Engine;
  readonly jitless: boolean;

  constructor(options: KimgOptions = {}) {
    this.limits = withLimits(options.limits);
    this.schemas = new SchemaRegistry({
      searchPath: options.schemaPath ?? [],
      builtins: options.builtins ?? true,
      allowOutsideImports: options.allowOutsideImports ?? false,
      maxSchemaBytes: this.limits.maxSchemaBytes,
    });
    this.codecs = options.codecs ?? defaultCodecs();
    this.jitless = options.jitless ?? jitlessFromEnv();
    this.engine = this.jitless ? interpreterOnly : tiered(options.jitThreshold ?? DEFAULT_JIT_THRESHOLD);
    this.withLayout = Object.freeze({ limits: this.limits, layout: true });
    this.withoutLayout = Object.freeze({ limits: this.limits, layout: false });
  }

  /** Load a schema by id (`pe`) or path (`./gzip.yaml`). */
  loadSchema(idOrPath: string): SchemaDef {
    return this.schemas.get(idOrPath);
  }

  registerCodec(codec: Codec): void {
    this.codecs.register(codec);
  }

  /**
   * Parse bytes (or a file source) with one schema. A built-in schema's id gives its typed result
   * (src/builtin-schemas.ts); for another schema name the type its declarations give
   * (`kimg types my.yaml > my.d.ts`, then `k.parse<My.Root>(schema, bytes)`).
   */
  parse<K extends keyof BuiltinSchemas>(schema: K, input: Uint8Array | ByteSource, options?: { offset?: number; layout?: boolean }): ParseResult<BuiltinSchemas[K]>;
  parse<T = Struct>(schema: SchemaDef | string, input: Uint8Array | ByteSource, options?: { offset?: number; layout?: boolean }): ParseResult<T>;
  parse(schema: SchemaDef | string, input: Uint8Array | ByteSource, options: { offset?: number; layout?: boolean } = {}): ParseResult {
    const def = typeof schema === 'string' ? this.loadSchema(schema) : schema;
    const opts = options.offset ? { limits: this.limits, layout: options.layout ?? false, offset: options.offset } : options.layout ? this.withLayout : this.withoutLayout;
    return this.engine(def, this.sourceOf(input), opts);
  }

  // The common option objects, made once rather than per parse.
  private readonly withLayout: { readonly limits: Limits; readonly layout: boolean };
  private readonly withoutLayout: { readonly limits: Limits; readonly layout: boolean };

  /** One BufferSource per buffer: parsing the same bytes again costs no new views. */
  private readonly sources = new WeakMap<Uint8Array, BufferSource>();
  private sourceOf(input: Uint8Array | ByteSource): ByteSource {
    if (!(input instanceof Uint8Array)) return input;
    let s = this.sources.get(input);
    if (!s) this.sources.set(input, (s = new BufferSource(input)));
    return s;
  }

  /** Which schemas describe these bytes (or this file), most refined first. */
  detect(input: Uint8Array | ByteSource | string): DetectOutcome {
    if (typeof input === 'string') {
      const src = new FileSource(input);
      try {
        return detect(this.schemas, src, this.limits, this.engine);
      } finally {
        src.close();
      }
    }
    return detect(this.schemas, this.sourceOf(input), this.limits, this.engine);
  }

  /** Follow every layer of a file: detect, decode, re-identify, check. */
  analyze(path: string, options: Partial<Omit<PipelineOptions, 'registry' | 'codecs' | 'limits' | 'engine'>> = {}): Promise<Analysis> {
    return analyze(path, {
      registry: this.schemas,
      codecs: this.codecs,
      limits: this.limits,
      engine: this.engine,
      decode: options.decode ?? true,
      scan: options.scan ?? true,
      hash: options.hash ?? false,
      ...(options.sinkFor ? { sinkFor: options.sinkFor } : {}),
      ...(options.onLayer ? { onLayer: options.onLayer } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.eagerGc ? { eagerGc: true } : {}),
    });
  }
}

const interpreterOnly: Engine = (schema, source, opts) => interpret(schema, source, opts);

/** Interpret a schema's first `threshold` parses, then use its compiled parser. */
function tiered(threshold: number): Engine {
  if (threshold <= 0) return compiledEngine;
  const uses = new WeakMap<SchemaDef, number>();
  return (schema, source, opts) => {
    const n = uses.get(schema);
    if (n === HOT) return compiledEngine(schema, source, opts);
    const next = (n ?? 0) + 1;
    uses.set(schema, next > threshold ? HOT : next);
    return interpret(schema, source, opts);
  };
}

function jitlessFromEnv(): boolean {
  const v = process.env['KIMG_JITLESS'];
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}
