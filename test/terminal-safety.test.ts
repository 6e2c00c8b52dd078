/**
 * Output that cannot drive the terminal: a crafted zboot whose compress_type, banner and PE section
 * name hold ESC, CSI (0x9b), BEL, CR, a newline and invalid UTF-8, under a file name holding a
 * newline and ESC, and a user schema whose title holds escapes. Every line kimg prints (text and
 * errors) must be valid UTF-8 without control characters; JSON must parse and hold no raw DEL/C1.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { kimg, SAMPLES } from './helpers.js';
import { buildZboot } from './pe-builder.js';
import { escapeForTerminal } from '../src/cli/terminal.js';
import { stringifyJson } from '../src/render/json.js';
import { utf8Visible } from '../src/core/bytes.js';

const work = mkdtempSync(join(tmpdir(), 'kimg-terminal-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** ESC CSI-colour, 8-bit CSI, BEL, CR, LF, invalid UTF-8 (0xff, a lone continuation 0x80), DEL. */
const HOSTILE = Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x9b, 0x32, 0x4a, 0x07, 0x0d, 0x0a, 0xff, 0x80, 0x7f]);
const SECTION_TABLE = 0x40 + 24 + 112 + 16 * 8;

/** The arm64 gzip sample rebuilt with a hostile banner ("é" stays valid UTF-8) and section name. */
function hostileZboot(compressType: Uint8Array | null): Buffer {
  const efi = readFileSync(join(SAMPLES, 'arm64-gzip.efi'));
  const image = gunzipSync(efi.subarray(efi.readUInt32LE(8), efi.readUInt32LE(8) + efi.readUInt32LE(12)));
  const at = image.indexOf('Linux version ') + 'Linux version '.length;
  // The banner ends at its newline: the hostile bytes before it (without the LF, which ends the scan).
  const noLf = Buffer.concat([Buffer.from('é '), HOSTILE.filter((b) => b !== 0x0a)]);
  noLf.copy(image, at);
  const bytes = Buffer.from(buildZboot(0xaa64, gzipSync(image), 'gzip', image.length));
  HOSTILE.subarray(0, 8).copy(bytes, SECTION_TABLE);
  if (compressType) {
    bytes.fill(0, 0x18, 0x38);
    Buffer.from(compressType).copy(bytes, 0x18);
  }
  return bytes;
}

const fatal = new TextDecoder('utf-8', { fatal: true });

/** Each line: valid UTF-8, no C0 (the line's own \n aside), no DEL, no C1. */
function assertSafeText(out: Buffer, what: string): void {
  let text: string;
  try {
    text = fatal.decode(out);
  } catch {
    assert.fail(`${what}: output is not valid UTF-8`);
  }
  text.split('\n').forEach((line, n) => {
    const bad = /[\u0000-\u001f\u007f-\u009f]/.exec(line);
    assert.equal(bad, null, `${what}, line ${n + 1}: U+${bad?.[0]?.charCodeAt(0).toString(16).padStart(4, '0')} in ${JSON.stringify(line)}`);
  });
}

function assertSafeJson(out: Buffer, what: string): unknown {
  assertSafeText(out, what);
  assert.doesNotMatch(out.toString('latin1'), /[\x7f]/, `${what}: raw DEL`);
  const docs = out.toString('utf8').trim();
  return JSON.parse(docs.includes('\n{') && what.includes('stderr') ? docs.split('\n').pop()! : docs);
}

test('escapeForTerminal shows controls, DEL, C1, bidi overrides and lone surrogates; keeps the rest', () => {
  assert.equal(escapeForTerminal('a\x1b[31mb\x07c\r\nd\x7f\x9b\u202eé€😀\\x41'), 'a\\x1b[31mb\\x07c\\x0d\\x0ad\\x7f\\x9b\\u{202e}é€😀\\x41');
  assert.equal(escapeForTerminal('\ud800x\udc00'), '\\u{d800}x\\u{dc00}');
});

test('utf8Visible decodes UTF-8 and shows each bad byte as \\xNN', () => {
  const b = (...x: number[]): Uint8Array => new Uint8Array(x);
  assert.equal(utf8Visible(b(0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80)), 'Aé€😀');
  assert.equal(utf8Visible(b(0xff, 0x80, 0x41)), '\\xff\\x80A');
  assert.equal(utf8Visible(b(0xc0, 0xaf)), '\\xc0\\xaf', 'overlong');
  assert.equal(utf8Visible(b(0xed, 0xa0, 0x80)), '\\xed\\xa0\\x80', 'surrogate');
  assert.equal(utf8Visible(b(0xe2, 0x82)), '\\xe2\\x82', 'truncated at the end');
  assert.equal(utf8Visible(b(0xf4, 0x90, 0x80, 0x80)), '\\xf4\\x90\\x80\\x80', 'beyond U+10FFFF');
});

test('stringifyJson escapes DEL and C1 and stays JSON', () => {
  const s = '\x7f\x80\x9b\x1b\u2028é';
  const text = stringifyJson({ [s]: s }, 0);
  assert.doesNotMatch(text, /[\x00-\x1f\x7f-\x9f]/);
  assert.match(text, /\\u007f\\u0080\\u009b\\u001b/);
  assert.deepEqual(JSON.parse(text), { [s]: s });
});

test('info, info -v, dump and their JSON on a hostile banner and section name, under a hostile file name', () => {
  const dir = join(work, 'banner');
  mkdirSync(dir);
  const file = join(dir, 'evil\nkimg: ok \x1b[32mall good\x1b[0m.efi');
  writeFileSync(file, hostileZboot(null));
  const info = kimg(['info', file]);
  assert.equal(info.status, 0, info.stderr.toString());
  assertSafeText(info.stdout, 'info');
  const banner = info.stdout.toString().split('\n').find((l) => l.startsWith('banner: '))!;
  assert.ok(banner.startsWith('banner: Linux version é \\x1b[31m\\x9b2J\\x07\\x0d\\xff\\x80\\x7f'), `banner decoded as UTF-8, escaped: ${banner}`);
  assert.match(info.stdout.toString(), /^.*evil\\x0akimg: ok \\x1b\[32mall good\\x1b\[0m\.efi: /);
  const verbose = kimg(['info', '-v', file]);
  assertSafeText(verbose.stdout, 'info -v');
  assert.match(verbose.stdout.toString(), /region section \\x1b\[31m\\x9b2J: /, 'the section name, escaped');
  for (const args of [['dump'], ['dump', '--all'], ['parse', 'pe']]) {
    const r = kimg([...args, file]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr.toString()}`);
    assertSafeText(r.stdout, args.join(' '));
    assertSafeText(r.stderr, `${args.join(' ')} stderr`);
  }
  for (const args of [['info', '--json'], ['dump', '--json', '--all']]) {
    const r = kimg([...args, file]);
    const doc = assertSafeJson(r.stdout, args.join(' ')) as { file: string; banner?: string };
    assert.equal(doc.file, file, 'JSON keeps the exact file name');
    if (args[0] === 'info') assert.ok(doc.banner!.startsWith('Linux version é \x1b[31m\\x9b2J\x07\r\\xff\\x80\x7f'), doc.banner);
  }
});

test('a hostile compress_type: summaries, checks and errors stay one escaped line each', () => {
  const dir = join(work, 'ctype');
  mkdirSync(dir);
  const file = join(dir, 'ctype\n\x1b]0;title\x07.efi');
  writeFileSync(file, hostileZboot(HOSTILE.subarray(0, 14)));
  for (const args of [['info'], ['info', '-v'], ['dump'], ['extract', '-o', join(dir, 'out')], ['extract', '--section', 'nope', '-o', join(dir, 'out2')]]) {
    const r = kimg([...args, file]);
    assertSafeText(r.stdout, `${args.join(' ')} stdout`);
    assertSafeText(r.stderr, `${args.join(' ')} stderr`);
    assert.ok(r.stderr.toString().split('\n').filter((l) => l.startsWith('kimg:')).length <= 1, `${args.join(' ')}: no forged second kimg: line: ${r.stderr}`);
  }
  const info = kimg(['info', file]).stdout.toString();
  // (The summary folds whitespace, CR LF included, into one space; the strz is latin1 text, so 0xff is ÿ.)
  assert.match(info, /EFI zboot, \\x1b\[31m\\x9b2J\\x07 ÿ\\x80\\x7f, payload/, 'compress_type shown escaped');
  const section = kimg(['extract', '--section', 'nope', '-o', join(dir, 'out3'), join(dir, '..', 'banner', readdirName(join(work, 'banner')))]);
  assertSafeText(section.stderr, 'extract --section list');
  assert.match(section.stderr.toString(), /\\x1b\[31m\\x9b2J/, 'the section list names the hostile section, escaped');
  for (const args of [['info', '--json'], ['extract', '--json', '-o', join(dir, 'out4')]]) {
    const r = kimg([...args, file]);
    assertSafeJson(r.stdout.length ? r.stdout : r.stderr, `${args.join(' ')}${r.stdout.length ? '' : ' stderr'}`);
  }
});

function readdirName(dir: string): string {
  return readdirSync(dir)[0]!;
}

test('a user schema whose title and summary hold escapes: schemas and parse print them escaped', () => {
  const dir = join(work, 'schemas');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'evil.yaml'),
    'kimg: 1\nid: evil\ntitle: "Evil \\e]0;pwned\\a\\x9b2J\\r\\nkimg: ok"\nendian: le\nroot: top\n' +
      'types:\n  top:\n    fields:\n      - { id: magic, type: bytes, size: 2 }\n      - { id: name, type: strz, size: 16, at: 0x130 }\n',
  );
  const list = kimg(['-S', dir, 'schemas']);
  assert.equal(list.status, 0, list.stderr.toString());
  assertSafeText(list.stdout, 'schemas');
  assert.match(list.stdout.toString(), /Evil \\x1b\]0;pwned\\x07\\x9b2J\\x0d\\x0akimg: ok/);
  const file = join(work, 'plain.efi');
  copyFileSync(join(work, 'banner', readdirName(join(work, 'banner'))), file);
  const parse = kimg(['-S', dir, 'parse', 'evil', file]);
  assert.equal(parse.status, 0, parse.stderr.toString());
  assertSafeText(parse.stdout, 'parse');
  const json = kimg(['-S', dir, '--json', 'schemas']);
  const doc = assertSafeJson(json.stdout, 'schemas --json') as { id: string; title: string }[];
  assert.equal(doc.find((s) => s.id === 'evil')!.title, 'Evil \x1b]0;pwned\x07\x9b2J\r\nkimg: ok');
});

test('an ascii string with bytes >= 0x80 shows them as \\xNN in text, not as latin1 letters', () => {
  const schema = join(work, 'ascii.yaml');
  writeFileSync(schema, 'kimg: 1\nid: asciitest\ntitle: ascii string\nendian: le\nroot: main\ntypes:\n  main:\n    fields:\n      - { id: t, type: strz }\n      - { id: l, type: strz, encoding: latin1 }\n');
  const input = join(work, 'ascii.bin');
  writeFileSync(input, Buffer.from([0x4d, 0xff, 0xfe, 0x5a, 0, 0xe9, 0]));
  const text = kimg(['parse', schema, input]);
  assert.equal(text.status, 0, text.stderr.toString());
  assert.match(text.stdout.toString(), /t = "M\\xff\\xfeZ"/);
  assert.match(text.stdout.toString(), /l = "é"/, 'latin1 is text: é stays é');
  const json = JSON.parse(kimg(['parse', schema, input, '--json']).stdout.toString()) as { value: { t: string } };
  assert.equal(json.value.t, 'M\u00ff\u00feZ');
});
