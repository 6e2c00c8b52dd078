/**
 * The first five minutes: the README's quick start on a fresh clone of the committed tree, and a packed
 * install (`npm pack` + `npm install -g`) that must compile nothing and start from the schema snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, kimg, REPO } from './helpers.js';

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 240_000, ...options });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

test('kimg help CMD shows that command\'s help, exactly as CMD --help does', () => {
  for (const name of ['extract', 'info', 'dump']) {
    const viaHelp = kimg(['help', name]);
    assert.equal(viaHelp.status, 0);
    assert.equal(viaHelp.stdout.toString(), kimg([name, '--help']).stdout.toString());
    assert.match(viaHelp.stdout.toString(), new RegExp(`^kimg ${name} `));
  }
  assert.match(kimg(['help', 'extract']).stdout.toString(), /--max-size/);
  assert.match(kimg(['help']).stdout.toString(), /^kimg <command>/);
  assert.equal(kimg(['help', 'nosuch']).status, 2);
});

/** The README's quick-start block, as the lines a reader types. */
function quickStart(): string[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const block = /## Quick start\n+```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a "## Quick start" sh block');
  return block[1]!.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
}

const inCI = process.env['CI'] === 'true';
const registryReachable = run('npm', ['ping'], { timeout: 30_000 }).status === 0;
const isGitCheckout = run('git', ['-C', REPO, 'rev-parse', '--verify', 'HEAD']).status === 0;
const skipReason = !isGitCheckout ? 'not a git checkout: fresh-clone and packed-install tests skipped'
  : !registryReachable && !inCI ? 'npm cannot reach the registry: fresh-clone and packed-install tests skipped' : false;
if (skipReason) process.stdout.write(`# ${skipReason}\n`);

test('fresh clone: the README quick start works, and the packed package installs with no compiler', { skip: skipReason, timeout: 300_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'kimg-install-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const clone = join(work, 'clone');
  assert.equal(run('git', ['clone', '--quiet', '--no-hardlinks', REPO, clone]).status, 0, 'git clone of the committed HEAD');

  await t.test('npm ci && npm start on the clone names the layers', () => {
    const lines = quickStart();
    const start = lines.find((l) => /\bnpm start\b/.test(l));
    assert.equal(start, 'npm ci && npm start', `README quick start: ${lines.join(' | ')}`);
    const ci = run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone });
    assert.equal(ci.status, 0, ci.out);
    const started = run('npm', ['start', '--silent'], { cwd: clone });
    assert.equal(started.status, 0, started.out);
    assert.match(started.out, /^samples\/arm64-gzip\.efi: \d+ bytes/m);
    assert.match(started.out, /PE32\+ EFI_APPLICATION, ARM64/);
    assert.match(started.out, /^ {3}EFI zboot, gzip, payload/m);
    assert.match(started.out, /^-> arm64 kernel Image/m);
    assert.match(started.out, /^banner: Linux version /m);
    assert.doesNotMatch(started.out, /# (pass|tests) \d+/, 'npm start must not run the test suite');
  });

  await t.test('npm pack + npm install -g with CC=/bin/false: no install script, no compiler, same output, snapshot start-up', () => {
    const pack = run('npm', ['pack', '--pack-destination', work], { cwd: clone }); // prepack strips the scripts from the packed package.json
    assert.equal(pack.status, 0, pack.out);
    const tgz = readdirSync(work).find((f) => /^kimg-.*\.tgz$/.test(f));
    assert.ok(tgz, pack.out);
    assert.equal(readFileSync(join(clone, 'package.json'), 'utf8'), readFileSync(join(REPO, 'package.json'), 'utf8'), 'postpack restored package.json');
    const packedManifest = run('tar', ['-xzOf', join(work, tgz), 'package/package.json']);
    assert.equal((JSON.parse(packedManifest.out) as { scripts?: object }).scripts, undefined, 'the packed package.json has no lifecycle scripts');
    // Compilers on PATH that record any call: a dependency that builds would be caught even if it ignores CC.
    const shims = join(work, 'shims');
    const calls = join(work, 'compiler-calls.log');
    mkdirSync(shims);
    for (const name of ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make']) {
      writeFileSync(join(shims, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\nexit 1\n`);
      chmodSync(join(shims, name), 0o755);
    }
    const prefix = join(work, 'prefix');
    const env = { ...process.env, CC: '/bin/false', CXX: '/bin/false', PATH: `${shims}:${process.env['PATH']}` };
    const install = run('npm', ['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, join(work, tgz)], { env });
    assert.equal(install.status, 0, install.out);
    assert.doesNotMatch(install.out, /install script|gyp|prebuild|allowScripts/i, install.out);
    assert.equal(existsSync(calls) ? readFileSync(calls, 'utf8') : '', '', 'no compiler was called');

    const pkg = join(prefix, 'lib/node_modules/kimg');
    for (const f of ['dist/schemas.snapshot.json', 'dist/schemas.prebuilt.bin', 'LICENSE', 'examples/gzip-member/gzip.yaml', 'schemas']) assert.ok(existsSync(join(pkg, f)), `${f} is shipped`);
    const installed = join(prefix, 'bin/kimg');
    const checkout = run(process.execPath, [CLI, 'info', 'samples/arm64-gzip.efi'], { cwd: REPO });
    assert.equal(checkout.status, 0, checkout.out);
    const fromInstall = run(installed, ['info', 'samples/arm64-gzip.efi'], { cwd: REPO });
    assert.equal(fromInstall.status, 0, fromInstall.out);
    assert.equal(fromInstall.out, checkout.out);

    // Start-up must come from the snapshot: with the YAML parser taken away the built-ins still load...
    const yamlDir = join(pkg, 'node_modules/yaml');
    assert.ok(existsSync(yamlDir), 'yaml is installed where the package resolves it');
    renameSync(yamlDir, `${yamlDir}.away`);
    try {
      const noYaml = run(installed, ['info', 'samples/arm64-gzip.efi'], { cwd: REPO });
      assert.equal(noYaml.out, checkout.out, 'info must not need the yaml module');
      // ...while a user schema, which does need it, fails: the check above can fail.
      const needsYaml = run(installed, ['parse', join(pkg, 'examples/gzip-member/gzip.yaml'), 'samples/arm64-gzip.efi'], { cwd: REPO });
      assert.notEqual(needsYaml.status, 0);
    } finally {
      renameSync(`${yamlDir}.away`, yamlDir);
    }
  });
});
