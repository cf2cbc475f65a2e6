import type { InitEntry } from '../budget/init.js';
import { quote } from '../errors.js';

/** What `mbn init` says after writing the config: the file and each model's limits. */
export function renderInitSummary(file: string, entries: readonly InitEntry[], headroom: number): string {
  const lines = [
    `wrote ${file}: ${entries.length} model${entries.length === 1 ? '' : 's'}, limits at the current figures + ${+(headroom * 100).toFixed(4)}% (rounded up to 3 digits)`,
  ];
  for (const e of entries) {
    lines.push(`  ${quote(e.name)}: MACs ${e.maxMacs}, FLOPs ${e.maxFlops}, params ${e.maxParams}, weights ${e.maxWeightBytes}, activations ${e.maxActivationBytes}`);
  }
  return lines.join('\n') + '\n';
}
