import { bench, type BenchOptions } from '../api/bench.js';
import { BENCH_REPORTER } from '../report/bench-report.js';
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
  write(1, BENCH_REPORTER[opts.format](result, { style: makeStyle(terminal(1), opts.color), perLayer: opts.perLayer === true }));
}
