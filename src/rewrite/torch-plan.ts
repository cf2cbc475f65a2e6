import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MbnError, quote } from '../errors.js';
import { attr, type Model, type Node } from '../ir/types.js';
import { BufferSource } from '../onnx/source.js';
import { readTensorBytes } from '../onnx/tensor-data.js';
import { type StagedFile, checkTarget, stagePieces } from '../onnx/write-file.js';
import { decodeFloats } from '../tensor/float.js';
import { type SafetensorsEntry, encodeSafetensors } from '../tensor/safetensors.js';
import { fsErrorReason } from '../util/fs-error.js';
import { type CandidateLayer, FLOAT_DTYPES, type SeparationPlan, findWeight } from './plan.js';
import { TORCH_PLAN_SCHEMA, type TorchPlanConv, type TorchPlanJson } from '../contract/torch-plan.js';

/**
 * `mbn separate --torch-plan DIR`: what a PyTorch user needs to make the same change in the model they exported
 * from. `separation.json` lists each separated conv (ONNX node, module path, geometry, weight keys), and
 * `weights.safetensors` holds the depthwise and pointwise weights mbn chose (after calibration when it ran), keyed
 * as the patched model's state_dict names them. `mbn_torch.py` (python/, shipped in the package) applies the plan.
 *
 * The ONNX conv's weight is the one the exporter wrote: with a BatchNorm after the conv, torch.onnx.export folds
 * it in (W·s per output channel, s = γ/√(σ²+ε)), so the pair approximates the folded conv. mbn_torch.py keeps the
 * model's BatchNorm and divides the pointwise weights by s; to find s (and the BatchNorm it comes from) it compares
 * the module's own weight with a reference: per output channel, the position and value of the ONNX weight's
 * largest entry (and the ONNX bias), so a folded scale is measured, never guessed from module names.
 */

export const TORCH_PLAN_FILES = ['separation.json', 'weights.safetensors', 'mbn_torch.py'] as const;

/** The plan as written: its document and the files' bytes. */
export interface TorchPlan {
  json: TorchPlanJson;
  files: { name: (typeof TORCH_PLAN_FILES)[number]; bytes: Uint8Array[] }[];
}

/**
 * torch.onnx.export (TorchScript exporter, torch 1.13 and 2.x) names nodes by module scope: `/layer1/layer1.0/conv1/
 * Conv`. A child of a container is named `<container>.<index>` relative to its parent's scope (`/features/
 * features.1/conv/conv.0/conv.0.0/Conv` is `features.1.conv.0.0`); module names never hold a dot, so a dotted
 * segment that extends the previous one adds its remainder. The dynamo exporter (torch ≥ 2.9's default) names nodes
 * `node_Conv_12` but keeps parameter names for initializers: `layer1.0.conv1.weight`, also after it folds a BatchNorm.
 */
export function torchModulePath(nodeName: string, weightName: string): string | null {
  const scoped = /^\/(.+)\/Conv(_\d+)?$/.exec(nodeName);
  if (scoped) {
    const parts: string[] = [];
    let previous: string | null = null;
    for (const segment of scoped[1].split('/')) {
      if (!segment) return null;
      parts.push(previous !== null && segment.startsWith(`${previous}.`) ? segment.slice(previous.length + 1) : segment);
      previous = segment;
    }
    return parts.join('.');
  }
  const param = /^([A-Za-z0-9_][A-Za-z0-9_.]*)\.weight$/.exec(weightName);
  return param && !weightName.startsWith('onnx::') ? param[1] : null;
}

function ints(node: Node, name: string, fallback: number[]): number[] {
  const a = attr(node, name);
  return a && a.data.type === 'ints' && a.data.value.length ? a.data.value : fallback;
}

/** The plan for the chosen convs, with their final weights (after calibration). */
export function buildTorchPlan(model: Model, plan: SeparationPlan, names: { model: string; separated: string }, calibrated: boolean): TorchPlan {
  const entries: SafetensorsEntry[] = [];
  const convs: TorchPlanConv[] = [];
  const used = new Set<string>();
  for (const c of plan.chosen) {
    const conv = c.conv!;
    const w = c.weights!;
    const node = c.node;
    const module = torchModulePath(node.name, node.inputs[1]);
    // Keys as the patched model's state_dict names them; a conv without a module path is keyed by its node.
    let prefix = module ?? (node.name || node.outputs[0]);
    for (let i = 1; used.has(prefix); i++) prefix = `${module ?? node.name}#${i}`;
    used.add(prefix);
    const dtype = FLOAT_DTYPES[c.weight!.tensor.dtype] === 'float64' ? 'F64' : 'F32';
    const key = (k: string) => `${prefix}.${k}`;
    entries.push({ name: key('depthwise.weight'), dtype, shape: w.depthwise.dims, values: w.depthwise.data });
    entries.push({ name: key('pointwise.weight'), dtype, shape: w.pointwise.dims, values: w.pointwise.data });
    if (w.bias) entries.push({ name: key('pointwise.bias'), dtype, shape: w.bias.dims, values: w.bias.data });
    const ref = reference(model, plan, c);
    entries.push({ name: key('mbn_reference.index'), dtype: 'I64', shape: [conv.outChannels], values: ref.index });
    entries.push({ name: key('mbn_reference.value'), dtype, shape: [conv.outChannels], values: ref.value });
    if (ref.bias) entries.push({ name: key('mbn_reference.bias'), dtype, shape: [conv.outChannels], values: ref.bias });
    const spatial = conv.kernel.length;
    const autoPad = attr(node, 'auto_pad');
    convs.push({
      onnxNode: c.name,
      module,
      rank: w.rank,
      inChannels: conv.inChannels,
      outChannels: conv.outChannels,
      groups: conv.group,
      kernel: conv.kernel,
      stride: ints(node, 'strides', new Array(spatial).fill(1)),
      padding: ints(node, 'pads', new Array(2 * spatial).fill(0)),
      dilation: ints(node, 'dilations', new Array(spatial).fill(1)),
      autoPad: autoPad && autoPad.data.type === 'string' ? Buffer.from(autoPad.data.value).toString('utf8') : 'NOTSET',
      biasFitted: w.bias !== undefined,
      weights: {
        depthwise: key('depthwise.weight'),
        pointwise: key('pointwise.weight'),
        pointwiseBias: w.bias ? key('pointwise.bias') : null,
        referenceIndex: key('mbn_reference.index'),
        referenceValue: key('mbn_reference.value'),
        referenceBias: ref.bias ? key('mbn_reference.bias') : null,
      },
    });
  }
  const json: TorchPlanJson = { schema: TORCH_PLAN_SCHEMA, model: names.model, separated: names.separated, weights: 'weights.safetensors', calibrated, convs };
  return {
    json,
    files: [
      { name: 'separation.json', bytes: [Buffer.from(`${JSON.stringify(json, null, 2)}\n`, 'utf8')] },
      { name: 'weights.safetensors', bytes: encodeSafetensors(entries, { format: 'pt', schema: TORCH_PLAN_SCHEMA }) },
      { name: 'mbn_torch.py', bytes: [readFileSync(torchHelperPath())] },
    ],
  };
}

/** Per output channel of the ONNX conv: where its weight is largest, that value, and the bias (see the top). */
function reference(model: Model, plan: SeparationPlan, c: CandidateLayer): { index: number[]; value: number[]; bias: Float64Array | null } {
  const t = c.weight!.tensor;
  const values = decodeFloats(readTensorBytes(model, t), FLOAT_DTYPES[t.dtype]);
  const n = c.conv!.outChannels;
  const row = values.length / n;
  const index: number[] = [];
  const value: number[] = [];
  for (let o = 0; o < n; o++) {
    let best = 0;
    for (let i = 1; i < row; i++) if (Math.abs(values[o * row + i]) > Math.abs(values[o * row + best])) best = i;
    index.push(best);
    value.push(values[o * row + best]);
  }
  let bias: Float64Array | null = null;
  const biasName = c.node.inputs[2];
  const b = biasName ? findWeight(plan.index, c.graph!, biasName) : null;
  if (b && b.tensor.dtype in FLOAT_DTYPES && b.tensor.dims.length === 1 && b.tensor.dims[0] === n) bias = decodeFloats(readTensorBytes(model, b.tensor), FLOAT_DTYPES[b.tensor.dtype]);
  return { index, value, bias };
}

/** python/mbn_torch.py of the installed package: beside dist/ (from dist/rewrite/*.js or the bundle dist/mbn.cjs). */
function torchHelperPath(): string {
  for (const rel of ['../../python/mbn_torch.py', '../python/mbn_torch.py']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new MbnError('io', 'python/mbn_torch.py is missing from the mbn installation (reinstall mbn)');
}

/**
 * Refuses, before any work, a plan folder that cannot or must not be written: not a folder, holding files (unless
 * `force`: then the plan's three files are replaced and nothing else is touched), or not writable.
 */
export function checkTorchPlanDir(dir: string, force: boolean): void {
  if (dir === '') throw new MbnError('usage', '--torch-plan needs a folder name');
  let stat;
  try {
    stat = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new MbnError('write-failed', `cannot write --torch-plan folder ${quote(dir)}: ${fsErrorReason(error, 'write')}`);
  }
  if (!stat) {
    // A new folder: its parent must take it (probed with the folder's own name, removed at once).
    probeFolder(dir);
    return;
  }
  if (!stat.isDirectory()) throw new MbnError('output-exists', `--torch-plan ${quote(dir)} exists and is not a folder`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    throw new MbnError('write-failed', `cannot write --torch-plan folder ${quote(dir)}: ${fsErrorReason(error, 'write')}`);
  }
  if (entries.length && !force) throw new MbnError('output-exists', `--torch-plan folder ${quote(dir)} already holds files; use --force to overwrite the plan's files there`);
  for (const name of TORCH_PLAN_FILES) checkTarget({ path: join(dir, name), force, protect: [] });
}

function probeFolder(dir: string): void {
  const parent = dirname(dir);
  if (!existsSync(parent)) throw new MbnError('usage', `cannot write --torch-plan folder ${quote(dir)}: the folder ${quote(parent)} does not exist`);
  try {
    mkdirSync(dir);
    rmdirSync(dir);
  } catch (error) {
    // The parent exists (checked above): ENOENT here is a file system that takes no new folders, such as /proc.
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'folders cannot be created there' : fsErrorReason(error, 'write');
    throw new MbnError('write-failed', `cannot write --torch-plan folder ${quote(dir)}: ${why}; nothing was written`);
  }
}

/** The plan's files, staged (complete and synced) in DIR: commit() puts them in place, abort() removes them. */
export function stageTorchPlan(dir: string, plan: TorchPlan, force: boolean): StagedFile {
  let created = false;
  if (!existsSync(dir)) {
    try {
      mkdirSync(dir);
      created = true;
    } catch (error) {
      throw new MbnError('write-failed', `cannot write --torch-plan folder ${quote(dir)}: ${fsErrorReason(error, 'write')}; nothing was written`);
    }
  }
  const staged: StagedFile[] = [];
  const abort = () => {
    for (const s of staged) s.abort();
    if (created) {
      try {
        rmdirSync(dir);
      } catch {
        // Something else wrote there meanwhile: left alone.
      }
    }
  };
  try {
    for (const f of plan.files) {
      const source = new BufferSource(new Uint8Array(0));
      staged.push(stagePieces({ path: join(dir, f.name), force, protect: [] }, f.bytes, source));
    }
  } catch (error) {
    abort();
    throw error;
  }
  return {
    commit: () => {
      for (const s of staged) s.commit();
    },
    abort,
  };
}

export function torchPlanNames(input: string, output: string): { model: string; separated: string } {
  return { model: basename(input), separated: basename(output) };
}
