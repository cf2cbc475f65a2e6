import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, fixture, tempDir } from './helpers/cli.js';

/**
 * What keeps start-up short (scripts/bundle.mjs, bin/mbn.js), checked by what a run loads rather than by timing
 * (times are measured by `npm run bench`): each command runs from its own bundle, and a run loads none of the Node
 * modules that cost most at start and that mbn needs only for some work (node:crypto to name a temporary file,
 * node:child_process, and node:net and node:tty behind process.stdout on a pipe).
 */
const COMMANDS = [...readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').matchAll(/\bimport\('\.\/([a-z]+)\.js'\)/g)].map((m) => m[1]);

/** The built-in modules a run of `mbn args` loaded, with stdout and stderr on pipes. */
function loadedBy(args: string[]): string[] {
  const dir = tempDir();
  const preload = join(dir, 'loaded.cjs');
  const list = join(dir, 'loaded.txt');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
  const r = spawnSync(process.execPath, ['--require', preload, BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return readFileSync(list, 'utf8').split('\n');
}

describe('start-up', () => {
  it('every command has its own bundle, without the other commands', () => {
    expect(COMMANDS).toEqual(['analyze', 'separate', 'quantize', 'advise', 'rewrite', 'check', 'init', 'diff', 'bench', 'calibrate']);
    const runner = (command: string) => `function run${command[0].toUpperCase()}${command.slice(1)}(`;
    for (const command of COMMANDS) {
      const bundle = readFileSync(join(ROOT, `dist/mbn-${command}.cjs`), 'utf8');
      expect(COMMANDS.filter((other) => bundle.includes(runner(other)))).toEqual([command]);
    }
    const whole = readFileSync(join(ROOT, 'dist/mbn.cjs'), 'utf8');
    expect(COMMANDS.filter((c) => whole.includes(runner(c)))).toEqual(COMMANDS);
  });

  it('mbn analyze loads neither crypto, child_process, net nor tty', () => {
    const loaded = loadedBy(['analyze', fixture('models/resnet_small.onnx'), '--depth', '2']);
    expect(loaded).toContain('NativeModule vm');
    for (const heavy of ['crypto', 'child_process', 'net', 'tty']) expect(loaded, heavy).not.toContain(`NativeModule ${heavy}`);
  });

  it('writing a report loads node:crypto only then (the temporary file name)', () => {
    const out = join(tempDir(), 'report.json');
    const loaded = loadedBy(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'json', '-o', out]);
    expect(JSON.parse(readFileSync(out, 'utf8')).schema).toBe('mbn.analyze/1');
    expect(loaded).toContain('NativeModule internal/crypto/random');
  });
});
