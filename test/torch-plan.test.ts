import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { separate, type TorchPlanJson } from '../src/index.js';
import { parseNpy } from '../src/calibrate/npy.js';
import { torchModulePath } from '../src/rewrite/torch-plan.js';
import { encodeSafetensors } from '../src/tensor/safetensors.js';
import { BIN, ROOT, fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt, relativeError, runModel } from './helpers/ort.js';
import { DEBIAN_PYTHON, debianPythonHas } from './helpers/python.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';

/**
 * `mbn separate --torch-plan DIR`: the plan a PyTorch user applies to the model they exported. Round trips with the
 * TorchScript exporter of torch 1.13 (Debian) and 2.13 (the venv, `dynamo=False`) and the dynamo exporter (torch
 * 2.13's default, which needs onnxscript): export, separate with calibration, apply (python/mbn_torch.py), compare
 * with ONNX Runtime's run of the separated model, distill, export again and analyze.
 */
const ROUNDTRIP = join(ROOT, 'test/helpers/torch_plan_roundtrip.py');
const ort = loadOrt();
if (!ort) console.warn('skipping --torch-plan round trips: onnxruntime-node is not installed (npm install)');

let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-torch-plan-');
});

describe('module paths from torch.onnx.export node names', () => {
  it('TorchScript scopes (torch 1.13 and 2.x): containers name children <container>.<index>', () => {
    // Names as torch 1.13 and 2.13 (dynamo=False) export torchvision's resnet18 and mobilenet_v2.
    expect(torchModulePath('/layer1/layer1.0/conv1/Conv', 'onnx::Conv_193')).toBe('layer1.0.conv1');
    expect(torchModulePath('/layer2/layer2.0/downsample/downsample.0/Conv', 'onnx::Conv_1')).toBe('layer2.0.downsample.0');
    expect(torchModulePath('/features/features.1/conv/conv.0/conv.0.0/Conv', 'x')).toBe('features.1.conv.0.0');
    expect(torchModulePath('/conv1/Conv', 'onnx::Conv_1')).toBe('conv1');
    expect(torchModulePath('/3/3.0/conv1/Conv', 'onnx::Conv_31')).toBe('3.0.conv1');
    expect(torchModulePath('/0/Conv', 'onnx::Conv_28')).toBe('0');
    // A module called twice: its second node is /…/Conv_1.
    expect(torchModulePath('/block/conv/Conv_1', 'onnx::Conv_9')).toBe('block.conv');
  });

  it('dynamo names nodes node_Conv_N; the weight keeps the parameter name (also once a BatchNorm is folded in)', () => {
    expect(torchModulePath('node_Conv_29', '3.0.conv1.weight')).toBe('3.0.conv1');
    expect(torchModulePath('node_conv2d_2', '3.0.conv2.weight')).toBe('3.0.conv2');
    expect(torchModulePath('conv_1', 'onnx::Conv_5')).toBeNull();
    expect(torchModulePath('Conv_0', 'W')).toBeNull();
  });
});

describe('safetensors', () => {
  it('8-byte little-endian header length, JSON header padded with spaces to 8 bytes, raw little-endian data', () => {
    const bytes = Buffer.concat(encodeSafetensors([
      { name: 'a', dtype: 'F32', shape: [2], values: [1.5, -2] },
      { name: 'i', dtype: 'I64', shape: [1], values: [7] },
    ], { format: 'pt' }));
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = bytes.subarray(8, 8 + n).toString('utf8');
    expect(JSON.parse(header)).toEqual({ __metadata__: { format: 'pt' }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, i: { dtype: 'I64', shape: [1], data_offsets: [8, 16] } });
    expect(header.trimEnd()).toBe(JSON.stringify(JSON.parse(header)));
    const data = bytes.subarray(8 + n);
    expect(data.length).toBe(16);
    expect([data.readFloatLE(0), data.readFloatLE(4), Number(data.readBigInt64LE(8))]).toEqual([1.5, -2, 7]);
  });
});

const RESNET18 = ['conv1', ...[1, 2, 3, 4].flatMap((l) => [0, 1].flatMap((b) => [1, 2].map((c) => `layer${l}.${b}.conv${c}`)))];
const BLOCKS = ['0', '3.0.conv1', '3.0.conv2', '3.1.conv1', '3.1.conv2', '4'];
const CONV1D = ['0', '3', '5'];

interface Group {
  python: string;
  torch: string;
  exporter: 'legacy' | 'dynamo';
  kinds: Partial<Record<'resnet18' | 'blocks' | 'conv1d', string[]>>;
  available: () => boolean;
}

// One Python process exports all of a group's models, one applies all their plans: importing torch is slow.
const GROUPS: Group[] = [
  { python: DEBIAN_PYTHON, torch: '1.13', exporter: 'legacy', kinds: { resnet18: RESNET18, conv1d: CONV1D }, available: () => debianPythonHas('torch', 'torchvision', 'numpy') },
  { python: VENV_PYTHON, torch: '2.13', exporter: 'legacy', kinds: { blocks: BLOCKS, conv1d: CONV1D }, available: () => venvHas('torch', 'numpy') },
  { python: VENV_PYTHON, torch: '2.13', exporter: 'dynamo', kinds: { blocks: BLOCKS, conv1d: CONV1D }, available: () => venvHas('torch', 'numpy', 'onnxscript') },
];

const execFileAsync = promisify(execFile);

/**
 * `mbn separate … --format json`, asynchronous: the test worker must not block for long (a blocked worker misses
 * vitest's RPC deadline on a busy machine).
 */
async function separateAsync(args: string[]) {
  const r = await execFileAsync(process.execPath, [BIN, 'separate', ...args, '--format', 'json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', GITHUB_ACTIONS: '' }, maxBuffer: 64 << 20 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

async function analyzeAsync(path: string) {
  return JSON.parse((await execFileAsync(process.execPath, [BIN, 'analyze', path, '--format', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout);
}

/** A Python run, asynchronous: a synchronous one would block the test worker for tens of seconds. */
async function python(exe: string, args: string[]): Promise<string> {
  try {
    return (await execFileAsync(exe, args, { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 })).stdout;
  } catch (error) {
    throw new Error(`${exe} ${args.join(' ')} failed:\n${String((error as { stderr?: string }).stderr ?? error).slice(-2000)}`);
  }
}

describe.skipIf(!ort)('round trip: export, separate --calibrate --torch-plan, apply, distill, export again', () => {
  for (const g of GROUPS) {
    const kinds = Object.keys(g.kinds) as (keyof Group['kinds'])[];
    it.skipIf(!g.available())(`torch ${g.torch}, ${g.exporter} exporter: ${kinds.join(', ')}`, async () => {
      const root = join(dir, `${g.torch}-${g.exporter}`);
      mkdirSync(root);
      await python(g.python, [ROUNDTRIP, 'export', g.exporter, root, ...kinds]);
      const separated = new Map<string, Awaited<ReturnType<typeof separateAsync>>>();
      for (const kind of kinds) {
        const work = join(root, kind);
        const modules = g.kinds[kind]!;
        const plan = join(work, 'plan');
        const sep = await separateAsync([join(work, 'model.onnx'), '-o', join(work, 'sep.onnx'), '--calibrate', 'random:8', '--torch-plan', plan]);
        separated.set(kind, sep);
        expect(sep.torchPlan).toEqual({ dir: plan, convs: modules.length, unmapped: [] });
        expect(readdirSync(plan).sort()).toEqual(['mbn_torch.py', 'separation.json', 'weights.safetensors']);
        expect(readFileSync(join(plan, 'mbn_torch.py'), 'utf8')).toBe(readFileSync(join(ROOT, 'python/mbn_torch.py'), 'utf8'));
        const json = JSON.parse(readFileSync(join(plan, 'separation.json'), 'utf8'));
        expect(json.schema).toBe('mbn.torch-plan/1');
        expect(json.calibrated).toBe(true);
        expect(json.convs.map((e: { module: string }) => e.module)).toEqual(modules);
        expect(json.convs.map((e: { onnxNode: string }) => e.onnxNode)).toEqual(sep.layers.map((l: { name: string }) => l.name));
        expect(json.convs.every((e: { rank: number; biasFitted: boolean }) => e.rank === 1 && e.biasFitted)).toBe(true);
      }
      const results = JSON.parse((await python(g.python, [ROUNDTRIP, 'apply', g.exporter, root, ...kinds])).trim().split('\n').pop()!);
      for (const kind of kinds) {
        const work = join(root, kind);
        const sep = separated.get(kind)!;
        const out = results[kind];
        expect(out.torch.startsWith(g.torch)).toBe(true);
        expect(out.replaced, kind).toEqual(g.kinds[kind]);
        // The patched PyTorch model in eval mode against ONNX Runtime's run of the separated model, same input.
        const x = parseNpy(readFileSync(join(work, 'x.npy')), 'x.npy');
        const patched = parseNpy(readFileSync(join(work, 'patched.npy')), 'patched.npy');
        const run = await runModel(join(work, 'sep.onnx'), { x: { type: 'float32', dims: x.shape, data: Float32Array.from(x.data) } });
        const onnx = run.outputs[Object.keys(run.outputs)[0]];
        expect(onnx.dims).toEqual(patched.shape);
        expect(relativeError(patched.data, onnx.data), kind).toBeLessThanOrEqual(1e-4);
        // …while the separated model is not the original (the comparison could fail).
        const original = await runModel(join(work, 'model.onnx'), run.feeds);
        expect(relativeError(original.outputs[Object.keys(original.outputs)[0]].data, onnx.data), kind).toBeGreaterThan(1e-3);
        // Distillation (train mode, 40 Adam steps on unlabeled inputs) lowers the loss against the original.
        expect(out.lossAfter, kind).toBeLessThan(out.lossBefore);
        // Exported again, the fine-tuned model has the separated model's MACs exactly.
        const analyzed = await analyzeAsync(join(work, 'distilled.onnx'));
        expect(analyzed.totals.macs, kind).toBe(sep.totals.macsAfter);
        expect(sep.totals.macsAfter).toBeLessThan(sep.totals.macsBefore);
      }
    }, 900_000);
  }
});

describe.skipIf(!debianPythonHas('torch', 'numpy'))('mbn_torch.apply on a Conv1d model (torch 1.13): depth multiplier 2, and plans that do not fit', () => {
  let plan: string;
  let work: string;
  beforeAll(async () => {
    work = join(dir, 'refuse', 'conv1d');
    await python(DEBIAN_PYTHON, [ROUNDTRIP, 'export', 'legacy', join(dir, 'refuse'), 'conv1d']);
    plan = join(work, 'plan');
    await separateAsync([join(work, 'model.onnx'), '-o', join(work, 'sep.onnx'), '--torch-plan', plan]);
  });
  const attempt = async (setup: string) => {
    const code = [
      'import sys, torch',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'test/helpers'))}); sys.path.insert(0, ${JSON.stringify(plan)})`,
      'import mbn_torch, torch_plan_roundtrip as rt',
      `model, _ = rt.build("conv1d"); model.load_state_dict(torch.load(${JSON.stringify(join(work, 'state.pt'))}))`,
      setup,
      'try:\n    mbn_torch.apply(model, sys.argv[1])\nexcept mbn_torch.PlanError as e:\n    print("PlanError:", e)\nelse:\n    print("applied", type(model[0]).__name__)',
    ].join('\n');
    return (await python(DEBIAN_PYTHON, ['-c', code, plan])).trim();
  };

  it('applies to the model it was exported from (SVD weights: the conv keeps its own bias)', async () => {
    expect(await attempt('pass')).toBe('applied Sequential');
  });

  it.skipIf(!ort)('depth multiplier 2 (C·2 depthwise filters) and calibration: the patched model is the separated one', async () => {
    const plan2 = join(work, 'plan-r2');
    const out = join(work, 'sep-r2.onnx');
    const sep = await separateAsync([join(work, 'model.onnx'), '-o', out, '--multiplier', '2', '--calibrate', 'random:4', '--torch-plan', plan2]);
    expect(sep.layers.map((l: { multiplier: number }) => l.multiplier)).toEqual([2, 2, 2]);
    const code = [
      'import sys, torch, numpy as np',
      `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'test/helpers'))}); sys.path.insert(0, ${JSON.stringify(plan2)})`,
      'import mbn_torch, torch_plan_roundtrip as rt',
      `model, _ = rt.build("conv1d"); model.load_state_dict(torch.load(${JSON.stringify(join(work, 'state.pt'))}))`,
      'mbn_torch.apply(model, sys.argv[1]); model.eval()',
      `x = torch.from_numpy(np.load(${JSON.stringify(join(work, 'x.npy'))}))`,
      `np.save(${JSON.stringify(join(work, 'patched-r2.npy'))}, model(x).detach().numpy())`,
      'print(tuple(model[0].depthwise.weight.shape), tuple(model[0].pointwise.weight.shape))',
    ].join('\n');
    expect((await python(DEBIAN_PYTHON, ['-c', code, plan2])).trim()).toBe('(8, 1, 5) (16, 8, 1)');
    const x = parseNpy(readFileSync(join(work, 'x.npy')), 'x.npy');
    const run = await runModel(out, { x: { type: 'float32', dims: x.shape, data: Float32Array.from(x.data) } });
    const patched = parseNpy(readFileSync(join(work, 'patched-r2.npy')), 'patched-r2.npy');
    expect(relativeError(patched.data, run.outputs[Object.keys(run.outputs)[0]].data)).toBeLessThanOrEqual(1e-4);
  });

  it('a module that is not there: names the ONNX conv and lists the conv modules that exist', async () => {
    expect(await attempt('del model[5]; model.insert(5, torch.nn.Identity())')).toBe(
      "PlanError: ONNX conv '/5/Conv': module path '5': it is an 'Identity', not an nn.Conv1d/nn.Conv2d; the model's Conv1d/Conv2d modules: 0, 3",
    );
    expect(await attempt('model = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 3))')).toBe(
      "PlanError: ONNX conv '/0/Conv' and module '0' differ: out_channels 16 in the plan, 4 in the model",
    );
  });

  it('a BatchNorm changed after export: the exported weights match no scale of the model', async () => {
    const out = await attempt('model[1].weight.data *= 2');
    expect(out).toMatch(/^PlanError: ONNX conv '\/0\/Conv': the exported weights are module '0''s own scaled per output channel \(by [0-9.e-]+ to [0-9.e-]+\), as by a folded BatchNorm, but no BatchNorm module of the model has that scale: was the model changed after export\?$/);
  });
});

describe('the library API', () => {
  it('separate(path, { output, torchPlan }) writes the plan and returns where', async () => {
    const plan = join(dir, 'api-plan');
    const json = await separate(fixture('models/tiny_cnn.onnx'), { output: join(dir, 'api.onnx'), torchPlan: plan });
    expect(json.torchPlan).toEqual({ dir: plan, convs: 3, unmapped: [] });
    const doc: TorchPlanJson = JSON.parse(readFileSync(join(plan, 'separation.json'), 'utf8'));
    expect([doc.schema, doc.model, doc.separated, doc.calibrated]).toEqual(['mbn.torch-plan/1', 'tiny_cnn.onnx', 'api.onnx', false]);
    expect(doc.convs.map((c) => [c.onnxNode, c.module, c.biasFitted, c.weights.pointwiseBias])).toEqual([
      ['/conv1/Conv', 'conv1', false, null],
      ['/conv2/Conv', 'conv2', false, null],
      ['/conv3/Conv', 'conv3', false, null],
    ]);
    await expect(separate(fixture('models/tiny_cnn.onnx'), { torchPlan: join(dir, 'p2') })).rejects.toThrow('--torch-plan needs -o');
  });

  it('a model not exported by PyTorch (PaddleOCR via paddle2onnx): its conv has no module path, said so', async () => {
    const json = await separate(fixture('real/ppocr_mobile_v2_cls.onnx'), { output: join(dir, 'cls.onnx'), torchPlan: join(dir, 'cls-plan') });
    expect(json.torchPlan).toEqual({ dir: join(dir, 'cls-plan'), convs: 1, unmapped: ['p2o.Conv.0'] });
  });
});

describe('--torch-plan: bad inputs (one line, exit 2, nothing written)', () => {
  const model = fixture('models/tiny_cnn.onnx');
  const refuse = (args: string[], line: string, wrote: string[] = []) => {
    const r = mbn(['separate', model, ...args]);
    expect(r.stderr).toBe(`mbn: ${line}\n`);
    expect(r.status).toBe(2);
    for (const f of wrote) expect(existsSync(f), f).toBe(false);
  };

  it('needs -o, and is not for --dry-run', () => {
    refuse(['--torch-plan', join(dir, 'p0')], '--torch-plan needs -o (the separated model the plan matches)', [join(dir, 'p0')]);
    refuse(['-o', join(dir, 'o1.onnx'), '--dry-run', '--torch-plan', join(dir, 'p1')], '--torch-plan writes files: it cannot be used with --dry-run', [join(dir, 'p1')]);
  });

  it('a folder holding files: refused without --force; with it, the plan files are replaced and others kept', () => {
    const p = join(dir, 'full');
    mkdirSync(p);
    writeFileSync(join(p, 'notes.txt'), 'mine');
    const out = join(dir, 'full.onnx');
    refuse(['-o', out, '--torch-plan', p], `--torch-plan folder '${p}' already holds files; use --force to overwrite the plan's files there`, [out]);
    expect(readdirSync(p)).toEqual(['notes.txt']);
    const r = mbn(['separate', model, '-o', out, '--torch-plan', p, '--force']);
    expect(r.status).toBe(0);
    expect(readdirSync(p).sort()).toEqual(['mbn_torch.py', 'notes.txt', 'separation.json', 'weights.safetensors']);
    expect(readFileSync(join(p, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('an empty folder is used; a file, a missing parent or a folder that takes no files is refused before any work', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(mbn(['separate', model, '-o', join(dir, 'e.onnx'), '--torch-plan', empty]).status).toBe(0);
    expect(readdirSync(empty).sort()).toEqual(['mbn_torch.py', 'separation.json', 'weights.safetensors']);
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const out = join(dir, 'never.onnx');
    refuse(['-o', out, '--torch-plan', file], `--torch-plan '${file}' exists and is not a folder`, [out]);
    refuse(['-o', out, '--torch-plan', join(dir, 'no/such')], `cannot write --torch-plan folder '${join(dir, 'no/such')}': the folder '${join(dir, 'no')}' does not exist`, [out]);
    refuse(['-o', out, '--torch-plan', '/proc/mbn-plan'], "cannot write --torch-plan folder '/proc/mbn-plan': folders cannot be created there; nothing was written", [out]);
    const locked = join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    if (process.getuid?.() !== 0) {
      refuse(['-o', out, '--torch-plan', join(locked, 'p')], `cannot write --torch-plan folder '${join(locked, 'p')}': permission denied; nothing was written`, [out]);
    }
  });
});
