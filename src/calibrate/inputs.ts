import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MbnError, quote } from '../errors.js';
import type { Model } from '../ir/types.js';
import { dtypeName } from '../onnx/dtype.js';
import { mulberry32 } from '../util/random.js';
import { parseNpy } from './npy.js';

/**
 * Calibration inputs for `mbn separate --calibrate`: a folder of .npy files (one batch per file; one subfolder per
 * input, with matching file names, when the model has several inputs), or `random:N` seeded Gaussian batches.
 */
export interface CalibrationTensor {
  /** onnxruntime type name of the graph input. */
  type: string;
  dims: number[];
  data: Float64Array;
}
export type CalibrationBatch = Record<string, CalibrationTensor>;

export interface Calibration {
  /** 'folder' or 'random' (random data says little about a trained model: a note says so). */
  kind: 'folder' | 'random';
  source: string;
  batches: CalibrationBatch[];
  /** Names of the batches (file names, or random #k), in order. */
  names: string[];
}

export interface GraphInput {
  name: string;
  /** onnxruntime type name: float32, float16, int64, … */
  type: string;
  /** As declared: a number, a symbolic name, or null. */
  declared: (number | string | null)[] | null;
  /** The concrete shape the analysis used (--input, --batch, or assumed), for random batches. */
  resolved: number[] | null;
  /** The shape given with --input, if any: calibration files must match it. */
  given: number[] | null;
}

const FEEDABLE = new Set(['float32', 'float64', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64', 'bool']);

/** The main graph's real inputs (initializers listed as inputs by IR < 4 are not inputs to feed). */
export function graphInputs(model: Model, resolved: Map<string, number[] | null>, given?: Map<string, number[]>): GraphInput[] {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs
    .filter((i) => !initializers.has(i.name))
    .map((i) => ({
      name: i.name,
      type: dtypeName(i.type?.elemType ?? 0),
      declared: i.type?.kind === 'tensor' ? i.type.shape : null,
      resolved: resolved.get(i.name) ?? null,
      given: given?.get(i.name) ?? null,
    }));
}

export function loadCalibration(spec: string, inputs: GraphInput[], seed: number): Calibration {
  for (const i of inputs) {
    if (!FEEDABLE.has(i.type)) throw new MbnError('unsupported', `--calibrate: input ${quote(i.name)} has type ${i.type}, which mbn cannot feed`);
  }
  const random = /^random:(\d+)$/.exec(spec);
  if (random) return randomCalibration(Number(random[1]), inputs, seed);
  if (spec.startsWith('random')) throw new MbnError('usage', `--calibrate ${quote(spec)}: write random:N with N a positive whole number of batches`);
  return folderCalibration(spec, inputs);
}

function randomCalibration(count: number, inputs: GraphInput[], seed: number): Calibration {
  if (!(count >= 1 && count <= 10000)) throw new MbnError('usage', `--calibrate random:${count}: N must be between 1 and 10000`);
  const next = mulberry32(seed + 0x5eed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const batches: CalibrationBatch[] = [];
  for (let b = 0; b < count; b++) {
    const batch: CalibrationBatch = {};
    for (const i of inputs) {
      if (!i.resolved) throw new MbnError('usage', `--calibrate random:${count}: input ${quote(i.name)} has no known shape; give it with --input ${i.name}:…`);
      const n = i.resolved.reduce((a, c) => a * c, 1);
      // Integer inputs (indices, lengths, sample rates) get zeros, as mbn bench feeds them: noise would be out of range.
      const data = new Float64Array(n);
      if (i.type.startsWith('float')) for (let k = 0; k < n; k++) data[k] = gauss();
      batch[i.name] = { type: i.type, dims: i.resolved.slice(), data };
    }
    batches.push(batch);
  }
  return { kind: 'random', source: `random:${count}`, batches, names: batches.map((_, k) => `random #${k + 1}`) };
}

function folderCalibration(dir: string, inputs: GraphInput[]): Calibration {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new MbnError('usage', `--calibrate ${quote(dir)} is not a folder (or random:N)`);
  const npyIn = (d: string) => readdirSync(d).filter((f) => f.toLowerCase().endsWith('.npy')).sort();
  const single = inputs.length === 1;
  const files = single ? npyIn(dir) : npyIn(join(dir, inputs[0].name));
  if (!single) {
    for (const i of inputs) {
      const sub = join(dir, i.name);
      if (!existsSync(sub) || !statSync(sub).isDirectory()) {
        throw new MbnError('usage', `--calibrate ${quote(dir)}: the model has ${inputs.length} inputs, so it needs one subfolder per input; ${quote(i.name)} is missing`);
      }
      const names = npyIn(sub);
      const missing = files.find((f) => !names.includes(f)) ?? names.find((f) => !files.includes(f));
      if (missing) throw new MbnError('usage', `--calibrate ${quote(dir)}: ${quote(missing)} is not in every input's subfolder (file names must match)`);
    }
  }
  if (!files.length) throw new MbnError('usage', `--calibrate ${quote(dir)} holds no .npy files${single ? '' : ` in ${quote(inputs[0].name)}`}`);
  const batches = files.map((f) => {
    const batch: CalibrationBatch = {};
    for (const i of inputs) {
      const path = single ? join(dir, f) : join(dir, i.name, f);
      const array = parseNpy(readFileSync(path), path);
      checkShape(path, array.descr, array.shape, i);
      batch[i.name] = { type: i.type, dims: array.shape, data: array.data };
    }
    return batch;
  });
  return { kind: 'folder', source: dir, batches, names: files };
}

function checkShape(path: string, descr: string, shape: number[], input: GraphInput): void {
  const isFloat = /^[<>|=]f/.test(descr);
  if (input.type.startsWith('float') !== isFloat && input.type !== 'bool') {
    throw new MbnError('usage', `${quote(path)} holds ${descr} values but input ${quote(input.name)} is ${input.type}`);
  }
  const declared = input.declared;
  const given = input.given;
  const want = given ?? declared?.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : '?'));
  // Dims given with --input must match too: the analysis (and the MACs) used them.
  const ok = given
    ? given.length === shape.length && given.every((d, k) => d === shape[k])
    : !declared || (declared.length === shape.length && declared.every((d, k) => (typeof d === 'number' && d >= 0 ? d === shape[k] : true)));
  if (!ok) throw new MbnError('usage', `${quote(path)} has shape (${shape.join(', ')}) but input ${quote(input.name)} is [${want!.join(', ')}]`);
  if (shape.some((d) => d === 0)) throw new MbnError('usage', `${quote(path)} is empty (shape (${shape.join(', ')}))`);
}
