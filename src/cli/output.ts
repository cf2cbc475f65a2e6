import { fstatSync, statSync, writeSync } from 'node:fs';
import { devNull } from 'node:os';

/** Synchronous, complete writes: output is never cut short by an early exit, and a closed pipe is not an error. */
export function write(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN') throw error;
      // A non-blocking pipe is full: wait a moment for the reader.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * Whether fd 1 or 2 is a terminal, as `{ isTTY }` for makeStyle. Only a character device other than /dev/null can
 * be one: a pipe, a file or /dev/null is answered from fstat, without building process.stdout or process.stderr (a
 * net.Socket on a pipe, a stream on /dev/null), which loads much of Node's stream code: a noticeable part of a
 * short run such as `mbn check > /dev/null`.
 */
export function terminal(fd: 1 | 2): { isTTY: boolean } {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    return { isTTY: false };
  }
  if (!stat.isCharacterDevice() || stat.rdev === nullDevice()) return { isTTY: false };
  return { isTTY: (fd === 1 ? process.stdout : process.stderr).isTTY === true };
}

/** The device number of /dev/null (os.devNull), or undefined where it cannot be read. */
function nullDevice(): number | undefined {
  try {
    return statSync(devNull).rdev;
  } catch {
    return undefined;
  }
}
