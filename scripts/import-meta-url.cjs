// Injected into the CommonJS CLI bundle (scripts/bundle.mjs): import.meta.url, which CommonJS lacks, is the
// bundle's own URL for every module in it (they all sat in dist/src/ beside it).
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
