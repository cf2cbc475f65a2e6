import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, fixture, mbn, tempDir } from './helpers/cli.js';

/**
 * The package as npm publishes it: `npm pack` of the dist/ the global setup built, put into a fresh project, used
 * through its typed API from TypeScript (typechecked by tsc) and run on a fixture.
 *
 * Tests run offline and npm's cache may not hold mbn's dependencies, so the project gets the tarball by
 * `npm install --offline` when the cache allows it, else by unpacking it into node_modules/mbn with its runtime
 * dependencies linked from this clone's node_modules (what npm would have installed, minus the download).
 */
const USE = `import { analyze, check, init, rewrite, MbnError, type AnalyzeJson, type CheckJson, type ErrorCode, type InitResult, type RewriteJson } from 'mbn';

const report: AnalyzeJson = await analyze(process.argv[2]!, { batch: 1 });
const schema: 'mbn.analyze/1' = report.schema;
// The contract's name for executions per inference.
const multiplier: number = report.layers[0]!.multiplier;
let code: ErrorCode | null = null;
try {
  await analyze('no-such-model.onnx');
} catch (error) {
  if (error instanceof MbnError) code = error.code;
}
const checked: CheckJson | string = await check({ config: 'none.json' }).catch((e: MbnError) => e.code);
const rewritten: RewriteJson = await rewrite(process.argv[2]!, { hardSwish: true, dryRun: true });
const budgets: InitResult = await init({ models: [process.argv[2]!], config: 'budgets.json', headroom: '10%' });
const rewriteSchema: 'mbn.rewrite/1' = rewritten.schema;
process.stdout.write(JSON.stringify({ schema, multiplier, code, checked, report, rewriteSchema, changes: rewritten.changes.length, budgets }));

// Never called: the options are typed, so these must not compile.
export async function wrong(): Promise<void> {
  // @ts-expect-error batch is a number
  await analyze('m.onnx', { batch: '1' });
  // @ts-expect-error input shapes are arrays of numbers
  await analyze('m.onnx', { input: { x: '1x3' } });
  // @ts-expect-error the patterns are booleans
  await rewrite('m.onnx', { hardSwish: 'yes' });
  // @ts-expect-error models is a list
  await init({ models: 'm.onnx' });
}
`;

let project: string;
let how: 'npm install' | 'unpacked';

beforeAll(() => {
  project = tempDir('mbn-pack-');
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', project, ROOT], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const tarball = join(project, packed);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-mbn', private: true, type: 'module' }));
  const installed = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project, encoding: 'utf8' });
  if (installed.status === 0) {
    how = 'npm install';
  } else {
    how = 'unpacked';
    const target = join(project, 'node_modules/mbn');
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', target, '--strip-components=1']);
    const manifest = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      // A scoped package (@dagrejs/dagre) goes in its scope's folder.
      mkdirSync(dirname(join(project, 'node_modules', dep)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep));
    }
  }
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'));
  writeFileSync(join(project, 'use.mts'), USE);
  // The README's API example, typechecked as written (not run: it names a model that does not exist here).
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = /## API\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme);
  writeFileSync(join(project, 'readme-example.mts'), example ? example[1] : 'README has no ts example under ## API;');
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, outDir: 'out', types: ['node'] }, files: ['use.mts', 'readme-example.mts'] }),
  );
}, 120_000);

describe('the packed package', () => {
  it('holds only the runtime: bin, dist (JavaScript and declarations), python/mbn_torch.py, README, package.json', () => {
    const listing = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ROOT], { encoding: 'utf8' });
    const files: string[] = JSON.parse(listing)[0].files.map((f: { path: string }) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('bin/mbn.js');
    expect(files).toContain('bin/package.json');
    expect(files).toContain('dist/mbn.cjs');
    expect(files).toContain('dist/mbn-analyze.cjs');
    expect(files).toContain('python/mbn_torch.py');
    const other = files.filter((f) => !/^(bin\/mbn\.js|bin\/package\.json|dist\/.+\.(js|d\.ts|cjs|cjs\.cache)|python\/mbn_torch\.py|README\.md|package\.json|LICENSE)$/.test(f));
    expect(other).toEqual([]);
  });

  it('a fresh TypeScript project (and the README example) typechecks against the API and gets what `mbn analyze --format json` prints', () => {
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr, `tsc (package ${how})`).toBe('');
    expect(tsc.status).toBe(0);
    const model = fixture('models/tiny_cnn.onnx');
    const run = spawnSync(process.execPath, [join(project, 'out/use.mjs'), model], { cwd: project, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.schema).toBe('mbn.analyze/1');
    expect(out.multiplier).toBe(1);
    expect(out.code).toBe('io');
    expect(out.checked).toBe('io');
    // tiny_cnn has no swish: nothing to rewrite. init wrote its budget beside the program.
    expect(out.rewriteSchema).toBe('mbn.rewrite/1');
    expect(out.changes).toBe(0);
    expect(out.budgets.file).toBe('budgets.json');
    expect(out.budgets.entries.map((e: { name: string }) => e.name)).toEqual(['tiny_cnn']);
    expect(JSON.parse(readFileSync(join(project, 'budgets.json'), 'utf8'))).toEqual(out.budgets.entries);
    // The first conv: 3→8 channels, 3×3, 32×32 output (test/analyze.test.ts works it out the same way).
    expect(out.report.layers[0].macs).toBe(32 * 32 * 8 * 3 * 9);
    const cli = mbn(['analyze', model, '--format', 'json', '--batch', '1']);
    expect(cli.status).toBe(0);
    expect(out.report).toEqual(JSON.parse(cli.stdout));
  });

  it('its CLI finds the graph layout library (dagre, a dependency) and inlines it into the HTML report', () => {
    const run = spawnSync(process.execPath, [join(project, 'node_modules/mbn/bin/mbn.js'), 'analyze', fixture('models/tiny_cnn.onnx'), '--format', 'html'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('<svg data-mbn-graph');
    expect(run.stdout).toContain('/*! @dagrejs/dagre, MIT License');
    expect(run.stdout).toContain('var dagre=');
  });

  it('its JavaScript never writes to stdout or stderr, nor sets the exit code: only the CLI does', () => {
    const dist = join(project, 'node_modules/mbn/dist');
    const offenders: string[] = [];
    for (const folder of ['api', 'advise', 'bench', 'budget', 'calibrate', 'cost', 'latency', 'onnx', 'ops', 'report', 'rewrite', 'shape']) {
      for (const file of readdirSync(join(dist, folder)).filter((f) => f.endsWith('.js'))) {
        const text = readFileSync(join(dist, folder, file), 'utf8');
        if (/process\.(stdout|stderr|exitCode|exit\()/.test(text)) offenders.push(`${folder}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
