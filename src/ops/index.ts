import type { OpRule } from './define.js';
import { convOps } from './conv.js';
import { activationOps } from './activation.js';
import { elementwiseOps } from './elementwise.js';
import { gemmOps } from './gemm.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { quantizedOps } from './quantized.js';
import { reduceOps } from './reduce.js';
import { softmaxOps } from './softmax.js';
import { constantOps } from './constant.js';
import { layoutFamilies } from './layout.js';
import { resizeOps } from './resize.js';

/** Every operator family mbn knows. Adding an op family: one file in src/ops, one line here. */
const FAMILIES: OpRule[] = [
  convOps,
  // compute families
  elementwiseOps, activationOps, gemmOps, normOps, poolOps, reduceOps, softmaxOps, quantizedOps,
  // data movement, shapes and constants
  constantOps, ...layoutFamilies, resizeOps,
];

const registry = new Map<string, OpRule>();
for (const rule of FAMILIES) {
  for (const op of rule.ops) registry.set(`${rule.domain ?? ''}::${op}`, rule);
}

export function ruleFor(domain: string, opType: string): OpRule | undefined {
  return registry.get(`${domain === 'ai.onnx' ? '' : domain}::${opType}`);
}

export function knownOps(): string[] {
  return [...registry.keys()].map((k) => (k.startsWith('::') ? k.slice(2) : k)).sort();
}
