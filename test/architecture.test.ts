import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The direction dependencies flow (ARCHITECTURE.md): the pure layers never reach up into presentation or commands,
 * every import is one ARCHITECTURE.md's "May import" table allows (and every folder the table lists is imported), and
 * no import cycle joins files or folders. Reads every import and re-export of src/.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const ARCHITECTURE = resolve(SRC, '../ARCHITECTURE.md');

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

/** The folder of a path under src/ (`cost/analyze.ts` → `cost`), or the module name of a top-level file (`errors.ts` → `errors`). */
const layerOf = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path.replace(/\.ts$/, ''));

const PURE = ['advise', 'bench', 'budget', 'calibrate', 'quantize', 'cost', 'formats', 'latency', 'ops', 'onnx', 'tflite', 'ir', 'rewrite', 'shape', 'tensor', 'util', 'units', 'errors', 'text'];

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

/** What one module may import, as ARCHITECTURE.md's table says. */
interface Allowance {
  /** Every module but these (`everything but …`), or null. */
  allBut: string[] | null;
  /** Named modules: type imports only, and (when listed) only these files of it. */
  named: Map<string, { typeOnly: boolean; files: string[] | null }>;
  /** The base modules (`base`). */
  base: boolean;
  /** Type imports from any module (`types from any folder`). */
  anyTypes: boolean;
}

/** `src/cost/` → cost, `src/index.ts` → index. */
const moduleOfPath = (path: string) => layerOf(path.replace(/^src\//, '').replace(/\/$/, '/x.ts'));

/** Parses one "May import" cell. */
export function parseAllowance(cell: string): Allowance {
  const allowance: Allowance = { allBut: null, named: new Map(), base: false, anyTypes: false };
  const text = cell.trim();
  if (text === 'nothing of mbn') return allowance;
  const everything = /^everything(?: but (.*))?$/.exec(text);
  if (everything) {
    allowance.allBut = [...(everything[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    return allowance;
  }
  // Items are separated by commas outside parentheses: `a` (remark, or `file.ts`), `b`, base.
  const items: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      items.push(current.trim());
      current = '';
    } else current += ch;
  }
  items.push(current.trim());
  for (const item of items) {
    if (item === 'base') allowance.base = true;
    else if (item === 'types from any folder') allowance.anyTypes = true;
    else {
      const m = /^`([^`]+)`(?:\s*\((.*)\))?$/.exec(item);
      if (!m) throw new Error(`ARCHITECTURE.md: cannot read "${item}" in the "May import" cell "${cell}"`);
      const remark = m[2] ?? '';
      const files = [...remark.matchAll(/`([^`]+\.ts)`/g)].map((f) => f[1]);
      allowance.named.set(m[1], { typeOnly: remark === 'types', files: files.length > 0 ? files : null });
    }
  }
  return allowance;
}

/** The table: module → what it may import; and the base modules. */
export function readArchitecture(markdown: string): { table: Map<string, Allowance>; base: string[] } {
  const table = new Map<string, Allowance>();
  const head = markdown.indexOf('| Folder | What it holds | May import |');
  if (head < 0) throw new Error('ARCHITECTURE.md has no "| Folder | What it holds | May import |" table');
  for (const line of markdown.slice(head).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1);
    const modules = [...cells[0].matchAll(/`([^`]+)`/g)].map((m) => moduleOfPath(m[1]));
    const allowance = parseAllowance(cells[cells.length - 1]);
    for (const m of modules) table.set(m, allowance);
  }
  const baseLine = /\*\*Base\*\* modules[^:]*:([\s\S]*?)\.\n/.exec(markdown);
  if (!baseLine) throw new Error('ARCHITECTURE.md does not name the **Base** modules');
  return { table, base: [...baseLine[1].matchAll(/`([^`]+)`/g)].map((m) => moduleOfPath(m[1])) };
}

/** Why the table does not allow an edge between two modules, or null. */
function disallowed(e: Edge, table: Map<string, Allowance>, base: string[]): string | null {
  const from = layerOf(e.from);
  const to = layerOf(e.to);
  if (from === to) return null;
  const a = table.get(from);
  if (!a) return `${from} is not in ARCHITECTURE.md's table`;
  if (a.allBut) return a.allBut.includes(to) ? `ARCHITECTURE.md: ${from} may import everything but ${a.allBut.join(', ')}` : null;
  const named = a.named.get(to);
  if (named) {
    if (named.typeOnly && !e.typeOnly) return `ARCHITECTURE.md: ${from} may import only types from ${to}`;
    const file = e.to.slice(to.length + 1);
    if (named.files && !named.files.includes(file)) return `ARCHITECTURE.md: ${from} may import only ${named.files.join(', ')} from ${to}`;
    return null;
  }
  if (a.base && base.includes(to)) return null;
  if (a.anyTypes && e.typeOnly) return null;
  return `ARCHITECTURE.md: ${from} may not import ${to}`;
}

/** The strongly connected components with more than one member (Tarjan): each is an import cycle. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function graphOf(edges: Edge[], node: (path: string) => string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    const [from, to] = [node(e.from), node(e.to)];
    if (from === to) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    graph.get(from)!.add(to);
  }
  return graph;
}

describe('ARCHITECTURE.md and the imports', () => {
  const edges = sourceFiles(SRC).flatMap((f) => importsOf(f, readFileSync(f, 'utf8')));
  const { table, base } = readArchitecture(readFileSync(ARCHITECTURE, 'utf8'));

  it('reads the "May import" cells', () => {
    const a = parseAllowance('`ir` (types), `latency` (`layout.ts`, `graph.ts`), `budget` (gap wording), base');
    expect([...a.named]).toEqual([
      ['ir', { typeOnly: true, files: null }],
      ['latency', { typeOnly: false, files: ['layout.ts', 'graph.ts'] }],
      ['budget', { typeOnly: false, files: null }],
    ]);
    expect(a.base).toBe(true);
    expect(parseAllowance('everything but `api` and `cli`').allBut).toEqual(['api', 'cli']);
    expect(parseAllowance('everything').allBut).toEqual([]);
    expect(parseAllowance('nothing of mbn').named.size).toBe(0);
    expect(() => parseAllowance('cost and shape')).toThrow(/cannot read "cost and shape"/);
    const t = new Map([['advise', a]]);
    const at = (to: string, typeOnly = false) => disallowed({ from: 'advise/x.ts', to, typeOnly }, t, ['errors']);
    expect(at('ir/types.ts')).toBe('ARCHITECTURE.md: advise may import only types from ir');
    expect(at('ir/types.ts', true)).toBeNull();
    expect(at('latency/graph.ts')).toBeNull();
    expect(at('latency/model.ts')).toBe('ARCHITECTURE.md: advise may import only layout.ts, graph.ts from latency');
    expect(at('errors.ts')).toBeNull();
    expect(at('report/x.ts')).toBe('ARCHITECTURE.md: advise may not import report');
    expect(disallowed({ from: 'new/x.ts', to: 'cost/y.ts', typeOnly: false }, t, [])).toBe('new is not in ARCHITECTURE.md\'s table');
  });

  it('finds cycles', () => {
    const g = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set(['e'])],
      ['e', new Set(['d'])],
      ['f', new Set(['a'])],
    ]);
    expect(cycles(g)).toEqual([['d', 'e'], ['a', 'b', 'c']]);
  });

  it('every import of src/ is one the table allows', () => {
    expect(table.size).toBeGreaterThan(15);
    const bad = edges.flatMap((e) => {
      const why = disallowed(e, table, base);
      return why ? [`${e.from} → ${e.to}: ${why}`] : [];
    });
    expect(bad).toEqual([]);
  });

  it('every module of src/ is in the table, and every module the table names for a folder is imported by it', () => {
    const modules = new Set(sourceFiles(SRC).map((f) => layerOf(relative(SRC, f).replace(/\\/g, '/'))));
    expect([...modules].filter((m) => !table.has(m))).toEqual([]);
    expect([...table.keys()].filter((m) => !modules.has(m))).toEqual([]);
    const unused: string[] = [];
    for (const [from, a] of table) {
      for (const [to, { files }] of a.named) {
        const used = edges.filter((e) => layerOf(e.from) === from && layerOf(e.to) === to);
        if (used.length === 0) unused.push(`${from} → ${to}`);
        for (const file of files ?? []) if (!used.some((e) => e.to === `${to}/${file}`)) unused.push(`${from} → ${to}/${file}`);
      }
    }
    expect(unused).toEqual([]);
  });

  it('no import cycle between files or between folders', () => {
    expect(cycles(graphOf(edges, (p) => p))).toEqual([]);
    expect(cycles(graphOf(edges, layerOf))).toEqual([]);
  });
});
