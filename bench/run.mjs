#!/usr/bin/env node
// `npm run bench`: every benchmark in one run, each in its own process so that one's heap and JIT state
// do not colour another's figures.
//   npm run bench [-- --only startup,parse,extract,codecs,decoded] [-- --quick]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './inputs.mjs';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const quick = args.includes('--quick');
const sections = [
  ['startup', 'startup.mjs', quick ? ['--runs', '5'] : []],
  ['parse', 'parse.mjs', []],
  ['extract', 'extract.mjs', quick ? ['--runs', '1', '--scales', '1'] : ['--runs', '3']],
  ['codecs', 'codecs.mjs', quick ? ['--runs', '1'] : []],
  ['decoded', 'decoded.mjs', quick ? ['--runs', '1'] : []],
];
let failed = 0;
for (const [name, script, extra] of sections) {
  if (only && !only.includes(name)) continue;
  console.log(`\n=== ${name} ${'='.repeat(70 - name.length)}`);
  const r = spawnSync(process.execPath, [join(root, 'bench', script), ...extra], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
