import { MbnError, quote } from '../errors.js';
import { METRICS, type Limits, type MetricKey, parseLimit } from './limits.js';

/**
 * The budget config of `mbn check`: a JSON array of entries, from `mbn.config.json`, the `"mbn"` key of
 * `package.json`, or `--config FILE`.
 *
 *   [{ "name": "mobilenet", "model": "models/*.onnx", "maxMacs": "600M", "maxWeightBytes": "20MB",
 *      "input": { "input": [1, 3, 224, 224] }, "batch": 1 }]
 *
 * Pure: validation of already-read text; finding and reading the file is the CLI's job. Every problem is a
 * 'config' MbnError (exit 2) whose one-line message says where (file, entry), quotes the bad key or value and
 * shows a valid entry.
 */
export interface BudgetEntry {
  /** Name for reports and baseline matching; defaults to the model pattern. */
  name: string | null;
  /** Path or glob, relative to the config file's folder. */
  model: string;
  limits: Limits;
  input: Map<string, number[]> | null;
  batch: number | null;
  /** Fail on `mbn advise` findings of this severity or worse (null: advice not checked). */
  advise: 'warning' | 'error' | null;
  /** Predicted latency budget, ms, on `device` (null: latency not checked). */
  maxLatencyMs: number | null;
  /** Device profile for maxLatencyMs: a built-in name, or a profile file relative to the config file. */
  device: string | null;
}

export const EXAMPLE_ENTRY = '{"name": "mobilenet", "model": "models/mobilenet*.onnx", "maxMacs": "600M", "maxWeightBytes": "20MB"}';

const LIMIT_KEYS = METRICS.map((m) => m.key) as readonly MetricKey[];
const KEYS = ['name', 'model', ...LIMIT_KEYS, 'input', 'batch', 'advise', 'maxLatencyMs', 'device'] as const;

function configError(where: string, message: string): never {
  throw new MbnError('config', `${where}: ${message}. A valid entry: ${EXAMPLE_ENTRY}`);
}

/** Parses JSON text; `label` names the source in messages (e.g. "mbn.config.json"). */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = (error as Error).message.replace(/\s+/g, ' ');
    throw new MbnError('config', `${label} is not valid JSON: ${detail}`);
  }
}

/** Parses the text of a budget config file. With `key` (e.g. "mbn" for package.json) the array is read from that key. */
export function parseConfigText(text: string, label: string, key?: string): BudgetEntry[] {
  const value = parseJsonText(text, label);
  if (key === undefined) return validateConfig(value, label);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !(key in value)) {
    throw new MbnError('config', `${label} has no ${quote(key)} key with budgets. Add "${key}": [${EXAMPLE_ENTRY}]`);
  }
  return validateConfig((value as Record<string, unknown>)[key], `${label} "${key}"`);
}

/** Validates a parsed config value. */
export function validateConfig(value: unknown, label: string): BudgetEntry[] {
  if (!Array.isArray(value)) {
    configError(label, `must be a JSON array of budget entries, not ${describe(value)}`);
  }
  if (value.length === 0) configError(label, 'has no budget entries');
  const entries = value.map((v, i) => validateEntry(v, `${label}: entry ${i + 1}`));
  const names = new Map<string, number>();
  entries.forEach((e, i) => {
    if (e.name === null) return;
    const first = names.get(e.name);
    if (first !== undefined) configError(`${label}: entry ${i + 1}`, `name ${quote(e.name)} is already used by entry ${first + 1}`);
    names.set(e.name, i);
  });
  return entries;
}

function validateEntry(value: unknown, where: string): BudgetEntry {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    configError(where, `must be an object, not ${describe(value)}`);
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      const hint = suggest(key);
      configError(where, `unknown key ${quote(key)}${hint ? ` (did you mean ${quote(hint)}?)` : ''}; known keys: ${KEYS.join(', ')}`);
    }
  }
  let name: string | null = null;
  if (obj.name !== undefined) {
    if (typeof obj.name !== 'string' || obj.name.trim() === '') configError(where, `"name" must be a non-empty string, not ${describe(obj.name)}`);
    name = obj.name;
  }
  const label = name !== null ? `${where} (${quote(name)})` : where;
  if (obj.model === undefined) configError(label, 'has no "model" (a path or glob relative to the config file)');
  if (typeof obj.model !== 'string' || obj.model.trim() === '') configError(label, `"model" must be a path or glob string, not ${describe(obj.model)}`);
  const limits: Limits = {};
  for (const m of METRICS) {
    const raw = obj[m.key];
    if (raw === undefined) continue;
    const parsed = typeof raw === 'number' || typeof raw === 'string' ? parseLimit(m.key, raw) : null;
    if (parsed === null) {
      const expected = m.bytes ? 'a size such as 20MB, 16MiB or 20000000' : 'a number such as 600M, 1.2G or 600000000';
      configError(label, `${quote(m.key)} is ${describe(raw)}, expected ${expected}`);
    }
    limits[m.key] = parsed;
  }
  let input: Map<string, number[]> | null = null;
  if (obj.input !== undefined) {
    if (obj.input === null || typeof obj.input !== 'object' || Array.isArray(obj.input)) {
      configError(label, `"input" must map input names to shapes, e.g. {"input": [1, 3, 224, 224]}, not ${describe(obj.input)}`);
    }
    input = new Map();
    for (const [k, dims] of Object.entries(obj.input as Record<string, unknown>)) {
      if (!Array.isArray(dims) || dims.length === 0 || !dims.every((d) => Number.isSafeInteger(d) && (d as number) >= 1)) {
        configError(label, `"input" ${quote(k)} is ${describe(dims)}, expected a shape of positive integers such as [1, 3, 224, 224]`);
      }
      input.set(k, dims as number[]);
    }
  }
  let batch: number | null = null;
  if (obj.batch !== undefined) {
    if (!Number.isSafeInteger(obj.batch) || (obj.batch as number) < 1) configError(label, `"batch" is ${describe(obj.batch)}, expected a positive integer`);
    batch = obj.batch as number;
  }
  let advise: BudgetEntry['advise'] = null;
  if (obj.advise !== undefined) {
    if (obj.advise !== 'warning' && obj.advise !== 'error') configError(label, `"advise" is ${describe(obj.advise)}, expected "warning" or "error" (the severity of \`mbn advise\` findings that fails the check)`);
    advise = obj.advise;
  }
  let maxLatencyMs: number | null = null;
  if (obj.maxLatencyMs !== undefined) {
    if (typeof obj.maxLatencyMs !== 'number' || !Number.isFinite(obj.maxLatencyMs) || obj.maxLatencyMs <= 0) configError(label, `"maxLatencyMs" is ${describe(obj.maxLatencyMs)}, expected a positive number of milliseconds`);
    maxLatencyMs = obj.maxLatencyMs;
  }
  let device: string | null = null;
  if (obj.device !== undefined) {
    if (typeof obj.device !== 'string' || obj.device.trim() === '') configError(label, `"device" is ${describe(obj.device)}, expected a device profile file or a built-in profile name such as "rpi4"`);
    device = obj.device;
  }
  if (maxLatencyMs !== null && device === null) configError(label, '"maxLatencyMs" needs "device" (a profile file from mbn calibrate, or a built-in profile name such as "rpi4")');
  return { name, model: obj.model, limits, input, batch, advise, maxLatencyMs, device };
}

/** A short, quoted description of a JSON value for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array ${quote(JSON.stringify(value), 40)}`;
  if (typeof value === 'object') return `an object ${quote(JSON.stringify(value), 40)}`;
  if (typeof value === 'string') return quote(value);
  return `${typeof value} ${quote(String(value))}`;
}

/** The known key closest to a misspelt one (case-insensitive, edit distance ≤ 3), or null. */
function suggest(key: string): string | null {
  let best: string | null = null;
  let bestDistance = 4;
  for (const k of KEYS) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length];
}
