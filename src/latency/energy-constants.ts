import type { EnergyConstants, EnergyFitSummary, Precision } from '../contract/device.js';
import type { EnergyBasis } from '../contract/messages.js';

/**
 * The energy fields of a report (the JSON contracts of src/latency/energy.ts; the profile's energy block is in
 * contract/device.ts), with the block's validation: a file of its own so that the profile and the latency report can
 * name them without importing the energy model.
 */
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8'];

export interface LayerEnergy {
  /** Energy of one inference's executions of this layer, mJ (null when a shape it needs is unknown). */
  energyMj: number | null;
  /** The precision its MACs are charged at. */
  energyPrecision: Precision;
  /** Bytes it moves per inference from DRAM and from on-chip memory (null when unknown). */
  energyDramBytes: number | null;
  energyOnChipBytes: number | null;
}

export interface EnergyTotals {
  /** Null when some layer's bytes are unknown or the profile has no energy constants. */
  energyMj: number | null;
  /** Of which compute (MACs and other FLOPs) and data movement, mJ. */
  computeEnergyMj: number | null;
  movementEnergyMj: number | null;
  /** Predicted energy if every standard conv were separated (depth multiplier 1). */
  energyIfSeparatedMj: number | null;
  /** Always says what the figure is: an estimate from the named profile's constants (a code; English in the document). */
  energyBasis: EnergyBasis;
}

/** Checks a profile's `energy` block; `bad` throws the profile's usage error naming the field. */
export function validateEnergy(data: unknown, bad: (what: string) => never): EnergyConstants {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('"energy" must be an object with pjPerMac, pjPerByteDram, pjPerByteOnChip and sources');
  const d = data as Record<string, unknown>;
  const nonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  const macs = d.pjPerMac;
  if (typeof macs !== 'object' || macs === null || Array.isArray(macs)) bad(`"energy.pjPerMac" must be an object with ${PRECISIONS.join(', ')}`);
  for (const p of PRECISIONS) if (!nonNegative((macs as Record<string, unknown>)[p])) bad(`"energy.pjPerMac.${p}" must be a number ≥ 0 (picojoules)`);
  for (const key of Object.keys(macs as object)) if (!(PRECISIONS as readonly string[]).includes(key)) bad(`"energy.pjPerMac.${key}" is not a precision (${PRECISIONS.join(', ')})`);
  for (const key of ['pjPerByteDram', 'pjPerByteOnChip'] as const) if (!nonNegative(d[key])) bad(`"energy.${key}" must be a number ≥ 0 (picojoules per byte)`);
  if (!Array.isArray(d.sources) || d.sources.some((s) => typeof s !== 'string')) bad('"energy.sources" must be an array of strings');
  let fit: EnergyFitSummary | undefined;
  if (d.fit !== undefined) {
    const f = d.fit as Record<string, unknown>;
    if (typeof f !== 'object' || f === null || !Number.isInteger(f.samples) || typeof f.from !== 'string' || !nonNegative(f.rmsRelativeError)) {
      bad('"energy.fit" must be an object with samples (integer), from (string) and rmsRelativeError (number ≥ 0)');
    }
    fit = { samples: f.samples as number, from: f.from as string, rmsRelativeError: f.rmsRelativeError as number };
  }
  const m = macs as Record<Precision, number>;
  return {
    pjPerMac: { fp32: m.fp32, fp16: m.fp16, int8: m.int8 },
    pjPerByteDram: d.pjPerByteDram as number,
    pjPerByteOnChip: d.pjPerByteOnChip as number,
    sources: d.sources as string[],
    ...(fit ? { fit } : {}),
  };
}
