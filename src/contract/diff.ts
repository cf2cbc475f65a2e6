/** The `mbn.diff/1` contract (`mbn diff BASE HEAD --format json`; budget/diff.ts builds the document). */
import type { Gap, GapJson } from './analyze.js';
import type { FigureKey } from './check.js';

export const DIFF_SCHEMA = 'mbn.diff/1';

export interface Delta {
  base: number;
  head: number;
  /** head − base */
  delta: number;
  /** 100 · delta / base; null when base is 0 (and the figure changed), 0 when both are 0. */
  percent: number | null;
}

export type LayerStatus = 'added' | 'removed' | 'changed' | 'unchanged';

export interface LayerDiff {
  status: LayerStatus;
  /** The head layer's name (the base name for removed layers). */
  name: string;
  /** The base layer's name when it differs (a layer paired by op and position), else null. */
  renamedFrom: string | null;
  op: string;
  scope: string;
  macs: Delta;
  params: Delta;
  /**
   * Per side: the layer runs there but is not counted, so its MACs (0 in `macs`) are unknown. False for a side
   * without the layer.
   */
  uncounted: { base: boolean; head: boolean };
}

/** `mbn diff` as data: the `mbn.diff/1` document's members, the sides' gaps as data (their reasons are codes). */
export interface DiffResult {
  schema: typeof DIFF_SCHEMA;
  /** `complete` and `incomplete` as in each side's `mbn analyze` report: an incomplete side's totals leave out what it could not count. */
  base: { path: string | null; complete: boolean; incomplete: Gap[] };
  head: { path: string | null; complete: boolean; incomplete: Gap[] };
  totals: Record<FigureKey, Delta>;
  summary: { added: number; removed: number; changed: number; unchanged: number; renamed: number };
  /**
   * Every layer of both models, in graph order: matched layers in head order; between two of them, the removed and
   * added layers of that stretch, interleaved by relative position.
   */
  layers: LayerDiff[];
}

/** A side of `mbn.diff/1`: its gaps as `mbn analyze` writes them. */
export type DiffSideJson = Omit<DiffResult['base'], 'incomplete'> & { incomplete: GapJson[] };

/** The `mbn.diff/1` document (`mbn diff --format json`, and what the library's `diff` returns). */
export type DiffJson = Omit<DiffResult, 'base' | 'head'> & { base: DiffSideJson; head: DiffSideJson };
