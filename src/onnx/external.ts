import { closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, constants } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { MbnError, quote } from '../errors.js';
import type { TensorRef } from '../ir/types.js';
import type { ByteSource } from '../ir/types.js';

/**
 * External data (onnx docs/ExternalData.md), with the checks current ONNX applies (CVE-2022-25882, CVE-2024-27318,
 * onnx 1.21): a location must name a regular, singly-linked file inside the model's folder, reached without a
 * symlink as its last component, and the declared range must lie within it.
 */

export function checkLocationText(location: string, tensor: string): void {
  const what = `external data of tensor ${quote(tensor)}`;
  if (location.length === 0) throw new MbnError('external-data', `${what}: location is empty`);
  if (location.includes('\0')) throw new MbnError('external-data', `${what}: location ${quote(location)} contains a NUL byte`);
  if (isAbsolute(location) || /^[A-Za-z]:/.test(location) || location.startsWith('\\')) {
    throw new MbnError('external-data', `${what}: location ${quote(location)} is absolute; it must be relative to the model's folder`);
  }
  if (location.split(/[\\/]/).includes('..')) {
    throw new MbnError('external-data', `${what}: location ${quote(location)} contains '..'`);
  }
}

/** Resolves and vets the data file; returns its real path. */
export function resolveExternalPath(modelPath: string, location: string, tensor: string): string {
  checkLocationText(location, tensor);
  const what = `external data of tensor ${quote(tensor)}`;
  const folder = dirname(modelPath);
  const candidate = join(folder, location);
  let stat;
  try {
    stat = lstatSync(candidate);
  } catch {
    throw new MbnError('external-data', `${what}: data file ${quote(location)} not found beside the model`);
  }
  if (stat.isSymbolicLink()) throw new MbnError('external-data', `${what}: data file ${quote(location)} is a symbolic link`);
  let realFolder: string;
  let realFile: string;
  try {
    realFolder = realpathSync(folder);
    realFile = realpathSync(candidate);
  } catch {
    throw new MbnError('external-data', `${what}: cannot resolve ${quote(location)}`);
  }
  const rel = relative(realFolder, realFile);
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) {
    throw new MbnError('external-data', `${what}: location ${quote(location)} resolves outside the model's folder`);
  }
  return realFile;
}

/** Where a tensor's external bytes are: an open, vetted data file and a checked range in it. */
interface ExternalRange {
  fd: number;
  offset: number;
  length: number;
}

/**
 * The data files of one model, each opened once and vetted, for reading tensors' bytes or copying them as ranges.
 * close() closes every file opened.
 */
class ExternalFiles {
  private readonly files = new Map<string, { fd: number; size: number }>();
  constructor(private readonly modelPath: string) {}

  /** Checks t's reference (keys, file, range, length) and returns where its `expected` bytes are. */
  range(t: TensorRef, expected: number): ExternalRange {
    const ext = t.external!;
    const what = `external data of tensor ${quote(t.name)}`;
    if (ext.unknownKeys.length > 0) throw new MbnError('external-data', `${what}: unknown key ${quote(ext.unknownKeys[0])}`);
    const path = resolveExternalPath(this.modelPath, ext.location, t.name);
    const file = this.files.get(path) ?? this.open(path, ext.location, what);
    const offset = ext.offset ?? 0;
    if (offset > file.size) {
      throw new MbnError('external-data', `${what}: offset ${offset} is past the end of ${quote(ext.location)} (${file.size} bytes)`);
    }
    const length = ext.length ?? file.size - offset;
    if (offset + length > file.size) {
      throw new MbnError('external-data', `${what}: offset ${offset} + length ${length} is past the end of ${quote(ext.location)} (${file.size} bytes)`);
    }
    if (length !== expected) {
      throw new MbnError('external-data', `${what}: length ${length} does not match the ${expected} bytes its dims and type need`);
    }
    return { fd: file.fd, offset, length };
  }

  private open(path: string, location: string, what: string): { fd: number; size: number } {
    let fd: number;
    try {
      // O_NOFOLLOW closes the window between the checks above and the open; O_NONBLOCK keeps a FIFO from blocking
      // the open (fstat below refuses anything but a regular file).
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      throw new MbnError('external-data', `${what}: cannot open ${quote(location)}: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new MbnError('external-data', `${what}: ${quote(location)} is not a regular file`);
      if (stat.nlink > 1) throw new MbnError('external-data', `${what}: ${quote(location)} has ${stat.nlink} hard links`);
      const file = { fd, size: stat.size };
      this.files.set(path, file);
      return file;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  close(): void {
    for (const { fd } of this.files.values()) closeSync(fd);
    this.files.clear();
  }
}

/** Reads exactly `length` bytes at `offset` of an open data file into `target`. */
function readRange(fd: number, target: Uint8Array, offset: number, what: string): Uint8Array {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, offset + done);
    if (n === 0) throw new MbnError('external-data', `${what}: the data file ended early`);
    done += n;
  }
  return target;
}

/** Reads exactly `expected` bytes of a tensor's external data, after every check. */
export function readExternalBytes(modelPath: string, t: TensorRef, expected: number): Uint8Array {
  const files = new ExternalFiles(modelPath);
  try {
    const r = files.range(t, expected);
    return readRange(r.fd, Buffer.allocUnsafe(r.length), r.offset, `external data of tensor ${quote(t.name)}`);
  } finally {
    files.close();
  }
}

/** A part of a data file being written: new bytes, or a tensor's external bytes copied from the input as they are. */
export type DataPart = Uint8Array | { tensor: TensorRef; length: number };

/**
 * The bytes of a new data file, as a ByteSource over its parts: copied tensors are vetted when the source is made
 * (so a bad reference fails before anything is written) and read only when the writer asks for them.
 */
export class DataFileSource implements ByteSource {
  readonly size: number;
  private readonly files: ExternalFiles;
  private readonly parts: { at: number; bytes: Uint8Array | null; range: ExternalRange | null; name: string }[] = [];
  constructor(modelPath: string, parts: readonly DataPart[]) {
    this.files = new ExternalFiles(modelPath);
    let at = 0;
    try {
      for (const p of parts) {
        if (p instanceof Uint8Array) {
          this.parts.push({ at, bytes: p, range: null, name: '' });
          at += p.length;
        } else {
          const range = this.files.range(p.tensor, p.length);
          this.parts.push({ at, bytes: null, range, name: p.tensor.name });
          at += range.length;
        }
      }
    } catch (error) {
      this.files.close();
      throw error;
    }
    this.size = at;
  }
  view(start: number, end: number): Uint8Array {
    const out = Buffer.allocUnsafe(end - start);
    // The last part starting at or before `start`, then forward.
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.parts[mid].at <= start) lo = mid;
      else hi = mid - 1;
    }
    for (let i = lo, at = start; at < end && i < this.parts.length; i++) {
      const p = this.parts[i];
      const partLength = p.bytes ? p.bytes.length : p.range!.length;
      const from = at - p.at;
      const to = Math.min(end - p.at, partLength);
      if (to <= from) continue;
      const target = out.subarray(at - start, at - start + (to - from));
      if (p.bytes) target.set(p.bytes.subarray(from, to));
      else readRange(p.range!.fd, target, p.range!.offset + from, `external data of tensor ${quote(p.name)}`);
      at += to - from;
    }
    return out;
  }
  close(): void {
    this.files.close();
  }
}

/**
 * Data files a model refers to that are not there (or not safely reachable), for a note: analysis needs dims only,
 * so a missing data file is not an error there. Only checks names and existence; reads nothing.
 */
export function missingExternalFiles(modelPath: string, locations: readonly string[]): string[] {
  const missing: string[] = [];
  for (const location of locations) {
    try {
      resolveExternalPath(modelPath, location, location);
    } catch {
      missing.push(location);
    }
  }
  return missing;
}
