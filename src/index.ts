/**
 * kimg's library API. See README "Library API".
 */
export { Kimg, type KimgOptions } from './kimg.js';
export type * from './types.js';
export { BufferSource, type ByteSource, type Window } from './core/bytes.js';
export { FileSource } from './core/file-source.js';
export { DEFAULT_LIMITS, LIMIT_NAMES, withLimits, type Limits } from './core/limits.js';
export {
  KimgError, SchemaError, ParseError, LimitError, PipelineError, DecodeError, IoError, UsageError,
  type ErrorKind, type ErrorWhere,
} from './core/errors.js';
export { SchemaLoader, BUILTIN_SCHEMA_DIR, type LoaderOptions } from './schema/loader.js';
export { SchemaRegistry } from './schema/registry.js';
export { detect, type Damage, type Detection, type DetectOutcome, type Rejection } from './detect/detect.js';
export type { Engine } from './engine.js';
export { interpret } from './interp/interpreter.js';
export type { ParseOptions, ParseResult, Struct, StructLayout, FieldLayout, CheckOutcome } from './engine.js';
export { parseExpr, ExprSyntaxError } from './expr/parser.js';
export { CodecRegistry, defaultCodecs } from './codecs/registry.js';
export type { Codec, DecodeOptions } from './codecs/types.js';
export { CodecError } from './codecs/errors.js';
export { zstdCodec, zstdImplementation, zstdImplementations, ZSTD_IMPLEMENTATION_ENV, type ZstdImplementation } from './codecs/zstd.js';
export { lzopCodec, lzoImplementation, LZO_IMPLEMENTATION_ENV, type LzoImplementation } from './codecs/lzop.js';
export { lz4LegacyCodec, LZ4_DEPTH_ENV } from './codecs/lz4-legacy.js';
export type { Analysis, LayerReport, RegionInfo, CheckReport, Sink } from './pipeline/pipeline.js';
export { extract, type ExtractTarget, type ExtractResult, type ExtractOptions, type Output } from './pipeline/extract.js';
export { AtomicFile, DeviceOutput, openOutput, removeStaleTempFiles } from './pipeline/output.js';
export { annotateStruct, type Json } from './render/annotate.js';
export { stringifyJson } from './render/json.js';
export { analysisJson, verdictOk, type AnalysisJson, type LayerJson, type RegionJson, type CheckJson, type ErrorJson } from './pipeline/analysis-json.js';
export type * from './builtin-schemas.js';
export { declarationsFor } from './codegen/declarations.js';
