import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { JSON_SCHEMA, renderJson } from '../src/report/analyze-report.js';
import { streamJson } from '../src/report/json-stream.js';
import { fixture, mbn } from './helpers/cli.js';

/** The streamed JSON report must be byte-for-byte what JSON.stringify(…, null, 2) writes. */
function streamed(value: Record<string, unknown>, batch?: number, map?: Record<string, (e: any) => unknown>): { text: string; pieces: number } {
  const parts: string[] = [];
  streamJson(value, (t) => parts.push(t), { batch, map });
  return { text: parts.join(''), pieces: parts.length };
}

describe('streamJson', () => {
  const cases: Record<string, Record<string, unknown>> = {
    empty: {},
    'empty arrays and objects': { a: [], b: {}, c: [[]], d: [{}] },
    'values with no JSON form': { a: undefined, b: [undefined, () => 1, 2], c: () => 1, d: null, e: { f: undefined } },
    'nested arrays and odd strings': { layers: [[1, [2, 3]], { 'x\ny': 'line\nbreak "q" \u2028 \u001b[2J é' }, 'text', 4.5e-7, -0, 1e21, [], {}, null, undefined], n: 1 },
    'odd keys': { 'a"b': [1, 2, 3], '': [[]], '__proto__': [4, 5], 'é\n': { x: [1] } },
    'toJSON': { when: new Date(0), list: Object.assign([1, 2], { toJSON: () => 'custom' }) },
  };
  for (const [name, value] of Object.entries(cases)) {
    it(`${name}: same bytes as JSON.stringify`, () => {
      expect(streamed(value).text).toBe(`${JSON.stringify(value, null, 2)}\n`);
      expect(streamed(value, 1).text).toBe(`${JSON.stringify(value, null, 2)}\n`);
    });
  }

  it('every fixture model: the same bytes as renderJson, in pieces', () => {
    const dir = fixture('models');
    const files = readdirSync(dir).filter((f) => f.endsWith('.onnx'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const model = readModel(join(dir, f));
      try {
        const report = analyzeModel(model);
        for (const batch of [1, 3, 1024]) {
          const { text, pieces } = streamed({ schema: JSON_SCHEMA, ...report }, batch);
          expect(text).toBe(`${JSON.stringify({ schema: JSON_SCHEMA, ...report }, null, 2)}\n`);
          // One piece per batch of layers, besides the other members.
          if (batch === 1) expect(pieces).toBeGreaterThan(report.layers.length);
        }
      } finally {
        model.source.close();
      }
    }
  });

  it('map: each element of a top-level array is written as mapped, whatever the batch', () => {
    const value = { layers: [{ a: 1 }, { a: 2 }, { a: 3 }], other: [{ a: 4 }] };
    const map = { layers: (e: { a: number }) => ({ b: e.a * 10 }) };
    const expected = `${JSON.stringify({ layers: [{ b: 10 }, { b: 20 }, { b: 30 }], other: [{ a: 4 }] }, null, 2)}\n`;
    for (const batch of [1, 2, 1024]) expect(streamed(value, batch, map).text).toBe(expected);
  });

  it('mbn analyze --format json keeps the v1 field name "multiplier" (executions in code), streamed or not', () => {
    const r = mbn(['analyze', fixture('models/tiny_cnn.onnx'), '--format', 'json']);
    expect(r.status).toBe(0);
    const layers = JSON.parse(r.stdout).layers as Record<string, unknown>[];
    expect(layers.every((l) => l.multiplier === 1 && !('executions' in l))).toBe(true);
    expect(r.stdout).not.toContain('"executions"');
  });

  it('mbn analyze --format json prints what renderJson renders', () => {
    const path = fixture('models/resnet_small.onnx');
    const r = mbn(['analyze', path, '--format', 'json']);
    expect(r.status).toBe(0);
    const model = readModel(path);
    try {
      const report = analyzeModel(model);
      report.model.path = path;
      expect(r.stdout).toBe(renderJson(report));
    } finally {
      model.source.close();
    }
  });
});
