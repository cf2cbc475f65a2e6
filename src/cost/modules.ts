import { totalFlops } from '../ops/define.js';
import type { LayerReport, ModuleCost } from '../contract/analyze.js';
import { countsAsSeparated, separatedMacs } from './separable.js';

/**
 * Costs rolled up by name scope, as fvcore's `flop_count_table` and torchinfo's `depth` do (`mbn analyze --depth N`).
 *
 * A layer's scope comes from its name, split at `/`: torch.onnx.export names a node `/layer1/layer1.0/conv1/Conv`
 * (module path, then the op), and tf2onnx does the same (`model/conv2d/Conv2D`). Every segment but the last is a
 * module; the last is the node itself. So `/layer1/layer1.0/conv1/Conv` belongs to `layer1` at depth 1,
 * `layer1/layer1.0` at depth 2 and `layer1/layer1.0/conv1` at depth 3 and beyond. Empty segments (a leading or a
 * doubled `/`) are skipped.
 *
 * A name with no `/` (PaddleOCR's `p2o.Conv.0`, onnx's `Conv_12`) or with no module before its op (torch's
 * `/Flatten`, an op called in the top-level `forward`) has no module scope: it goes to the top-level row, whose
 * `name` is ''. Dots are not scope separators: in `p2o.Conv.0` they separate an exporter prefix, the op type and a
 * counter, and treating them as modules would only repeat the by-op breakdown.
 *
 * Pure: layer reports in, module rows out. Sums are exact: a module's figures are the sums of its layers', and the
 * rows of one depth add up to the model's totals (params are counted once per tensor already, at the first layer
 * that reads it).
 */
/** The module path of a layer name: every `/`-separated segment but the last, empty segments skipped. */
export function scopeOf(name: string): string[] {
  const segments = name.split('/').filter((s) => s !== '');
  return segments.slice(0, -1);
}

/**
 * Rows for every module down to `depth` (≥ 1), each with the sums of everything inside it, in pre-order: a module,
 * then its children, ordered by their first layer in the model. Layers of a module shallower than `depth` stay in
 * that module (`/conv1/Conv` is in `conv1` at every depth).
 */
export function rollUpModules(layers: readonly LayerReport[], depth: number): ModuleCost[] {
  if (!Number.isSafeInteger(depth) || depth < 1) throw new RangeError(`depth must be a positive integer, not ${depth}`);
  const rows = new Map<string, ModuleCost>();
  const children = new Map<string | null, string[]>();
  const row = (path: string[]): ModuleCost => {
    // Keyed on the segments, not the joined name: a segment may itself contain any character.
    const key = JSON.stringify(path);
    let r = rows.get(key);
    if (!r) {
      const parentKey = path.length > 1 ? JSON.stringify(path.slice(0, -1)) : null;
      r = {
        name: path.join('/'),
        depth: Math.max(1, path.length),
        parent: path.length > 1 ? path.slice(0, -1).join('/') : null,
        layers: 0,
        macs: 0,
        otherFlops: 0,
        flops: 0,
        params: 0,
        weightBytes: 0,
        activationBytes: 0,
        notCounted: 0,
        separableLayers: 0,
        macsIfSeparated: 0,
      };
      rows.set(key, r);
      const siblings = children.get(parentKey) ?? [];
      siblings.push(key);
      children.set(parentKey, siblings);
    }
    return r;
  };
  for (const l of layers) {
    const scope = scopeOf(l.name).slice(0, depth);
    // The top-level row ('' name) for layers with no module; else one row per enclosing module down to `depth`.
    const paths = scope.length === 0 ? [[]] : scope.map((_, i) => scope.slice(0, i + 1));
    // The same projection as the totals': the rows of one depth add up to them.
    const macsAfter = separatedMacs(l);
    const separated = countsAsSeparated(l);
    for (const path of paths) {
      const r = row(path);
      r.layers++;
      r.macs += l.macs;
      r.otherFlops += l.otherFlops;
      r.params += l.params;
      r.weightBytes += l.weightBytes;
      r.activationBytes += l.activationBytes;
      if (!l.counted) r.notCounted++;
      if (separated) r.separableLayers++;
      r.macsIfSeparated += macsAfter;
    }
  }
  const ordered: ModuleCost[] = [];
  const visit = (parentKey: string | null): void => {
    for (const key of children.get(parentKey) ?? []) {
      const r = rows.get(key)!;
      r.flops = totalFlops(r.macs, r.otherFlops);
      ordered.push(r);
      visit(key);
    }
  };
  visit(null);
  return ordered;
}

/** Whether any layer has a module scope: false for names such as PaddleOCR's `p2o.Conv.0`. */
export function hasModuleScopes(layers: readonly LayerReport[]): boolean {
  return layers.some((l) => scopeOf(l.name).length > 0);
}

export interface ModuleChange {
  name: string;
  depth: number;
  parent: string | null;
  /** null: the module is only in the other model. */
  base: ModuleCost | null;
  head: ModuleCost | null;
}

/** Modules of two models side by side, matched by name: the head's in its order, then those only in the base. */
export function diffModules(base: readonly ModuleCost[], head: readonly ModuleCost[]): ModuleChange[] {
  const inBase = new Map(base.map((m) => [m.name, m]));
  const inHead = new Set(head.map((m) => m.name));
  const rows: ModuleChange[] = head.map((h) => ({ name: h.name, depth: h.depth, parent: h.parent, base: inBase.get(h.name) ?? null, head: h }));
  for (const b of base) if (!inHead.has(b.name)) rows.push({ name: b.name, depth: b.depth, parent: b.parent, base: b, head: null });
  return rows;
}
