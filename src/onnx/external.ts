import { closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, constants } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { MbnError, quote } from '../errors.js';
import type { TensorRef } from '../ir/types.js';

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

/** Reads exactly `expected` bytes of a tensor's external data, after every check. */
export function readExternalBytes(modelPath: string, t: TensorRef, expected: number): Uint8Array {
  const ext = t.external!;
  const what = `external data of tensor ${quote(t.name)}`;
  if (ext.unknownKeys.length > 0) throw new MbnError('external-data', `${what}: unknown key ${quote(ext.unknownKeys[0])}`);
  const path = resolveExternalPath(modelPath, ext.location, t.name);
  let fd: number;
  try {
    // O_NOFOLLOW closes the window between the checks above and the open; O_NONBLOCK keeps a FIFO from blocking
    // the open (fstat below refuses anything but a regular file).
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new MbnError('external-data', `${what}: cannot open ${quote(ext.location)}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new MbnError('external-data', `${what}: ${quote(ext.location)} is not a regular file`);
    if (stat.nlink > 1) throw new MbnError('external-data', `${what}: ${quote(ext.location)} has ${stat.nlink} hard links`);
    const offset = ext.offset ?? 0;
    if (offset > stat.size) {
      throw new MbnError('external-data', `${what}: offset ${offset} is past the end of ${quote(ext.location)} (${stat.size} bytes)`);
    }
    const length = ext.length ?? stat.size - offset;
    if (offset + length > stat.size) {
      throw new MbnError('external-data', `${what}: offset ${offset} + length ${length} is past the end of ${quote(ext.location)} (${stat.size} bytes)`);
    }
    if (length !== expected) {
      throw new MbnError('external-data', `${what}: length ${length} does not match the ${expected} bytes its dims and type need`);
    }
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new MbnError('external-data', `${what}: ${quote(ext.location)} ended early`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
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
