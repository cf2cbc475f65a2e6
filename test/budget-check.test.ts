import { describe, expect, it } from 'vitest';
import { allowedGrowth, baselineRecords, budgetRecords, checkResult, matchBaseline, missingRecord, parseBaseline } from '../src/budget/check.js';
import { parseShare } from '../src/api/options.js';
import { MbnError } from '../src/errors.js';
import { signedPercent } from '../src/report/budget-text.js';
import { describeCheck, escapeData, escapeProperty, renderAnnotations, renderCheckMarkdown } from '../src/report/check-report.js';
import type { Figures } from '../src/contract/check.js';

const MOBILENET_V1: Figures = { macs: 568_740_352, flops: 1_142_573_568, params: 4_221_032, weightBytes: 16_884_128, peakActivationBytes: 6_422_528 };

describe('budget records', () => {
  it('at the limit passes with margin 0; one below fails by 1', () => {
    const [at] = budgetRecords('mn', 'm.onnx', MOBILENET_V1, { maxMacs: 568_740_352 });
    expect(at).toMatchObject({ name: 'mn', model: 'm.onnx', metric: 'macs', kind: 'budget', passed: true, value: 568_740_352, limit: 568_740_352, margin: 0, marginPercent: 0 });
    const [over] = budgetRecords('mn', 'm.onnx', MOBILENET_V1, { maxMacs: 568_740_351 });
    expect(over).toMatchObject({ passed: false, margin: -1 });
    expect(describeCheck(over)).toBe('mn (m.onnx): MACs 568,740,352 exceed the budget of 568,740,351 by 1 (0.0%)');
  });

  it('one record per limit, in metric order', () => {
    const records = budgetRecords('m.onnx', 'm.onnx', MOBILENET_V1, { maxActivationBytes: 6_422_527, maxParams: 5_000_000, maxMacs: 600_000_000 });
    expect(records.map((r) => [r.metric, r.passed, r.margin])).toEqual([
      ['macs', true, 31_259_648],
      ['params', true, 778_968],
      ['peakActivationBytes', false, -1],
    ]);
    expect(records[0].marginPercent).toBeCloseTo(5.2099, 3);
    expect(describeCheck(records[2])).toBe('m.onnx: Peak activation bytes 6,422,528 B exceed the budget of 6,422,527 B by 1 B (0.0%)');
  });

  it('describes failures with rounded figures when they differ', () => {
    const [r] = budgetRecords('mn', 'm.onnx', MOBILENET_V1, { maxWeightBytes: 16_000_000 });
    expect(describeCheck(r)).toBe('mn (m.onnx): Weight bytes 16.9MB exceed the budget of 16MB by 884KB (5.5%)');
  });
});

describe('baseline growth', () => {
  it('reads shares one way: a fraction, or a percentage with %', () => {
    expect(parseShare('5%')).toBe(0.05);
    expect(parseShare('0.05')).toBe(0.05);
    expect(parseShare('5')).toBe(5);
    expect(parseShare('0.5%')).toBe(0.005);
    expect(parseShare(' 80% ')).toBe(0.8);
    expect(parseShare('.5')).toBe(0.5);
    expect(parseShare('0')).toBe(0);
    expect(parseShare('-5%')).toBeNull();
    expect(parseShare('5%%')).toBeNull();
    expect(parseShare('five')).toBeNull();
    expect(parseShare('')).toBeNull();
  });

  it('allowed growth is exact on integers and rounds down', () => {
    expect(allowedGrowth(100, 5)).toBe(105);
    expect(allowedGrowth(100, 0)).toBe(100);
    expect(allowedGrowth(3_172_450, 5)).toBe(3_331_072);
    expect(allowedGrowth(3_172_449, 5)).toBe(3_331_071);
    expect(allowedGrowth(568_740_352, 5)).toBe(597_177_369);
    expect(allowedGrowth(0, 5)).toBe(0);
    expect(allowedGrowth(1_000_000, 0.1)).toBe(1_001_000);
  });

  it('fails a figure that grows more than allowed, passes shrinking and equal ones', () => {
    const base: Figures = { macs: 3_172_449, flops: 10, params: 200, weightBytes: 800, peakActivationBytes: 1000 };
    const now: Figures = { macs: 3_331_072, flops: 10, params: 100, weightBytes: 840, peakActivationBytes: 1051 };
    const records = baselineRecords('mn', 'm.onnx', now, base, 5);
    expect(records.map((r) => [r.metric, r.passed, r.limit, r.margin])).toEqual([
      ['macs', false, 3_331_071, -1],
      ['flops', true, 10, 0],
      ['params', true, 210, 110],
      ['weightBytes', true, 840, 0],
      ['peakActivationBytes', false, 1050, -1],
    ]);
    expect(records[0].baseline).toBe(3_172_449);
    expect(describeCheck(records[0])).toBe('mn (m.onnx): MACs grew +5.0% over the baseline (3.17M → 3.33M); allowed up to 3,331,071, over by 1');
    const zero = baselineRecords('mn', 'm.onnx', now, base, 0);
    expect(zero.filter((r) => !r.passed).map((r) => r.metric)).toEqual(['macs', 'weightBytes', 'peakActivationBytes']);
  });

  it('reads an analyze report and a check report as baselines', () => {
    const analyze = JSON.stringify({ schema: 'mbn.analyze/1', model: { path: 'models/m.onnx' }, totals: { ...MOBILENET_V1, layers: 3 }, layers: [] });
    // Reports from before `complete` existed count as complete.
    expect(parseBaseline(analyze, 'base.json')).toEqual([{ name: null, model: 'models/m.onnx', totals: MOBILENET_V1, complete: true }]);
    const incomplete = JSON.stringify({ schema: 'mbn.analyze/1', model: { path: 'm.onnx' }, totals: { ...MOBILENET_V1, complete: false }, layers: [] });
    expect(parseBaseline(incomplete, 'base.json')[0].complete).toBe(false);
    const check = JSON.stringify(checkResult([{ name: 'a', model: 'a.onnx', totals: MOBILENET_V1, complete: true, incomplete: [] }], [], null, null));
    expect(parseBaseline(check, 'base.json')).toEqual([{ name: 'a', model: 'a.onnx', totals: MOBILENET_V1, complete: true }]);
  });

  it('rejects other JSON with a hint', () => {
    const e = (() => {
      try {
        parseBaseline('{"schema": "other/1"}', 'base.json');
      } catch (error) {
        return error as MbnError;
      }
    })()!;
    expect(e.code).toBe('config');
    expect(e.message).toBe(
      "base.json is not an mbn report (schema is 'other/1', expected 'mbn.analyze/1' or 'mbn.check/1'); make one with `mbn analyze MODEL --format json > base.json` or `mbn check --format json > base.json`",
    );
    expect(() => parseBaseline('[1]', 'b')).toThrow(/not a JSON object/);
    expect(() => parseBaseline('{"schema": "mbn.analyze/1", "totals": {"macs": "1"}}', 'b')).toThrow(/totals.macs is not a number/);
    expect(() => parseBaseline('nope', 'b')).toThrow(/b is not valid JSON/);
  });

  it('matches models by name and path, then path, then name, then file name, then one to one', () => {
    const t = MOBILENET_V1;
    const baseline = [
      { name: 'b', model: 'models/b.onnx', totals: t, complete: true },
      { name: 'a', model: 'models/a.onnx', totals: t, complete: true },
      { name: 'x', model: 'old/c.onnx', totals: t, complete: true },
      { name: 'renamed', model: 'models/d.onnx', totals: t, complete: true },
    ];
    expect(
      matchBaseline(
        [
          { name: 'a', model: 'models/a.onnx' },
          { name: 'z', model: './models/../models/b.onnx' },
          { name: 'y', model: 'new/c.onnx' },
          { name: 'renamed', model: 'models/e.onnx' },
          { name: 'q', model: 'q.onnx' },
        ],
        baseline,
      ),
    ).toEqual([1, 0, 2, 3, -1]);
    expect(matchBaseline([{ name: 'p', model: 'p.onnx' }], [{ name: null, model: 'elsewhere.onnx', totals: t, complete: true }])).toEqual([0]);
    // Two models of one glob entry share a name: the name alone cannot pick one.
    expect(matchBaseline([{ name: 'g', model: 'm/1.onnx' }, { name: 'g', model: 'm/2.onnx' }], [{ name: 'g', model: 'other/3.onnx', totals: t, complete: true }])).toEqual([-1, -1]);
  });
});

describe('rendering for CI', () => {
  it('escapes workflow command data and properties', () => {
    expect(escapeData('50% a\nb\r')).toBe('50%25 a%0Ab%0D');
    expect(escapeProperty('C:\\x,y.onnx')).toBe('C%3A\\x%2Cy.onnx');
  });

  it('annotates each failure, missing models on the config file', () => {
    const checks = [
      ...budgetRecords('mn', 'models/m,1.onnx', MOBILENET_V1, { maxMacs: 568_740_351, maxParams: 5e6 }),
      missingRecord('gone', 'nope/*.onnx', true),
    ];
    expect(renderAnnotations(checkResult([], checks, null, null), 'mbn.config.json')).toBe(
      '::error file=models/m%2C1.onnx,title=mbn budget::mn (models/m,1.onnx): MACs 568,740,352 exceed the budget of 568,740,351 by 1 (0.0%25)\n' +
        "::error file=mbn.config.json,title=mbn budget::gone (nope/*.onnx): model missing: no file matches 'nope/*.onnx'\n",
    );
  });

  it('markdown for a pull request', () => {
    const checks = budgetRecords('mn', 'm.onnx', MOBILENET_V1, { maxMacs: 600_000_000 });
    expect(renderCheckMarkdown(checkResult([], checks, null, null))).toBe(
      '### mbn check: ✅ all 1 check passed\n\n| | Model | MACs |\n|---|---|---:|\n| ✅ pass | mn (`m.onnx`) | 569M / 600M ✅ |\n\n' +
        '<details>\n<summary>All 1 check</summary>\n\n| | Model | Check | Value | Limit | Margin |\n|---|---|---|---:|---:|---:|\n| ✅ | mn (`m.onnx`) | MACs | 569M | 600M | +31.3M (+5.2%) |\n\n</details>\n',
    );
  });

  it('signed percentages', () => {
    expect(signedPercent(5.21)).toBe('+5.2%');
    expect(signedPercent(-86.67)).toBe('-86.7%');
    expect(signedPercent(0)).toBe('0%');
    expect(signedPercent(0.0001)).toBe('+0.0%');
    expect(signedPercent(-0.0000002)).toBe('-0.0%');
    expect(signedPercent(null)).toBe('new');
  });
});
