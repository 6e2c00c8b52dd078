#!/usr/bin/env node
// Summarise a V8 .cpuprofile by module: where a run's time went (self time, ms).
//   node --cpu-prof --cpu-prof-dir=/tmp/p dist/src/cli/kimg.mjs info IMAGE && node bench/profile-summary.mjs /tmp/p/*.cpuprofile
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [top]');
  process.exit(2);
}
const top = Number(process.argv[3] ?? 15);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const totals = new Map();
p.samples.forEach((id, i) => {
  const n = byId.get(id);
  let url = n.callFrame.url || `(${n.callFrame.functionName || 'native'})`;
  url = url.replace(/^file:\/\/.*\/node_modules\//, 'node_modules/').replace(/^file:\/\/.*\/dist\/src\//, 'src/');
  if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/bootstrap')) url = 'node: module loading';
  else if (url.startsWith('node:')) url = url.split('/').slice(0, 2).join('/');
  else if (url.startsWith('node_modules/')) url = url.split('/').slice(0, 2).join('/');
  totals.set(url, (totals.get(url) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const all = [...totals.values()].reduce((a, b) => a + b, 0);
console.log(`total sampled ${(all / 1000).toFixed(1)} ms`);
for (const [k, v] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / 1000).toFixed(1).padStart(8)} ms  ${k}`);
