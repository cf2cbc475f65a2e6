import {
  type Stats, closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Interrupted, MbnError, quote } from '../errors.js';
import { clipEnd } from '../text.js';
import { type DataPart, DataFileSource } from './external.js';
import type { ByteSource } from '../ir/types.js';
import { FileSource } from './source.js';
import { fsErrorReason } from '../util/fs-error.js';
import { type Piece, piecesLength } from './splice.js';

/**
 * Safe output: bytes go to a temporary file beside the target and are renamed into place only once complete and
 * synced, so a failure at any point (a full disk, a signal) leaves no partial output. The target is checked before
 * any work: never the input or a file the input uses (by device and inode, so through symlinks and hard links too),
 * never a folder or a device, an existing file (a symlink included, dangling or not) only with --force. A symlink
 * target is replaced by the new file, never written through: the file it pointed to is left alone.
 */

const COPY_CHUNK = 8 * 1024 * 1024;

/** Signals a write catches to remove its temporary files (SIGKILL cannot be caught: see removeStaleTemps). */
const CAUGHT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface WriteTarget {
  path: string;
  force: boolean;
  /** Files the output must never replace: the input model first, then the data files it refers to. */
  protect: string[];
}

function identity(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** `.<name>.<pid>.<8 hex>.tmp` beside the target: hidden, unique, and naming the process that writes it. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomHex(4)}.tmp`);
}

/**
 * `bytes` random bytes as hex. The global Web Crypto object is loaded on first use, so a command that writes
 * nothing never pays for loading node:crypto (a good part of start-up).
 */
function randomHex(bytes: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
}

function reason(error: unknown): string {
  return fsErrorReason(error, 'write');
}

/**
 * Refuses, with one clear line, every output that cannot or must not be written. Cheap and side-effect free (a probe
 * file is created and removed at once), so callers run it before any work.
 */
export function checkTarget(target: WriteTarget): void {
  const path = target.path;
  if (path === '') throw new MbnError('usage', 'the output path is empty');
  if (/[/\\]$/.test(path)) throw new MbnError('usage', `cannot write ${quote(path)}: it ends with a slash, so it names a folder; give a file name`);
  const id = identity(path);
  if (id) {
    target.protect.forEach((p, i) => {
      const pid = identity(p);
      if (pid && pid.dev === id.dev && pid.ino === id.ino) {
        const what = i === 0 ? 'the input' : "one of the input's external data files";
        throw new MbnError('output-exists', `refusing to write ${quote(path)}: it is ${what} (${quote(p)}); choose another output with -o`);
      }
    });
  }
  let link: Stats | null = null;
  try {
    link = lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new MbnError('usage', `cannot write ${quote(path)}: ${quote(dirname(path))} is not a folder`);
    if (code !== 'ENOENT') throw new MbnError('write-failed', `cannot write ${quote(path)}: ${reason(error)}`);
  }
  if (link) {
    const kind = link.isSymbolicLink() ? id : link;
    if (kind?.isDirectory()) throw new MbnError('output-exists', `cannot write ${quote(path)}: it is a directory`);
    if (kind && !kind.isFile()) throw new MbnError('output-exists', `cannot write ${quote(path)}: it exists and is not a regular file`);
    if (!target.force) {
      if (link.isSymbolicLink() && !id) {
        throw new MbnError('output-exists', `${quote(path)} is a symbolic link to a missing file; use --force to replace the link`);
      }
      throw new MbnError('output-exists', `${quote(path)} already exists; use --force to overwrite it`);
    }
  }
  const folder = dirname(path);
  const parent = identity(folder);
  if (!parent) throw new MbnError('usage', `cannot write ${quote(path)}: the folder ${quote(folder)} does not exist`);
  if (!parent.isDirectory()) throw new MbnError('usage', `cannot write ${quote(path)}: ${quote(folder)} is not a folder`);
  // Permissions, a read-only file system, a name too long: only creating a file says for sure.
  const probe = tempName(path);
  try {
    closeSync(openSync(probe, 'wx', 0o644));
    unlinkSync(probe);
  } catch (error) {
    // The folder exists (checked above): ENOENT here is a file system that takes no new files, such as /proc.
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'files cannot be created in that folder' : reason(error);
    throw new MbnError('write-failed', `cannot write ${quote(path)}: ${why}; nothing was written`);
  }
}

/**
 * Removes temporary files that earlier writes of the same target left behind when killed outright (SIGKILL, a
 * power cut): those whose process is gone. A file of a running process, or of one this user may not signal, stays.
 */
function removeStaleTemps(path: string): void {
  const name = basename(path);
  const folder = dirname(path);
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(`.${name}.`) || !entry.endsWith('.tmp')) continue;
    const m = /^\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry.slice(name.length + 1));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || !Number.isSafeInteger(pid) || pid <= 0 || isRunning(pid)) continue;
    try {
      const p = join(folder, entry);
      const stat = lstatSync(p);
      if (stat.isFile()) unlinkSync(p);
      else if (stat.isDirectory()) removeStagingFolder(p);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

/**
 * A staging folder of a verified write (see writeFiles) left by a killed process: its files, then itself. Only
 * regular files directly inside are removed; anything else keeps the folder (rmdir then fails).
 */
function removeStagingFolder(path: string): void {
  for (const entry of readdirSync(path)) {
    const p = join(path, entry);
    if (lstatSync(p).isFile()) unlinkSync(p);
  }
  rmdirSync(path);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
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

/** One file being staged; its steps write up to about COPY_CHUNK bytes each, so a caller can pause in between. */
class Stage implements StagedFile {
  readonly steps: Generator<void, void, void>;
  /** The temporary file: beside the target, or the target's own name in a staging folder (see writeFiles). */
  readonly tmp: string;
  private created = false;
  constructor(
    private readonly target: WriteTarget,
    pieces: Piece[],
    source: ByteSource,
    progress?: Progress,
    tmp?: string,
  ) {
    this.tmp = tmp ?? tempName(target.path);
    this.steps = this.write(pieces, source, progress);
  }

  private *write(pieces: Piece[], source: ByteSource, progress?: Progress): Generator<void, void, void> {
    const total = piecesLength(pieces);
    let fd: number | null = null;
    try {
      fd = openSync(this.tmp, 'wx', 0o644);
      this.created = true;
      let written = 0;
      let sincePause = 0;
      const put = (bytes: Uint8Array): void => {
        let done = 0;
        while (done < bytes.length) done += writeSync(fd!, bytes, done, bytes.length - done);
        written += bytes.length;
        sincePause += bytes.length;
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
            if (sincePause >= COPY_CHUNK) (sincePause = 0), yield;
          }
        }
        if (sincePause >= COPY_CHUNK) (sincePause = 0), yield;
      }
      fsyncSync(fd);
    } catch (error) {
      if (error instanceof MbnError) throw error;
      throw new MbnError('write-failed', `cannot write ${quote(this.target.path)}: ${reason(error)}; nothing was written`);
    } finally {
      if (fd !== null) {
        try {
          closeSync(fd);
        } catch {
          // Already failing, or the data is synced: the close has nothing left to lose.
        }
      }
    }
  }

  run(): void {
    while (!this.steps.next().done);
  }

  commit(): void {
    try {
      renameSync(this.tmp, this.target.path);
    } catch (error) {
      this.abort();
      throw new MbnError('write-failed', `cannot write ${quote(this.target.path)}: ${reason(error)}; nothing was written`);
    }
  }

  abort(): void {
    // Closes the file when the write stopped between steps.
    this.steps.return();
    if (!this.created) return;
    try {
      unlinkSync(this.tmp);
    } catch {
      // Renamed into place already, or never written.
    }
  }
}

/**
 * Writes pieces (ranges of `source` and new bytes) to a temporary file beside target.path. Nothing is visible at
 * the target until commit(); abort() (or any failure here) removes the temporary file.
 */
export function stagePieces(target: WriteTarget, pieces: Piece[], source: ByteSource, progress?: Progress): StagedFile {
  checkTarget(target);
  removeStaleTemps(target.path);
  const stage = new Stage(target, pieces, source, progress);
  try {
    stage.run();
  } catch (error) {
    stage.abort();
    throw error;
  }
  return stage;
}

/** Writes pieces to target.path atomically. */
export function writePieces(target: WriteTarget, pieces: Piece[], source: ByteSource, progress?: Progress): void {
  stagePieces(target, pieces, source, progress).commit();
}

export interface FileWrite {
  target: WriteTarget;
  pieces: Piece[];
  source: ByteSource;
  progress?: Progress;
}

/**
 * Checks staged files before they are renamed into place. It gets their paths, in the order of the files: each
 * under its target's own name, all in one private folder beside the targets, so that a model finds its data file
 * by its relative location as it will once in place. A throw removes them all: nothing is written.
 */
export type VerifyStaged = (paths: string[]) => Promise<void>;

/**
 * Writes several files as one: each is staged completely (and synced) before any is renamed into place. SIGINT,
 * SIGTERM and SIGHUP are caught while the temporary files exist: the write stops at its next step (at most a few
 * MB later), removes them, and throws Interrupted. Outside this window the signals keep their default action;
 * nothing is on disk then, or the output is complete.
 *
 * With `verify`, the files are staged in a private folder (`.<name>.<pid>.<hex>.tmp`, beside the first target)
 * under their final names and checked there before any is renamed into place; every target must then be in the
 * same folder. A failed check removes the staged files and the folder, and its error says nothing was written.
 */
export async function writeFiles(files: readonly FileWrite[], verify?: VerifyStaged): Promise<void> {
  let caught: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    caught ??= signal;
  };
  // A signal is handled on the event loop: each step ends with a turn of it.
  const pause = async (): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve));
    if (caught) throw new Interrupted(caught);
  };
  const folder = verify && files.length > 0 ? dirname(files[0].target.path) : null;
  if (folder !== null && files.some((f) => dirname(f.target.path) !== folder)) {
    throw new Error('writeFiles: verified files must share one folder');
  }
  for (const s of CAUGHT_SIGNALS) process.on(s, onSignal);
  const stages: Stage[] = [];
  let staging: string | null = null;
  try {
    for (const f of files) {
      checkTarget(f.target);
      removeStaleTemps(f.target.path);
    }
    if (folder !== null) {
      const dir = tempName(files[0].target.path);
      try {
        mkdirSync(dir, 0o700);
      } catch (error) {
        throw new MbnError('write-failed', `cannot write ${quote(files[0].target.path)}: ${reason(error)}; nothing was written`);
      }
      staging = dir;
    }
    for (const f of files) {
      const stage = new Stage(f.target, f.pieces, f.source, f.progress, staging === null ? undefined : join(staging, basename(f.target.path)));
      stages.push(stage);
      while (!stage.steps.next().done) await pause();
    }
    await pause();
    if (verify) {
      try {
        await verify(stages.map((s) => s.tmp));
      } catch (error) {
        throw nothingWritten(error);
      }
      await pause();
    }
    for (const s of stages) s.commit();
  } catch (error) {
    for (const s of stages) s.abort();
    throw error;
  } finally {
    if (staging !== null) {
      try {
        rmdirSync(staging);
      } catch {
        // Not empty only if something else wrote there: left for the user (removeStaleTemps keeps it too).
      }
    }
    for (const s of CAUGHT_SIGNALS) process.off(s, onSignal);
  }
}

/** A failed check of staged files, saying that nothing was written (at the end, where a reader looks for it). */
function nothingWritten(error: unknown): unknown {
  if (error instanceof Interrupted || !(error instanceof Error)) return error;
  // The CLI cuts an internal error's message at 500 characters: the cause is cut first, never this ending.
  const message = `${clipEnd(error.message, 400)}; nothing was written`;
  return error instanceof MbnError ? new MbnError(error.code, message) : new Error(message, { cause: error });
}

/**
 * Writes a rewritten model and, when it keeps weights outside, its own data file: the new weights and a byte copy of
 * every external tensor it keeps, read from the input's data files only as the writer asks (DataFileSource vets them
 * first). Both files are staged and synced before either is renamed into place; a signal meanwhile removes both.
 * `verify` gets the staged model's path (its data file beside it under its final name) before anything is in place:
 * a throw there leaves no output (see writeFiles).
 */
export async function writeModelWithData(
  inputPath: string,
  model: FileWrite,
  data: { target: WriteTarget; parts: readonly DataPart[] } | null,
  verify?: (stagedModel: string) => Promise<void>,
): Promise<void> {
  const files: FileWrite[] = [];
  let source: DataFileSource | null = null;
  try {
    if (data) {
      source = new DataFileSource(inputPath, data.parts);
      files.push({ target: data.target, pieces: [{ start: 0, end: source.size }], source });
    }
    files.push(model);
    await writeFiles(files, verify && ((paths) => verify(paths[paths.length - 1])));
  } finally {
    source?.close();
  }
}

/**
 * A private folder of temporary files that a long run reads back, such as the copies of a model that calibration
 * hands to ONNX Runtime (calibrate/copies.ts). It is named like the other temporary files of a write of `near`
 * (`.<name>.<pid>.<8 hex>.tmp`, mode 0700, beside `near`), so a later write there removes it if this process was
 * killed outright. SIGINT, SIGTERM and SIGHUP are caught while it exists: a write stops at its next step, and the
 * run at its next checkpoint(), with Interrupted; close() (in the caller's `finally`) then removes every file.
 */
export class ScratchFolder {
  readonly path: string;
  private caught: NodeJS.Signals | null = null;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.caught ??= signal;
  };
  private closed = false;

  constructor(near: string) {
    removeStaleTemps(near);
    this.path = tempName(near);
    try {
      mkdirSync(this.path, 0o700);
    } catch (error) {
      throw new MbnError('write-failed', `cannot create a scratch folder beside ${quote(near)}: ${reason(error)}`);
    }
    for (const s of CAUGHT_SIGNALS) process.on(s, this.onSignal);
  }

  private thrown = false;

  /** Throws Interrupted once a caught signal has arrived. */
  checkpoint(): void {
    if (this.caught) {
      this.thrown = true;
      throw new Interrupted(this.caught);
    }
  }

  /** Writes (and syncs) `name` in the folder from pieces, pausing every few MB for signals; returns its path. */
  async write(name: string, pieces: Piece[], source: ByteSource): Promise<string> {
    this.checkpoint();
    const path = join(this.path, name);
    const stage = new Stage({ path, force: false, protect: [] }, pieces, source, undefined, path);
    try {
      while (!stage.steps.next().done) {
        await new Promise((resolve) => setImmediate(resolve));
        this.checkpoint();
      }
    } catch (error) {
      stage.abort();
      throw error;
    }
    return path;
  }

  /** Removes a file written here (gone already: nothing to do). */
  remove(name: string): void {
    try {
      unlinkSync(join(this.path, name));
    } catch {
      // Never written, or removed already.
    }
  }

  /**
   * Removes every file and the folder, and gives the signals back their default action; a signal caught since the
   * last checkpoint is then raised again, so it is never lost. Safe to call twice.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      removeStagingFolder(this.path);
    } catch {
      // Removed already; anything else left is found by removeStaleTemps once this process is gone.
    } finally {
      for (const s of CAUGHT_SIGNALS) process.off(s, this.onSignal);
    }
    if (this.caught && !this.thrown) process.kill(process.pid, this.caught);
  }
}
