/**
 * How failures reach the user: one line on stderr (or a JSON object with --json), a documented exit code,
 * and a stack trace only for what is not a KimgError (a bug).
 */
import { KimgError } from '../core/errors.js';
import { stringifyJson } from '../render/json.js';
import { BrokenPipe } from '../pipeline/output.js';
import { EXIT } from './exit.js';
import { writeLine, writeLines } from './terminal.js';

export function printJsonTo(stream: NodeJS.WriteStream, v: Parameters<typeof stringifyJson>[0]): void {
  stream.write(stringifyJson(v, 0) + '\n');
}

export function exitCodeFor(e: KimgError): number {
  switch (e.kind) {
    case 'usage': return EXIT.usage;
    case 'io': return EXIT.io;
    case 'schema': return EXIT.schema;
    default: return EXIT.invalidInput;
  }
}

export function reportError(e: unknown, json: boolean, verbose: boolean): number {
  if (e instanceof BrokenPipe) return EXIT.ok;
  if (e instanceof KimgError) {
    if (json) printJsonTo(process.stderr, e.toJSON() as Parameters<typeof stringifyJson>[0]);
    else {
      writeLine(process.stderr, `kimg: error: ${e.describe()}`);
      if (verbose && e.cause) writeLine(process.stderr, `  cause: ${(e.cause as Error).message ?? String(e.cause)}`);
      if (e.kind === 'usage' && !verbose && !e.message.includes('kimg help')) writeLine(process.stderr, `  (kimg --help for usage)`);
    }
    return exitCodeFor(e);
  }
  const err = e as Error;
  if (json) printJsonTo(process.stderr, { error: 'internal', kind: 'internal', message: err?.message ?? String(e) });
  else writeLines(process.stderr, `kimg: internal error (a bug, please report it): ${err?.stack ?? String(e)}`);
  return EXIT.internal;
}

