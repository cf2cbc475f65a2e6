import { oneLine } from '../errors.js';

/**
 * Progress on stderr for operations that take more than about a second, only on a terminal: nothing in pipes,
 * CI logs or machine-readable output.
 */
export interface ProgressReporter {
  (done: number, total: number): void;
  done(): void;
}

export function progressReporter(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  // The label may hold a file name: no control character of it reaches the terminal.
  const shownLabel = oneLine(label, 80);
  const start = Date.now();
  let shown = false;
  let lastDraw = 0;
  const report = ((done: number, total: number) => {
    if (!stream.isTTY) return;
    const now = Date.now();
    if (now - start < 1000 || now - lastDraw < 100) return;
    lastDraw = now;
    shown = true;
    const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
    stream.write(`\r${shownLabel}: ${pct}%`);
  }) as ProgressReporter;
  report.done = () => {
    if (shown) stream.write('\r\x1b[K');
  };
  return report;
}
