import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { tempDir } from './cli.js';

/** Headless Chromium (Debian package chromium) renders the HTML reports in the tests; they skip where it is missing. */
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

function dumpDomArgs(file: string): string[] {
  return [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', `--user-data-dir=${tempDir('mbn-chromium-')}`, '--dump-dom', `file://${file}`,
  ];
}

const OPTIONS = { encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 } as const;

/** The page as Chromium renders it (after its script ran), via --dump-dom: no driver needed. */
export function renderedDom(file: string): string {
  const r = spawnSync(CHROMIUM, dumpDomArgs(file), OPTIONS);
  if (r.status !== 0) throw new Error(`chromium failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** renderedDom without blocking the test worker (big pages), and the seconds Chromium took. */
export async function renderedDomAsync(file: string): Promise<{ dom: string; seconds: number }> {
  const start = performance.now();
  const { stdout } = await promisify(execFile)(CHROMIUM, dumpDomArgs(file), OPTIONS);
  return { dom: stdout, seconds: (performance.now() - start) / 1000 };
}
