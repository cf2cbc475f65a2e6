import { bench, type BenchOptions } from '../api/bench.js';
import { renderPerLayerTable } from '../report/latency-report.js';
import { renderBenchJson, renderBenchTable, renderMeasuredEnergy } from '../report/bench-report.js';
import type { FormatOf } from '../report/formats.js';
import { makeStyle } from '../report/style.js';
import { terminal, write } from './output.js';
import { progressReporter } from './progress.js';

export interface BenchCliOptions extends BenchOptions {
  format: FormatOf<'bench'>;
  color?: boolean;
}

/** Runs `mbn bench`: every model in ONNX Runtime, then one report with latency and MAC ratios to the first model. */
export async function runBench(paths: string[], opts: BenchCliOptions): Promise<void> {
  const result = await bench(paths, opts, (label) => (opts.format === 'json' ? undefined : progressReporter(label)));
  // Where RAPL cannot be read, one line says so; the latency figures stand.
  if (result.energy && !result.energy.measured) write(2, `mbn: --energy: ${result.energy.note}\n`);
  if (opts.format === 'json') {
    write(1, renderBenchJson(result));
  } else {
    const style = makeStyle(terminal(1), opts.color);
    write(1, renderBenchTable(result.models, result.options, result.runtime.version, style));
    write(1, renderMeasuredEnergy(result));
    if (opts.perLayer) write(1, result.models.map((r) => renderPerLayerTable(r, style)).join(''));
  }
}
