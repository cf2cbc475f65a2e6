import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Graph, TensorRef } from '../../src/ir/types.js';
import { bytesFor } from '../../src/onnx/dtype.js';
import { readModel } from '../../src/onnx/read.js';

/**
 * The graph-only fixtures are real torch exports whose external weight file was not committed (it is 117 MB for
 * Conv MobileNet). This writes a stand-in data file of seeded pseudo-random float32 weights at the declared
 * offsets, so the real exported graph can be rewritten and run. Returns the model's path in `dir`.
 */
export function withSyntheticWeights(modelPath: string, dir: string, seed = 7): string {
  const target = join(dir, basename(modelPath));
  copyFileSync(modelPath, target);
  const model = readModel(target);
  const tensors: TensorRef[] = [];
  const visit = (g: Graph) => {
    for (const t of g.initializers) if (t.external) tensors.push(t);
  };
  visit(model.graph);
  model.source.close();
  const files = new Map<string, { size: number; parts: [number, Uint8Array][] }>();
  let state = seed >>> 0;
  for (const t of tensors) {
    const ext = t.external!;
    const count = t.dims.reduce((a, b) => a * b, 1);
    const length = ext.length ?? bytesFor(t.dtype, count);
    const values = new Float32Array(length / 4);
    // He-like scale keeps activations of deep nets in range.
    const fanIn = t.dims.length > 1 ? t.dims.slice(1).reduce((a, b) => a * b, 1) : 1;
    const scale = Math.sqrt(2 / fanIn);
    for (let i = 0; i < values.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      values[i] = ((state / 4294967296) * 2 - 1) * scale * 1.7;
    }
    const entry = files.get(ext.location) ?? { size: 0, parts: [] };
    entry.parts.push([ext.offset ?? 0, new Uint8Array(values.buffer)]);
    entry.size = Math.max(entry.size, (ext.offset ?? 0) + length);
    files.set(ext.location, entry);
  }
  for (const [location, entry] of files) {
    const bytes = new Uint8Array(entry.size);
    for (const [offset, part] of entry.parts) bytes.set(part, offset);
    writeFileSync(join(dir, location), bytes);
  }
  return target;
}
