/**
 * A one-line progress bar on stderr, only when stderr is a terminal and the work takes a while:
 * nothing at all when piped or redirected, so scripts and logs stay clean.
 */
import { humanSize } from '../expr/format.js';

const SHOW_AFTER_MS = 400;
const REFRESH_MS = 100;

export class Progress {
  private readonly started = Date.now();
  private last = 0;
  private shown = false;

  private constructor(private readonly stream: NodeJS.WriteStream) {}

  static forStderr(): Progress | null {
    return process.stderr.isTTY ? new Progress(process.stderr) : null;
  }

  update(done: number, total: number): void {
    const now = Date.now();
    if (now - this.started < SHOW_AFTER_MS || now - this.last < REFRESH_MS) return;
    this.last = now;
    this.shown = true;
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    this.stream.write(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${humanSize(done)} / ${humanSize(total)} read`);
  }

  done(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
  }
}
