import { type RnnDims, type RuleContext, ShapeError, defineOps } from './define.js';

/**
 * Recurrent layers: LSTM, GRU, RNN (onnx/defs/rnn/defs.cc, opsets 7 and 14).
 *
 * Shapes. X is [seq, batch, input] (layout 0) or [batch, seq, input] (layout 1, opset 14); W is
 * [dirs, gates·H, input], R is [dirs, gates·H, H], with gates = 4 (LSTM), 3 (GRU), 1 (RNN) and dirs = 2 for
 * direction 'bidirectional', else 1 ('forward', 'reverse'). H is the hidden_size attribute, or R's last dim when the
 * attribute is absent. Outputs (all optional; an omitted one is '' in the node):
 *   layout 0: Y [seq, dirs, batch, H], Y_h [dirs, batch, H], Y_c (LSTM only) [dirs, batch, H];
 *   layout 1: Y [batch, seq, dirs, H], Y_h [batch, dirs, H], Y_c [batch, dirs, H].
 * sequence_lens does not change shapes: outputs are padded to seq.
 *
 * Counting convention, per time step, per direction and per batch row (then × seq · dirs · batch):
 * - MACs: the input projection X·Wᵀ, input·gates·H, plus the recurrent projection H·Rᵀ, H·gates·H. So
 *   MACs = dirs · seq · batch · gates·H · (input + H). Bias adds (Wb + Rb) and the sum of the two projections are
 *   not MACs. This equals the weight terms ptflops counts for nn.LSTM/GRU/RNN (w_ih.numel + w_hh.numel per step and
 *   batch row); ptflops also folds its elementwise and bias terms into the same number, mbn reports those apart.
 * - Other FLOPs, per hidden unit, one per activation (whatever the activations attribute chooses) and one per
 *   elementwise multiply or add:
 *     LSTM 9: 4 gate activations (σ i, f, o; tanh g), c = f⊙c + i⊙g (3), h = o⊙tanh(c) (2);
 *             + 6 with peepholes P (p⊙c multiply and add for i, f, o);
 *     GRU  8: 3 gate activations (σ z, r; tanh h̃), the reset product r⊙(…) (1), h = (1 − z)⊙h̃ + z⊙h (4);
 *     RNN  1: the activation.
 *   clip and sequence_lens are ignored: every sequence is counted for the full seq (an upper bound).
 */

const GATES: Record<string, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const ELEMENTWISE: Record<string, number> = { LSTM: 9, GRU: 8, RNN: 1 };


function rnnDims(ctx: RuleContext): RnnDims {
  const op = ctx.node.opType;
  const gates = GATES[op];
  const x = ctx.shape(0);
  if (x.length !== 3) throw new ShapeError(`${op} input X must be 3-D, got [${x.join(',')}]`);
  const direction = ctx.string('direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw new ShapeError(`${op} has an invalid direction '${direction}'`);
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const layout = ctx.int('layout', 0);
  if (layout !== 0 && layout !== 1) throw new ShapeError(`${op} has an invalid layout ${layout}`);
  const [seq, batch, input] = layout === 0 ? x : [x[1], x[0], x[2]];
  const w = ctx.inputs[1]?.shape ?? null;
  const r = ctx.inputs[2]?.shape ?? null;
  let hidden = ctx.int('hidden_size', 0);
  if (!hidden) {
    if (r && r.length === 3) hidden = r[2];
    else if (w && w.length === 3) hidden = w[1] / gates;
    else hidden = NaN;
  }
  if (!Number.isInteger(hidden) || hidden < 1) throw new ShapeError(`${op} has no usable hidden_size (attribute absent and R unknown)`);
  for (const [name, s, last] of [['W', w, input], ['R', r, hidden]] as const) {
    if (!s) continue;
    if (s.length !== 3 || s[0] !== dirs || s[1] !== gates * hidden || s[2] !== last) {
      throw new ShapeError(`${op} ${name} is [${s.join(',')}], expected [${dirs},${gates * hidden},${last}] (${direction}, hidden_size ${hidden})`);
    }
  }
  return { gates, dirs, seq, batch, input, hidden, layout };
}

export const recurrentOps = defineOps({
  ops: ['LSTM', 'GRU', 'RNN'],
  infer(ctx) {
    const d = rnnDims(ctx);
    const dtype = ctx.input(0).dtype;
    const y = d.layout === 0 ? [d.seq, d.dirs, d.batch, d.hidden] : [d.batch, d.seq, d.dirs, d.hidden];
    const last = d.layout === 0 ? [d.dirs, d.batch, d.hidden] : [d.batch, d.dirs, d.hidden];
    if (ctx.has(4)) ctx.note({ code: 'sequence-lens-upper-bound', steps: d.seq });
    const out = [{ dtype, shape: y }, { dtype, shape: last }];
    if (ctx.node.opType === 'LSTM') out.push({ dtype, shape: last.slice() });
    return out;
  },
  cost(ctx) {
    const d = rnnDims(ctx);
    const steps = d.dirs * d.seq * d.batch;
    const macs = steps * d.gates * d.hidden * (d.input + d.hidden);
    let perUnit = ELEMENTWISE[ctx.node.opType];
    if (ctx.node.opType === 'LSTM' && ctx.has(7)) perUnit += 6;
    return { macs, flops: steps * perUnit * d.hidden };
  },
  traits(ctx) {
    let dims: RnnDims | null = null;
    try {
      dims = rnnDims(ctx);
    } catch {
      // An input shape unknown: the layer keeps its kind, without dimensions.
    }
    return { kind: 'recurrent', dims };
  },
});
