import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync,
  statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { encodeNodeField, encodeTensorField, encodeValueInfoField } from '../src/onnx/encode.js';
import { readModel } from '../src/onnx/read.js';
import { allTensors } from '../src/ir/walk.js';
import { BIN, fixture, mbn, tempDir, type CliResult } from './helpers/cli.js';
import { loadOrt, relativeError, runModel } from './helpers/ort.js';
import { checkModel, pythonOnnx } from './helpers/python.js';

/**
 * Where `mbn separate` writes, and what it never touches: the output target is checked before any work, the input
 * and its data files are never replaced, a signal during a write leaves nothing behind, and a model with external
 * data is written self-contained to any folder.
 */

const ort = loadOrt();
const hasChecker = pythonOnnx();

/** Exit 2 with exactly one `mbn: ` line on stderr matching `pattern`, and nothing on stdout. */
function expectRefused(r: CliResult, pattern: RegExp): void {
  const summary = `exit ${r.status}, stderr: ${JSON.stringify(r.stderr)}`;
  expect(r.stderr.split('\n').filter(Boolean), summary).toHaveLength(1);
  expect(r.stderr, summary).toMatch(pattern);
  expect(r.status, summary).toBe(2);
  expect(r.stdout).toBe('');
}

/** A folder holding a copy of the external-data fixture (external_data.onnx + external_data.onnx.data). */
function externalCopy(): { work: string; model: string; data: string; modelBytes: Buffer; dataBytes: Buffer } {
  const work = tempDir('mbn-writes-');
  const model = join(work, 'external_data.onnx');
  const data = join(work, 'external_data.onnx.data');
  copyFileSync(fixture('edge/external_data.onnx'), model);
  copyFileSync(fixture('edge/external_data.onnx.data'), data);
  return { work, model, data, modelBytes: readFileSync(model), dataBytes: readFileSync(data) };
}

function expectUnchanged(c: ReturnType<typeof externalCopy>): void {
  expect(readFileSync(c.model).equals(c.modelBytes)).toBe(true);
  expect(readFileSync(c.data).equals(c.dataBytes)).toBe(true);
}

const temps = (folder: string): string[] => readdirSync(folder).filter((n) => n.endsWith('.tmp'));

describe('the output is never the input nor a file the input uses (issue 15, item 1)', () => {
  it("-o the input's own data file, even with --force: refused, nothing modified", () => {
    const c = externalCopy();
    const r = mbn(['separate', c.model, '-o', c.data, '--force']);
    expectRefused(r, /^mbn: refusing to write '.*external_data\.onnx\.data': it is one of the input's external data files/);
    expectUnchanged(c);
    expect(temps(c.work)).toEqual([]);
  });

  it('the same through a symlink and through a hard link to the data file', () => {
    const c = externalCopy();
    const link = join(c.work, 'link.onnx');
    symlinkSync('external_data.onnx.data', link);
    expectRefused(mbn(['separate', c.model, '-o', link, '--force']), /it is one of the input's external data files/);
    expect(readlinkSync(link)).toBe('external_data.onnx.data');
    const hard = join(c.work, 'hard.onnx');
    linkSync(c.data, hard);
    expectRefused(mbn(['separate', c.model, '-o', hard, '--force']), /it is one of the input's external data files/);
    expectUnchanged(c);
  });

  it('the input through another spelling of its path, a symlink or a hard link', () => {
    const c = externalCopy();
    expectRefused(mbn(['separate', c.model, '-o', join(c.work, '.', 'external_data.onnx'), '--force']), /it is the input/);
    const link = join(c.work, 'alias.onnx');
    symlinkSync(c.model, link);
    expectRefused(mbn(['separate', c.model, '-o', link, '--force']), /it is the input/);
    const hard = join(c.work, 'hard.onnx');
    linkSync(c.model, hard);
    expectRefused(mbn(['separate', c.model, '-o', hard, '--force']), /it is the input/);
    expectUnchanged(c);
  });

  it("the output's own data file may not be one of the input's data files either", () => {
    const c = externalCopy();
    // A second model in the folder that uses the same data file: its output external_data.onnx would write its
    // data to external_data.onnx.data.
    const other = join(c.work, 'other.onnx');
    copyFileSync(c.model, other);
    // external_data.onnx is an existing file too, but the data file is what must never be replaced.
    unlinkSync(c.model);
    const r = mbn(['separate', other, '-o', c.model, '--force']);
    expectRefused(r, /^mbn: refusing to write '.*external_data\.onnx\.data': it is one of the input's external data files/);
    expect(readFileSync(c.data).equals(c.dataBytes)).toBe(true);
    expect(existsSync(c.model)).toBe(false);
  });
});

describe('the output target is checked before any work (issue 15, item 10)', () => {
  // resnet18.onnx is graph-only: planning it with svd fails on its missing weights. A target error instead shows
  // that the target was checked first.
  const unplannable = fixture('graph-only/resnet18.onnx');

  it("-o '' is an empty path", () => {
    expectRefused(mbn(['separate', unplannable, '-o', '']), /^mbn: the output path is empty\n$/);
  });

  it('-o newdir/ names a folder; nothing is created', () => {
    const work = tempDir();
    const r = mbn(['separate', unplannable, '-o', join(work, 'newdir') + '/']);
    expectRefused(r, /^mbn: cannot write '.*newdir\/': it ends with a slash, so it names a folder; give a file name\n$/);
    expect(readdirSync(work)).toEqual([]);
  });

  it('an existing folder, with or without --force', () => {
    const work = tempDir();
    mkdirSync(join(work, 'out.onnx'));
    expectRefused(mbn(['separate', unplannable, '-o', join(work, 'out.onnx'), '--force']), /^mbn: cannot write '.*out\.onnx': it is a directory\n$/);
    expect(readdirSync(join(work, 'out.onnx'))).toEqual([]);
  });

  it('a parent folder that does not exist, or is a file', () => {
    const work = tempDir();
    expectRefused(mbn(['separate', unplannable, '-o', join(work, 'nope', 'out.onnx')]), /^mbn: cannot write '.*out\.onnx': the folder '.*nope' does not exist\n$/);
    writeFileSync(join(work, 'file'), 'x');
    expectRefused(mbn(['separate', unplannable, '-o', join(work, 'file', 'out.onnx')]), /^mbn: cannot write '.*out\.onnx': '.*file' is not a folder\n$/);
    expect(readdirSync(work)).toEqual(['file']);
  });

  it('a device is refused even with --force', () => {
    expectRefused(mbn(['separate', unplannable, '-o', '/dev/null', '--force']), /^mbn: cannot write '\/dev\/null': it exists and is not a regular file\n$/);
  });

  it('a dangling symlink counts as existing; with --force the link is replaced, never written through', () => {
    const work = tempDir();
    const link = join(work, 'out.onnx');
    symlinkSync(join(work, 'elsewhere.onnx'), link);
    expectRefused(mbn(['separate', unplannable, '-o', link]), /^mbn: '.*out\.onnx' is a symbolic link to a missing file; use --force to replace the link\n$/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const r = mbn(['separate', fixture('edge/strided.onnx'), '-o', link, '--force', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(link).isFile()).toBe(true);
    expect(existsSync(join(work, 'elsewhere.onnx'))).toBe(false);
  });

  it('a symlink to another file: --force replaces the link and leaves the file it pointed to alone', () => {
    const work = tempDir();
    const precious = join(work, 'precious.onnx');
    writeFileSync(precious, 'keep me');
    const link = join(work, 'out.onnx');
    symlinkSync(precious, link);
    expectRefused(mbn(['separate', fixture('edge/strided.onnx'), '-o', link]), /already exists; use --force to overwrite it/);
    expect(mbn(['separate', fixture('edge/strided.onnx'), '-o', link, '--force', '--format', 'json']).status).toBe(0);
    expect(lstatSync(link).isFile()).toBe(true);
    expect(readFileSync(precious, 'utf8')).toBe('keep me');
  });

  it('a folder that cannot be written (read-only file system as root, mode 555 otherwise)', (ctx) => {
    const work = tempDir();
    const ro = join(work, 'ro');
    mkdirSync(ro);
    let unmount = false;
    if (process.getuid?.() === 0) {
      // Root ignores mode bits: a read-only tmpfs is the honest case.
      if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]).status !== 0) {
        console.warn('skipping the read-only folder test: cannot mount a tmpfs here');
        ctx.skip();
      }
      unmount = true;
    } else {
      spawnSync('chmod', ['555', ro]);
    }
    try {
      const r = mbn(['separate', unplannable, '-o', join(ro, 'out.onnx')]);
      expectRefused(r, /^mbn: cannot write '.*out\.onnx': (read-only file system|permission denied); nothing was written\n$/);
      expect(readdirSync(ro)).toEqual([]);
    } finally {
      if (unmount) spawnSync('umount', [ro]);
    }
  });
});

// ---- signals --------------------------------------------------------------------------------------------------

const { Writer } = protobuf;

function lenField(no: number, payload: Uint8Array): Uint8Array {
  return Writer.create().uint32((no << 3) | 2).bytes(payload).finish();
}

/**
 * A model whose file (or, with `external`, whose data file) holds `megabytes` MB of float32 weights: Relu on x, and
 * an unused initializer `big`. There is nothing to separate, so `separate` writes the model (and copies the data)
 * as it is: long enough to be interrupted.
 */
function writeBigModel(path: string, megabytes: number, external: string | null): void {
  const bytes = Buffer.alloc(megabytes * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
  const dims = [bytes.length / 4];
  const big = external
    ? encodeTensorField({ name: 'big', dtype: 1, dims, external: { location: external, offset: 0, length: bytes.length } })
    : encodeTensorField({ name: 'big', dtype: 1, dims, raw: bytes });
  if (external) writeFileSync(join(path, '..', external), bytes);
  const graph = Buffer.concat([
    encodeNodeField({ name: 'relu', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['y'], attributes: [] }),
    lenField(2, Buffer.from('big')),
    big,
    encodeValueInfoField('x', 1, [1, 4], 11),
    encodeValueInfoField('y', 1, [1, 4], 12),
  ]);
  const opset = Writer.create().uint32((2 << 3) | 0).int64(13).finish();
  const ir = Writer.create().uint32((1 << 3) | 0).int64(7).finish();
  writeFileSync(path, Buffer.concat([ir, lenField(7, graph), lenField(8, opset)]));
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })));
}

/**
 * Polls `folder` until a temporary file holds bytes (or the child is gone); returns its name, or null. An empty one
 * may be the probe that checks the folder before any work, created and removed at once: only the write fills one.
 */
async function waitForTemp(folder: string, child: ChildProcess): Promise<string | null> {
  const filled = (name: string): boolean => {
    try {
      return statSync(join(folder, name)).size > 0;
    } catch {
      return false;
    }
  };
  for (;;) {
    const found = temps(folder).filter(filled);
    if (found.length) return found[0];
    if (child.exitCode !== null || child.signalCode !== null) return null;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Waits until the process is stopped (state T in /proc/<pid>/stat), where /proc exists. */
async function stopped(pid: number): Promise<void> {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return;
  while (!/^\d+ \(.*\) T /.test(readFileSync(stat, 'utf8'))) await new Promise((r) => setTimeout(r, 1));
}

function startSeparate(input: string, output: string): ChildProcess {
  return spawn(process.execPath, [BIN, 'separate', input, '-o', output, '--format', 'json'], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts a write, stops the process (SIGSTOP) once its temporary file exists, checks it is mid-write, sends the
 * signal and lets it continue: the signal is then handled at the write's next step, deterministically.
 */
async function interruptWrite(input: string, output: string, signal: NodeJS.Signals) {
  const folder = join(output, '..');
  const child = startSeparate(input, output);
  const done = exited(child);
  const temp = await waitForTemp(folder, child);
  expect(temp, 'the write ended before its temporary file was seen').not.toBeNull();
  child.kill('SIGSTOP');
  await stopped(child.pid!);
  expect(temps(folder)).toContain(temp);
  expect(existsSync(output)).toBe(false);
  child.kill(signal);
  child.kill('SIGCONT');
  return { temp: temp!, ...(await done) };
}

describe('signals during a write (issue 15, item 2)', () => {
  const work = tempDir('mbn-signals-');
  const inline = join(work, 'inline.onnx');
  const withData = join(work, 'external.onnx');
  writeBigModel(inline, 96, null);
  writeBigModel(withData, 96, 'external.onnx.data');

  const cases: [NodeJS.Signals, number, string][] = [
    ['SIGINT', 130, inline],
    ['SIGTERM', 143, withData],
    ['SIGHUP', 129, inline],
  ];
  for (const [signal, code, input] of cases) {
    it(`${signal} while writing ${input === inline ? 'a 96 MB model' : 'a 96 MB data file'}: temp files removed, exit ${code}`, { timeout: 120_000 }, async () => {
      const out = join(work, `out-${signal}.onnx`);
      const r = await interruptWrite(input, out, signal);
      expect(r.temp).toMatch(new RegExp(`^\\.out-${signal}\\.onnx(\\.data)?\\.\\d+\\.[0-9a-f]{8}\\.tmp$`));
      expect(r.stderr).toBe('mbn: interrupted; nothing was written\n');
      expect(r.stdout).toBe('');
      expect(r.code).toBe(code);
      expect(temps(work)).toEqual([]);
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.data`)).toBe(false);
    });
  }

  it('kill -9 leaves a temp file; the next write to the same target removes it (and only temps of dead processes)', { timeout: 120_000 }, async () => {
    const out = join(work, 'killed.onnx');
    const child = startSeparate(inline, out);
    const done = exited(child);
    const temp = await waitForTemp(work, child);
    expect(temp).not.toBeNull();
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect(temps(work)).toEqual([temp]);
    // A temp of a running process (this one) for the same target stays, and so does one for another target.
    const live = `.killed.onnx.${process.pid}.0123abcd.tmp`;
    const otherTarget = `.other.onnx.${child.pid}.0123abcd.tmp`;
    writeFileSync(join(work, live), 'x');
    writeFileSync(join(work, otherTarget), 'x');
    const r = mbn(['separate', inline, '-o', out, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(temps(work).sort()).toEqual([live, otherTarget].sort());
    expect(readFileSync(out).equals(readFileSync(inline))).toBe(true);
    unlinkSync(join(work, live));
    unlinkSync(join(work, otherTarget));
  });
});

// ---- self-contained external data ---------------------------------------------------------------------------------

/** Runs both models on the same seeded inputs; returns the worst relative output error. */
async function compare(original: string, separated: string): Promise<number> {
  const a = await runModel(original, undefined, { seed: 3 });
  const b = await runModel(separated, a.feeds);
  let worst = 0;
  for (const [name, out] of Object.entries(a.outputs)) {
    expect(b.outputs[name].dims).toEqual(out.dims);
    worst = Math.max(worst, relativeError(b.outputs[name].data, out.data));
  }
  return worst;
}

/** Every external location the model refers to. */
function locations(path: string): string[] {
  const model = readModel(path);
  try {
    return [...new Set([...allTensors(model)].filter((t) => t.external).map((t) => t.external!.location))];
  } finally {
    model.source.close();
  }
}

describe('a model with external data is written self-contained, to any folder (issue 15, item 13)', () => {
  it('external_data.onnx → build/model.onnx: valid, same outputs, and still runs once the input data is gone', async () => {
    const c = externalCopy();
    mkdirSync(join(c.work, 'build'));
    const out = join(c.work, 'build', 'model.onnx');
    const r = mbn(['separate', c.model, '-o', out, '--multiplier', '1000', '--allow-costlier', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expectUnchanged(c);
    expect(readdirSync(join(c.work, 'build')).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    expect(locations(out)).toEqual(['model.onnx.data']);
    // The bias B (16 floats, the last 64 bytes of the input's data file) is copied as it was, after the new weights.
    // Full rank is min(16, 3·3) = 9: depthwise [72, 1, 3, 3] = 2,592 bytes (padded to 2,624), pointwise [16, 72, 1, 1]
    // = 4,608 bytes, then B at 7,232.
    const data = readFileSync(`${out}.data`);
    expect(data.length).toBe(2624 + 4608 + 64);
    expect(data.subarray(7232).equals(c.dataBytes.subarray(4672 - 64))).toBe(true);
    if (hasChecker) expect(checkModel(out)).toBeNull();
    if (ort) expect(await compare(c.model, out)).toBeLessThan(1e-4);
    const expected = ort ? await runModel(out, undefined, { seed: 3 }) : null;
    // Without the input's files the output is unchanged: it never refers to them.
    renameSync(c.data, `${c.data}.moved`);
    renameSync(c.model, `${c.model}.moved`);
    if (hasChecker) expect(checkModel(out)).toBeNull();
    if (ort && expected) {
      const again = await runModel(out, expected.feeds);
      for (const [name, o] of Object.entries(expected.outputs)) expect(relativeError(again.outputs[name].data, o.data)).toBe(0);
    }
    expect(mbn(['analyze', out]).stderr).toBe('');
  });

  it('nothing to separate: the output still gets its own copy of every external tensor', () => {
    const c = externalCopy();
    const out = join(tempDir(), 'copy.onnx');
    const r = mbn(['separate', c.model, '-o', out, '--include', 'no-such-node', '--format', 'json']);
    expect(r.status).toBe(0);
    expect(locations(out)).toEqual(['copy.onnx.data']);
    // W (4,608 bytes) at 0, B (64 bytes) at 4,608 (a multiple of 64): the input's data file, byte for byte.
    expect(readFileSync(`${out}.data`).equals(c.dataBytes)).toBe(true);
    if (hasChecker) expect(checkModel(out)).toBeNull();
  });

  it('a data file that is unsafe or too short is refused before anything is written', () => {
    const c = externalCopy();
    writeFileSync(c.data, c.dataBytes.subarray(0, 4640));
    const out = join(tempDir(), 'out.onnx');
    const r = mbn(['separate', c.model, '-o', out, '--init', 'he']);
    expectRefused(r, /^mbn: external data of tensor 'B': offset 4608 \+ length 64 is past the end of 'external_data\.onnx\.data' \(4640 bytes\)\n$/);
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });

  for (const name of ['conv_in_if', 'constant_weight', 'shared_weights']) {
    it(`${name} with every tensor external (subgraphs, Constant nodes): self-contained, same outputs`, async (ctx) => {
      if (!hasChecker) ctx.skip();
      const work = tempDir();
      const input = join(work, `${name}.onnx`);
      // onnx's own converter moves initializers and attribute tensors, subgraphs included, to one file.
      const py = spawnSync('/usr/bin/python3', ['-c', [
        'import onnx, sys',
        'from onnx.external_data_helper import convert_model_to_external_data',
        'm = onnx.load(sys.argv[1])',
        'convert_model_to_external_data(m, all_tensors_to_one_file=True, location=sys.argv[3], size_threshold=0)',
        'onnx.save(m, sys.argv[2])',
      ].join('\n'), fixture(`edge/${name}.onnx`), input, `${name}.weights`], { encoding: 'utf8' });
      expect(py.stderr).toBe('');
      const before = locations(input);
      expect(before).toEqual([`${name}.weights`]);
      const out = join(work, 'sub', 'out.onnx');
      mkdirSync(join(work, 'sub'));
      const r = mbn(['separate', input, '-o', out, '--multiplier', '1000', '--allow-costlier', '--format', 'json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(locations(out)).toEqual(['out.onnx.data']);
      unlinkSync(join(work, `${name}.weights`));
      expect(checkModel(out)).toBeNull();
      if (ort) {
        copyFileSync(fixture(`edge/${name}.onnx`), join(work, 'original.onnx'));
        expect(await compare(join(work, 'original.onnx'), out)).toBeLessThan(1e-4);
      }
    });
  }
});

describe('mbn rewrite writes the same way (issue 15, items 1 and 13)', () => {
  it('a model with external data → another folder: self-contained, valid, runs once the input data is gone', async (ctx) => {
    if (!hasChecker) ctx.skip();
    const work = tempDir();
    const input = join(work, 'swish.onnx');
    // Conv 4→8 3×3 (weights and bias external) followed by swish x·Sigmoid(x), opset 14: becomes HardSwish.
    const py = spawnSync('/usr/bin/python3', ['-c', [
      'import onnx, sys, numpy as np',
      'from onnx import helper, numpy_helper, TensorProto',
      'from onnx.external_data_helper import convert_model_to_external_data',
      'rng = np.random.default_rng(1)',
      'w = numpy_helper.from_array(rng.standard_normal((8, 4, 3, 3)).astype(np.float32), "W")',
      'b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "B")',
      'nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),',
      '         helper.make_node("Sigmoid", ["c"], ["s"], name="sig"), helper.make_node("Mul", ["c", "s"], ["y"], name="mul")]',
      'g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],',
      '                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], [w, b])',
      'm = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])',
      'm.ir_version = 8',
      'convert_model_to_external_data(m, all_tensors_to_one_file=True, location="swish.weights", size_threshold=0)',
      'onnx.save(m, sys.argv[1])',
    ].join('\n'), input], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(locations(input)).toEqual(['swish.weights']);
    const weights = readFileSync(join(work, 'swish.weights'));
    mkdirSync(join(work, 'out'));
    const out = join(work, 'out', 'hs.onnx');
    // Its data file may not be the input's either.
    expectRefused(mbn(['rewrite', input, '--hard-swish', '-o', join(work, 'swish.weights'), '--force']), /it is one of the input's external data files/);
    const r = mbn(['rewrite', input, '--hard-swish', '-o', out, '--format', 'json', '--samples', '1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(locations(out)).toEqual(['hs.onnx.data']);
    // W (1,152 bytes) then B (32 bytes), both at multiples of 64: the input's data file, byte for byte.
    expect(readFileSync(`${out}.data`).equals(weights)).toBe(true);
    const expected = ort ? await runModel(out, undefined, { seed: 3 }) : null;
    unlinkSync(join(work, 'swish.weights'));
    expect(checkModel(out)).toBeNull();
    if (ort && expected) {
      const again = await runModel(out, expected.feeds);
      expect(relativeError(again.outputs.y.data, expected.outputs.y.data)).toBe(0);
    }
  });
});
