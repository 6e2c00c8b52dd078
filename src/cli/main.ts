#!/usr/bin/env node
/**
 * kimg's command line: parse the arguments, load the command's code, run it, map failures to exit codes.
 * Kept small so that help, version and usage errors cost no more than Node's own start-up.
 */
import { readFileSync } from 'node:fs';
import { parseCommandLine } from './args.js';
import { EXIT } from './exit.js';
import { reportError } from './report-error.js';
import { setPainter, writeLines } from './terminal.js';
import { colorEnabled, paintReport, type ColorWhen } from './color.js';

async function main(argv: string[]): Promise<number> {
  // The bundle (dist/src/cli/kimg.mjs) and the unbundled entry sit in the same directory.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const invocation = parseCommandLine(argv);
  if (invocation.kind === 'yargs') {
    const { yargsAnswer } = await import('./yargs-cli.js');
    const text = yargsAnswer(invocation.args, pkg.version, invocation.command, invocation.completing);
    if (text === '') return EXIT.ok; // no completions: the shell completes file names
    writeLines(process.stdout, text.replace(/\n$/, ''));
    return EXIT.ok;
  }
  const when = invocation.parsed.values['color'] as ColorWhen;
  if (colorEnabled(process.stdout, when)) setPainter(process.stdout, paintReport);
  if (colorEnabled(process.stderr, when)) setPainter(process.stderr, paintReport);
  const { run } = await import('./commands.js');
  return run(invocation.parsed);
}

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const verbose = argv.includes('--verbose') || argv.includes('-v');

// If the event loop ever empties before main settles (a promise that can never resolve), say so and fail:
// a run that did not finish must not look like success.
let settled = false;
process.exitCode = EXIT.internal;
process.on('exit', () => {
  if (!settled) process.stderr.write('kimg: internal error (a bug, please report it): the operation stopped before finishing\n');
});

// A reader that goes away (`kimg dump f | head`) ends the output: a normal end, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') return;
  settled = true;
  process.exit(EXIT.ok);
});

main(argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e) => {
    settled = true;
    process.exitCode = reportError(e, json, verbose);
  },
);
