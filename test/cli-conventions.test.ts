/**
 * The conventions users of file, readelf, jq and yargs CLIs expect: several files with the worst exit
 * code, `-` for stdin, `kimg scan DIR`, completion, did-you-mean, help per command, one number syntax,
 * colour only for terminals (and still escaped).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS, COMMON } from '../src/cli/args.js';
import { CLI, hasCommand, kimg, REPO, SAMPLES, sha256File } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-conv-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
// As a user in the checkout names them (kimg runs with cwd = the repository).
const ZBOOT = 'samples/arm64-gzip.efi';
const LZO = 'samples/arm64-lzo.efi';
void SAMPLES;
const text = (b: Buffer): string => b.toString();
const notKernel = join(work, 'notes.txt');
writeFileSync(notKernel, 'not a kernel\n'.repeat(10));

test('several files: each is reported, errors do not stop the others, the exit code is the worst', () => {
  const both = kimg(['info', ZBOOT, LZO]);
  assert.equal(both.status, 0);
  const blocks = text(both.stdout).split('\n\n');
  assert.equal(blocks.length, 2, 'one block per file, separated by a blank line');
  assert.match(blocks[0]!, /^samples\/arm64-gzip\.efi: /);
  assert.match(blocks[1]!, /^samples\/arm64-lzo\.efi: /);

  const bad = kimg(['info', notKernel, ZBOOT]);
  assert.equal(bad.status, 3, 'an unrecognised file: 3');
  assert.match(text(bad.stdout), /^samples\/arm64-gzip\.efi: 934400 bytes/m, 'the file after the bad one still ran');
  assert.match(text(bad.stderr), /^kimg: error: .*notes\.txt, layer 0: no schema and no codec recognises this file/m);

  const missing = kimg(['info', notKernel, join(work, 'nope'), ZBOOT]);
  assert.equal(missing.status, 4, 'I/O (4) is worse than invalid input (3)');
  assert.match(text(missing.stderr), /nope: cannot open file/);
  assert.match(text(missing.stdout), /arm64-gzip\.efi: 934400 bytes/);

  const dumps = kimg(['dump', '--json', ZBOOT, LZO]);
  assert.equal(dumps.status, 0);
  const lines = text(dumps.stdout).trim().split('\n');
  assert.equal(lines.length, 2, 'JSON Lines: one compact document per file');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { file: string }).file), ['samples/arm64-gzip.efi', 'samples/arm64-lzo.efi']);
  const parses = kimg(['parse', 'pe', ZBOOT, LZO, '--json']);
  assert.equal(text(parses.stdout).trim().split('\n').length, 2);
});

test('a directory is an error pointing to kimg scan; kimg scan walks it, one line per file', () => {
  const dir = join(work, 'boot');
  mkdirSync(join(dir, 'efi'), { recursive: true });
  writeFileSync(join(dir, 'efi', 'vmlinuz.efi'), readFileSync(join(REPO, ZBOOT)));
  writeFileSync(join(dir, 'config'), 'CONFIG_EFI=y\n');
  const r = kimg(['info', dir]);
  assert.equal(r.status, 4);
  assert.match(text(r.stderr), /it is a directory \(kimg scan .*boot reads every file under it\)/);
  const scan = kimg(['scan', dir]);
  assert.equal(scan.status, 3, 'config is not a kernel');
  const lines = text(scan.stdout).trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^error {3}.*boot\/config: unrecognised data, 13 B; layer 0: no schema and no codec recognises this file/);
  assert.match(lines[1]!, /^ok {6}.*boot\/efi\/vmlinuz\.efi: EFI zboot, gzip, payload 859 KiB at 0xb4e8 -> arm64 kernel Image, 2\.44 MiB.*: Linux version 7\.2\.13$/);
});

test('- reads standard input: a pipe is spooled to a private temporary file, removed afterwards', () => {
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  const env = { TMPDIR: tmp };
  const viaFile = text(kimg(['info', ZBOOT]).stdout);
  const viaPipe = kimg(['info', '-'], { input: readFileSync(join(REPO, ZBOOT)), env });
  assert.equal(viaPipe.status, 0, text(viaPipe.stderr));
  assert.equal(text(viaPipe.stdout), viaFile.replace(/^samples\/arm64-gzip\.efi:/, '-:'));
  assert.deepEqual(readdirSync(tmp), [], 'no spool file left');
  // A redirected file is read in place (no copy).
  const redirected = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" info --json - < "${ZBOOT}"`], { cwd: REPO, env: { ...process.env, ...env } });
  assert.equal((JSON.parse(text(redirected.stdout)) as { file: string; ok: boolean }).ok, true);
  // extract from a pipe, and errors name `-`.
  const out = join(work, 'Image');
  const ex = kimg(['extract', '-', '-o', out], { input: readFileSync(join(REPO, ZBOOT)), env });
  assert.equal(ex.status, 0, text(ex.stderr));
  assert.equal(sha256File(out), '961a1b746e559b55f9f9e47a636b4225b4b077acea637d26e05b6c5f8056f4b0');
  const junk = kimg(['info', '-'], { input: Buffer.from('junk'.repeat(100)), env });
  assert.equal(junk.status, 3);
  assert.match(text(junk.stderr), /^kimg: error: -, layer 0: no schema and no codec recognises this file/m);
  assert.deepEqual(readdirSync(tmp), []);
  const twice = kimg(['info', '-', '-'], { input: Buffer.alloc(0) });
  assert.equal(twice.status, 2);
  assert.match(text(twice.stderr), /standard input \(-\) can be read only once/);
});

test('the stdin spool is removed when kimg is interrupted while copying, and kimg ends by the signal', async () => {
  const tmp = join(work, 'tmp-signal');
  mkdirSync(tmp);
  const child = spawn(process.execPath, [CLI, 'info', '-'], { cwd: REPO, env: { ...process.env, TMPDIR: tmp }, stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin.write(readFileSync(join(REPO, ZBOOT)).subarray(0, 100_000)); // and the pipe stays open
  const deadline = Date.now() + 10_000;
  while (readdirSync(tmp).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readdirSync(tmp).length, 1, 'the spool directory exists while copying');
  const ended = new Promise<string | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  child.kill('SIGTERM');
  assert.equal(await ended, 'SIGTERM');
  assert.deepEqual(readdirSync(tmp), [], 'no spool left');
});

test('did you mean: a near-miss command or option is named, exit 2', () => {
  const cmd = kimg(['inf', ZBOOT]);
  assert.equal(cmd.status, 2);
  assert.match(text(cmd.stderr), /^kimg: error: unknown command 'inf' \(did you mean info\?\)/);
  const opt = kimg(['info', '--jsn', ZBOOT]);
  assert.equal(opt.status, 2);
  assert.match(text(opt.stderr), /^kimg: error: info: unknown option '--jsn' \(did you mean --json\?\)/);
  const other = kimg(['extract', ZBOOT, '--max-szie', '1M']);
  assert.match(text(other.stderr), /did you mean --max-size\?/);
  const unrelated = kimg(['info', '--frobnicate', ZBOOT]);
  assert.equal(unrelated.status, 2);
  assert.doesNotMatch(text(unrelated.stderr), /did you mean/);
  assert.equal(kimg(['dump', '-s', 'pe', ZBOOT]).status, 2, '-s is gone (it differed from -S only by case)');
});

test('help per command: kimg CMD --help and kimg help CMD show that command, its own options', () => {
  for (const c of COMMANDS) {
    const r = kimg([c.name, '--help']);
    assert.equal(r.status, 0, c.name);
    const out = text(r.stdout);
    assert.match(out, new RegExp(`^kimg ${c.name}\\b`), c.name);
    for (const name of Object.keys(c.options)) assert.match(out, new RegExp(`--${name}\\b`), `${c.name} --help lists --${name}`);
    assert.equal(text(kimg(['help', c.name]).stdout), out);
  }
  assert.doesNotMatch(text(kimg(['info', '--help']).stdout), /--max-size/, 'info does not list extract\'s options');
  const version = kimg(['--version']);
  assert.equal(text(version.stdout).trim(), (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
});

test('aliases: one letter each, none differing from another only by case', () => {
  for (const c of COMMANDS) {
    const letters = Object.values({ ...COMMON, ...c.options }).flatMap((o) => (o.alias ? [o.alias] : [])).concat(['h']);
    const folded = letters.map((l) => l.toLowerCase());
    assert.equal(new Set(folded).size, folded.length, `${c.name}: ${letters.join(' ')}`);
  }
});

test('one number syntax for every numeric option: decimal, 0x hex, K/M/G suffixes; --offsets needs --json', () => {
  const out = join(work, 'k1');
  assert.equal(kimg(['extract', ZBOOT, '--max-size', '0x2000000', '-o', out]).status, 0, '--max-size 0x2000000');
  assert.equal(kimg(['extract', ZBOOT, '--layer', '0x0', '-o', join(work, 'k2')]).status, 0, '--layer 0x0');
  const at = JSON.parse(text(kimg(['parse', 'dos-mz', ZBOOT, '--offset', '0K', '--json']).stdout)) as { offset: number };
  assert.equal(at.offset, 0);
  const bad = kimg(['parse', 'dos-mz', ZBOOT, '--offset', '12Q']);
  assert.equal(bad.status, 2);
  assert.match(text(bad.stderr), /--offset 12Q: expected a non-negative integer \(decimal or 0x hex/);
  const offsets = kimg(['dump', '--offsets', ZBOOT]);
  assert.equal(offsets.status, 2);
  assert.match(text(offsets.stderr), /--offsets needs --json \(the text view always shows each field's offset\)/);
  assert.equal(kimg(['dump', '--offsets', '--json', ZBOOT]).status, 0);
});

const SGR = /\x1b\[[0-9;]*m/g;

test('colour: none when piped, on with FORCE_COLOR or --color always, off with NO_COLOR; file text stays escaped', () => {
  const plain = text(kimg(['info', LZO]).stdout);
  assert.doesNotMatch(plain, /\x1b/);
  const forced = text(kimg(['info', LZO], { env: { FORCE_COLOR: '1' } }).stdout);
  assert.match(forced, /^\x1b\[32mok\x1b\[0m {6}layer 0 payload_in_file$/m);
  assert.match(forced, /^\x1b\[33mwarning\x1b\[0m layer 0 linux-zboot:linux_pe_magic/m);
  assert.match(forced, /^\x1b\[1;36m->\x1b\[0m arm64 kernel Image/m);
  assert.equal(forced.replace(SGR, ''), plain, 'colour adds nothing but colour');
  assert.doesNotMatch(text(kimg(['info', LZO], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } }).stdout), /\x1b/, 'NO_COLOR wins over FORCE_COLOR');
  assert.doesNotMatch(text(kimg(['info', LZO, '--color', 'never'], { env: { FORCE_COLOR: '1' } }).stdout), /\x1b/);
  assert.match(text(kimg(['info', LZO, '--color', 'always'], { env: { NO_COLOR: '1' } }).stdout), /\x1b\[32mok/);
  const err = text(kimg(['info', notKernel], { env: { FORCE_COLOR: '1' } }).stderr);
  assert.match(err, /^kimg: \x1b\[1;31merror\x1b\[0m: /m);
  // A file name with an escape sequence of its own: shown escaped, and no ESC but kimg's own colours.
  const hostile = join(work, 'evil\x1b]0;owned\x07\x1b[2J.efi');
  writeFileSync(hostile, readFileSync(join(REPO, LZO)));
  const h = text(kimg(['info', hostile], { env: { FORCE_COLOR: '1' } }).stdout);
  assert.match(h, /evil\\x1b\]0;owned\\x07\\x1b\[2J\.efi: 819200 bytes/);
  assert.doesNotMatch(h.replace(SGR, ''), /[\x1b\x07]/);
});

test('completion: bash and zsh scripts; the bash one completes commands, options and (after a command) file names', { skip: !hasCommand('bash') && 'bash is not installed' }, () => {
  const bash = kimg(['completion', 'bash']);
  assert.equal(bash.status, 0);
  assert.match(text(bash.stdout), /^complete -o bashdefault -o default -F _kimg_yargs_completions kimg$/m);
  const zsh = kimg(['completion', 'zsh']);
  assert.match(text(zsh.stdout), /^#compdef kimg$/m);
  assert.match(text(zsh.stdout), /compdef _kimg_yargs_completions kimg/);
  // The script calls `kimg` on PATH: put this checkout's there and let bash complete.
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'kimg'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'kimg'), 0o755);
  const script = join(work, 'kimg-completion.bash');
  writeFileSync(script, bash.stdout);
  const complete = (...words: string[]): string[] => {
    const r = spawnSync('bash', ['-c', `source "${script}"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kimg_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`], { env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` }, cwd: REPO });
    return text(r.stdout).split('\n').filter(Boolean);
  };
  assert.deepEqual(complete('kimg', 'ex'), ['extract']);
  assert.deepEqual(complete('kimg', 'extract', '--max'), ['--max-size']);
  assert.deepEqual(complete('kimg', 'info', '--c'), ['--color']);
  assert.deepEqual(complete('kimg', 'completion', 'z'), ['zsh']);
  assert.deepEqual(complete('kimg', 'info', 'sam'), [], 'a file name: left to the shell (complete -o default)');
});
