// Experiment (npm run build first; node scripts/alternating-depthwise.mjs): does refitting the depthwise filters too (alternating with the pointwise LS) pay on PaddleOCR
// det's stem conv (3→16, 3×3, stride 2, pad 1, no bias)? Layer output error on held-back batches.
import { readFileSync, readdirSync } from 'node:fs';
const W = new URL('..', import.meta.url).pathname.replace(/\/$/, ''); // repository root (run after npm run build)
const { readModel } = await import(`${W}/dist/onnx/read.js`);
const { readTensorBytes } = await import(`${W}/dist/onnx/tensor-data.js`);
const { decodeFloats } = await import(`${W}/dist/tensor/float.js`);
const { separateConvWeight } = await import(`${W}/dist/rewrite/decompose.js`);
const { PointwiseStats, choleskySolve } = await import(`${W}/dist/rewrite/refit.js`);
const { parseNpy } = await import(`${W}/dist/calibrate/npy.js`);
const model = readModel(`${W}/fixtures/real/ppocr_v4_det.onnx`);
const cn = model.graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === 'conv2d_0.w_0');
const t = cn.attributes.find((a) => a.name === 'value').data.value;
const Wt = decodeFloats(readTensorBytes(model, t), 'float32'); // [16,3,3,3]
const N = 16, C = 3, K = 9, H = 96, O = 48;
const dir = `${W}/fixtures/calibration/ppocr_det`;
const xs = readdirSync(dir).sort().map((f) => parseNpy(readFileSync(`${dir}/${f}`), f).data);
// patches[c][k][p] for one image
function patches(x) {
  const P = O * O;
  const out = new Float64Array(C * K * P);
  for (let c = 0; c < C; c++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
    const k = ky * 3 + kx;
    for (let oy = 0; oy < O; oy++) for (let ox = 0; ox < O; ox++) {
      const iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
      out[(c * K + k) * P + oy * O + ox] = iy >= 0 && iy < H && ix >= 0 && ix < H ? x[(c * H + iy) * H + ix] : 0;
    }
  }
  return out;
}
const P = O * O;
const data = xs.map((x) => {
  const X = patches(x);
  const Y = new Float64Array(N * P);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) {
    const w = Wt[(n * C + c) * K + k];
    for (let p = 0; p < P; p++) Y[n * P + p] += w * X[(c * K + k) * P + p];
  }
  return { X, Y };
});
const fit = data.slice(0, 6), held = data.slice(6);
const zOf = (X, D, r) => {
  const Z = new Float64Array(C * r * P);
  for (let c = 0; c < C; c++) for (let t = 0; t < r; t++) for (let k = 0; k < K; k++) {
    const d = D[(c * r + t) * K + k];
    for (let p = 0; p < P; p++) Z[(c * r + t) * P + p] += d * X[(c * K + k) * P + p];
  }
  return Z;
};
function errOn(set, D, Pw, b, r) {
  let e = 0, yy = 0;
  for (const { X, Y } of set) {
    const Z = zOf(X, D, r);
    for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) {
      let v = b[n];
      for (let j = 0; j < C * r; j++) v += Pw[n * C * r + j] * Z[j * P + p];
      e += (v - Y[n * P + p]) ** 2; yy += Y[n * P + p] ** 2;
    }
  }
  return Math.sqrt(e / yy);
}
for (const r of [1, 2]) {
  const sep = separateConvWeight({ dims: [N, C, 3, 3], data: Float64Array.from(Wt) }, 1, r);
  let D = sep.depthwise.data, Pw = sep.pointwise.data, b = new Float64Array(N);
  const line = [`r${r} svd held ${errOn(held, D, Pw, b, r).toFixed(3)}`];
  for (let it = 0; it < 6; it++) {
    const st = new PointwiseStats(1, C * r, N);
    for (const { X, Y } of fit) st.add(zOf(X, D, r), Y, 1, P);
    const s = st.solve(1e-2, undefined, Pw); Pw = s.weights; b = s.bias;
    line.push(`it${it} P: ${errOn(held, D, Pw, b, r).toFixed(3)}`);
    // D-step: unknowns d[(c,t),k], m = C·r·K. A[(ct,k),(c't',k')] = Σ_n P[n,ct]P[n,c't'] · Σ_p X[c,k,p]X[c',k',p].
    const m = C * r * K;
    const A = new Float64Array(m * m), rhs = new Float64Array(m);
    const PtP = new Float64Array((C * r) ** 2);
    for (let i = 0; i < C * r; i++) for (let j = 0; j < C * r; j++) { let a = 0; for (let n = 0; n < N; n++) a += Pw[n * C * r + i] * Pw[n * C * r + j]; PtP[i * C * r + j] = a; }
    for (const { X, Y } of fit) {
      const M = new Float64Array((C * K) ** 2);
      for (let i = 0; i < C * K; i++) for (let j = 0; j < C * K; j++) { let a = 0; for (let p = 0; p < P; p++) a += X[i * P + p] * X[j * P + p]; M[i * C * K + j] = a; }
      for (let ci = 0; ci < C * r; ci++) for (let k = 0; k < K; k++) for (let cj = 0; cj < C * r; cj++) for (let k2 = 0; k2 < K; k2++) {
        const c1 = Math.floor(ci / r), c2 = Math.floor(cj / r);
        A[(ci * K + k) * m + cj * K + k2] += PtP[ci * C * r + cj] * M[(c1 * K + k) * C * K + c2 * K + k2];
      }
      for (let ci = 0; ci < C * r; ci++) { const c1 = Math.floor(ci / r); for (let k = 0; k < K; k++) { let a = 0; for (let p = 0; p < P; p++) { let q = 0; for (let n = 0; n < N; n++) q += Pw[n * C * r + ci] * (Y[n * P + p] - b[n]); a += q * X[(c1 * K + k) * P + p]; } rhs[ci * K + k] += a; } }
    }
    let tr = 0; for (let i = 0; i < m; i++) tr += A[i * m + i];
    for (let i = 0; i < m; i++) { A[i * m + i] += 1e-2 * tr / m; rhs[i] += 1e-2 * tr / m * D[i]; }
    D = choleskySolve(A, m, rhs, 1);
    line.push(`D: ${errOn(held, D, Pw, b, r).toFixed(3)}`);
  }
  console.log(line.join(' | '));
}
