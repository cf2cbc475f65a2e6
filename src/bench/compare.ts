import { MbnError } from '../errors.js';
import { mulberry32 } from '../util/random.js';
import { type InputSpec, type Ort, type OrtSession, type OrtTensor, firstLine, floatValues, makeFeedData, openSession } from './run.js';

/**
 * How far a rewritten model's outputs moved from the original's: both run in ONNX Runtime on the same seeded
 * random inputs (uniform in [-1, 1), as `mbn bench` feeds them).
 */
export interface OutputDeviation {
  name: string;
  /** max |rewritten − original| over every element of every sample. */
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** maxAbsDiff / max |original|. */
  relative: number;
  /** For [N, K] outputs with K > 1: the share of rows whose arg-max is unchanged. */
  top1Agreement: number | null;
}

export interface Deviation {
  samples: number;
  seed: number;
  outputs: OutputDeviation[];
}

type ModelSource = string | Uint8Array;

/**
 * The input model failing in ONNX Runtime is the user's matter (an MbnError: the comparison cannot be made); the
 * rewritten model failing while the input ran is mbn's bug (a plain Error, exit 70).
 */
function failure(what: 'the input model' | 'the rewritten model', verb: string, error: unknown): Error {
  const message = `onnxruntime cannot ${verb} ${what}: ${firstLine(error)}`;
  return what === 'the input model' ? new MbnError('unsupported', message) : new Error(message);
}

async function open(ort: Ort, source: ModelSource, what: 'the input model' | 'the rewritten model'): Promise<OrtSession> {
  try {
    return await openSession(ort, source);
  } catch (error) {
    throw failure(what, 'load', error);
  }
}


/** Runs both models `samples` times on the same seeded inputs. */
export async function compareOutputs(ort: Ort, original: ModelSource, rewritten: ModelSource, inputs: InputSpec[], samples: number, seed: number): Promise<Deviation> {
  const a = await open(ort, original, 'the input model');
  let b: OrtSession | null = null;
  try {
    b = await open(ort, rewritten, 'the rewritten model');
    const next = mulberry32(seed);
    const acc = new Map<string, { max: number; sum: number; n: number; scale: number; agree: number; rows: number; ranked: boolean }>();
    for (let s = 0; s < samples; s++) {
      const feeds: Record<string, OrtTensor> = {};
      for (const spec of inputs) if (a.inputNames.includes(spec.name)) feeds[spec.name] = new ort.Tensor(spec.type, makeFeedData(spec, next), spec.dims);
      const ra = await run(a, feeds, 'the input model');
      const rb = await run(b, feeds, 'the rewritten model');
      for (const [name, ta] of Object.entries(ra)) {
        const x = floatValues(ta);
        const y = rb[name] ? floatValues(rb[name]) : null;
        if (!x || !y || x.length !== y.length) continue;
        const e = acc.get(name) ?? { max: 0, sum: 0, n: 0, scale: 0, agree: 0, rows: 0, ranked: false };
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(y[i] - x[i]);
          e.max = Math.max(e.max, d);
          e.sum += d;
          e.scale = Math.max(e.scale, Math.abs(x[i]));
        }
        e.n += x.length;
        const dims = ta.dims;
        if (dims.length === 2 && dims[1] > 1) {
          e.ranked = true;
          for (let r = 0; r < dims[0]; r++) {
            e.rows++;
            if (argmax(x, r * dims[1], dims[1]) === argmax(y, r * dims[1], dims[1])) e.agree++;
          }
        }
        acc.set(name, e);
      }
    }
    const outputs = [...acc].map(([name, e]) => ({
      name,
      maxAbsDiff: e.max,
      meanAbsDiff: e.n > 0 ? e.sum / e.n : 0,
      relative: e.scale > 0 ? e.max / e.scale : e.max,
      top1Agreement: e.ranked && e.rows > 0 ? e.agree / e.rows : null,
    }));
    return { samples, seed, outputs };
  } finally {
    await a.release();
    await b?.release();
  }
}

async function run(session: OrtSession, feeds: Record<string, OrtTensor>, what: 'the input model' | 'the rewritten model'): Promise<Record<string, OrtTensor>> {
  try {
    return await session.run(feeds);
  } catch (error) {
    throw failure(what, 'run', error);
  }
}

function argmax(v: Float64Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[from + i] > v[from + best]) best = i;
  return best;
}

