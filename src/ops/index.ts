import type { OpRule } from './define.js';
import { convOps } from './conv.js';

/** Every operator family mbn knows. Adding an op family: one file in src/ops, one line here. */
const FAMILIES: OpRule[] = [convOps];

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
