import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MbnError, quote } from '../errors.js';
import { type ByteSource, FileSource } from './source.js';
import { type Piece, piecesLength } from './splice.js';

/**
 * Safe output: bytes go to a temporary file beside the target and are renamed into place only once complete and
 * synced, so a failure at any point (a full disk included) leaves no partial output. The input is never the target.
 */

const COPY_CHUNK = 8 * 1024 * 1024;

export interface WriteTarget {
  path: string;
  force: boolean;
  /** Files the output must never replace (the input model and its data files). */
  protect: string[];
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

export function checkTarget(target: WriteTarget): void {
  for (const p of target.protect) {
    if (sameFile(p, target.path)) {
      throw new MbnError('output-exists', `refusing to write ${quote(target.path)}: it is the input (${quote(p)}); choose another output with -o`);
    }
  }
  let exists = false;
  try {
    const st = statSync(target.path);
    if (st.isDirectory()) throw new MbnError('output-exists', `cannot write ${quote(target.path)}: it is a directory`);
    exists = true;
  } catch (error) {
    if (error instanceof MbnError) throw error;
  }
  if (exists && !target.force) {
    throw new MbnError('output-exists', `${quote(target.path)} already exists; use --force to overwrite it`);
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOENT': return 'the folder does not exist';
    case 'EROFS': return 'read-only file system';
    case 'EFBIG': return 'file too large';
    case 'EIO': return 'input/output error';
    default: return (error as Error)?.message ?? String(error);
  }
}

export interface Progress {
  (written: number, total: number): void;
}

/** A complete, synced temporary file waiting to be renamed into place. */
export interface StagedFile {
  commit(): void;
  abort(): void;
}

/**
 * Writes pieces (ranges of `source` and new bytes) to a temporary file beside target.path. Nothing is visible at
 * the target until commit(); abort() (or any failure here) removes the temporary file.
 */
export function stagePieces(target: WriteTarget, pieces: Piece[], source: ByteSource, progress?: Progress): StagedFile {
  checkTarget(target);
  const total = piecesLength(pieces);
  const tmp = join(dirname(target.path), `.${basename(target.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const remove = () => {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file may never have been created.
    }
  };
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let written = 0;
    const put = (bytes: Uint8Array): void => {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd!, bytes, done, bytes.length - done);
      written += bytes.length;
      progress?.(written, total);
    };
    // Ranges of a file-backed source go through one reused buffer; a buffer-backed one is viewed without copies.
    const scratch = source instanceof FileSource ? Buffer.allocUnsafe(COPY_CHUNK) : null;
    for (const p of pieces) {
      if (p instanceof Uint8Array) put(p);
      else {
        for (let at = p.start; at < p.end; at += COPY_CHUNK) {
          const end = Math.min(p.end, at + COPY_CHUNK);
          put(scratch ? (source as FileSource).readInto(scratch.subarray(0, end - at), at) : source.view(at, end));
        }
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
  } catch (error) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Already failing: the original error is the one to report.
      }
    }
    remove();
    if (error instanceof MbnError) throw error;
    throw new MbnError('write-failed', `cannot write ${quote(target.path)}: ${reason(error)}; nothing was written`);
  }
  return {
    commit() {
      try {
        renameSync(tmp, target.path);
      } catch (error) {
        remove();
        throw new MbnError('write-failed', `cannot write ${quote(target.path)}: ${reason(error)}; nothing was written`);
      }
    },
    abort: remove,
  };
}

/** Writes pieces to target.path atomically. */
export function writePieces(target: WriteTarget, pieces: Piece[], source: ByteSource, progress?: Progress): void {
  stagePieces(target, pieces, source, progress).commit();
}
