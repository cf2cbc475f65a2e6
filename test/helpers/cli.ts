import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Runs the real binary (bin/mbn.js over dist/, built by the global setup). */
export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/mbn.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function mbn(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: '', ...options.env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The folders `tempDir` made in this test file, removed after it (test/setup/temp-dirs.ts). */
const made: string[] = [];

export function tempDir(prefix = 'mbn-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder `tempDir` made (a full run made about 1.5 GB of them: models written, reports, profiles). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function fixture(path: string): string {
  return join(ROOT, 'fixtures', path);
}

/** `mbn separate ARGS --format json`, asserted to succeed with nothing on stderr; the parsed mbn.separate/1 document. */
export function separateJson(args: string[]) {
  const r = mbn(['separate', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}
