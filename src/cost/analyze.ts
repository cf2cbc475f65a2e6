import type { Model } from '../ir/types.js';
import { bytesFor, dtypeName } from '../onnx/dtype.js';
import { elements, type TensorState, totalFlops } from '../ops/define.js';
import { type InferOptions, type InferResult, type LayerRecord, inferModel } from '../shape/infer.js';
import { checkCount } from '../util/count.js';
import { SeparationTally, parameterKeys } from './params.js';
import { layerPrecisions, precisionBreakdown } from './precision.js';
import { convTraitsOf, countsAsSeparated, separableCost, separatedMacs, takenSeparation } from './separable.js';
import type { Gap, LayerReport, OpBreakdown, Precision, Report, SeparableInfo, Totals } from '../contract/analyze.js';

export function analyzeModel(model: Model, options: InferOptions = {}): Report {
  return buildReport(model, inferModel(model, options));
}

export interface BuildOptions {
  /**
   * Drop each inference record once its report row exists, and the value map first: `inferred` is left with no
   * layers and no values. For callers that need nothing but the report (`mbn analyze` on a 1M-layer model holds the
   * rows instead of the records and the rows together).
   */
  release?: boolean;
}

export function buildReport(model: Model, inferred: InferResult, options: BuildOptions = {}): Report {
  const seen = new Set<object>();
  const weightsByDtype: Report['weightsByDtype'] = {};
  if (options.release) inferred.values = new Map();
  // What needs every record at once is worked out before the rows: the rest is tallied row by row.
  const paramKeys = parameterKeys(inferred.layers);
  const peakActivationBytes = peakActivation(inferred);
  const precisions = layerPrecisions(inferred.layers);
  const records: (LayerRecord | undefined)[] = inferred.layers;
  const tally = new SeparationTally(paramKeys);
  // Sized once: a list grown row by row to a million leaves its smaller copies behind.
  const layers: LayerReport[] = new Array<LayerReport>(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const row = layerReport(record, seen, weightsByDtype, paramKeys, i > 0 ? layers[i - 1].outputShapes : null, precisions[i]);
    // The same convs as the MACs projection below: one whose pair would cost more is left alone.
    tally.add(record, takenSeparation(row));
    layers[i] = row;
    if (options.release) records[i] = undefined;
  }
  if (options.release) inferred.layers = [];
  const totals: Totals = {
    macs: 0,
    flops: 0,
    otherFlops: 0,
    params: 0,
    weightBytes: 0,
    peakActivationBytes,
    layers: layers.length,
    notCounted: 0,
    separableLayers: 0,
    macsIfSeparated: 0,
    paramsIfSeparated: 0,
    complete: true,
  };
  const byOp = new Map<string, OpBreakdown>();
  for (const l of layers) {
    totals.macs += l.macs;
    totals.otherFlops += l.otherFlops;
    totals.params += l.params;
    totals.weightBytes += l.weightBytes;
    if (!l.counted) totals.notCounted++;
    // Like `mbn separate`: a conv whose pair would cost more is left alone (cost/separable.ts, one rule for the
    // totals and the module rows).
    if (countsAsSeparated(l)) totals.separableLayers++;
    totals.macsIfSeparated += separatedMacs(l);
    const key = l.domain ? `${l.domain}::${l.op}` : l.op;
    const entry = byOp.get(key) ?? { op: key, count: 0, macs: 0, otherFlops: 0, params: 0 };
    entry.count++;
    entry.macs += l.macs;
    entry.otherFlops += l.otherFlops;
    entry.params += l.params;
    byOp.set(key, entry);
  }
  totals.flops = totalFlops(totals.macs, totals.otherFlops);
  totals.paramsIfSeparated = tally.paramsAfter(totals.params);
  checkTotals(totals);
  const notes = [...(model.notes ?? []), ...inferred.notes];
  if (totals.notCounted > 0) {
    notes.push({ code: 'layers-not-counted', notCounted: totals.notCounted, layers: layers.length });
  }
  const incomplete: Gap[] = [];
  for (const a of inferred.assumed) {
    if (!a.batch) incomplete.push({ kind: 'assumed-dim', input: a.input, dim: a.dim, name: a.name, value: a.value });
  }
  // A layer in an If branch that is not counted (executions 0) never runs in the counted path: not a gap.
  for (const l of layers) {
    if (!l.counted && l.executions > 0) incomplete.push({ kind: 'uncounted', layer: l.name, op: l.op, domain: l.domain, reason: l.reason ?? { code: 'not-counted' } });
  }
  totals.complete = incomplete.length === 0;
  const shapeOf = (s: TensorState | null | undefined) => (s?.shape ? s.shape.slice() : null);
  return {
    model: {
      path: model.path,
      irVersion: model.irVersion,
      producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
      opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
      inputs: inferred.inputs.map((i) => ({
        name: i.name,
        dtype: dtypeName(i.dtype),
        shape: i.shape,
        declaredShape: i.declared,
        assumedDims: inferred.assumed.filter((a) => a.input === i.name).map((a) => a.dim),
      })),
      // An output whose producer could not be inferred still has the type the graph declares for it.
      outputs: inferred.outputs.map((o, i) => ({ name: o.name, dtype: dtypeName(o.state?.dtype || (model.graph.outputs[i]?.type?.elemType ?? 0)), shape: shapeOf(o.state) })),
    },
    totals,
    incomplete,
    // Ties by code point, not localeCompare: the collator costs ICU's start-up (a third of `analyze`'s time on VGG-16).
    byOp: [...byOp.values()].sort((a, b) => b.macs - a.macs || b.otherFlops - a.otherFlops || (a.op < b.op ? -1 : a.op > b.op ? 1 : 0)),
    weightsByDtype,
    byPrecision: precisionBreakdown(layers),
    layers,
    notes,
  };
}

/**
 * Each layer's figures are within 2^53 (shape/infer.ts refuses the model otherwise), but many layers can sum past it.
 * The sums of non-negative counts are exact until they pass 2^53, so checking the totals once is enough.
 */
function checkTotals(totals: Totals): void {
  for (const key of ['macs', 'flops', 'otherFlops', 'params', 'weightBytes', 'peakActivationBytes'] as const) {
    checkCount(totals[key], `the model's total ${key}`);
  }
}

function layerReport(
  l: LayerRecord,
  seen: Set<object>,
  byDtype: Report['weightsByDtype'],
  paramKeys: ReadonlySet<object>,
  previousShapes: readonly (number[] | null)[] | null,
  precision: Precision,
): LayerReport {
  let params = 0;
  let weightBytes = 0;
  for (const w of l.weights) {
    if (seen.has(w.key)) continue;
    seen.add(w.key);
    const bytes = bytesFor(w.dtype, w.elements);
    weightBytes += bytes;
    if (paramKeys.has(w.key)) params += w.elements;
    const d = (byDtype[dtypeName(w.dtype)] ??= { tensors: 0, elements: 0, bytes: 0 });
    d.tensors++;
    d.elements += w.elements;
    d.bytes += bytes;
  }
  let activationBytes = 0;
  for (const o of l.outputs) if (o?.shape) activationBytes += bytesFor(o.dtype, elements(o.shape));
  const conv = convTraitsOf(l.traits);
  const separable: SeparableInfo | null = conv && l.cost ? separableCost(conv) : null;
  const counted = l.cost !== null;
  return {
    name: l.name,
    op: l.node.opType,
    domain: l.node.domain,
    kind: l.traits?.kind ?? null,
    scope: l.scope,
    // Shapes are shared with the inference result, never modified; so is the array itself with the previous row
    // when it holds the very same shapes (a chain of elementwise layers: one array instead of one per row).
    outputShapes: sameShapes(l.outputs, previousShapes) ? (previousShapes as (number[] | null)[]) : l.outputs.map((o) => o?.shape ?? null),
    macs: counted ? l.cost!.macs * l.multiplier : 0,
    otherFlops: counted ? l.cost!.flops * l.multiplier : 0,
    params,
    weightBytes,
    activationBytes,
    executions: l.multiplier,
    counted,
    reason: l.reason,
    notes: l.notes,
    separable,
    precision,
  };
}

function sameShapes(outputs: readonly (TensorState | null)[], shapes: readonly (number[] | null)[] | null): boolean {
  return shapes !== null && shapes.length === outputs.length && outputs.every((o, i) => (o?.shape ?? null) === shapes[i]);
}

/**
 * Peak activation memory of a sequential run of the main graph: graph inputs and every layer output are live from
 * when they are produced until their last reader has run (graph outputs until the end). Weights are not included.
 */
function peakActivation(inferred: InferResult): number {
  const { lastRead, used } = lastUses(inferred);
  const size = new Map<string, number>();
  let live = 0;
  for (const input of inferred.inputs) {
    if (input.shape) {
      const b = bytesFor(input.dtype, elements(input.shape));
      size.set(input.name, b);
      live += b;
    }
  }
  let peak = live;
  let slot = 0;
  for (const l of inferred.layers) {
    if (l.scope !== '') continue;
    const { inputs, outputs } = l.node;
    for (let j = 0; j < outputs.length; j++) {
      const name = outputs[j];
      const s = l.outputs[j];
      if (!name || !s?.shape || !used[slot + j]) continue;
      const b = bytesFor(s.dtype, elements(s.shape));
      size.set(name, b);
      live += b;
    }
    slot += outputs.length;
    peak = Math.max(peak, live);
    // A name read twice by one layer is freed once: the first pass deletes it from `size`.
    for (let j = 0; j < inputs.length; j++) {
      const name = inputs[j];
      if (!name || !lastRead[slot + j]) continue;
      const b = size.get(name);
      if (b === undefined) continue;
      live -= b;
      size.delete(name);
    }
    slot += inputs.length;
  }
  return peak;
}

/**
 * For each main-graph layer in order, one flag per output (read by a later main-graph layer, or a graph output) and
 * one per input (no later main-graph layer reads that name), at [outputs…, inputs…] of the layer's slots. Worked
 * out backwards, so the set of names holds only those read after the current layer and made before it: a few
 * values for most graphs rather than a map entry for every value of a million-layer one.
 */
function lastUses(inferred: InferResult): { lastRead: Uint8Array; used: Uint8Array } {
  let slots = 0;
  for (const l of inferred.layers) if (l.scope === '') slots += l.node.outputs.length + l.node.inputs.length;
  const lastRead = new Uint8Array(slots);
  const used = new Uint8Array(slots);
  const readLater = new Set<string>();
  for (const o of inferred.outputs) readLater.add(o.name);
  for (let k = inferred.layers.length - 1; k >= 0; k--) {
    const l = inferred.layers[k];
    if (l.scope !== '') continue;
    const { inputs, outputs } = l.node;
    slots -= inputs.length;
    for (let j = 0; j < inputs.length; j++) {
      const name = inputs[j];
      if (!name || readLater.has(name)) continue;
      lastRead[slots + j] = 1;
      readLater.add(name);
    }
    slots -= outputs.length;
    // No earlier layer reads what this one makes (layers run in topological order): its names leave the set.
    for (let j = 0; j < outputs.length; j++) {
      const name = outputs[j];
      if (!name || !readLater.has(name)) continue;
      used[slots + j] = 1;
      readLater.delete(name);
    }
  }
  return { lastRead, used };
}
