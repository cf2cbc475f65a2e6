import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, fixture, mbn, tempDir } from './helpers/cli.js';

/** The CLI's conventions (README, "CLI conventions"): one-line errors, exit codes, help, version, warnings. */
const TINY = fixture('models/tiny_cnn.onnx');
const W025 = fixture('models/mobilenet_v1_w025.onnx');

describe('errors are one `mbn: ` line, exit 2, commander\'s included', () => {
  it.each([
    [['analyze', TINY, '--fromat', 'json'], "mbn: unknown option '--fromat' (did you mean --format?)"],
    [['analyze', TINY, 'extra.onnx'], "mbn: unexpected argument 'extra.onnx': mbn analyze takes <model> (options start with --)"],
    [['diff', TINY, TINY, 'third.onnx'], "mbn: unexpected argument 'third.onnx': mbn diff takes <base> <head> (options start with --)"],
    [['check', 'stray'], "mbn: unexpected argument 'stray': mbn check takes no argument (options start with --)"],
    [['analyse', TINY], "mbn: unknown command 'analyse' (did you mean analyze?)"],
    [['analyze'], "mbn: missing required argument 'model'"],
    [['analyze', TINY, '--format', 'xml'], "mbn: option '--format <format>' argument 'xml' is invalid. Allowed choices are table, json, csv, md, html, model-explorer."],
  ])('%j', (args, line) => {
    const r = mbn(args);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.status).toBe(2);
  });
});

describe('help and version', () => {
  it('`mbn` alone prints help on stdout and exits 0', () => {
    const r = mbn([]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: mbn \[options\] \[command\]/);
    expect(r.stdout).toContain('analyze [options] <model>');
  });

  it('-V, -v and --version print the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['-V', '-v', '--version']) {
      const r = mbn([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('a copy of the CLI without a package.json naming a version says the version is unknown, and runs', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'dist'));
    for (const file of ['bin/mbn.js', 'bin/package.json', 'dist/mbn.cjs', 'dist/mbn-analyze.cjs']) copyFileSync(join(ROOT, file), join(dir, file));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    const version = spawnSync(process.execPath, [join(dir, 'bin/mbn.js'), '--version'], { encoding: 'utf8' });
    expect(version.stdout).toBe('unknown\n');
    expect(version.status).toBe(0);
    const analyze = spawnSync(process.execPath, [join(dir, 'bin/mbn.js'), 'analyze', fixture('models/tiny_cnn.onnx'), '--format', 'json'], { encoding: 'utf8' });
    expect(analyze.stderr).toBe('');
    expect(JSON.parse(analyze.stdout).schema).toBe('mbn.analyze/1');
  });

  it('the HTML reports name the same version', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'html']);
    expect(r.stdout).toContain(`<footer>mbn ${version} · `);
  });

  it('every command\'s help has an example and the exit codes', () => {
    for (const command of ['analyze', 'separate', 'quantize', 'advise', 'rewrite', 'check', 'init', 'diff', 'bench', 'calibrate']) {
      const r = mbn([command, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Example:\n  mbn ${command} `);
      expect(r.stdout).toContain('Exit codes: 0 success, 1 a budget is exceeded');
    }
  });
});

describe('ignored flags are said, and the run goes on', () => {
  it('--top with --all', () => {
    const r = mbn(['analyze', TINY, '--top', '2', '--all']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('mbn: warning: --top is ignored with --all: every layer is shown\n');
    // Every layer of tiny_cnn (10) is listed, not 2.
    expect(r.stdout).toContain('/fc/Gemm');
    expect(r.stdout).toContain('/Relu_2');
  });

  it('--seed without --init he or --calibrate random:N; not with --init he', () => {
    const r = mbn(['separate', TINY, '--dry-run', '--seed', '3']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('mbn: warning: --seed is ignored without --init he or --calibrate random:N (SVD weights are not random)\n');
    expect(mbn(['separate', TINY, '--dry-run', '--seed', '3', '--init', 'he']).stderr).toBe('');
  });
});

describe('shares read one way: a fraction or N%', () => {
  it('--min-reduction 0.8 and 80% are the same; above 1 is refused', () => {
    const a = JSON.parse(mbn(['separate', W025, '--dry-run', '--format', 'json', '--min-reduction', '0.8']).stdout);
    const b = JSON.parse(mbn(['separate', W025, '--dry-run', '--format', 'json', '--min-reduction', '80%']).stdout);
    expect(a).toEqual(b);
    const r = mbn(['separate', W025, '--dry-run', '--min-reduction', '1.5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mbn: --min-reduction '1.5' is out of range: at most 1 (100%)\n");
  });
});

describe('--include that matches nothing', () => {
  it('says so in a note, with the first conv names and how torch export names start', () => {
    const r = JSON.parse(mbn(['separate', TINY, '--dry-run', '--format', 'json', '--include', 'conv*']).stdout);
    expect(r.layers).toEqual([]);
    expect(r.notes).toContain("--include 'conv*' matches no conv (torch.onnx.export names start with '/': --include '/layer1/*'); convs: '/conv1/Conv', '/conv2/Conv', '/conv3/Conv'");
    const matched = JSON.parse(mbn(['separate', TINY, '--dry-run', '--format', 'json', '--include', '/conv*']).stdout);
    expect(matched.notes.filter((n: string) => n.startsWith('--include'))).toEqual([]);
  });
});

describe('a Git LFS pointer given as a model', () => {
  it('says what it is and how to fetch the model', () => {
    const dir = tempDir();
    const pointer = join(dir, 'model.onnx');
    // A pointer as `git lfs` writes it (spec v1): version, oid, size.
    writeFileSync(pointer, 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n');
    for (const command of ['analyze', 'advise']) {
      const r = mbn([command, pointer]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`mbn: '${pointer}': this is a Git LFS pointer: fetch with \`git lfs pull\` (actions/checkout: \`lfs: true\`)\n`);
    }
  });
});
