/**
 * kimg's architecture, checked by `npm run check:arch` (part of `npm test`):
 *   core (errors, limits, byte sources)  <-  model (types, walk, engine)  <-  expr, lower  <-  interp, codegen
 *   <-  schema (loading)  <-  detect (runs engines on candidates)  <-  pipeline  <-  kimg.ts (the library)  <-  cli
 *   (render sits with the engines; codecs beside them, knowing no format)
 * A module may import only from its own layer or below; no import cycles; the parsing core (model,
 * expressions, both engines, renderers and the pure part of core) imports no `node:` module, so it can
 * run where there is no file system (the schema loader, file sources, codecs and the CLI sit above it).
 */
const CORE_PURE = '^src/(core/(bytes|digest|errors|limits)\\.ts|types\\.ts|walk\\.ts|engine\\.ts|lower/|expr/|interp/|codegen/|render/)';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'import cycles make the layers meaningless', from: {}, to: { circular: true } },
    {
      name: 'parsing-core-has-no-node-imports',
      severity: 'error',
      comment: 'the parsing core must run without node: modules',
      from: { path: CORE_PURE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'parsing-core-stays-in-the-core',
      severity: 'error',
      comment: 'the parsing core imports only the parsing core',
      from: { path: CORE_PURE },
      to: { path: '^src/', pathNot: CORE_PURE },
    },
    { name: 'core-is-the-bottom', severity: 'error', from: { path: '^src/core/' }, to: { path: '^src/', pathNot: '^src/core/' } },
    { name: 'nothing-imports-the-cli', severity: 'error', from: { path: '^src/', pathNot: '^src/cli/' }, to: { path: '^src/cli/' } },
    { name: 'codecs-know-no-formats', severity: 'error', comment: 'a codec knows only its stream format', from: { path: '^src/codecs/' }, to: { path: '^src/', pathNot: '^src/(codecs|core)/' } },
    { name: 'lowering-below-the-engines', severity: 'error', comment: 'the lowering reads the model; the engines run it', from: { path: '^src/lower/' }, to: { path: '^src/(expr|interp|codegen|render|schema)/' } },
    { name: 'schema-layer-below-pipeline', severity: 'error', from: { path: '^src/(schema|render|expr|interp|codegen)/' }, to: { path: '^src/(pipeline/|detect/|kimg\\.ts)' } },
    { name: 'detect-below-pipeline', severity: 'error', from: { path: '^src/detect/' }, to: { path: '^src/(pipeline/|kimg\\.ts)' } },
    { name: 'pipeline-below-the-library', severity: 'error', from: { path: '^src/pipeline/' }, to: { path: '^src/kimg\\.ts$', dependencyTypesNot: ['type-only'] } },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
