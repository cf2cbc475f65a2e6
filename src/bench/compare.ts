import { MbnError } from '../errors.js';
import { mulberry32 } from '../util/random.js';
import { type Ort, type OrtSession, type OrtTensor, firstLine, floatValues, makeFeedData, openSession } from './run.js';
import type { Deviation } from '../contract/output-check.js';
import type { InputSpec } from '../contract/bench.js';

type ModelSource = string | Uint8Array;

/** Which model of a comparison: the user's (its failure is a bad input) or one mbn wrote (its failure is mbn's bug). */
export type Side = 'the input model' | 'the rewritten model' | 'the equalized model' | 'the sensitivity model';

/**
 * The input model failing in ONNX Runtime is the user's matter (an MbnError: the comparison cannot be made); the
 * rewritten model failing while the input ran is mbn's bug (a plain Error, exit 70).
 */
function failure(what: Side, verb: string, error: unknown): Error {
  const message = `onnxruntime cannot ${verb} ${what}: ${firstLine(error)}`;
  return what === 'the input model' ? new MbnError('unsupported', message) : new Error(message);
}

/** An ONNX Runtime session of one side of a comparison (failures as `failure` says). */
export async function openSide(ort: Ort, source: ModelSource, what: Side, options: Record<string, unknown> = {}): Promise<OrtSession> {
  try {
    return await openSession(ort, source, options);
  } catch (error) {
    throw failure(what, 'load', error);
  }
}

/** One run of one side; with `fetches`, ONNX Runtime runs only the nodes those outputs need. */
export async function runSide(session: OrtSession, feeds: Record<string, OrtTensor>, what: Side, fetches?: string[]): Promise<Record<string, OrtTensor>> {
  try {
    if (fetches) return await (session.run as unknown as (f: Record<string, OrtTensor>, o: string[]) => Promise<Record<string, OrtTensor>>).call(session, feeds, fetches);
    return await session.run(feeds);
  } catch (error) {
    throw failure(what, 'run', error);
  }
}

/** How one output of a rewritten model differs from the original's, over every element of every batch. */
export interface OutputFigures {
  /** max |rewritten − original|. */
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** maxAbsDiff / max |original| (maxAbsDiff when the original is all zeros). */
  relative: number;
  /** ‖rewritten − original‖ / ‖original‖. */
  relativeError: number;
  /** Cosine similarity of the two, flattened. */
  cosine: number;
  /**
   * Share of rows whose arg-max over the last dim is unchanged, for class-score-like outputs (rank 2 or 3, last dim
   * > 1: [N, K] or [N, T, K]); null for others.
   */
  top1Agreement: number | null;
}

/** The one comparison of model outputs (`mbn rewrite`, `mbn separate --calibrate`): sums over batches, per output. */
export class OutputComparison {
  private readonly sums = new Map<string, { max: number; abs: number; n: number; scale: number; dd: number; xx: number; yy: number; xy: number; agree: number; rows: number; ranked: boolean }>();

  /** Adds one run of both models: every output both produced with the same element count. */
  add(original: Record<string, OrtTensor>, rewritten: Record<string, OrtTensor>): void {
    for (const [name, ta] of Object.entries(original)) {
      const x = floatValues(ta);
      const y = rewritten[name] ? floatValues(rewritten[name]) : null;
      if (!x || !y || x.length !== y.length) continue;
      const e = this.sums.get(name) ?? { max: 0, abs: 0, n: 0, scale: 0, dd: 0, xx: 0, yy: 0, xy: 0, agree: 0, rows: 0, ranked: false };
      for (let i = 0; i < x.length; i++) {
        const d = y[i] - x[i];
        const a = Math.abs(d);
        e.max = Math.max(e.max, a);
        e.abs += a;
        e.scale = Math.max(e.scale, Math.abs(x[i]));
        e.dd += d * d;
        e.xx += x[i] * x[i];
        e.yy += y[i] * y[i];
        e.xy += x[i] * y[i];
      }
      e.n += x.length;
      const dims = ta.dims;
      const last = dims[dims.length - 1];
      if (dims.length >= 2 && dims.length <= 3 && last > 1) {
        e.ranked = true;
        for (let r = 0; r < x.length / last; r++) {
          e.rows++;
          if (argmax(x, r * last, last) === argmax(y, r * last, last)) e.agree++;
        }
      }
      this.sums.set(name, e);
    }
  }

  /** The figures of each output, in the order the original model returned them. */
  figures(): ({ name: string } & OutputFigures)[] {
    return [...this.sums].map(([name, e]) => ({
      name,
      maxAbsDiff: e.max,
      meanAbsDiff: e.n > 0 ? e.abs / e.n : 0,
      relative: e.scale > 0 ? e.max / e.scale : e.max,
      relativeError: e.xx > 0 ? Math.sqrt(e.dd / e.xx) : Math.sqrt(e.dd),
      cosine: e.xx > 0 && e.yy > 0 ? e.xy / Math.sqrt(e.xx * e.yy) : e.xx === e.yy ? 1 : 0,
      top1Agreement: e.ranked && e.rows > 0 ? e.agree / e.rows : null,
    }));
  }
}

/** Runs both models `samples` times on the same seeded inputs. */
export async function compareOutputs(ort: Ort, original: ModelSource, rewritten: ModelSource, inputs: InputSpec[], samples: number, seed: number): Promise<Deviation> {
  const a = await openSide(ort, original, 'the input model');
  let b: OrtSession | null = null;
  try {
    b = await openSide(ort, rewritten, 'the rewritten model');
    const next = mulberry32(seed);
    const comparison = new OutputComparison();
    for (let s = 0; s < samples; s++) {
      const feeds: Record<string, OrtTensor> = {};
      for (const spec of inputs) if (a.inputNames.includes(spec.name)) feeds[spec.name] = new ort.Tensor(spec.type, makeFeedData(spec, next), spec.dims);
      comparison.add(await runSide(a, feeds, 'the input model'), await runSide(b, feeds, 'the rewritten model'));
    }
    const outputs = comparison.figures().map(({ name, maxAbsDiff, meanAbsDiff, relative, top1Agreement }) => ({ name, maxAbsDiff, meanAbsDiff, relative, top1Agreement }));
    return { samples, seed, outputs };
  } finally {
    await a.release();
    await b?.release();
  }
}

function argmax(v: Float64Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[from + i] > v[from + best]) best = i;
  return best;
}
