import type { ChalkInstance } from 'chalk';
import { PATH_WIDTH, terminalCell } from './safe-text.js';
import { boxTable } from './table.js';
import { dimsText, human } from './units.js';
import { BENCH_SCHEMA, type BenchJson, type BenchOptions, type BenchRecord, type BenchRecordJson, type MeasuredLayerJson } from '../contract/bench.js';
import type { EnergyMeasurement } from '../contract/messages.js';
import { energyMeasurementText, traceNoteText } from './messages/bench.js';
import type { Reporter } from './formats.js';
import { msText as ms, renderPerLayerTable } from './latency-report.js';

/** `mbn bench` output: the JSON document (schema mbn.bench/1, contract/bench.ts) from the measured records. */
export function benchJson(records: BenchRecord[], runtime: BenchJson['runtime'], options: BenchOptions, energy?: EnergyMeasurement): BenchJson {
  const models = records.map(recordJson);
  return { schema: BENCH_SCHEMA, runtime, options, models, ...(energy ? { energy: { measured: energy.code === 'rapl-measured', note: energyMeasurementText(energy), noteCode: energy } } : {}) };
}

/** A model as the document has it: each `--per-layer` note in English, and beside it as a code. */
function recordJson(r: BenchRecord): BenchRecordJson {
  if (!r.layers) return r as BenchRecordJson;
  const layers = r.layers.map((l) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(l)) {
      out[key] = key === 'note' ? (l.note ? traceNoteText(l.note) : null) : value;
      if (key === 'note') out.noteCode = l.note;
    }
    return out as MeasuredLayerJson;
  });
  return { ...r, layers };
}

export function renderBenchJson(bench: BenchJson): string {
  return JSON.stringify(bench, null, 2) + '\n';
}

function ratio(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(3)}×`;
}

export function renderBenchTable(records: BenchRecordJson[], options: BenchOptions, version: string | null, c: ChalkInstance): string {
  const head = ['model', 'input', 'MACs', 'median', 'p10', 'p90', 'latency ratio', 'MAC ratio'];
  const rows = records.map((r) => [
      terminalCell(r.path, PATH_WIDTH),
      terminalCell(r.inputs.map((i) => dimsText(i.dims)).join(', ')),
      human(r.macs),
      ms(r.latencyMs.median),
      ms(r.latencyMs.p10),
      ms(r.latencyMs.p90),
      ratio(r.latencyRatio),
      ratio(r.macRatio),
  ]);
  const table = boxTable({ head: head.map((h) => c.bold(h)), rows, compact: true });
  const threads = `${options.threads} intra-op thread${options.threads === 1 ? '' : 's'}`;
  const runsText = (r: BenchRecordJson) => `${r.warmupRuns} + ${r.timesMs.length}`;
  const counts = new Set(records.map(runsText));
  const stretched = options.minTimeMs.warmup > 0 || options.minTimeMs.timed > 0 ? `; at least ${options.warmup} + ${options.runs}, more for fast models` : '';
  const perModel = `warm-up + timed runs ${counts.size === 1 ? `per model: ${[...counts][0]}` : `per model, in order: ${records.map(runsText).join(', ')}`}${stretched}`;
  const note = c.dim(`onnxruntime-node ${version ?? '?'}, ${threads}, ${perModel}; ratios are to the first model`);
  return `${table}\n${note}\n`;
}

/** `mbn bench --energy` where RAPL was read: each model's measured joules per run, under the table. */
export function renderMeasuredEnergy(bench: BenchJson): string {
  if (!bench.energy?.measured) return '';
  const lines = bench.models.map((m) =>
    m.energy
      ? `${terminalCell(m.path)}: ${(m.energy.joulesPerRun * 1e3).toPrecision(3)} mJ per run above idle (package ${(m.energy.packageJoulesPerRun * 1e3).toPrecision(3)} mJ, idle ${m.energy.idleWatts.toFixed(2)} W)`
      : `${terminalCell(m.path)}: no energy reading`,
  );
  return `Measured energy (${bench.energy.note}):\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** `mbn bench --format …`: the table also shows the measured energy and, with `--per-layer`, each model's layers. */
export const BENCH_REPORTER: Reporter<'bench', BenchJson, { style: ChalkInstance; perLayer: boolean }> = {
  table: (bench, { style, perLayer }) =>
    renderBenchTable(bench.models, bench.options, bench.runtime.version, style) +
    renderMeasuredEnergy(bench) +
    (perLayer ? bench.models.map((r) => renderPerLayerTable(r, style)).join('') : ''),
  json: (bench) => renderBenchJson(bench),
};
