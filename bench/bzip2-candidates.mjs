#!/usr/bin/env node
// One bzip2 decoder on one file, in this process; prints decoded bytes, time and peak RSS (docs/codecs.md).
//   mkdir /tmp/bzcand && cd /tmp/bzcand && npm init -y && npm i --ignore-scripts seek-bzip@2 compressjs unbzip2-stream@1.4.3 bz2
//   KIMG_BZ_CANDIDATES=/tmp/bzcand node bench/bzip2-candidates.mjs <kimg|unbzip2-stream|seek-bzip|compressjs|bz2> FILE
// The one-shot candidates cannot be limited: run the bomb under `timeout 20`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './inputs.mjs';

const [cand, file] = process.argv.slice(2);
const require = createRequire(join(process.env.KIMG_BZ_CANDIDATES ?? '/tmp/bzcand', 'index.js'));
const data = readFileSync(file);
const t0 = performance.now();
let n = 0;
if (cand === 'kimg') {
  const { defaultCodecs } = await import(join(root, 'dist', 'src', 'codecs', 'registry.js'));
  async function* src() {
    for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
  }
  for await (const c of defaultCodecs().get('bzip2').decode(src(), { maxOutput: 100 * 2 ** 20 })) n += c.length;
} else if (cand === 'unbzip2-stream') {
  const t = require('unbzip2-stream')();
  await new Promise((res, rej) => {
    t.on('data', (c) => (n += c.length));
    t.on('end', res);
    t.on('error', rej);
    t.end(data);
  });
} else if (cand === 'seek-bzip') n = require('seek-bzip').decode(data).length;
else if (cand === 'compressjs') n = require('compressjs').Bzip2.decompressFile(data).length;
else if (cand === 'bz2') n = require('bz2').decompress(data, true).length;
else throw new Error(`unknown candidate ${cand}`);
console.log(JSON.stringify({ cand, n, ms: Math.round(performance.now() - t0), rssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
