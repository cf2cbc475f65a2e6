import { METRICS, type MetricKey, parseLimit } from './limits.js';
import type { Totals } from '../contract/analyze.js';

/**
 * `mbn init` as data: a budget config (the format of config.ts) holding each model to its current figures plus a
 * headroom. Pure: figures in, the JSON value out; finding and analysing the models and writing the file is api/init.ts's.
 *
 * Each limit is `figure · (1 + headroom)` rounded UP to three significant digits and written with a unit
 * ("1.91G", "49.1MB"): readable, never below the requested headroom, and never more than 1% above it (a 3-digit
 * mantissa is at least 100, so rounding up adds less than 1% of the value). Bytes use KB/MB/GB (powers of 1000) like
 * the rest of mbn's output.
 */

export interface InitModel {
  /** Path relative to the config file's folder, with '/'. */
  model: string;
  totals: Totals;
}

export interface InitEntry {
  name: string;
  model: string;
  maxMacs: string;
  maxFlops: string;
  maxParams: string;
  maxWeightBytes: string;
  maxActivationBytes: string;
}

const COUNT_UNITS: [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'K'],
];
const BYTE_UNITS: [number, string][] = [
  [1e12, 'TB'],
  [1e9, 'GB'],
  [1e6, 'MB'],
  [1e3, 'KB'],
];

/** An integer rounded up to `digits` significant digits. */
export function roundUpSignificant(value: number, digits = 3): number {
  const length = String(value).length;
  if (length <= digits) return value;
  const step = 10 ** (length - digits);
  return Math.ceil(value / step) * step;
}

/** A limit as config text: "1.91G", "49.1MB", "950"; the plain integer when a unit would not read back exactly. */
export function limitText(key: MetricKey, value: number): string {
  const bytes = METRICS.find((m) => m.key === key)!.bytes;
  for (const [scale, unit] of bytes ? BYTE_UNITS : COUNT_UNITS) {
    if (value >= scale) {
      const text = `${Number((value / scale).toPrecision(15))}${unit}`;
      return parseLimit(key, text) === value ? text : String(value);
    }
  }
  return bytes ? `${value}B` : String(value);
}

/**
 * The limit for one figure: `figure · (1 + headroom)` rounded up to a whole number, then to three significant digits.
 * Exact: integer arithmetic, with the headroom taken to a millionth (5% is 50,000 ppm).
 */
export function limitFor(figure: number, headroom: number): number {
  const ppm = BigInt(Math.round(headroom * 1e6));
  const scaled = BigInt(Math.ceil(figure)) * (1_000_000n + ppm);
  const whole = (scaled + 999_999n) / 1_000_000n;
  return roundUpSignificant(Number(whole));
}

/** Config entries: one per model, named by its file name without `.onnx` (the path when two share a name). */
export function initEntries(models: readonly InitModel[], headroom: number): InitEntry[] {
  const stem = (path: string) => path.slice(path.lastIndexOf('/') + 1).replace(/\.onnx$/i, '');
  const counts = new Map<string, number>();
  for (const m of models) counts.set(stem(m.model), (counts.get(stem(m.model)) ?? 0) + 1);
  return models.map((m) => {
    // `model` is read as a glob when it has glob syntax: a literal `[`, `*`, `?` or `\\` in a file name is escaped.
    const pattern = m.model.replace(/[*?[\\]/g, (ch) => `\\${ch}`);
    const entry: Record<string, string> = { name: counts.get(stem(m.model)) === 1 ? stem(m.model) : m.model, model: pattern };
    for (const metric of METRICS) entry[metric.key] = limitText(metric.key, limitFor(m.totals[metric.total], headroom));
    return entry as unknown as InitEntry;
  });
}

/** The file's text: one entry per line, so that a changed budget is a one-line diff. */
export function renderInitConfig(entries: readonly InitEntry[]): string {
  const line = (e: InitEntry) => `  { ${Object.entries(e).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')} }`;
  return `[\n${entries.map(line).join(',\n')}\n]\n`;
}
