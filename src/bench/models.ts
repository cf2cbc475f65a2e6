import { closeSync, copyFileSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Graph, TensorRef } from '../ir/types.js';
import { bytesFor } from '../onnx/dtype.js';
import { concatBytes, encodeNodeField, encodeValueInfoField, fieldHeader, lengthField, type NewNode, varintField } from '../onnx/encode.js';
import { readModel } from '../onnx/read.js';

/**
 * Models for `npm run bench` (scripts/bench.mjs), written with mbn's own encoders: long op chains (analysis time
 * against node count), a VGG-16 of random weights (a large file), and stand-in weights for the graph-only
 * fixtures. Tensors are streamed to the file in chunks, so a 550 MB model never sits in memory.
 */
const FLOAT = 1;

/** A span of output: encoded bytes, or `length` float32s of seeded random weights generated while writing. */
export type Chunk = Uint8Array | { random: number; scale: number };

function chunkLength(c: Chunk): number {
  return c instanceof Uint8Array ? c.length : c.random * 4;
}

/** A TensorProto field (GraphProto.initializer, no. 5) whose raw_data follows as a random chunk. */
export function initializer(name: string, dims: number[], scale: number): Chunk[] {
  const count = dims.reduce((a, b) => a * b, 1);
  const head = concatBytes(...dims.map((d) => varintField(1, d)), varintField(2, FLOAT), lengthField(8, name), fieldHeader(9, count * 4));
  return [fieldHeader(5, head.length + count * 4), head, { random: count, scale }];
}

/** Writes a ModelProto (IR 7, one default-domain opset) whose graph is `graphChunks`; returns the file size. */
export function writeModel(path: string, graphName: string, graphChunks: Chunk[], opset: number, seed: number): number {
  const graphBody: Chunk[] = [lengthField(2, graphName), ...graphChunks];
  const graphLength = graphBody.reduce((n, c) => n + chunkLength(c), 0);
  const chunks: Chunk[] = [varintField(1, 7), lengthField(2, 'mbn-bench'), fieldHeader(7, graphLength), ...graphBody, lengthField(8, varintField(2, opset))];
  const fd = openSync(path, 'w');
  let size = 0;
  let state = seed >>> 0;
  try {
    for (const c of chunks) {
      if (c instanceof Uint8Array) {
        size += writeSync(fd, c);
        continue;
      }
      const block = new Float32Array(1 << 20);
      for (let done = 0; done < c.random; ) {
        const n = Math.min(block.length, c.random - done);
        for (let i = 0; i < n; i++) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          block[i] = ((state / 4294967296) * 2 - 1) * c.scale;
        }
        size += writeSync(fd, new Uint8Array(block.buffer, 0, n * 4));
        done += n;
      }
    }
  } finally {
    closeSync(fd);
  }
  return size;
}

export function node(opType: string, inputs: string[], outputs: string[], name: string, attributes: NewNode['attributes'] = []): Uint8Array {
  return encodeNodeField({ name, opType, domain: '', inputs, outputs, attributes });
}

/**
 * A chain of `nodes` ops on a [1, 8] float tensor, alternating Relu and Add (of the graph input): a graph as long
 * as the largest exported transformers, with nothing else in it. Returns the file size.
 */
export function writeChainModel(path: string, nodes: number): number {
  const chunks: Chunk[] = [];
  let prev = 'x';
  for (let i = 0; i < nodes; i++) {
    const out = i === nodes - 1 ? 'y' : `t${i}`;
    chunks.push(i % 2 === 0 ? node('Relu', [prev], [out], `relu_${i}`) : node('Add', [prev, 'x'], [out], `add_${i}`));
    prev = out;
  }
  chunks.push(encodeValueInfoField('x', FLOAT, [1, 8], 11), encodeValueInfoField('y', FLOAT, [1, 8], 12));
  return writeModel(path, `chain_${nodes}`, chunks, 13, 1);
}

/** torchvision's VGG-16 configuration: conv widths, 'M' for a 2x2 max pool. */
const VGG16 = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'] as const;

/**
 * VGG-16 (torchvision.models.vgg16 in eval mode, 138,357,544 params) for a 1x3x224x224 input, with seeded random
 * He-scaled weights: 13 Conv 3x3 + Relu, 5 MaxPool, Flatten, 3 Gemm. The adaptive 7x7 average pool of torchvision
 * is the identity at 224x224 and dropout is the identity in eval mode, so both are left out. Returns the file size.
 */
export function writeVgg16Model(path: string, seed = 7): number {
  const nodes: Uint8Array[] = [];
  const inits: Chunk[] = [];
  let x = 'input';
  let channels = 3;
  let convs = 0;
  let pools = 0;
  const ints = (name: string, value: number[]) => ({ name, type: 'ints' as const, value });
  for (const v of VGG16) {
    if (v === 'M') {
      const out = `pool${pools}`;
      nodes.push(node('MaxPool', [x], [out], `features.pool${pools++}`, [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]));
      x = out;
      continue;
    }
    const name = `features.conv${convs++}`;
    inits.push(...initializer(`${name}.weight`, [v, channels, 3, 3], Math.sqrt(2 / (channels * 9))));
    inits.push(...initializer(`${name}.bias`, [v], 0.01));
    nodes.push(node('Conv', [x, `${name}.weight`, `${name}.bias`], [`${name}.out`], name, [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]));
    nodes.push(node('Relu', [`${name}.out`], [`${name}.relu`], `${name}.relu`));
    x = `${name}.relu`;
    channels = v;
  }
  nodes.push(node('Flatten', [x], ['flat'], 'flatten', [{ name: 'axis', type: 'int', value: 1 }]));
  x = 'flat';
  let features = channels * 7 * 7;
  const fcs = [4096, 4096, 1000];
  fcs.forEach((out, i) => {
    const name = `classifier.fc${i}`;
    inits.push(...initializer(`${name}.weight`, [out, features], Math.sqrt(2 / features)));
    inits.push(...initializer(`${name}.bias`, [out], 0.01));
    const y = i === fcs.length - 1 ? 'output' : `${name}.out`;
    nodes.push(node('Gemm', [x, `${name}.weight`, `${name}.bias`], [y], name, [{ name: 'transB', type: 'int', value: 1 }]));
    x = y;
    if (i < fcs.length - 1) {
      nodes.push(node('Relu', [y], [`${name}.relu`], `${name}.relu`));
      x = `${name}.relu`;
    }
    features = out;
  });
  const io = [encodeValueInfoField('input', FLOAT, [1, 3, 224, 224], 11), encodeValueInfoField('output', FLOAT, [1, 1000], 12)];
  return writeModel(path, 'vgg16', [...nodes, ...inits, ...io], 13, seed);
}

/**
 * The graph-only fixtures are real torch exports whose external weight file was not committed. This copies the
 * model into `dir` and writes a stand-in data file of seeded He-like float32 weights at the declared offsets, so
 * the real graph can be run and rewritten (by the tests and by npm run bench). Returns the copy's path.
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
