import { MbnError, quote } from '../errors.js';
import type { EnergyConstants } from '../contract/device.js';
import { BENCH_SCHEMA } from '../contract/bench.js';

/**
 * Fitting a profile's energy constants to measured joules (`mbn calibrate --energy-samples`). The energy model is
 * linear in its constants, and mbn keeps the published ratios between them (fp16 : fp32 : int8 MACs, on-chip :
 * DRAM bytes), so each sample's estimate under the base profile splits into a compute part C and a data-movement
 * part M, and the measurement is fitted as
 *   joules ≈ α · C + β · M,   α, β ≥ 0,
 * by least squares on relative residuals (each sample weighs the same, a large model no more than a small one).
 * The fitted constants are α × the base pJ per MAC and β × the base pJ per byte: the two constants of the issue,
 * pJ per fp32 MAC and pJ per DRAM byte, with the others in their base ratio. Pure.
 */

export interface EnergySample {
  /** The model file, as written in the samples file. */
  model: string;
  /** Measured energy of one inference, joules. */
  joules: number;
}

/** One sample's estimate under the base profile, split: compute and data movement, joules. */
export interface EnergyFeatures {
  compute: number;
  movement: number;
}

export interface EnergyFit {
  /** Scale of the base compute constants and of the base data-movement constants. */
  computeScale: number;
  movementScale: number;
  /** Root-mean-square relative error of the fit over the samples. */
  rmsRelativeError: number;
  /** Each sample's fitted joules. */
  fitted: number[];
}

/**
 * Non-negative least squares in two unknowns on relative residuals: minimise Σ ((α·Cᵢ + β·Mᵢ − Eᵢ) / Eᵢ)² over
 * α, β ≥ 0. The unconstrained optimum when both are non-negative, else the better of the two one-constant fits
 * (the optimum of a convex problem on the boundary of the quadrant lies on one of its two axes).
 */
export function fitEnergyScales(features: readonly EnergyFeatures[], joules: readonly number[]): EnergyFit {
  if (features.length !== joules.length || features.length === 0) throw new MbnError('usage', 'the energy fit needs at least one sample');
  // Normal equations of the weighted problem: rows (Cᵢ/Eᵢ, Mᵢ/Eᵢ), target 1.
  let cc = 0, cm = 0, mm = 0, c1 = 0, m1 = 0;
  features.forEach((f, i) => {
    const c = f.compute / joules[i];
    const m = f.movement / joules[i];
    cc += c * c;
    cm += c * m;
    mm += m * m;
    c1 += c;
    m1 += m;
  });
  const cost = (a: number, b: number) => features.reduce((s, f, i) => s + ((a * f.compute + b * f.movement - joules[i]) / joules[i]) ** 2, 0);
  const det = cc * mm - cm * cm;
  const candidates: [number, number][] = [];
  // A singular system (one sample, or samples whose compute and movement are proportional) has no unique answer.
  if (Math.abs(det) > 1e-12 * cc * mm) {
    const a = (c1 * mm - m1 * cm) / det;
    const b = (m1 * cc - c1 * cm) / det;
    if (a >= 0 && b >= 0) candidates.push([a, b]);
  }
  if (candidates.length === 0) {
    if (cc > 0) candidates.push([c1 / cc, 0]);
    if (mm > 0) candidates.push([0, m1 / mm]);
  }
  if (candidates.length === 0) throw new MbnError('usage', 'the energy fit needs samples with compute or data movement (every sample model is empty)');
  const [alpha, beta] = candidates.reduce((best, c) => (cost(c[0], c[1]) < cost(best[0], best[1]) ? c : best));
  const fitted = features.map((f) => alpha * f.compute + beta * f.movement);
  return { computeScale: alpha, movementScale: beta, rmsRelativeError: Math.sqrt(cost(alpha, beta) / features.length), fitted };
}

/** The base constants scaled by a fit: pJ per MAC by α, pJ per byte by β (rounded to 4 significant digits). */
export function scaledConstants(base: EnergyConstants, fit: EnergyFit, from: string, samples: number): EnergyConstants {
  const r = (x: number) => Number(x.toPrecision(4));
  return {
    pjPerMac: { fp32: r(base.pjPerMac.fp32 * fit.computeScale), fp16: r(base.pjPerMac.fp16 * fit.computeScale), int8: r(base.pjPerMac.int8 * fit.computeScale) },
    pjPerByteDram: r(base.pjPerByteDram * fit.movementScale),
    pjPerByteOnChip: r(base.pjPerByteOnChip * fit.movementScale),
    sources: [
      `fitted to ${samples} measured samples (${from}): joules ≈ α·compute + β·data movement, non-negative least squares on relative residuals; α = ${r(fit.computeScale)}, β = ${r(fit.movementScale)} times the base constants, whose ratios are kept`,
      ...base.sources.map((s) => `base: ${s}`),
    ],
    fit: { samples, from, rmsRelativeError: Math.round(fit.rmsRelativeError * 1e6) / 1e6 },
  };
}

/**
 * A samples file: one `MODEL,JOULES` (or `MODEL JOULES`) pair per line, joules per inference; `#` starts a comment,
 * a first line `model,joules` is a header. Or `mbn bench --energy --format json` output (mbn.bench/1), whose
 * models carry measured joules per run.
 */
export function parseEnergySamples(text: string, where: string): EnergySample[] {
  const bad = (what: string): never => {
    throw new MbnError('usage', `energy samples ${quote(where)}: ${what}`);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let doc: { schema?: unknown; models?: { path?: unknown; energy?: { joulesPerRun?: unknown } | null }[] };
    try {
      doc = JSON.parse(trimmed);
    } catch (error) {
      return bad(`not valid JSON: ${(error as Error).message.split('\n')[0]}`);
    }
    if (doc.schema !== BENCH_SCHEMA || !Array.isArray(doc.models)) return bad('a JSON samples file must be mbn bench --energy --format json output (schema mbn.bench/1)');
    const samples = doc.models.flatMap((m) => (m.energy && typeof m.energy.joulesPerRun === 'number' && typeof m.path === 'string' ? [{ model: m.path, joules: m.energy.joulesPerRun }] : []));
    if (samples.length === 0) bad('no model in it has measured energy (run mbn bench with --energy where RAPL is readable)');
    return samples;
  }
  const samples: EnergySample[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fields = line.includes(',') ? line.split(',').map((f) => f.trim()) : line.split(/\s+/);
    if (samples.length === 0 && /^model$/i.test(fields[0]) && /^joules$/i.test(fields[1] ?? '')) return;
    if (fields.length !== 2 || fields[0] === '') bad(`line ${i + 1}: expected MODEL,JOULES (found ${quote(line)})`);
    const joules = Number(fields[1]);
    if (!Number.isFinite(joules) || joules <= 0) bad(`line ${i + 1}: joules ${quote(fields[1])} is not a positive number`);
    samples.push({ model: fields[0], joules });
  });
  if (samples.length === 0) bad('no MODEL,JOULES line');
  return samples;
}
