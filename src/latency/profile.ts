import { MbnError, quote } from '../errors.js';
import { validateEnergy } from './energy-constants.js';
import { type DeviceProfile, FUSED_ACTIVATIONS, type GenericDepthwiseRates, type GroupedConvFloatRates, type GroupedConvIntegerRates, type Int8Class, type Int8Rates, type LutEntry, type OpClass, type PlainPoolRates, PROFILE_SCHEMA, type ResizeRates } from '../contract/device.js';

/** Device profiles (the `mbn.device/1` contract, contract/device.ts): the op classes in order, and the check of a profile read from a file. */

export const OP_CLASSES = ['conv', 'pointwise', 'depthwise', 'gemm', 'elementwise'] as const satisfies readonly OpClass[];
/** The Resize kernels a profile may rate (src/latency/resize.ts), in order. */
export const RESIZE_KERNELS = ['nearest2x', 'nearest', 'linear', 'nearest8bit'] as const satisfies readonly (keyof ResizeRates)[];

// ---- Integer kernels (issue 20, int8 latency) ----
export const INT8_CLASSES = ['conv', 'pointwise', 'depthwise', 'gemm'] as const satisfies readonly Int8Class[];
/** Input channels per group below which a (non-depthwise) integer conv pays `thinConvNsPerOutput`. */
export const THIN_CONV_CHANNELS = 8;

function validateInt8(data: unknown, bad: (what: string) => never): Int8Rates {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('"int8" must be an object');
  const r = data as Record<string, unknown>;
  const g = r.gops;
  if (typeof g !== 'object' || g === null || Array.isArray(g)) bad(`"int8.gops" must be an object with ${INT8_CLASSES.join(', ')}`);
  for (const c of INT8_CLASSES) if (!positive((g as Record<string, unknown>)[c])) bad(`"int8.gops.${c}" must be a positive number (GOP/s)`);
  for (const key of ['thinConvNsPerOutput', 'uint8WeightsSlowdown', 'convIntegerGops', 'convIntegerDepthwiseGops', 'matMulIntegerGops', 'quantizeNsPerElement', 'dequantizeNsPerElement'] as const) {
    if (!positive(r[key])) bad(`"int8.${key}" must be a positive number`);
  }
  return {
    gops: Object.fromEntries(INT8_CLASSES.map((c) => [c, (g as Record<string, number>)[c]])) as Record<Int8Class, number>,
    thinConvNsPerOutput: r.thinConvNsPerOutput as number,
    uint8WeightsSlowdown: r.uint8WeightsSlowdown as number,
    convIntegerGops: r.convIntegerGops as number,
    convIntegerDepthwiseGops: r.convIntegerDepthwiseGops as number,
    matMulIntegerGops: r.matMulIntegerGops as number,
    quantizeNsPerElement: r.quantizeNsPerElement as number,
    dequantizeNsPerElement: r.dequantizeNsPerElement as number,
    ...(r.genericGops !== undefined ? { genericGops: validateGenericGops(r.genericGops, bad) } : {}),
    ...(r.thinConv !== undefined ? { thinConv: validateThinConv(r.thinConv, bad) } : {}),
    ...(r.nhwcMaxPoolNsPerElement !== undefined ? { nhwcMaxPoolNsPerElement: positive(r.nhwcMaxPoolNsPerElement) ? r.nhwcMaxPoolNsPerElement : bad('"int8.nhwcMaxPoolNsPerElement" must be a positive number') } : {}),
    ...(r.nchwMaxPoolNsPerElement !== undefined ? { nchwMaxPoolNsPerElement: positive(r.nchwMaxPoolNsPerElement) ? r.nchwMaxPoolNsPerElement : bad('"int8.nchwMaxPoolNsPerElement" must be a positive number') } : {}),
    ...(r.qlinearLookupNsPerElement !== undefined ? { qlinearLookupNsPerElement: positive(r.qlinearLookupNsPerElement) ? r.qlinearLookupNsPerElement : bad('"int8.qlinearLookupNsPerElement" must be a positive number') } : {}),
    ...(r.symmetricConv !== undefined ? { symmetricConv: validateSymmetricConv(r.symmetricConv, bad) } : {}),
    ...(r.genericPointwise !== undefined ? { genericPointwise: validateFit(r.genericPointwise, GENERIC_POINTWISE_KEYS, 'int8.genericPointwise', bad) } : {}),
    ...(r.genericDepthwise !== undefined ? { genericDepthwise: validateFit(r.genericDepthwise, GENERIC_DEPTHWISE_KEYS, 'int8.genericDepthwise', bad) } : {}),
    ...(r.groupedConvInteger !== undefined ? { groupedConvInteger: validateFit(r.groupedConvInteger, GROUPED_CONV_INTEGER_KEYS, 'int8.groupedConvInteger', bad) } : {}),
    ...(r.qlinearMulNsPerElement !== undefined ? { qlinearMulNsPerElement: positive(r.qlinearMulNsPerElement) ? r.qlinearMulNsPerElement : bad('"int8.qlinearMulNsPerElement" must be a positive number') } : {}),
  };
}

function validateSymmetricConv(data: unknown, bad: (what: string) => never): { nsPerPixelTap: number; convGops: number; pointwiseGops: number } {
  const t = data as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !positive(t.nsPerPixelTap) || !positive(t.convGops) || !positive(t.pointwiseGops)) {
    bad('"int8.symmetricConv" must be an object with a positive nsPerPixelTap (ns), convGops and pointwiseGops (GOP/s)');
  }
  return { nsPerPixelTap: t.nsPerPixelTap as number, convGops: t.convGops as number, pointwiseGops: t.pointwiseGops as number };
}

function validateThinConv(data: unknown, bad: (what: string) => never): { nsPerPosition: number; nsPerTap: number } {
  const t = data as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !positive(t.nsPerPosition) || !positive(t.nsPerTap)) {
    bad('"int8.thinConv" must be an object with a positive nsPerPosition and nsPerTap (ns)');
  }
  return { nsPerPosition: t.nsPerPosition as number, nsPerTap: t.nsPerTap as number };
}

/** A rates object whose every key is a number ≥ 0 and at least one positive (a non-negative least-squares fit). */
function validateFit<K extends string>(data: unknown, keys: readonly K[], where: string, bad: (what: string) => never): Record<K, number> {
  const g = data as Record<string, unknown>;
  const ok = typeof data === 'object' && data !== null && !Array.isArray(data) && keys.every((k) => typeof g[k] === 'number' && Number.isFinite(g[k]) && (g[k] as number) >= 0);
  if (!ok || !keys.some((k) => (g[k] as number) > 0)) bad(`"${where}" must be an object with ${keys.join(', ')}: numbers ≥ 0 (ns), one of them positive`);
  return Object.fromEntries(keys.map((k) => [k, g[k] as number])) as Record<K, number>;
}
const GENERIC_DEPTHWISE_KEYS = ['nsPerPixelTap', 'nsPerVectorTap', 'nsPerTailTap'] as const satisfies readonly (keyof GenericDepthwiseRates)[];
const GENERIC_POINTWISE_KEYS = ['nsPerPaddedOutput', 'nsPerPaddedMac'] as const satisfies readonly (keyof NonNullable<Int8Rates['genericPointwise']>)[];
const PLAIN_POOL_KEYS = ['nsPerChannel', 'nsPerRow', 'nsPerHeightLoad', 'nsPerWidthStep'] as const satisfies readonly (keyof PlainPoolRates)[];
const GROUPED_CONV_INTEGER_KEYS = ['nsPerGroup', 'nsPerRow', 'nsPerStridedElement', 'nsPerBlock'] as const satisfies readonly (keyof GroupedConvIntegerRates)[];
const GROUPED_CONV_FLOAT_KEYS = ['nsPerGroup', 'nsPerRow', 'nsPerCopiedElement', 'nsPerStridedElement', 'nsPerPaddedColumn', 'nsPerElement'] as const satisfies readonly (keyof GroupedConvFloatRates)[];

/** The float rates: the six of the depthwise fit, and the SGEMM's two where the grouped fit found them (both or neither). */
function validateGroupedConvFloat(data: unknown, bad: (what: string) => never): GroupedConvFloatRates {
  const rates: GroupedConvFloatRates = validateFit(data, GROUPED_CONV_FLOAT_KEYS, 'genericGroupedConv', bad);
  const g = data as Record<string, unknown>;
  if (g.nsPerGemmMac === undefined && g.nsPerPackedElement === undefined) return rates;
  return { ...rates, ...validateFit(data, GROUPED_CONV_GEMM_KEYS, 'genericGroupedConv (nsPerGemmMac, nsPerPackedElement)', bad) };
}
const GROUPED_CONV_GEMM_KEYS = ['nsPerGemmMac', 'nsPerPackedElement'] as const satisfies readonly (keyof GroupedConvFloatRates)[];

const GENERIC_CLASSES = ['conv', 'pointwise', 'depthwise'] as const;
function validateGenericGops(data: unknown, bad: (what: string) => never): Record<(typeof GENERIC_CLASSES)[number], number> {
  const g = data as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || GENERIC_CLASSES.some((c) => !positive(g[c]))) {
    bad(`"int8.genericGops" must be an object with positive ${GENERIC_CLASSES.join(', ')} (GOP/s)`);
  }
  return Object.fromEntries(GENERIC_CLASSES.map((c) => [c, g[c] as number])) as Record<(typeof GENERIC_CLASSES)[number], number>;
}
// ---- end of integer kernels ----

/** `mbn calibrate --lut`'s lookup table: entries with a string key and a time ≥ 0. */
function validateLut(data: unknown, bad: (what: string) => never): LutEntry[] {
  if (!Array.isArray(data)) return bad('"lut" must be an array of measured layer shapes');
  return data.map((e, i) => {
    const r = (typeof e === 'object' && e !== null && !Array.isArray(e) ? e : bad(`"lut[${i}]" must be an object`)) as Record<string, unknown>;
    if (typeof r.key !== 'string' || r.key === '') bad(`"lut[${i}].key" must be a non-empty string`);
    if (typeof r.ms !== 'number' || !Number.isFinite(r.ms) || r.ms < 0) bad(`"lut[${i}].ms" must be a number ≥ 0 (milliseconds)`);
    if (!Number.isInteger(r.samples) || (r.samples as number) < 1) bad(`"lut[${i}].samples" must be a positive integer`);
    return { key: r.key as string, ms: r.ms as number, samples: r.samples as number, model: String(r.model ?? ''), layer: String(r.layer ?? '') };
  });
}

function positive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** Checks a parsed profile; throws a usage error naming the first bad field. `where` names the file. */
export function validateProfile(data: unknown, where: string): DeviceProfile {
  const bad = (what: string): never => {
    throw new MbnError('usage', `device profile ${where}: ${what}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return bad('is not a JSON object');
  const p = data as Record<string, unknown>;
  if (p.schema !== PROFILE_SCHEMA) bad(`"schema" must be "${PROFILE_SCHEMA}" (found ${quote(JSON.stringify(p.schema) ?? 'nothing')})`);
  if (typeof p.name !== 'string' || p.name === '') bad('"name" must be a non-empty string');
  if (p.description !== undefined && typeof p.description !== 'string') bad('"description" must be a string');
  if (typeof p.calibrated !== 'boolean') bad('"calibrated" must be true or false');
  if (!Number.isInteger(p.threads) || (p.threads as number) < 1) bad('"threads" must be a positive integer');
  const g = p.gflops;
  if (typeof g !== 'object' || g === null || Array.isArray(g)) bad(`"gflops" must be an object with ${OP_CLASSES.join(', ')}`);
  for (const c of OP_CLASSES) {
    if (!positive((g as Record<string, unknown>)[c])) bad(`"gflops.${c}" must be a positive number (GFLOP/s)`);
  }
  for (const key of Object.keys(g as object)) if (!(OP_CLASSES as readonly string[]).includes(key)) bad(`"gflops.${key}" is not an op class (${OP_CLASSES.join(', ')})`);
  if (!positive(p.memoryGBps)) bad('"memoryGBps" must be a positive number (GB/s)');
  if (!positive(p.cacheGBps)) bad('"cacheGBps" must be a positive number (GB/s)');
  if (!Number.isInteger(p.cacheBytes) || (p.cacheBytes as number) < 0) bad('"cacheBytes" must be an integer ≥ 0 (bytes)');
  const o = p.overheadUs;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad(`"overheadUs" must be an object with ${OP_CLASSES.join(', ')}`);
  for (const c of OP_CLASSES) {
    const v = (o as Record<string, unknown>)[c];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`"overheadUs.${c}" must be a number ≥ 0 (microseconds)`);
  }
  const byOp = p.overheadUsByOp as Record<string, unknown> | undefined;
  if (byOp !== undefined) {
    if (typeof byOp !== 'object' || byOp === null || Array.isArray(byOp)) bad('"overheadUsByOp" must be an object of op types and microseconds');
    for (const [op, v] of Object.entries(byOp)) {
      if (!/^[A-Z][A-Za-z0-9]*$/.test(op)) bad(`"overheadUsByOp.${op}" is not an ONNX op type`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`"overheadUsByOp.${op}" must be a number ≥ 0 (microseconds)`);
    }
  }
  if (typeof p.runOverheadUs !== 'number' || !Number.isFinite(p.runOverheadUs) || p.runOverheadUs < 0) bad('"runOverheadUs" must be a number ≥ 0 (microseconds)');
  for (const key of ['inputUs', 'outputUs', 'ifValueUs'] as const) {
    if (p[key] !== undefined && (typeof p[key] !== 'number' || !Number.isFinite(p[key]) || (p[key] as number) < 0)) bad(`"${key}" must be a number ≥ 0 (microseconds)`);
  }
  for (const key of ['inputNsPerByte', 'outputNsPerByte'] as const) {
    if (p[key] !== undefined && (typeof p[key] !== 'number' || !Number.isFinite(p[key]) || (p[key] as number) < 0)) bad(`"${key}" must be a number ≥ 0 (nanoseconds per byte)`);
  }
  if (!Array.isArray(p.sources) || p.sources.some((s) => typeof s !== 'string')) bad('"sources" must be an array of strings');
  if (p.nchwcBlock !== undefined && (!Number.isInteger(p.nchwcBlock) || (p.nchwcBlock as number) < 1 || (p.nchwcBlock as number) > 64)) bad('"nchwcBlock" must be an integer from 1 to 64 (channels)');
  if (p.lastLevelCacheBytes !== undefined && (!Number.isInteger(p.lastLevelCacheBytes) || (p.lastLevelCacheBytes as number) < 0)) bad('"lastLevelCacheBytes" must be an integer ≥ 0 (bytes)');
  for (const key of ['weightGBps', 'llcGBps', 'llcWeightGBps', 'cacheWeightGBps', 'im2colGBps'] as const) if (p[key] !== undefined && !positive(p[key])) bad(`"${key}" must be a positive number (GB/s)`);
  if (p.genericGroupUs !== undefined && (typeof p.genericGroupUs !== 'number' || !Number.isFinite(p.genericGroupUs) || p.genericGroupUs < 0)) {
    bad('"genericGroupUs" must be a number ≥ 0 (microseconds)');
  }
  if (p.nchwInputNsPerOutput !== undefined && (typeof p.nchwInputNsPerOutput !== 'number' || !Number.isFinite(p.nchwInputNsPerOutput) || p.nchwInputNsPerOutput < 0)) {
    bad('"nchwInputNsPerOutput" must be a number ≥ 0 (nanoseconds)');
  }
  for (const key of ['convTransposeNsPerColumn', 'divNsPerElement', 'minMaxNsPerElement'] as const) if (p[key] !== undefined && !positive(p[key])) bad(`"${key}" must be a positive number (nanoseconds)`);
  const resize = p.resizeNsPerOutput as Record<string, unknown> | undefined;
  if (resize !== undefined) {
    if (typeof resize !== 'object' || resize === null || Array.isArray(resize)) bad(`"resizeNsPerOutput" must be an object with ${RESIZE_KERNELS.join(', ')}`);
    for (const k of RESIZE_KERNELS) if (!positive(resize[k])) bad(`"resizeNsPerOutput.${k}" must be a positive number (nanoseconds)`);
  }
  const activations = p.fusedActivationNsPerElement as Record<string, unknown> | undefined;
  if (activations !== undefined) {
    if (typeof activations !== 'object' || activations === null || Array.isArray(activations)) bad(`"fusedActivationNsPerElement" must be an object of op types (${FUSED_ACTIVATIONS.join(', ')}) and nanoseconds`);
    for (const [op, v] of Object.entries(activations)) {
      if (!(FUSED_ACTIVATIONS as readonly string[]).includes(op)) bad(`"fusedActivationNsPerElement.${op}" is not one of ${FUSED_ACTIVATIONS.join(', ')}`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(`"fusedActivationNsPerElement.${op}" must be a number ≥ 0 (nanoseconds)`);
    }
  }
  return {
    schema: PROFILE_SCHEMA,
    name: p.name as string,
    description: (p.description as string | undefined) ?? '',
    calibrated: p.calibrated as boolean,
    threads: p.threads as number,
    gflops: Object.fromEntries(OP_CLASSES.map((c) => [c, (g as Record<string, number>)[c]])) as Record<OpClass, number>,
    memoryGBps: p.memoryGBps as number,
    cacheGBps: p.cacheGBps as number,
    cacheBytes: p.cacheBytes as number,
    overheadUs: Object.fromEntries(OP_CLASSES.map((c) => [c, (o as Record<string, number>)[c]])) as Record<OpClass, number>,
    runOverheadUs: p.runOverheadUs as number,
    ...(p.inputUs !== undefined ? { inputUs: p.inputUs as number } : {}),
    ...(p.outputUs !== undefined ? { outputUs: p.outputUs as number } : {}),
    ...(p.inputNsPerByte !== undefined ? { inputNsPerByte: p.inputNsPerByte as number } : {}),
    ...(p.outputNsPerByte !== undefined ? { outputNsPerByte: p.outputNsPerByte as number } : {}),
    ...(p.ifValueUs !== undefined ? { ifValueUs: p.ifValueUs as number } : {}),
    ...(byOp !== undefined ? { overheadUsByOp: { ...(byOp as Record<string, number>) } } : {}),
    sources: p.sources as string[],
    ...(p.nchwcBlock !== undefined ? { nchwcBlock: p.nchwcBlock as number } : {}),
    ...(p.weightGBps !== undefined ? { weightGBps: p.weightGBps as number } : {}),
    ...(p.llcGBps !== undefined ? { llcGBps: p.llcGBps as number } : {}),
    ...(p.llcWeightGBps !== undefined ? { llcWeightGBps: p.llcWeightGBps as number } : {}),
    ...(p.cacheWeightGBps !== undefined ? { cacheWeightGBps: p.cacheWeightGBps as number } : {}),
    ...(p.lastLevelCacheBytes !== undefined ? { lastLevelCacheBytes: p.lastLevelCacheBytes as number } : {}),
    ...(p.im2colGBps !== undefined ? { im2colGBps: p.im2colGBps as number } : {}),
    ...(p.genericGroupUs !== undefined ? { genericGroupUs: p.genericGroupUs as number } : {}),
    ...(p.genericGroupedConv !== undefined ? { genericGroupedConv: validateGroupedConvFloat(p.genericGroupedConv, bad) } : {}),
    ...(p.nchwInputNsPerOutput !== undefined ? { nchwInputNsPerOutput: p.nchwInputNsPerOutput as number } : {}),
    ...(p.convTransposeNsPerColumn !== undefined ? { convTransposeNsPerColumn: p.convTransposeNsPerColumn as number } : {}),
    ...(p.divNsPerElement !== undefined ? { divNsPerElement: p.divNsPerElement as number } : {}),
    ...(p.minMaxNsPerElement !== undefined ? { minMaxNsPerElement: p.minMaxNsPerElement as number } : {}),
    ...(p.plainPool !== undefined ? { plainPool: validateFit(p.plainPool, PLAIN_POOL_KEYS, 'plainPool', bad) } : {}),
    ...(activations !== undefined ? { fusedActivationNsPerElement: { ...(activations as Record<string, number>) } } : {}),
    ...(resize !== undefined ? { resizeNsPerOutput: Object.fromEntries(RESIZE_KERNELS.map((k) => [k, resize[k] as number])) as unknown as ResizeRates } : {}),
    ...(p.int8 !== undefined ? { int8: validateInt8(p.int8, bad) } : {}),
    ...(p.lut !== undefined ? { lut: validateLut(p.lut, bad) } : {}),
    ...(Array.isArray(p.measurements) ? { measurements: p.measurements as DeviceProfile['measurements'] } : {}),
    ...(typeof p.measuredOn === 'object' && p.measuredOn !== null ? { measuredOn: p.measuredOn as DeviceProfile['measuredOn'] } : {}),
    // --- Energy ---
    ...(p.energy !== undefined ? { energy: validateEnergy(p.energy, bad) } : {}),
  };
}
