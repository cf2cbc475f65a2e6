import type { EnergyMeasurement, TraceNote } from '../../contract/messages.js';
import { type Words, wordsOf } from '../words.js';

/** The English of `mbn bench`'s messages: the per-layer trace notes and the energy counters (README, "Message codes"). */

const TRACE_NOTES: Words<TraceNote> = {
  'not-in-trace': () => 'not in the ONNX Runtime trace (folded into a constant or removed by its optimizer)',
  'ort-node-also-computes': (m) => `ORT node also computes ${m.layers.join(', ')}`,
  'fused-by-ort': (m) => `fused into ${m.into} by ONNX Runtime`,
};

const ENERGY: Words<EnergyMeasurement> = {
  'rapl-measured': (m) => `RAPL ${m.zones.join(', ')}: package energy around the timed runs, less the idle power measured just before (other processes on the machine count too)`,
  'rapl-absent': (m) =>
    `RAPL energy counters are absent (no ${m.missing === 'folder' ? m.root : `intel-rapl:N zone in ${m.root}`}): energy cannot be measured on this machine`,
  'rapl-not-a-number': (m) => `RAPL energy counters in ${m.root} hold no number: energy cannot be measured on this machine`,
  'rapl-unreadable': (m) =>
    `RAPL energy counters in ${m.root} are unreadable (${m.errno === 'EACCES' || m.errno === 'EPERM' ? 'root only since Linux 5.10' : (m.errno ?? 'error')}): energy cannot be measured`,
};

export function traceNoteText(m: TraceNote): string {
  return wordsOf(TRACE_NOTES, m);
}

export function energyMeasurementText(m: EnergyMeasurement): string {
  return wordsOf(ENERGY, m);
}

/** Every code this table words. */
export const BENCH_CODES: readonly string[] = [...Object.keys(TRACE_NOTES), ...Object.keys(ENERGY)];
