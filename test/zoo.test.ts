import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/cost/analyze.js';
import { readModel } from '../src/onnx/read.js';
import { fixture } from './helpers/cli.js';

/**
 * torchvision publishes each classification model's cost as `_ops` (GFLOPS, which are multiply-accumulates: Conv,
 * Linear and the attention matmuls) and `num_params`, in its IMAGENET1K_V1 weight entries (torchvision/models/*.py).
 * mbn analyzes the same architectures exported by torch.onnx.export (fixtures/make_zoo.py) and must give the same
 * GMACs to the 3 decimals torchvision prints. ONNX params are a little fewer (eval export folds BatchNorm into conv
 * biases), so they are held to 1%.
 */
const PUBLISHED: [string, number, number | null][] = [
  ['resnet50', 4.089, 25_557_032],
  ['efficientnet_b0', 0.386, 5_288_548],
  ['convnext_tiny', 4.456, 28_589_128],
  ['regnet_y_400mf', 0.402, 4_344_144],
  ['shufflenet_v2_x1_0', 0.145, 2_278_604],
  ['squeezenet1_1', 0.349, 1_235_496],
  ['densenet121', 2.834, 7_978_856],
  ['googlenet', 1.498, 6_624_904],
  ['mnasnet1_0', 0.314, 4_383_312],
  ['alexnet', 0.714, 61_100_840],
  ['mobilenet_v3_large', 0.217, 5_483_032],
  ['vit_b_16', 17.564, 86_567_656],
  // num_params 27,161,264 counts the auxiliary classifier, which an eval-mode export leaves out of the graph.
  ['inception_v3', 5.713, null],
  ['swin_t', 4.491, 28_288_354],
];

describe("torchvision's published GFLOPS", () => {
  for (const [name, gflops, params] of PUBLISHED) {
    it(`${name}: ${gflops} G`, () => {
      const model = readModel(fixture(`graph-only/zoo/${name}.onnx`));
      const report = analyzeModel(model);
      model.source.close();
      expect(report.totals.notCounted).toBe(0);
      expect(Number((report.totals.macs / 1e9).toFixed(3))).toBe(gflops);
      if (params !== null) expect(Math.abs(report.totals.params - params) / params).toBeLessThan(0.01);
    });
  }
});
