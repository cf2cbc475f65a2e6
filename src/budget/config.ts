import { MbnError, oneLine, quote } from '../errors.js';
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
  /** Op types whose uncounted layers do not block this entry's checks. */
  allowUncounted: string[];
  /** Predicted latency budget, ms, on `device` (null: latency not checked). */
  maxLatencyMs: number | null;
  /** Estimated energy budget per inference, mJ, on `device` (null: energy not checked). */
  maxEnergyMj: number | null;
  /** Device profile for maxLatencyMs and maxEnergyMj: a built-in name, or a profile file relative to the config file. */
  device: string | null;
}

export const EXAMPLE_ENTRY = '{"name": "mobilenet", "model": "models/mobilenet*.onnx", "maxMacs": "600M", "maxWeightBytes": "20MB"}';

const LIMIT_KEYS = METRICS.map((m) => m.key) as readonly MetricKey[];
const KEYS = ['name', 'model', ...LIMIT_KEYS, 'input', 'batch', 'advise', 'allowUncounted', 'maxLatencyMs', 'maxEnergyMj', 'device'] as const;

function configError(where: string, message: string): never {
  throw new MbnError('config', `${where}: ${message}. A valid entry: ${EXAMPLE_ENTRY}`);
}

/**
 * The text of a config or baseline file's bytes: UTF-8 (a byte-order mark is dropped). UTF-16, which some editors
 * and PowerShell's `>` write, and other binary data are refused by name instead of failing as JSON with NUL bytes
 * in the message.
 */
export function decodeText(bytes: Uint8Array, label: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new MbnError('config', `${label} is UTF-16 text; save it as UTF-8`);
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const utf16 = nul <= 1 && bytes.length >= 4 && (bytes[1] === 0 || bytes[0] === 0);
    throw new MbnError('config', utf16 ? `${label} is UTF-16 text; save it as UTF-8` : `${label} is not text: it holds a NUL byte at offset ${nul}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MbnError('config', `${label} is not UTF-8 text`);
  }
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/** Parses JSON text; `label` names the source in messages (e.g. "mbn.config.json"). */
export function parseJsonText(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes a piece of the text: escaped and kept short, like every quote.
    const detail = oneLine((error as Error).message.replace(/\s+/g, ' '), 200);
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
  let allowUncounted: string[] = [];
  if (obj.allowUncounted !== undefined) {
    const list = obj.allowUncounted;
    if (!Array.isArray(list) || !list.every((op) => typeof op === 'string' && /^[^\s]+$/.test(op))) {
      configError(label, `"allowUncounted" is ${describe(list)}, expected an array of op types such as ["MyBlur"]`);
    }
    allowUncounted = list as string[];
  }
  let maxLatencyMs: number | null = null;
  if (obj.maxLatencyMs !== undefined) {
    if (typeof obj.maxLatencyMs !== 'number' || !Number.isFinite(obj.maxLatencyMs) || obj.maxLatencyMs <= 0) configError(label, `"maxLatencyMs" is ${describe(obj.maxLatencyMs)}, expected a positive number of milliseconds`);
    maxLatencyMs = obj.maxLatencyMs;
  }
  let maxEnergyMj: number | null = null;
  if (obj.maxEnergyMj !== undefined) {
    if (typeof obj.maxEnergyMj !== 'number' || !Number.isFinite(obj.maxEnergyMj) || obj.maxEnergyMj <= 0) configError(label, `"maxEnergyMj" is ${describe(obj.maxEnergyMj)}, expected a positive number of millijoules`);
    maxEnergyMj = obj.maxEnergyMj;
  }
  let device: string | null = null;
  if (obj.device !== undefined) {
    if (typeof obj.device !== 'string' || obj.device.trim() === '') configError(label, `"device" is ${describe(obj.device)}, expected a device profile file or a built-in profile name such as "rpi4"`);
    device = obj.device;
  }
  if (maxLatencyMs !== null && device === null) configError(label, '"maxLatencyMs" needs "device" (a profile file from mbn calibrate, or a built-in profile name such as "rpi4")');
  if (maxEnergyMj !== null && device === null) configError(label, '"maxEnergyMj" needs "device" (a built-in profile name such as "rpi4", or a profile file with an "energy" block)');
  return { name, model: obj.model, limits, input, batch, advise, allowUncounted, maxLatencyMs, maxEnergyMj, device };
}

/** A short, quoted description of a JSON value for messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array ${quote(preview(value, 41), 40)}`;
  if (typeof value === 'object') return `an object ${quote(preview(value, 41), 40)}`;
  if (typeof value === 'string') return quote(value);
  return `${typeof value} ${quote(String(value))}`;
}

/**
 * The start of a JSON value's compact text (as JSON.stringify writes it), at most about `max` characters. It
 * stops early, so a value of a million elements or nested 100,000 deep costs no more than a small one.
 */
function preview(value: unknown, max: number): string {
  let out = '';
  const visit = (v: unknown): void => {
    if (out.length > max) return;
    if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= max; i++) {
        if (i > 0) out += ',';
        visit(v[i]);
      }
      out += ']';
    } else if (v !== null && typeof v === 'object') {
      out += '{';
      let first = true;
      for (const key in v) {
        if (out.length > max) break;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(key.length > max ? key.slice(0, max) : key)}:`;
        visit((v as Record<string, unknown>)[key]);
      }
      out += '}';
    } else if (typeof v === 'string') {
      out += JSON.stringify(v.length > max ? v.slice(0, max) : v);
    } else {
      out += JSON.stringify(v) ?? 'null';
    }
  };
  visit(value);
  return out;
}

/** The known key closest to a misspelt one (case-insensitive, edit distance ≤ 3), or null. */
function suggest(key: string): string | null {
  // The edit distance costs the key's length times each known key's: a long key is no misspelling anyway.
  if (key.length > 40) return null;
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
