import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { fsErrorReason } from '../util/fs-error.js';
import { MbnError, quote } from '../errors.js';
import type { ByteSource } from '../ir/types.js';

export class BufferSource implements ByteSource {
  readonly size: number;
  /** Always a Buffer (a view, never a copy), so readers can slice strings out of it directly. */
  readonly bytes: Buffer;
  constructor(bytes: Uint8Array) {
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = bytes.length;
  }
  view(start: number, end: number): Uint8Array {
    return this.bytes.subarray(start, end);
  }
  close(): void {}
}

/** Files at most this large are read whole: one read beats many small ones, and memory stays small. */
export const WHOLE_FILE_LIMIT = 16 * 1024 * 1024;

export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | null;
  constructor(
    readonly path: string,
    fd: number,
    size: number,
  ) {
    this.fd = fd;
    this.size = size;
  }
  view(start: number, end: number): Uint8Array {
    return this.readInto(Buffer.allocUnsafe(end - start), start);
  }
  /** Fills `target` with the bytes from `start` on: lets a writer copy a large range through one reused buffer. */
  readInto(target: Uint8Array, start: number): Uint8Array {
    if (this.fd === null) throw new Error('FileSource used after close');
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, start + done);
      if (n === 0) throw new MbnError('io', `cannot read ${quote(this.path)}: the file shrank while it was being read`);
      done += n;
    }
    return target;
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function describeFsError(path: string, error: unknown): MbnError {
  const reason = fsErrorReason(error, 'read');
  return new MbnError('io', `cannot read ${quote(path)}: ${reason}`);
}

/** Opens a model file for reading; small files are read whole, large ones lazily. */
export function openSource(path: string): ByteSource {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever; fstat below refuses it.
    // Regular files ignore the flag.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw describeFsError(path, error);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new MbnError('io', `cannot read ${quote(path)}: it is a directory`);
    if (!stat.isFile()) throw new MbnError('io', `cannot read ${quote(path)}: not a regular file`);
    if (stat.size <= WHOLE_FILE_LIMIT) {
      const bytes = Buffer.allocUnsafe(stat.size);
      let done = 0;
      while (done < stat.size) {
        const n = readSync(fd, bytes, done, stat.size - done, done);
        if (n === 0) break;
        done += n;
      }
      closeSync(fd);
      return new BufferSource(bytes.subarray(0, done));
    }
    return new FileSource(path, fd, stat.size);
  } catch (error) {
    closeSync(fd);
    if (error instanceof MbnError) throw error;
    throw describeFsError(path, error);
  }
}

/** Opens a model file and reads it with `read`; the source is closed if reading fails (else the model holds it). */
export function readWithSource<T>(path: string, read: (source: ByteSource) => T): T {
  const source = openSource(path);
  try {
    return read(source);
  } catch (error) {
    source.close();
    throw error;
  }
}
