import type { MainGraphNodes } from '../cost/dataflow.js';
import type { LatencyReport } from '../latency/model.js';
import { msText } from './latency-report.js';
import { grouped, human, percent, shapeText } from './units.js';
import type { LayerReason } from '../contract/messages.js';
import { reasonText } from './messages/analyze.js';

/**
 * `mbn analyze MODEL --annotate OUT.onnx`: the text each main-graph node carries in the annotated copy, for
 * Netron's node panel (it shows a node's doc_string as its description, and its metadata_props). The doc string is
 * a block that starts with ANNOTATION_MARK, so a second annotation replaces the first instead of stacking; the
 * metadata_props keys all start with `mbn.`.
 *
 * A node that holds an If/Loop/Scan body or calls a model-local function carries the sums of every layer inside it
 * (Netron shows such a body inside its node). An unknown figure (a layer mbn could not count) is `?`, never 0.
 */

export const ANNOTATION_MARK = '[mbn]';
/** The metadata_props keys mbn writes: `mbn.macs`, `mbn.flops`, `mbn.params`, `mbn.output_shape`, `mbn.share`, `mbn.latency_ms`. */
export const ANNOTATION_PREFIX = 'mbn.';

export interface NodeAnnotation {
  doc: string;
  props: [string, string][];
}

export function nodeAnnotations(report: LatencyReport, nodes: MainGraphNodes, version: string): Map<number, NodeAnnotation> {
  const t = report.totals;
  const groups = new Map<number, number[]>();
  report.layers.forEach((_, i) => {
    const k = nodes.nodeOf[i];
    if (k >= 0) groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  const out = new Map<number, NodeAnnotation>();
  for (const [k, members] of groups) {
    const layers = members.map((i) => report.layers[i]);
    // The node's own layer: the one in the main graph (its body's layers are in the body's scope).
    const own = layers.find((l) => l.scope === '') ?? layers[0];
    const counted = layers.every((l) => l.counted);
    const macs = layers.reduce((s, l) => s + l.macs, 0);
    const flops = layers.reduce((s, l) => s + 2 * l.macs + l.otherFlops, 0);
    const params = layers.reduce((s, l) => s + l.params, 0);
    const output = own.outputShapes.map(shapeText).join(' ');
    const inside = layers.length > 1 ? ` (${layers.length} layers: this node and its body)` : '';
    const lines = [
      `${ANNOTATION_MARK} figures from mbn${version ? ` ${version}` : ''}${inside}`,
      `MACs: ${counted ? `${grouped(macs)} (${human(macs)}, ${percent(macs, t.macs, 2)} of the model)` : `? (not counted: ${notCountedReason(layers.find((l) => !l.counted)!.reason)})`}`,
      `FLOPs: ${counted ? human(flops) : '?'}`,
      `Params: ${grouped(params)}`,
      `Output: ${output}`,
    ];
    const props: [string, string][] = [
      ['mbn.macs', counted ? String(macs) : '?'],
      ['mbn.flops', counted ? String(flops) : '?'],
      ['mbn.params', String(params)],
      ['mbn.output_shape', output],
      ['mbn.share', counted && t.macs > 0 ? (macs / t.macs).toFixed(6) : '?'],
    ];
    if (t.latencyMs !== undefined) {
      const ms = layers.reduce((s, l) => s + (l.latencyMs ?? 0), 0);
      const fused = layers.length === 1 && own.fusedInto ? ` (runs fused into ${own.fusedInto})` : '';
      lines.push(`Predicted latency on ${t.device}: ${msText(ms)}${fused} (${percent(ms, t.latencyMs, 2)})`);
      props.push(['mbn.latency_ms', String(ms)]);
    }
    if (own.separable && members.length === 1) {
      lines.push(`Separable: ${own.separable.M} → ${own.separable.N}, ${own.separable.kernel.join('×')} kernel; separated ×${own.separable.reduction.toFixed(3)} the MACs`);
    }
    out.set(k, { doc: lines.join('\n'), props });
  }
  return out;
}

/** An existing doc string with an earlier mbn block removed (the block is always last). */
export function withoutAnnotation(doc: string): string {
  if (doc.startsWith(ANNOTATION_MARK)) return '';
  const at = doc.indexOf(`\n\n${ANNOTATION_MARK}`);
  return at >= 0 ? doc.slice(0, at) : doc;
}

function notCountedReason(reason: LayerReason | null): string {
  return reason ? reasonText(reason) : 'unknown';
}
