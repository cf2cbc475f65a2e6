import { describe, expect, it } from 'vitest';
import { EXAMPLE_ENTRY, parseConfigText, validateConfig } from '../src/budget/config.js';
import { parseLimit } from '../src/budget/limits.js';
import { MbnError } from '../src/errors.js';

function errorOf(fn: () => unknown): MbnError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MbnError);
    return error as MbnError;
  }
  throw new Error('expected an MbnError');
}

describe('parseLimit', () => {
  it.each([
    ['maxMacs', '600M', 600_000_000],
    ['maxMacs', '1.2G', 1_200_000_000],
    ['maxMacs', '568740352', 568_740_352],
    ['maxMacs', 568_740_352, 568_740_352],
    ['maxMacs', '2.5K', 2_500],
    ['maxFlops', '1e9', 1_000_000_000],
    ['maxWeightBytes', '20MB', 20_000_000],
    ['maxWeightBytes', '16MiB', 16_777_216],
    ['maxWeightBytes', '1KiB', 1024],
    ['maxActivationBytes', '512B', 512],
    ['maxActivationBytes', '6.5mb', 6_500_000],
  ] as const)('%s %s → %d', (key, text, value) => {
    expect(parseLimit(key, text)).toBe(value);
  });

  it.each([
    ['maxMacs', '20MB'],
    ['maxMacs', '600X'],
    ['maxMacs', '-1'],
    ['maxMacs', -1],
    ['maxMacs', ''],
    ['maxMacs', 'lots'],
    ['maxParams', '1MiB'],
    ['maxWeightBytes', '20 parsecs'],
    ['maxMacs', Number.POSITIVE_INFINITY],
  ] as const)('%s %s is rejected', (key, text) => {
    expect(parseLimit(key, text)).toBeNull();
  });
});

describe('config validation', () => {
  it('reads a full entry', () => {
    const [e] = validateConfig(
      [{ name: 'mn', model: 'models/*.onnx', maxMacs: '600M', maxFlops: 1.2e9, maxParams: '4.3M', maxWeightBytes: '20MB', maxActivationBytes: '16MiB', input: { input: [1, 3, 224, 224] }, batch: 2 }],
      'mbn.config.json',
    );
    expect(e).toEqual({
      name: 'mn',
      model: 'models/*.onnx',
      limits: { maxMacs: 600_000_000, maxFlops: 1_200_000_000, maxParams: 4_300_000, maxWeightBytes: 20_000_000, maxActivationBytes: 16_777_216 },
      input: new Map([['input', [1, 3, 224, 224]]]),
      batch: 2,
      advise: null,
      allowUncounted: [],
      maxLatencyMs: null,
      maxEnergyMj: null,
      device: null,
    });
  });

  it('reads a minimal entry', () => {
    expect(validateConfig([{ model: 'a.onnx' }], 'x')).toEqual([{ name: null, model: 'a.onnx', limits: {}, input: null, batch: null, advise: null, allowUncounted: [], maxLatencyMs: null, maxEnergyMj: null, device: null }]);
  });

  it('rejects an unknown key, quoting it, suggesting the known one and showing a valid entry', () => {
    const e = errorOf(() => validateConfig([{ model: 'a.onnx', maxMac: '600M' }], 'mbn.config.json'));
    expect(e.code).toBe('config');
    expect(e.message).toBe(
      `mbn.config.json: entry 1: unknown key 'maxMac' (did you mean 'maxMacs'?); known keys: name, model, maxMacs, maxFlops, maxParams, maxWeightBytes, maxActivationBytes, input, batch, advise, allowUncounted, maxLatencyMs, maxEnergyMj, device. A valid entry: ${EXAMPLE_ENTRY}`,
    );
    expect(e.message).not.toContain('\n');
  });

  it('an unknown key far from every known key gets no suggestion', () => {
    expect(errorOf(() => validateConfig([{ model: 'a.onnx', colour: 'red' }], 'c')).message).toMatch(/^c: entry 1: unknown key 'colour'; known keys/);
  });

  it('rejects a bad unit, quoting the value', () => {
    const e = errorOf(() => validateConfig([{ name: 'mn', model: 'a.onnx' }, { model: 'b.onnx', maxMacs: '600X' }], 'mbn.config.json'));
    expect(e.message).toBe(`mbn.config.json: entry 2: 'maxMacs' is '600X', expected a number such as 600M, 1.2G or 600000000. A valid entry: ${EXAMPLE_ENTRY}`);
  });

  it('rejects byte units for counts and counts names the entry', () => {
    const e = errorOf(() => validateConfig([{ name: 'mn', model: 'a.onnx', maxParams: '4MB' }], 'c'));
    expect(e.message).toMatch(/^c: entry 1 \('mn'\): 'maxParams' is '4MB', expected a number such as/);
  });

  it('rejects non-string, non-number limits and negative ones', () => {
    expect(errorOf(() => validateConfig([{ model: 'a', maxWeightBytes: true }], 'c')).message).toContain(`'maxWeightBytes' is boolean 'true', expected a size such as 20MB, 16MiB or 20000000`);
    expect(errorOf(() => validateConfig([{ model: 'a', maxMacs: -5 }], 'c')).message).toContain(`'maxMacs' is number '-5'`);
    expect(errorOf(() => validateConfig([{ model: 'a', maxMacs: null }], 'c')).message).toContain(`'maxMacs' is null`);
  });

  it('rejects a config that is not an array', () => {
    expect(errorOf(() => validateConfig({ model: 'a.onnx' }, 'mbn.config.json')).message).toBe(
      `mbn.config.json: must be a JSON array of budget entries, not an object '{"model":"a.onnx"}'. A valid entry: ${EXAMPLE_ENTRY}`,
    );
    expect(errorOf(() => validateConfig('a.onnx', 'c')).message).toContain(`must be a JSON array of budget entries, not 'a.onnx'`);
    expect(errorOf(() => validateConfig([], 'c')).message).toContain('c: has no budget entries');
  });

  it('rejects bad entries', () => {
    expect(errorOf(() => validateConfig([42], 'c')).message).toContain(`c: entry 1: must be an object, not number '42'`);
    expect(errorOf(() => validateConfig([{ maxMacs: 1 }], 'c')).message).toContain('c: entry 1: has no "model"');
    expect(errorOf(() => validateConfig([{ model: '' }], 'c')).message).toContain(`"model" must be a path or glob string, not ''`);
    expect(errorOf(() => validateConfig([{ model: 3 }], 'c')).message).toContain(`"model" must be a path or glob string, not number '3'`);
    expect(errorOf(() => validateConfig([{ name: 7, model: 'a' }], 'c')).message).toContain(`"name" must be a non-empty string, not number '7'`);
    expect(errorOf(() => validateConfig([{ model: 'a', batch: 0 }], 'c')).message).toContain(`"batch" is number '0', expected a positive integer`);
    expect(errorOf(() => validateConfig([{ model: 'a', input: [1, 3] }], 'c')).message).toContain(`"input" must map input names to shapes`);
    expect(errorOf(() => validateConfig([{ model: 'a', input: { x: [1, -3] } }], 'c')).message).toContain(`"input" 'x' is an array '[1,-3]', expected a shape of positive integers`);
    expect(errorOf(() => validateConfig([{ name: 'a', model: 'a' }, { name: 'a', model: 'b' }], 'c')).message).toContain(`c: entry 2: name 'a' is already used by entry 1`);
  });

  it('parses text, and the "mbn" key of package.json', () => {
    expect(parseConfigText('[{"model": "a.onnx", "maxMacs": "1M"}]', 'mbn.config.json')[0].limits).toEqual({ maxMacs: 1_000_000 });
    const pkg = JSON.stringify({ name: 'app', mbn: [{ model: 'a.onnx', maxParams: 10 }] });
    expect(parseConfigText(pkg, 'package.json', 'mbn')[0].limits).toEqual({ maxParams: 10 });
    expect(errorOf(() => parseConfigText('{"name": "app"}', 'package.json', 'mbn')).message).toContain(`package.json has no 'mbn' key with budgets`);
    expect(errorOf(() => parseConfigText(JSON.stringify({ mbn: { model: 'a' } }), 'package.json', 'mbn')).message).toMatch(/^package.json "mbn": must be a JSON array/);
    expect(errorOf(() => parseConfigText(JSON.stringify({ mbn: [{ model: 'a', maxMAcs: 1 }] }), 'package.json', 'mbn')).message).toMatch(
      /^package.json "mbn": entry 1: unknown key 'maxMAcs' \(did you mean 'maxMacs'\?\)/,
    );
  });

  it('reports invalid JSON on one line', () => {
    const e = errorOf(() => parseConfigText('[{"model": "a.onnx",}]', 'mbn.config.json'));
    expect(e.code).toBe('config');
    expect(e.message).toMatch(/^mbn.config.json is not valid JSON: /);
    expect(e.message).not.toContain('\n');
  });
});
