// Progress of long scans, on stderr so that stdout (a table or --json) stays clean for pipes.
import { printableText } from './format.js';

/** Where a long-running command says how far it got. */
export interface Progress {
  /**
   * Offers a progress line. It is written when `milestone` is true (e.g. every 1000 keys), or when
   * nothing was written for a second, so that a scan that matches rarely still shows it is alive.
   */
  report(line: string, milestone: boolean): void;
  /** Ends the progress display (clears the line on a terminal). Safe to call more than once. */
  done(): void;
}

/** A progress reporter that writes nothing (`--quiet`). */
export const silentProgress: Progress = { report() {}, done() {} };

/**
 * Progress on `stream`: rewritten in place on a terminal, one line per report otherwise (logs).
 * @param intervalMs the longest silence between two lines while scanning.
 */
export function streamProgress(stream: NodeJS.WriteStream, intervalMs = 1_000): Progress {
  const tty = stream.isTTY === true;
  let last = Date.now();
  let shown = false;
  return {
    report(line, milestone) {
      const now = Date.now();
      if (!milestone && now - last < intervalMs) return;
      last = now;
      shown = true;
      const safe = printableText(line);
      stream.write(tty ? `\r\u001b[2K${safe}` : `${safe}\n`);
    },
    done() {
      if (tty && shown) stream.write('\r\u001b[2K');
      shown = false;
    },
  };
}
