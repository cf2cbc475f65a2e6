import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph, Model, TensorRef } from '../../src/ir/types.js';
import { readTensor } from '../../src/onnx/read.js';
import { BufferSource } from '../../src/onnx/source.js';
import { Reader } from '../../src/onnx/wire.js';
import { ruleFor } from '../../src/ops/index.js';

/**
 * ONNX backend test data as Debian ships it (package libonnx-testdata): one folder per test case holding
 * model.onnx and test_data_set_0/{input,output}_N.pb (serialized TensorProtos).
 */

export const TESTDATA_ROOT = process.env.MBN_ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
export const TESTDATA_FOLDERS = ['node', 'pytorch-converted', 'pytorch-operator', 'real', 'simple'] as const;

export interface TestCase {
  /** folder/case, e.g. node/test_abs. */
  id: string;
  dir: string;
  model: string;
  inputs: string[];
  outputs: string[];
}

function numbered(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => new RegExp(`^${prefix}_(\\d+)\\.pb$`).exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(dir, m[0]));
}

/** Cases of one data folder that have a model.onnx (folder 'real' only has download stubs), sorted by name. */
export function listCases(folder: string): TestCase[] {
  const root = join(TESTDATA_ROOT, folder);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort()
    .filter((name) => existsSync(join(root, name, 'model.onnx')))
    .map((name) => {
      const dir = join(root, name);
      const data = join(dir, 'test_data_set_0');
      return { id: `${folder}/${name}`, dir, model: join(dir, 'model.onnx'), inputs: numbered(data, 'input'), outputs: numbered(data, 'output') };
    });
}

/** A serialized TensorProto file, read with mbn's own reader. */
export function readTensorFile(path: string): TensorRef {
  const bytes = new Uint8Array(readFileSync(path));
  const r = new Reader(new BufferSource(bytes), 0, bytes.length);
  return readTensor(r, { tagStart: 0, start: 0, end: bytes.length });
}

/** Graph inputs that are not initializers, in file order: the ones a test data set feeds. */
export function feedInputs(model: Model) {
  const init = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs.filter((i) => !init.has(i.name));
}

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan']);

/** Ops (domain::op, or op for the default domain) that have no rule, in this graph and its subgraphs. */
export function missingRules(model: Model): Set<string> {
  const local = new Set(model.functions.map((f) => `${f.domain}::${f.name}`));
  const missing = new Set<string>();
  const visit = (g: Graph): void => {
    for (const n of g.nodes) {
      const isLocalFunction = local.has(`${n.domain}::${n.opType}`);
      if (!(n.domain === '' && CONTROL_FLOW.has(n.opType)) && !isLocalFunction && !ruleFor(n.domain, n.opType)) {
        missing.add(n.domain ? `${n.domain}::${n.opType}` : n.opType);
      }
      for (const a of n.attributes) {
        if (a.data.type === 'graph') visit(a.data.value);
        if (a.data.type === 'graphs') a.data.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  for (const fn of model.functions) {
    for (const n of fn.nodes) {
      if (!local.has(`${n.domain}::${n.opType}`) && !ruleFor(n.domain, n.opType) && !(n.domain === '' && CONTROL_FLOW.has(n.opType))) {
        missing.add(n.domain ? `${n.domain}::${n.opType}` : n.opType);
      }
    }
  }
  return missing;
}

/** Distinct op types of the main graph, for grouping mismatches by op. */
export function opsOf(model: Model): string[] {
  return [...new Set(model.graph.nodes.map((n) => (n.domain ? `${n.domain}::${n.opType}` : n.opType)))];
}
