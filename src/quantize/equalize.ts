import { channelMaxAbs, type QuantLayer, type QuantizationPlan, readersOf, withLayers } from './plan.js';

/**
 * Cross-layer equalization (Nagel, van Baalen, Blankevoort, Welling: "Data-Free Quantization Through Weight
 * Equalization and Bias Correction", ICCV 2019, §4.1). For consecutive convs y = W₂·f(W₁x + b₁) with f positively
 * homogeneous (f(x/s) = f(x)/s for s > 0: identity and ReLU), output channel i of the first layer is divided by s_i
 * and input channel i of the second multiplied by s_i, which leaves the function unchanged; s_i = √(r₁ᵢ·r₂ᵢ) / r₂ᵢ
 * (r = max |w| of the channel in each layer) makes both ranges √(r₁ᵢ·r₂ᵢ). Depthwise → pointwise and pointwise →
 * depthwise pairs are the ones it is for: a depthwise layer's channels differ by orders of magnitude.
 *
 * ReLU6 / Clip(0, 6) between the layers: not equalized. Clip is not positively homogeneous (Clip(x/s) ≠ Clip(x)/s
 * when x > 6), so the pair is only equivalent if the clip becomes ReLU, which is what DFQ does, and that changes the
 * float model before any quantization; mbn keeps the model's function and reports these pairs as not equalized.
 * Hard-swish, sigmoid gates and other non-homogeneous functions are skipped for the same reason.
 *
 * Chains (A → B → C) are swept in graph order until no scale moves by more than 1e-6 (at most 20 sweeps).
 * Returns the equalized plan; the plan given, and its weights, are left as they were.
 */
export function equalize(given: QuantizationPlan): QuantizationPlan {
  const model = given.model;
  const readers = readersOf(model);
  const outputs = new Set(model.graph.outputs.map((o) => o.name));
  // Each conv with its own copy of weight and bias, which the sweeps below scale in place.
  const plan = withLayers(given, (l) => (l.kind === 'conv' && !l.transposed && l.weight ? { weight: { dims: l.weight.dims, data: l.weight.data.slice() }, bias: l.bias?.slice() ?? null, equalizedWith: [...l.equalizedWith] } : null), {
    equalizedPairs: [...given.equalizedPairs],
    notEqualized: [...given.notEqualized],
  });
  const convOf = new Map<string, QuantLayer>();
  for (const l of plan.layers) if (l.kind === 'conv' && !l.transposed && l.weight) convOf.set(l.node.outputs[0], l);
  const layerOf = new Map([...convOf.values()].map((l) => [l.node, l]));
  const pairs: { a: QuantLayer; b: QuantLayer; through: string | null; total: Float64Array }[] = [];
  for (const a of convOf.values()) {
    let value = a.node.outputs[0];
    let through: string | null = null;
    let next = readers.get(value) ?? [];
    if (next.length !== 1 || outputs.has(value)) continue;
    const op = next[0].opType;
    if (op === 'Relu' || op === 'Clip' || op === 'LeakyRelu' || op === 'HardSigmoid' || op === 'Sigmoid' || op === 'Mul') {
      const after = readers.get(next[0].outputs[0]) ?? [];
      const b = after.length === 1 ? layerOf.get(after[0]) : undefined;
      if (op !== 'Relu') {
        if (b) plan.notEqualized.push({ first: a.name, second: b.name, why: { code: 'not-homogeneous', op } });
        continue;
      }
      through = next[0].name || 'Relu';
      value = next[0].outputs[0];
      if (outputs.has(value)) continue;
      next = after;
    }
    const b = next.length === 1 ? layerOf.get(next[0]) : undefined;
    if (!b || b.input !== value) continue;
    const channels = a.weight!.dims[0];
    if (b.weight!.dims[1] * b.group !== channels) continue;
    pairs.push({ a, b, through, total: new Float64Array(channels).fill(1) });
  }
  for (let sweep = 0; sweep < 20 && pairs.length; sweep++) {
    let moved = 0;
    for (const p of pairs) {
      const s = pairScales(p.a, p.b);
      applyScales(p.a, p.b, s);
      for (let i = 0; i < s.length; i++) {
        p.total[i] *= s[i];
        moved = Math.max(moved, Math.abs(s[i] - 1));
      }
    }
    if (moved < 1e-6) break;
  }
  for (const p of pairs) {
    let maxLog = 0;
    for (const s of p.total) maxLog = Math.max(maxLog, Math.abs(Math.log2(s)));
    plan.equalizedPairs.push({ first: p.a.name, second: p.b.name, through: p.through, maxLog2Scale: maxLog });
    p.a.equalizedWith.push(p.b.name);
    p.b.equalizedWith.push(p.a.name);
  }
  return plan;
}

/** r₂ᵢ: the largest |w| of the second layer that reads input channel i (its group's rows, column i mod C/g). */
export function inputChannelMaxAbs(b: QuantLayer): Float64Array {
  const w = b.weight!;
  const [out, cg] = w.dims;
  const inner = w.dims.slice(2).reduce((x, y) => x * y, 1);
  const perGroup = out / b.group;
  const r = new Float64Array(cg * b.group);
  for (let o = 0; o < out; o++) {
    const g = Math.floor(o / perGroup);
    for (let j = 0; j < cg; j++) {
      const base = (o * cg + j) * inner;
      for (let k = 0; k < inner; k++) r[g * cg + j] = Math.max(r[g * cg + j], Math.abs(w.data[base + k]));
    }
  }
  return r;
}

/** s_i = √(r₁ᵢ·r₂ᵢ) / r₂ᵢ (1 where either range is 0). */
export function pairScales(a: QuantLayer, b: QuantLayer): Float64Array {
  const r1 = channelMaxAbs(a.weight!, 0);
  const r2 = inputChannelMaxAbs(b);
  return Float64Array.from(r1, (x, i) => (x > 0 && r2[i] > 0 ? Math.sqrt(x * r2[i]) / r2[i] : 1));
}

function applyScales(a: QuantLayer, b: QuantLayer, s: Float64Array): void {
  const wa = a.weight!;
  const innerA = wa.data.length / wa.dims[0];
  for (let i = 0; i < s.length; i++) {
    for (let k = 0; k < innerA; k++) wa.data[i * innerA + k] /= s[i];
    if (a.bias) a.bias[i] /= s[i];
  }
  const wb = b.weight!;
  const [out, cg] = wb.dims;
  const inner = wb.dims.slice(2).reduce((x, y) => x * y, 1);
  const perGroup = out / b.group;
  for (let o = 0; o < out; o++) {
    const g = Math.floor(o / perGroup);
    for (let j = 0; j < cg; j++) {
      const base = (o * cg + j) * inner;
      for (let k = 0; k < inner; k++) wb.data[base + k] *= s[g * cg + j];
    }
  }
}
