import { spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync,
  statSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { MbnError } from '../src/errors.js';
import type { Model } from '../src/ir/types.js';
import { readModel, readModelBytes, readModelFrom } from '../src/onnx/read.js';
import { FileSource } from '../src/onnx/source.js';
import { readTensorBytes } from '../src/onnx/tensor-data.js';
import { renderJson } from '../src/report/analyze-report.js';
import { buildModel, type ModelSpec, type NodeSpec } from './helpers/build-model.js';
import { cat, len, modelAround, mutate, node, randInt, randomBytes, rng, tag, valueInfo, varint, vint } from './helpers/mutate.js';

/**
 * Hostile input: every case must end as a clear user error (exit 2, one `mbn: ` line on stderr, no stack trace)
 * or a success, never an internal error, a hang, or a stack overflow.
 */

const ROOT = resolve(__dirname, '..');
const BIN = join(ROOT, 'bin', 'mbn.js');
const TINY = join(ROOT, 'fixtures', 'models', 'tiny_cnn.onnx');
let dir: string;

beforeAll(() => {
  // test/global-setup.ts has built dist/ (tsc, then the bundle). Rebuilding here with tsc alone would leave the bundle
  // older than dist/cli/main.js, so bin/mbn.js would skip it and these tests would not run what users run.
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js was not built');
  dir = mkdtempSync(join(tmpdir(), 'mbn-hostile-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * bin/, dist/ and package.json copied to a fresh folder under the system temp dir that every user can read. The copies
 * keep their times: bin/mbn.js runs the bundle only when it is newer than dist/cli/main.js (which needs node_modules).
 */
function worldReadableCopy(): string {
  const shared = mkdtempSync(join(tmpdir(), 'mbn-nobody-'));
  for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(shared, part), { recursive: true, preserveTimestamps: true });
  const open = (path: string) => {
    const isDir = statSync(path).isDirectory();
    chmodSync(path, isDir ? 0o755 : 0o644);
    if (isDir) for (const entry of readdirSync(path)) open(join(path, entry));
  };
  open(shared);
  return shared;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function mbn(args: string[], options: { uid?: number; gid?: number; bin?: string; cwd?: string; env?: Record<string, string> } = {}): Run {
  const { bin = BIN, env, ...rest } = options;
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', MBN_DEBUG: '', GITHUB_ACTIONS: '', ...env },
    ...rest,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2 with exactly one line on stderr, starting `mbn: `, and nothing that looks like a crash. */
function expectUserError(r: Run, pattern?: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const summary = `exit ${r.status}, stderr: ${JSON.stringify(r.stderr.slice(0, 600))}`;
  expect(lines.length, summary).toBe(1);
  expect(lines[0], summary).toMatch(/^mbn: /);
  expect(lines[0], summary).not.toMatch(/internal error/);
  expect(r.stderr, summary).not.toMatch(/\n\s+at /);
  expect(r.status, summary).toBe(2);
  if (pattern) expect(lines[0]).toMatch(pattern);
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** The whole analyze pipeline in-process. Returns 'ok' or the MbnError; anything else propagates. */
function pipeline(bytes: Uint8Array): 'ok' | MbnError {
  try {
    const model = readModelBytes(bytes, 'mutant');
    renderJson(analyzeModel(model));
    return 'ok';
  } catch (error) {
    if (error instanceof MbnError) return error;
    throw error;
  }
}

/** Runs a pipeline over many inputs; returns the failures that were not MbnErrors, with what made them. */
function fuzz(inputs: Iterable<{ bytes: Uint8Array; what: string }>): { tried: number; ok: number; mbn: number; crashes: string[] } {
  const out = { tried: 0, ok: 0, mbn: 0, crashes: [] as string[] };
  for (const input of inputs) {
    out.tried++;
    try {
      if (pipeline(input.bytes) === 'ok') out.ok++;
      else out.mbn++;
    } catch (error) {
      out.crashes.push(`${input.what}: ${(error as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? error}`);
    }
  }
  return out;
}

// ---- graph builders ---------------------------------------------------------------------------------------------

function graph(parts: { nodes?: Uint8Array[]; inputs?: Uint8Array[]; outputs?: Uint8Array[]; inits?: Uint8Array[] }): Uint8Array {
  return cat(
    ...(parts.nodes ?? []).map((n) => len(1, n)),
    len(2, 'g'),
    ...(parts.inits ?? []).map((t) => len(5, t)),
    ...(parts.inputs ?? []).map((v) => len(11, v)),
    ...(parts.outputs ?? []).map((v) => len(12, v)),
  );
}

/** Relu x → y with x of the given dims. */
function reluModel(dims: (number | bigint)[]): Uint8Array {
  return modelAround(graph({ nodes: [node('Relu', ['x'], ['y'])], inputs: [valueInfo('x', dims)], outputs: [valueInfo('y')] }));
}

function tensor(fields: { name?: string; dims?: (number | bigint)[]; dtype?: number; raw?: Uint8Array; external?: [string, string][] }): Uint8Array {
  return cat(
    ...(fields.dims ?? []).map((d) => vint(1, d)),
    vint(2, fields.dtype ?? 1),
    len(8, fields.name ?? 'w'),
    ...(fields.raw ? [len(9, fields.raw)] : []),
    ...(fields.external ?? []).map(([k, v]) => len(13, cat(len(1, k), len(2, v)))),
    ...(fields.external ? [vint(14, 1)] : []),
  );
}

/** A model with one initializer w (float, dims [4]) feeding Relu. */
function weightModel(w: Uint8Array): Uint8Array {
  return modelAround(graph({ nodes: [node('Relu', ['w'], ['y'])], inits: [w], outputs: [valueInfo('y')] }));
}

// ---- the binary on non-models ---------------------------------------------------------------------------------------

describe('mbn analyze on things that are not models', () => {
  it('empty file', () => expectUserError(mbn(['analyze', file('empty.onnx', '')]), /empty/));
  it('a directory', () => expectUserError(mbn(['analyze', dir]), /directory/));
  it('a missing path', () => expectUserError(mbn(['analyze', join(dir, 'nope.onnx')]), /no such file/));
  it('a FIFO (must not block)', () => {
    const fifo = join(dir, 'fifo.onnx');
    execFileSync('mkfifo', [fifo]);
    expectUserError(mbn(['analyze', fifo]), /not a regular file/);
  });
  it('a character device', () => expectUserError(mbn(['analyze', '/dev/zero']), /not a regular file/));
  it('a file without read permission', (ctx) => {
    if (process.getuid?.() !== 0) {
      const p = file('noperm.onnx', readFileSync(TINY));
      chmodSync(p, 0o000);
      expectUserError(mbn(['analyze', p]), /permission denied/);
      return;
    }
    // root ignores mode bits: run the binary as nobody instead (spawn's uid/gid). nobody may not reach this checkout
    // (a clone under a private 0700 folder), so it runs a copy of the built binary from a world-readable folder.
    const shared = worldReadableCopy();
    try {
      const bin = join(shared, 'bin', 'mbn.js');
      const asNobody = (args: string[]) => mbn(args, { uid: 65534, gid: 65534, bin, cwd: shared });
      let probe: Run;
      try {
        probe = asNobody(['--version']);
      } catch (error) {
        ctx.skip(`running as root and cannot run as nobody (${(error as Error).message}): mode bits would be ignored`);
        return;
      }
      if (probe.status !== 0) {
        ctx.skip(`running as root; nobody cannot run a copy of mbn in ${shared}: ${probe.stderr.trim()}`);
        return;
      }
      const p = join(shared, 'noperm.onnx');
      writeFileSync(p, readFileSync(TINY));
      chmodSync(p, 0o000);
      expectUserError(asNobody(['analyze', p]), /permission denied/);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
  it('random bytes (seeded)', () => {
    const r = rng(1);
    for (const n of [1, 2, 7, 64, 4096]) {
      const bytes = randomBytes(r, n);
      // A first byte that happens to look like a ModelProto tag still has to end as a clean error.
      expectUserError(mbn(['analyze', file(`random${n}.onnx`, bytes)]));
    }
  });
  it('a valid protobuf that is not a model (a TensorProto .pb)', () => {
    const pb = '/usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0/input_0.pb';
    const bytes = existsSync(pb) ? readFileSync(pb) : tensor({ dims: [3, 4], raw: new Uint8Array(48) });
    expectUserError(mbn(['analyze', file('tensor.pb', bytes)]), /not an ONNX model/);
  });
  it('a text file', () => expectUserError(mbn(['analyze', file('notes.onnx', 'hello, this is not a model\n')]), /not an ONNX model/));
  it('JSON', () => expectUserError(mbn(['analyze', file('model.json', '{"graph": {"node": []}}')]), /JSON/));
  it('a zip header', () => expectUserError(mbn(['analyze', file('model.pt', cat([0x50, 0x4b, 0x03, 0x04], randomBytes(rng(2), 60)))]), /zip/));
  it('protobuf text format', () => expectUserError(mbn(['analyze', file('model.pbtxt', 'ir_version: 8\ngraph { }\n')]), /text format/));
});

// ---- truncation and mutation ---------------------------------------------------------------------------------------

describe('damaged copies of tiny_cnn.onnx', () => {
  const original = new Uint8Array(readFileSync(TINY));

  it('parses and analyzes intact (sanity)', () => expect(pipeline(original)).toBe('ok'));

  it(`truncated at every offset (${original.length} cuts): success or MbnError only`, () => {
    function* cuts() {
      for (let n = 0; n < original.length; n++) yield { bytes: original.subarray(0, n), what: `truncated at ${n}` };
    }
    const result = fuzz(cuts());
    console.log(`hostile truncation: ${result.tried} tried, ${result.ok} ok, ${result.mbn} MbnError, ${result.crashes.length} crashes`);
    expect(result.crashes).toEqual([]);
    // Cutting inside the graph always leaves a declared length that overruns the file.
    expect(result.mbn).toBeGreaterThan(original.length * 0.9);
  });

  it('300 seeded mutations: success or MbnError only', () => {
    const r = rng(20240601);
    function* mutants() {
      for (let i = 0; i < 300; i++) yield mutate(original, r);
    }
    const result = fuzz(mutants());
    console.log(`hostile mutation: ${result.tried} tried, ${result.ok} ok, ${result.mbn} MbnError, ${result.crashes.length} crashes`);
    expect(result.crashes).toEqual([]);
  });

  it('the same through the lazy file-backed source (files over 16 MB): success or MbnError only', () => {
    // FileSource is what large models get; drive it directly on small files so its windowed reads are fuzzed too.
    const p = join(dir, 'lazy.onnx');
    const viaFile = (bytes: Uint8Array): 'ok' | MbnError => {
      writeFileSync(p, bytes);
      const fd = openSync(p, 'r');
      const source = new FileSource(p, fd, bytes.length);
      try {
        const model = readModelFrom(source, p);
        renderJson(analyzeModel(model));
        for (const t of model.graph.initializers) {
          try {
            readTensorBytes(model, t);
          } catch (error) {
            if (!(error instanceof MbnError)) throw error;
          }
        }
        return 'ok';
      } catch (error) {
        if (error instanceof MbnError) return error;
        throw error;
      } finally {
        source.close();
      }
    };
    expect(viaFile(original)).toBe('ok');
    const r = rng(99);
    const crashes: string[] = [];
    for (let i = 0; i < 400; i++) {
      const m = i < 100 ? { bytes: original.subarray(0, randInt(r, original.length)), what: 'cut' } : mutate(original, r);
      try {
        viaFile(m.bytes);
      } catch (error) {
        crashes.push(`${m.what}: ${(error as Error)?.stack?.split('\n').slice(0, 3).join(' | ')}`);
      }
    }
    expect(crashes).toEqual([]);
  });

  it('spot checks through the binary', () => {
    for (const n of [1, 2, 10, 100, Math.floor(original.length / 2), original.length - 1]) {
      expectUserError(mbn(['analyze', file(`cut${n}.onnx`, original.subarray(0, n))]));
    }
    const r = rng(7);
    for (let i = 0; i < 6; i++) {
      const m = mutate(original, r);
      const res = mbn(['analyze', file(`mut${i}.onnx`, m.bytes)]);
      if (res.status !== 0) expectUserError(res);
    }
  });
});

// ---- crafted protobuf ---------------------------------------------------------------------------------------------

describe('crafted bytes', () => {
  const cases: [string, Uint8Array, RegExp?][] = [
    ['declared length past the end of the file', cat(vint(1, 8), tag(7, 2), varint(1000), [0x0a, 0x00]), /declares 1000 bytes/],
    ['declared length of 2^62', cat(vint(1, 8), tag(7, 2), varint(2n ** 62n), [0x0a, 0x00]), /declares/],
    ['a 10-byte varint length (negative)', cat(vint(1, 8), tag(7, 2), varint(-1), [0x0a, 0x00]), /corrupt/],
    ['an 11-byte varint', cat(vint(1, 8), tag(5, 0), new Array(10).fill(0xff), [0x01]), /corrupt/],
    ['graph as a varint (wrong wire type)', cat(vint(1, 8), vint(7, 5)), /wire type/],
    ['node name as fixed32 (wrong wire type)', modelAround(cat(len(1, cat(tag(3, 5), [1, 2, 3, 4])))), /wire type/],
    ['wire type 3 (group)', cat(vint(1, 8), tag(9, 3)), /wire type/],
    ['wire type 7', cat(vint(1, 8), tag(9, 7)), /wire type/],
    ['field number 0', cat(vint(1, 8), [0x02, 0x00]), /field number/],
    ['invalid UTF-8 in a node name', modelAround(graph({ nodes: [cat(node('Relu', ['x'], ['y']), len(3, [0xff, 0xfe, 0xc0]))], inputs: [valueInfo('x', [1])], outputs: [valueInfo('y')] })), /UTF-8/],
    ['invalid UTF-8 in an op type', modelAround(graph({ nodes: [cat(len(1, 'x'), len(2, 'y'), len(4, [0xed, 0xa0, 0x80]))], inputs: [valueInfo('x', [1])] })), /UTF-8/],
    ['packed dims that overrun their length', modelAround(graph({ inits: [cat(len(1, [0x80]), vint(2, 1), len(8, 'w'))] })), /corrupt/],
    ['packed floats with a length not a multiple of 4', modelAround(graph({ nodes: [node('Relu', ['x'], ['y'], [len(5, cat(len(1, 'a'), len(7, [0, 0, 0])))])], inputs: [valueInfo('x', [1])] })), /multiple of 4/],
    ['no graph', cat(vint(1, 8), len(8, cat(len(1, ''), vint(2, 13)))), /no graph/],
    ['two graphs', cat(modelAround(graph({})), len(7, graph({}))), /more than one graph/],
    ['a negative initializer dim', weightModel(tensor({ dims: [-1] })), /negative/],
    ['a graph cycle', modelAround(graph({ nodes: [node('Relu', ['b'], ['a']), node('Relu', ['a'], ['b'])], outputs: [valueInfo('b')] })), /cycle/],
    ['a node that reads its own output', modelAround(graph({ nodes: [node('Relu', ['a'], ['a'])], outputs: [valueInfo('a')] })), /cycle|more than once/],
    ['a node reading a value nothing produces', modelAround(graph({ nodes: [node('Relu', ['ghost'], ['y'])], outputs: [valueInfo('y')] })), /ghost/],
    ['duplicate output names', modelAround(graph({ nodes: [node('Relu', ['x'], ['y']), node('Relu', ['x'], ['y'])], inputs: [valueInfo('x', [1])], outputs: [valueInfo('y')] })), /more than once/],
    ['a node output that is a graph input', modelAround(graph({ nodes: [node('Relu', ['x'], ['x'])], inputs: [valueInfo('x', [1])] })), /more than once|cycle/],
  ];
  for (const [name, bytes, pattern] of cases) {
    it(`${name}: MbnError in-process`, () => {
      const outcome = pipeline(bytes);
      expect(outcome, String(outcome)).toBeInstanceOf(MbnError);
      if (pattern) expect((outcome as MbnError).message).toMatch(pattern);
    });
  }
  it('each through the binary', () => {
    cases.forEach(([, bytes], i) => expectUserError(mbn(['analyze', file(`crafted${i}.onnx`, bytes)])));
  });

  // Dims: the reader accepts any non-negative value; analysis must not crash on zero or astronomically large ones.
  const dimCases: [string, Uint8Array][] = [
    ['a zero input dim', reluModel([0, 3])],
    ['a negative declared input dim', reluModel([-7, 3])],
    ['input dims whose product overflows 2^53', reluModel([2 ** 31, 2 ** 31, 2 ** 31])],
    ['an input dim of 2^63-1', reluModel([2n ** 63n - 1n])],
    ['a zero initializer dim', weightModel(tensor({ dims: [0, 4] }))],
    ['initializer dims whose product overflows 2^53 (no data)', weightModel(tensor({ dims: [2 ** 31, 2 ** 31, 2 ** 31] }))],
    ['initializer dims [2^40] with 16 bytes of raw data', weightModel(tensor({ dims: [2 ** 40], raw: new Uint8Array(16) }))],
  ];
  for (const [name, bytes] of dimCases) {
    it(`${name}: success or MbnError, exit 0 or a clean exit 2`, () => {
      pipeline(bytes);
      const r = mbn(['analyze', '--format', 'json', file(`dims-${name.replace(/\W+/g, '_')}.onnx`, bytes)]);
      if (r.status === 0) expect(r.stderr).toBe('');
      else expectUserError(r);
    });
  }

  it('overflowing dims are refused when the weight bytes are read (no allocation by declared size)', () => {
    for (const dims of [[2 ** 31, 2 ** 31, 2 ** 31], [2 ** 40], [2 ** 26, 2 ** 26]]) {
      for (const t of [tensor({ dims, raw: new Uint8Array(16) }), cat(tensor({ dims }), len(4, new Uint8Array(16)))]) {
        const model = readModelBytes(weightModel(t));
        let caught: unknown;
        try {
          readTensorBytes(model, model.graph.initializers[0]);
        } catch (error) {
          caught = error;
        }
        expect(caught, String(caught)).toBeInstanceOf(MbnError);
      }
    }
  });
});

// ---- constant folding must not materialize what dims or values merely declare ---------------------------------------

describe('shape arithmetic on huge declared values', () => {
  const i64 = (name: string, dims: number[], values: number[]) => ({ name, dtype: 7, dims, values });
  const cases: [string, ModelSpec][] = [
    ['Range to 1e15', { initializers: [i64('s', [], [0]), i64('l', [], [1e15]), i64('d', [], [1])], nodes: [{ op: 'Range', inputs: ['s', 'l', 'd'], outputs: ['y'] }], outputs: ['y'] }],
    ['Range with delta 0', { initializers: [i64('s', [], [0]), i64('l', [], [10]), i64('d', [], [0])], nodes: [{ op: 'Range', inputs: ['s', 'l', 'd'], outputs: ['y'] }], outputs: ['y'] }],
    ['ConstantOfShape [1e6,1e6,1e6] then Shape', { initializers: [i64('s', [3], [1e6, 1e6, 1e6])], nodes: [{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['y'] }, { op: 'Shape', inputs: ['y'], outputs: ['z'] }], outputs: ['z'] }],
    ['ConstantOfShape [1e9]', { initializers: [i64('s', [1], [1e9])], nodes: [{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['y'] }], outputs: ['y'] }],
    ['Expand to [1e5,1e5]', { initializers: [i64('x', [1], [1]), i64('s', [2], [1e5, 1e5])], nodes: [{ op: 'Expand', inputs: ['x', 's'], outputs: ['y'] }], outputs: ['y'] }],
    ['Tile x1e9', { initializers: [i64('x', [1], [1]), i64('s', [1], [1e9])], nodes: [{ op: 'Tile', inputs: ['x', 's'], outputs: ['y'] }], outputs: ['y'] }],
    ['Reshape to [-1,-1]', { inputs: [{ name: 'x', shape: [2, 3] }], initializers: [i64('s', [2], [-1, -1])], nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['y'] }], outputs: ['y'] }],
  ];
  for (const [name, spec] of cases) {
    // A rule that materialized what these declare would hang or run out of memory: the test's timeout catches that.
    it(`${name}: success or MbnError, never materialized`, { timeout: 10_000 }, () => {
      pipeline(buildModel(spec));
    });
  }
});

// ---- size and depth ------------------------------------------------------------------------------------------------

describe('size and depth', () => {
  it('If subgraphs nested 2,000 deep: a clean error, no stack overflow', () => {
    const out = valueInfo('y');
    let inner = graph({ nodes: [node('Relu', ['c'], ['y'])], outputs: [out] });
    const levels = 2000;
    for (let i = 0; i < levels; i++) {
      const attr = cat(len(1, 'then_branch'), vint(20, 5), len(6, inner));
      const attr2 = cat(len(1, 'else_branch'), vint(20, 5), len(6, graph({ nodes: [node('Identity', ['c'], ['y'])], outputs: [out] })));
      inner = graph({ nodes: [node('If', ['c'], ['y'], [len(5, attr), len(5, attr2)])], outputs: [out] });
    }
    const bytes = modelAround(cat(inner, len(11, valueInfo('c', [], 9))));
    const outcome = pipeline(bytes);
    expect(outcome).toBeInstanceOf(MbnError);
    expectUserError(mbn(['analyze', file('deep-if.onnx', bytes)]), /nested/);
  });

  it('100,000 Relu nodes in a chain: analyze succeeds', () => {
    const n = 100_000;
    const nodes: Uint8Array[] = [];
    for (let i = 0; i < n; i++) nodes.push(len(1, node('Relu', [i === 0 ? 'x' : `v${i - 1}`], [`v${i}`])));
    const bytes = modelAround(cat(...nodes, len(11, valueInfo('x', [1, 64])), len(12, valueInfo(`v${n - 1}`))));
    const r = mbn(['analyze', '--format', 'json', file('chain.onnx', bytes)]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.totals.layers).toBe(n);
  });
});

// ---- external data ---------------------------------------------------------------------------------------------------

describe('external data', () => {
  const data = new Uint8Array(16).map((_, i) => i);
  let folder: string;
  let outside: string;

  beforeAll(() => {
    folder = join(dir, 'ext');
    outside = join(dir, 'outside');
    mkdirSync(folder, { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(folder, 'w.bin'), data);
    writeFileSync(join(outside, 'secret.bin'), data);
  });

  /** Writes a model whose initializer w (float [4]) has the given external entries; returns its path. */
  function extModel(name: string, entries: [string, string][]): string {
    const p = join(folder, `${name}.onnx`);
    writeFileSync(p, weightModel(tensor({ dims: [4], external: entries })));
    return p;
  }

  function readWeights(path: string): Uint8Array {
    const model: Model = readModel(path);
    try {
      return readTensorBytes(model, model.graph.initializers[0]);
    } finally {
      model.source.close();
    }
  }

  function expectExternalError(path: string, pattern: RegExp): void {
    let caught: unknown;
    try {
      readWeights(path);
    } catch (error) {
      caught = error;
    }
    expect(caught, String(caught)).toBeInstanceOf(MbnError);
    expect((caught as MbnError).code).toBe('external-data');
    expect((caught as MbnError).message).toMatch(pattern);
  }

  it('a well-formed reference reads (sanity)', () => {
    expect(Array.from(readWeights(extModel('good', [['location', 'w.bin']])))).toEqual(Array.from(data));
    expect(Array.from(readWeights(extModel('good-range', [['location', 'w.bin'], ['offset', '0'], ['length', '16']])))).toEqual(Array.from(data));
  });
  it('empty location', () => expectExternalError(extModel('empty', [['location', '']]), /empty/));
  it('absolute location', () => expectExternalError(extModel('abs', [['location', join(outside, 'secret.bin')]]), /absolute/));
  it("location with '..'", () => expectExternalError(extModel('dotdot', [['location', '../outside/secret.bin']]), /'\.\.'/));
  it('through a symlinked parent folder pointing outside', () => {
    symlinkSync(outside, join(folder, 'linkdir'));
    expectExternalError(extModel('linkdir', [['location', 'linkdir/secret.bin']]), /outside the model's folder/);
  });
  it('the data file is a symlink', () => {
    symlinkSync(join(folder, 'w.bin'), join(folder, 'link.bin'));
    expectExternalError(extModel('linkfile', [['location', 'link.bin']]), /symbolic link/);
  });
  it('the data file is a directory', () => {
    mkdirSync(join(folder, 'adir'));
    expectExternalError(extModel('dir', [['location', 'adir']]), /not a regular file/);
  });
  it('the data file is a FIFO (must not block)', () => {
    execFileSync('mkfifo', [join(folder, 'fifo.bin')]);
    expectExternalError(extModel('fifo', [['location', 'fifo.bin']]), /not a regular file/);
  });
  it('the data file is hard-linked', () => {
    writeFileSync(join(folder, 'h1.bin'), data);
    linkSync(join(folder, 'h1.bin'), join(outside, 'h2.bin'));
    expectExternalError(extModel('hardlink', [['location', 'h1.bin']]), /hard links/);
  });
  it('a missing data file', () => expectExternalError(extModel('missing', [['location', 'nothere.bin']]), /not found/));
  it('offset + length past the end', () => {
    expectExternalError(extModel('past', [['location', 'w.bin'], ['offset', '8'], ['length', '16']]), /past the end/);
    expectExternalError(extModel('past2', [['location', 'w.bin'], ['offset', '17']]), /past the end|offset/);
    expectExternalError(extModel('past3', [['location', 'w.bin'], ['offset', '9007199254740991'], ['length', '16']]), /past the end/);
  });
  it('a length that does not match dims and type', () => {
    expectExternalError(extModel('short', [['location', 'w.bin'], ['length', '8']]), /does not match/);
  });
  it('an unknown key', () => expectExternalError(extModel('unknown', [['location', 'w.bin'], ['evil', '1']]), /unknown key/));

  // A malformed offset/length is refused as soon as the model is read (it is part of the model's structure).
  for (const [key, value] of [['offset', '-1'], ['offset', 'abc'], ['length', '-16'], ['length', '1e3'], ['offset', ''], ['length', '99999999999999999999']]) {
    it(`${key} = ${JSON.stringify(value)}`, () => {
      const p = extModel(`bad-${key}-${value.length}-${value.charCodeAt(0) || 0}`, [['location', 'w.bin'], [key, value]]);
      expectExternalError(p, /not a non-negative integer|too large/);
      expectUserError(mbn(['analyze', p]), /external data/);
    });
  }

  it('analyze does not need the data file: a missing one is not an error', () => {
    const sub = join(dir, 'ext-missing');
    mkdirSync(sub);
    const p = join(sub, 'external_data.onnx');
    copyFileSync(join(ROOT, 'fixtures', 'edge', 'external_data.onnx'), p);
    const r = mbn(['analyze', p]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  it('analyze ignores an unsafe location (it never opens the file)', () => {
    const r = mbn(['analyze', extModel('abs-analyze', [['location', '/etc/passwd']])]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

// ---- names, file names and configs written by an attacker ---------------------------------------------------------

/** Characters that a terminal acts on or that reorder text; none may reach the output raw (newline aside). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Lines that GitHub's runner would read as a workflow command: `::` at the start, after any spaces. */
const commandLines = (text: string) => text.split('\n').filter((l) => /^\s*::/.test(l));

describe('hostile names in reports', () => {
  const names = [
    'clear\x1b[2J\x1b[H',
    'title\x1b]0;pwned\x07',
    'cr\rbs\bdel\x7f',
    '\u202eexe.gnp',
    'x\n::warning title=INJECTED::pwned',
    'a|b\n\n## INJECTED HEADING <img src=x onerror=alert(1)> @octocat',
    '::warning::starts a line',
  ];
  let model: string;

  beforeAll(() => {
    // A chain of Relus with hostile names, then an op mbn does not know (listed under "Not counted" by name).
    const nodes: NodeSpec[] = names.map((name, i) => ({ op: 'Relu', name, inputs: [i === 0 ? 'x' : `v${i - 1}`], outputs: [`v${i}`] }));
    nodes.push({ op: 'Evil\x1b[31mOp', name: '::error::not counted', inputs: [`v${names.length - 1}`], outputs: ['y'], domain: 'evil.domain' });
    model = file('hostile-names.onnx', buildModel({ inputs: [{ name: 'x', shape: [1, 4] }], outputs: ['y'], nodes, opsets: { 'evil.domain': 1 } }));
  });

  it('table: every control character shown escaped, one line per layer, no workflow command', () => {
    const r = mbn(['analyze', model, '--all', '--no-color'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stdout).toContain('clear\\x1b[2J\\x1b[H');
    expect(r.stdout).toContain('\\u202eexe.gnp');
    expect(commandLines(r.stdout)).toEqual([]);
    const table = r.stdout.split('\n').slice(1, 1 + names.length + 5);
    // Top rule, head, rule, one line per layer, bottom rule: no name split a row.
    expect(table[0]).toMatch(/^┌/);
    expect(table[names.length + 4]).toMatch(/^└/);
    expect(table.slice(3, names.length + 4).every((l) => l.startsWith('│ '))).toBe(true);
  });

  it('markdown: no heading, HTML, mention or extra cell from a name', () => {
    const r = mbn(['analyze', model, '--all', '--format', 'md']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('#'))).toEqual([lines[0]]);
    expect(r.stdout).not.toMatch(/@octocat|(?<!\\)<img/);
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    const rows = lines.filter((l) => l.startsWith('| ') && !l.startsWith('| Layer') && !l.startsWith('| MACs'));
    expect(rows).toHaveLength(names.length + 1 + 1);
    // Each layer row has 7 cells: 8 pipes that are not escaped.
    for (const row of rows.slice(1)) expect(row.replace(/\\\\/g, '').match(/(?<!\\)\|/g), row).toHaveLength(8);
  });

  it('CSV and JSON keep the names exactly', () => {
    const json = JSON.parse(mbn(['analyze', model, '--format', 'json']).stdout);
    expect(json.layers.map((l: { name: string }) => l.name)).toEqual([...names, '::error::not counted']);
    const csv = mbn(['analyze', model, '--format', 'csv']).stdout;
    // RFC 4180: the first field of each record, quoted fields may hold newlines.
    const firsts: string[] = [];
    const re = /(?:^|\n)(?:"((?:[^"]|"")*)"|([^,\n]*)),/g;
    for (let m = re.exec(csv); m; m = re.exec(csv)) firsts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
    expect(firsts).toEqual(['name', ...names, '::error::not counted']);
  });
});

describe('hostile check configs (GitHub Actions)', () => {
  let folder: string;
  beforeAll(() => {
    folder = join(dir, 'check-hostile');
    mkdirSync(join(folder, 'models'), { recursive: true });
    copyFileSync(TINY, join(folder, 'models', 'tiny.onnx'));
    // A model whose file name holds a newline and a workflow command, matched by a glob.
    copyFileSync(TINY, join(folder, 'models', 'evil\n::warning title=FILE::pwned.onnx'));
  });

  it('a check name or a file name cannot print a workflow command', () => {
    writeFileSync(
      join(folder, 'mbn.config.json'),
      JSON.stringify([
        { name: 'ok\n::warning title=INJECTED::pwned', model: 'models/tiny.onnx', maxMacs: 1 },
        { name: 'glob', model: 'models/evil*.onnx', maxMacs: 1 },
      ]),
    );
    for (const format of ['table', 'md', 'json']) {
      const r = mbn(['check', '--format', format], { cwd: folder, env: { GITHUB_ACTIONS: 'true' } });
      expect(r.status, r.stderr).toBe(1);
      for (const out of [r.stdout, r.stderr]) {
        // Only mbn's own annotations, one per failed check, each one line.
        for (const line of commandLines(out)) expect(line, format).toMatch(/^::error file=[^\n]*,title=mbn budget::/);
        expect(out).not.toMatch(/^\s*::warning/m);
        expect(out).not.toMatch(RAW_CONTROL);
      }
      expect(commandLines(r.stdout + r.stderr), format).toHaveLength(2);
    }
  });

  it('a 200,000-character name leaves table lines short', () => {
    writeFileSync(join(folder, 'long.json'), JSON.stringify([{ name: 'n'.repeat(200_000), model: 'models/tiny.onnx', maxMacs: 1 }]));
    const r = mbn(['check', '--config', 'long.json'], { cwd: folder });
    expect(r.status, r.stderr).toBe(1);
    expect(Math.max(...r.stdout.split('\n').map((l) => l.length))).toBeLessThan(400);
  });
});

describe('hostile names in separate', () => {
  it('a 200,000-character conv name is clipped in the table; a control character is escaped', () => {
    const w = { name: 'w', dtype: 1, dims: [4, 2, 3, 3], values: Array.from({ length: 72 }, (_, i) => Math.sin(i)) };
    const spec: ModelSpec = {
      inputs: [{ name: 'x', shape: [1, 2, 6, 6] }],
      outputs: ['y'],
      initializers: [w, { ...w, name: 'w2', dims: [4, 4, 3, 3], values: Array.from({ length: 144 }, (_, i) => Math.cos(i)) }],
      nodes: [
        { op: 'Conv', name: `${'c'.repeat(200_000)}/Conv`, inputs: ['x', 'w'], outputs: ['h'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'Conv', name: 'evil\x1b[2J\n::warning::x', inputs: ['h', 'w2'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      ],
    };
    const r = mbn(['separate', file('long-conv.onnx', buildModel(spec)), '--dry-run'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.status, r.stderr).toBe(0);
    expect(Math.max(...r.stdout.split('\n').map((l) => l.length))).toBeLessThan(200);
    expect(r.stdout).toContain('/Conv │');
    expect(r.stdout).toContain('evil\\x1b[2J\\x0a::warning::x');
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(commandLines(r.stdout)).toEqual([]);
  });
});

describe('configs and baselines that never end', () => {
  let folder: string;
  beforeAll(() => {
    folder = join(dir, 'unbounded');
    mkdirSync(folder, { recursive: true });
    copyFileSync(TINY, join(folder, 'tiny.onnx'));
  });
  const valid = () => {
    const p = join(folder, 'ok.json');
    writeFileSync(p, JSON.stringify([{ model: 'tiny.onnx', maxMacs: '1G' }]));
    return p;
  };

  it('--config /dev/zero', () => expectUserError(mbn(['check', '--config', '/dev/zero'], { cwd: folder }), /not a regular file/));
  it('--baseline /dev/zero', () => expectUserError(mbn(['check', '--config', valid(), '--baseline', '/dev/zero'], { cwd: folder }), /not a regular file/));
  it('a FIFO as config (must not block)', () => {
    const fifo = join(folder, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    expectUserError(mbn(['check', '--config', fifo], { cwd: folder }), /not a regular file/);
  });
  it('a config over 16 MiB', () => {
    const big = join(folder, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, 16 * 1024 * 1024 + 1);
    expectUserError(mbn(['check', '--config', big], { cwd: folder }), /at most 16 MiB/);
  });
  it('100,000 nested [', () => {
    expectUserError(mbn(['check', '--config', file('nested.json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`)], { cwd: folder }), /must be an object/);
    expectUserError(mbn(['check', '--config', file('nested-open.json', '['.repeat(100_000))], { cwd: folder }), /not valid JSON/);
  });
  it('a 1 MB unknown key is quoted with at most 80 characters (200 at most anywhere)', () => {
    const r = mbn(['check', '--config', file('longkey.json', JSON.stringify([{ model: 'tiny.onnx', ['k'.repeat(1_000_000)]: 1 }]))], { cwd: folder });
    expectUserError(r, /unknown key 'k{80}…'/);
    expect(r.stderr.length).toBeLessThan(1000);
  });
  it('a UTF-16 config: named as such, no NUL in the message', () => {
    const r = mbn(['check', '--config', file('utf16.json', Buffer.from(`\ufeff${JSON.stringify([{ model: 'tiny.onnx', maxMacs: '1G' }])}`, 'utf16le'))], { cwd: folder });
    expectUserError(r, /UTF-16/);
    expect(r.stderr).not.toContain('\u0000');
  });
  it('a 1M-element input shape in a config: one short line that names the config, not --input', () => {
    const p = join(folder, 'shape.json');
    writeFileSync(p, JSON.stringify([{ model: 'tiny.onnx', input: { input: new Array(1_000_000).fill(1) }, maxMacs: '1G' }]));
    const r = mbn(['check', '--config', p], { cwd: folder });
    expectUserError(r, /shape\.json: entry 1 "input" input:1x1x.*has rank 1000000, but the model declares rank 4/);
    expect(r.stderr).not.toContain('--input');
    expect(r.stderr.length).toBeLessThan(1000);
  });
  it('a config pointing at any file: "not an ONNX model" (a failed row, exit 1), none of its bytes', () => {
    writeFileSync(join(folder, 'secret.txt'), 'SECRET-TOKEN=hunter2\n');
    const r = mbn(['check', '--config', file('points-at-secret.json', JSON.stringify([{ model: join(folder, 'secret.txt'), maxMacs: '1G' }]))], { cwd: folder });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/cannot check this model: '[^\n]*secret\.txt' is not an ONNX model\n/);
    expect(r.stdout + r.stderr).not.toMatch(/53 45|hunter2|bytes/);
  });
});

// ---- another protobuf message -------------------------------------------------------------------------------------

describe('format detection by field numbers and wire types', () => {
  const caught = (bytes: Uint8Array): MbnError => {
    try {
      readModelBytes(bytes, 't.pb');
    } catch (error) {
      if (error instanceof MbnError) return error;
      throw error;
    }
    throw new Error('read without error');
  };

  it('a TensorProto (.pb) is another protobuf message, not a corrupt model', () => {
    // dims 2 and 3 (field 1, varints: they read like ir_version), data_type FLOAT (field 2 as a varint), name, raw_data.
    const tensorPb = cat(vint(1, 2), vint(1, 3), vint(2, 1), len(8, 'x'), len(9, new Array(24).fill(0)));
    const e = caught(tensorPb);
    expect(e.code).toBe('not-onnx');
    expect(e.message).toBe(
      "'t.pb' is not an ONNX model: it may be another protobuf message, such as a TensorProto (.pb); ModelProto.producer_name (field 2) has wire type 0, expected 2, at byte 4",
    );
  });

  it('the same wrong wire type after the graph is a corrupt model', () => {
    const e = caught(cat(modelAround(graph({})), vint(2, 1)));
    expect(e.code).toBe('corrupt');
    expect(e.message).toMatch(/^'t\.pb': model is corrupt: ModelProto\.producer_name \(field 2\) has wire type 0, expected 2, at byte \d+$/);
  });
});
