import { quote } from '../../errors.js';
import type { Gap, Report } from '../../contract/analyze.js';
import { gapMessages } from '../../budget/completeness.js';
import type { EnergyBasis, GapMessage, LayerNote, LayerReason, ModelNote, Note } from '../../contract/messages.js';
import { type Words, wordsOf } from '../words.js';

/**
 * The English of `mbn analyze`'s messages: the notes of a layer or of the model and why a layer is not counted
 * (src/contract/messages.ts has the codes; README, "Message codes"). The other commands that show an analysis (check, diff,
 * advise, separate, quantize) word its notes through this table too. CLI flags are named here, never in the core.
 */

const dims = (shape: readonly (number | string)[]) => shape.join('x');

const LAYER_NOTES: Words<LayerNote> = {
  'if-constant-condition': (m) => `condition is constant: counted ${m.branch} only`,
  'if-costlier-branch': (m) => `counted the costlier branch (${m.branch}); the other branch's layers are listed with ×0`,
  'if-asked-branch': (m) => `counted ${m.branch}, as asked; the other branch's layers are listed with ×0`,
  'loop-unbounded': (m) => `trip count ${m.tripCount} is unbounded (the loop ends on its condition): body counted once per inference`,
  'loop-trip-unknown': () => 'trip count is not a constant: body counted once per inference',
  'loop-trip-at-run-time': () => 'trip count is decided at run time: cond and body counted once per inference',
  'body-runs': (m) => `body runs ${m.times} times`,
  'scan-length-unknown': () => 'scan length unknown: body counted once per sequence',
  'function-expanded': (m) => `model-local function ${m.domain ? `${m.domain}::` : ''}${m.function}: expanded, its layers are listed under this name`,
  'prelu-legacy-slope': (m) => `PRelu slope [${m.channels}] read per channel (legacy layout)`,
  'sequence-lens-upper-bound': (m) => `sequence_lens is counted as the full ${m.steps} steps for every sequence (an upper bound)`,
  'roi-align-adaptive-sampling': () => 'RoiAlign sampling_ratio 0 (adaptive) depends on the boxes; counted as 2×2 sampling points per bin',
  'depth-multiplier-mismatch': (m) => `depth_multiplier ${m.declared} disagrees with the filter: ${m.used} used`,
};

const MODEL_NOTES: Words<ModelNote> = {
  'input-value-too-large': (m) => `--input-value ${m.input}: input ${quote(m.input)} has ${m.elements} elements, too many for shape inference to carry its value; it is used as a shape only`,
  'input-shape-undeclared': (m) => `input ${quote(m.input)} has no declared shape; its layers are not counted (set it with --input ${m.input}:1x3x224x224)`,
  'input-dim-assumed': (m) =>
    `input ${quote(m.input)} dim ${m.dim} (${m.name !== null ? `'${m.name}'` : 'unknown'}) is not fixed; assumed ${m.value} (set it with ${m.dim === 0 ? '--batch N or ' : ''}--input ${m.input}:${dims(m.example)})`,
  'layers-not-counted': (m) => `${m.notCounted} of ${m.layers} layers are not counted (see their reasons); totals leave them out`,
  'external-data-missing': (m) => `external data file ${quote(m.location)} is missing: not needed for analysis`,
  'tflite-subgraph-not-called': (m) => `subgraph ${m.subgraph} (${quote(m.name)}) is not called from the main graph: not counted`,
  'tflite-signatures-elsewhere': (m) => {
    const many = m.signatures.length > 1;
    return `signature${many ? 's' : ''} ${m.signatures.map((s) => quote(s)).join(', ')} run${many ? '' : 's'} another subgraph: only subgraph 0 (the main graph) is analyzed`;
  },
  'tflite-tensor-sparse': (m) => `tensor ${quote(m.tensor)} is stored sparse: its weight bytes are the dense size`,
  'latency-int8-at-float-rates': (m) =>
    `device profile ${m.device} has no integer-kernel figures: ${m.layers} integer and quantize layers predicted at its float rates (mbn calibrate measures them)`,
};

const REASONS: Words<LayerReason> = {
  'no-rule': (m) => `no rule for ${m.domain ? `${m.domain}::` : ''}${m.op}`,
  'no-body': (m) => `${m.op} has no body`,
  'input-shape-unknown': () => 'input shape unknown',
  'output-shape-unknown': () => 'output shape unknown',
  'shape-invalid': (m) => m.detail,
  'shape-unknown': (m) => m.detail,
  'shape-rule-failed': (m) => `shape rule failed: ${m.detail}`,
  'cost-rule-failed': (m) => `cost rule failed: ${m.detail}`,
  'cost-overflows': () => 'cost overflows',
  'not-counted': () => 'not counted',
};

const ENERGY_BASIS: Words<EnergyBasis> = {
  'energy-estimate': (m) =>
    `estimate from ${m.device}'s energy constants (${m.fittedSamples !== null ? `fitted to ${m.fittedSamples} measured samples` : 'published figures, order of magnitude'})`,
  'energy-unknown': (m) => `unknown: profile ${m.device} has no energy constants`,
};

/** What the energy figures are, in English. */
export function energyBasisText(basis: EnergyBasis): string {
  return wordsOf(ENERGY_BASIS, basis);
}

/** A note on a layer or on the model, in English. */
export function noteText(note: Note): string {
  return note.code in LAYER_NOTES ? wordsOf(LAYER_NOTES, note as LayerNote) : wordsOf(MODEL_NOTES, note as ModelNote);
}

/** Why a layer is not counted, in English. */
export function reasonText(reason: LayerReason): string {
  return wordsOf(REASONS, reason);
}

/** Notes in English, in order (a frozen empty list stays one shared list: most layers have no note). */
export function notesText(notes: readonly Note[]): string[] {
  return notes.length === 0 ? (notes as unknown as string[]) : notes.map(noteText);
}

/** Every code this table words (the README's "Message codes" table lists the same). */
export const ANALYZE_CODES: readonly string[] = [...Object.keys(LAYER_NOTES), ...Object.keys(MODEL_NOTES), ...Object.keys(REASONS), ...Object.keys(ENERGY_BASIS)];

// ---- The completeness gate: the one wording of every gate's gaps (analyze's budgets, check, advise --fail-on, separate)

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/**
 * One line per gap group, saying what is missing and how to fix it; `configKeys` adds the budget config's key
 * (`mbn check` reads a config; `separate` has none):
 *   input 'x' dims 2 ('H'), 3 ('W') are symbolic and were assumed 1: give them with --input x:1x3xHxW (config: "input")
 *   1 layer of op MyBlur (com.example) has no cost rule: accept it with --allow-uncounted MyBlur (config: "allowUncounted")
 */
export function gapText(m: GapMessage, options: { configKeys?: boolean } = {}): string {
  const config = (key: string) => (options.configKeys === false ? '' : ` (config: "${key}")`);
  if (m.code === 'gap-assumed-dims') {
    const n = m.dims.length;
    const list = m.dims.map((d) => (d.name !== null ? `${d.dim} (${quote(d.name)})` : String(d.dim))).join(', ');
    const values = [...new Set(m.dims.map((d) => d.value))].join(', ');
    const what = m.dims.some((d) => d.name !== null) ? 'symbolic' : 'dynamic';
    return (
      `input ${quote(m.input)} ${plural(n, 'dim', 'dims')} ${list} ${plural(n, 'is', 'are')} ${what} and ${plural(n, 'was', 'were')} assumed ${values}: ` +
      `give ${plural(n, 'it', 'them')} with --input ${m.input}:${dims(m.example)}${config('input')}`
    );
  }
  if (m.code === 'gap-no-rule') {
    const n = m.layers;
    return (
      `${n} ${plural(n, 'layer', 'layers')} of op ${m.op}${m.domain ? ` (${m.domain})` : ''} ${plural(n, 'has', 'have')} no cost rule: ` +
      `accept ${plural(n, 'it', 'them')} with --allow-uncounted ${m.op}${config('allowUncounted')}`
    );
  }
  const n = m.layers;
  const ops = m.ops.map((o) => `${o.layers} ${o.op}`);
  const fix =
    m.after === 'assumed-dims'
      ? 'give the input shapes first'
      : m.after === 'no-rule'
        ? "they follow the layers above; give their shapes in the model's value_info, or accept these ops too with --allow-uncounted"
        : 'give the input shapes with --input, or accept these ops with --allow-uncounted';
  return (
    `${n} ${plural(n, 'layer is', 'layers are')} not counted because ${plural(n, 'its shapes are', 'their shapes are')} unknown ` +
    `(${ops.slice(0, 4).join(', ')}${ops.length > 4 ? ', …' : ''}; first: ${m.first.layer}: ${reasonText(m.first.reason)}): ${fix}`
  );
}

/** The gate's lines for a report's blocking gaps (grouped by budget/completeness.ts), in English. */
export function gateLines(gaps: readonly Gap[], inputs: Report['model']['inputs'], options: { configKeys?: boolean } = {}): string[] {
  return gapMessages(gaps, inputs).map((m) => gapText(m, options));
}

/** One line for a report header: "48 layers that run are not counted, 2 input dims were assumed". */
export function gapSummary(gaps: readonly Gap[]): string {
  const layers = gaps.filter((g) => g.kind === 'uncounted').length;
  const assumed = gaps.length - layers;
  const parts: string[] = [];
  if (layers > 0) parts.push(`${layers} ${plural(layers, 'layer that runs is', 'layers that run are')} not counted`);
  if (assumed > 0) parts.push(`${assumed} input ${plural(assumed, 'dim was', 'dims were')} assumed`);
  return parts.join(', ');
}

/** `mbn separate`'s plan words the analysis's messages through these until it returns codes of its own. */
export const ANALYSIS_WORDING = {
  reason: reasonText,
  gaps: (gaps: readonly Gap[], inputs: Report['model']['inputs']) => gateLines(gaps, inputs, { configKeys: false }),
};
