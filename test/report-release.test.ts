import { describe, expect, it } from 'vitest';
import { buildReport } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { ROOT } from './helpers/cli.js';

/**
 * `buildReport(…, { release: true })` (the analyze path) drops each inference record once its row exists and tallies
 * the separation params layer by layer: the report must be the very one built while keeping the records.
 */
function report(path: string, release: boolean) {
  const model = readModel(path);
  try {
    const inferred = inferModel(model, {});
    const built = buildReport(model, inferred, { release });
    return { built, layersLeft: inferred.layers.length, valuesLeft: inferred.values.size };
  } finally {
    model.source.close();
  }
}

describe('buildReport with release', () => {
  for (const name of [
    'models/mobilenet_v2_w035.onnx',
    'models/resnet_small.onnx',
    'models/attention.onnx',
    'real/silero_vad_v5.onnx',
    'real/ppocr_v4_det.onnx',
    'edge/conv_in_if.onnx',
    'edge/conv_in_loop.onnx',
    'edge/shared_weights.onnx',
  ]) {
    it(`${name}: the same report, and the records are gone`, () => {
      const kept = report(`${ROOT}/fixtures/${name}`, false);
      const released = report(`${ROOT}/fixtures/${name}`, true);
      expect(released.built).toEqual(kept.built);
      expect(JSON.stringify(released.built)).toBe(JSON.stringify(kept.built));
      expect(kept.layersLeft).toBe(kept.built.layers.length);
      expect(kept.valuesLeft).toBeGreaterThan(0);
      expect(released.layersLeft).toBe(0);
      expect(released.valuesLeft).toBe(0);
    });
  }
});
