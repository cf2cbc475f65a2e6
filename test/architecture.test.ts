import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The direction dependencies flow (ARCHITECTURE.md): the pure layers never reach up into presentation or commands.
 * Reads every import and re-export of src/ and fails on a forbidden edge.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Static imports, re-exports and dynamic imports of one file: the relative ones, resolved to paths under src/. */
function importsOf(file: string, text: string): Edge[] {
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    if (!spec.startsWith('.')) return;
    const to = relative(SRC, resolve(dirname(file), spec)).replace(/\\/g, '/').replace(/\.js$/, '.ts');
    edges.push({ from: relative(SRC, file).replace(/\\/g, '/'), to, typeOnly });
  };
  // `import type {…} from`, `import {…} from`, `import x from`, `export {…} from`, `export * from` (over several lines).
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]/gm)) add(m[4], m[2] !== undefined);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) add(m[1], false);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1], false);
  return edges;
}

const layerOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path.replace(/\.ts$/, ''));

const PURE = ['advise', 'bench', 'budget', 'calibrate', 'quantize', 'cost', 'latency', 'ops', 'onnx', 'ir', 'rewrite', 'shape', 'tensor', 'util', 'units', 'errors'];

/** The rule an edge breaks, or null. */
function violation(e: Edge): string | null {
  const from = layerOf(e.from);
  const to = layerOf(e.to);
  if (from === to) return null;
  if (PURE.includes(from) && (to === 'report' || to === 'cli')) return `${from}/ must not import ${to}/`;
  if (from === 'ir' && !e.typeOnly) return 'ir/ imports only types';
  if (from === 'report' && to === 'cli') return 'report/ must not import cli/';
  // cli → api → core: the library API never reaches into the CLI, and only the CLI and src/index.ts call the API.
  if (from === 'api' && to === 'cli') return 'api/ must not import cli/';
  if (to === 'api' && from !== 'cli' && from !== 'index') return `${from}/ must not import api/ (only cli/ and index.ts do)`;
  return null;
}

describe('dependency direction', () => {
  it('finds the imports it checks', () => {
    const file = join(SRC, 'budget/x.ts');
    const edges = importsOf(
      file,
      [
        "import type { A } from '../ir/types.js';",
        "import {\n  b,\n  c,\n} from '../report/units.js';",
        "export { d } from './d.js';",
        "export * from '../cli/e.js';",
        "const { f } = await import('../cli/f.js');",
        "import 'node:fs';",
      ].join('\n'),
    );
    expect(edges.map((e) => [e.to, e.typeOnly])).toEqual([
      ['ir/types.ts', true],
      ['report/units.ts', false],
      ['budget/d.ts', false],
      ['cli/e.ts', false],
      ['cli/f.ts', false],
    ]);
    expect(edges.map(violation)).toEqual([null, 'budget/ must not import report/', null, 'budget/ must not import cli/', 'budget/ must not import cli/']);
    expect(violation({ from: 'ir/walk.ts', to: 'onnx/source.ts', typeOnly: false })).toBe('ir/ imports only types');
    expect(violation({ from: 'report/x.ts', to: 'cli/y.ts', typeOnly: true })).toBe('report/ must not import cli/');
    expect(violation({ from: 'report/x.ts', to: 'budget/y.ts', typeOnly: false })).toBeNull();
    expect(violation({ from: 'api/x.ts', to: 'cli/output.ts', typeOnly: false })).toBe('api/ must not import cli/');
    expect(violation({ from: 'cost/x.ts', to: 'api/options.ts', typeOnly: true })).toBe('cost/ must not import api/ (only cli/ and index.ts do)');
    expect(violation({ from: 'index.ts', to: 'api/analyze.ts', typeOnly: false })).toBeNull();
    expect(violation({ from: 'cli/analyze.ts', to: 'api/analyze.ts', typeOnly: false })).toBeNull();
  });

  it('src/ has no forbidden edge', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const bad = files
      .flatMap((f) => importsOf(f, readFileSync(f, 'utf8')))
      .flatMap((e) => {
        const why = violation(e);
        return why ? [`${e.from} → ${e.to}: ${why}`] : [];
      });
    expect(bad).toEqual([]);
  });
});
