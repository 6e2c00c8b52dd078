/**
 * Garbage collection while streaming. Decoded chunks are garbage as soon as they are written, but V8
 * collects array buffers only when their total has grown a lot, so RSS would climb by tens of MiB per
 * image. A minor collection every few MiB keeps it flat (measured in bench/extract.mjs).
 */

export const COLLECT_EVERY = 4 << 20;
const MAJOR_AFTER_EXTERNAL = 16 << 20;
let minorGc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (minorGc === undefined) {
    // Fetched, not imported: most runs never collect, and loading them costs start-up.
    const v8 = process.getBuiltinModule('node:v8');
    const vm = process.getBuiltinModule('node:vm');
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
      // Mostly cheap minor collections; a major one every fourth time, or as soon as memory held outside
      // the JavaScript heap (decoded chunks, input buffers: ArrayBuffers whose small wrappers were promoted
      // to the old generation, so minor collections cannot free them) grew by MAJOR_AFTER_EXTERNAL since the
      // last major one (lz4-legacy's 8 MiB blocks, bzip2's input buffer: measured in docs/codecs.md, Memory).
      let n = 0;
      let externalAfterMajor = 0;
      minorGc = () => {
        const major = ++n % 4 === 0 || v8.getHeapStatistics().external_memory - externalAfterMajor > MAJOR_AFTER_EXTERNAL;
        gc({ type: major ? 'major' : 'minor' });
        if (major) externalAfterMajor = v8.getHeapStatistics().external_memory;
      };
    } catch {
      minorGc = null;
    }
  }
  minorGc?.();
}
