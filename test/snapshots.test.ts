import { describe, expect, it } from 'vitest';
import { fixture, mbn } from './helpers/cli.js';

/**
 * What a person sees: the real binary's table output, without colour, kept as reviewed snapshots
 * (test/__snapshots__). A change to the rendering shows up here as a diff to look at.
 */
describe('the terminal reports', () => {
  it('mbn analyze (table)', () => {
    const r = mbn(['analyze', 'fixtures/models/tiny_cnn.onnx']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatchSnapshot();
  });

  it('mbn analyze --flops --top 3', () => {
    const r = mbn(['analyze', 'fixtures/models/resnet_small.onnx', '--flops', '--top', '3']);
    expect(r.stdout).toMatchSnapshot();
  });

  it('mbn separate --dry-run (table)', () => {
    const r = mbn(['separate', 'fixtures/models/tiny_cnn.onnx', '--dry-run']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatchSnapshot();
  });

  it('mbn diff of a model and its separated version (markdown)', () => {
    const r = mbn(['diff', fixture('models/conv_mobilenet_v1_w025.onnx'), fixture('models/mobilenet_v1_w025.onnx'), '--format', 'md']);
    expect(r.status).toBe(0);
    expect(r.stdout.replaceAll(fixture(''), 'fixtures')).toMatchSnapshot();
  });
});

/**
 * The JSON contracts (`mbn.analyze/1`, `mbn.separate/1`, `mbn.diff/1`, `mbn.advise/1`) as the real binary prints
 * them: a field renamed, dropped or changed in meaning shows up here as a diff to review. Paths are made relative to
 * the checkout so the snapshots do not depend on where it lives.
 */
describe('the JSON contracts', () => {
  const json = (args: string[]) => {
    const r = mbn([...args, '--format', 'json']);
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout.replaceAll(fixture(''), 'fixtures'));
  };

  it('mbn.analyze/1: a complete analysis (tiny_cnn)', () => {
    expect(json(['analyze', 'fixtures/models/tiny_cnn.onnx'])).toMatchSnapshot();
  });

  it('mbn.analyze/1: an incomplete one (PaddleOCR cls, symbolic H and W)', () => {
    const report = json(['analyze', 'fixtures/real/ppocr_mobile_v2_cls.onnx']);
    // The layer list is long; the contract's other members and the gaps are what this pins.
    expect({ ...report, layers: report.layers.length }).toMatchSnapshot();
  });

  it('mbn.separate/1 (dry run)', () => {
    expect(json(['separate', 'fixtures/models/resnet_small.onnx', '--dry-run'])).toMatchSnapshot();
  });

  it('mbn.diff/1', () => {
    expect(json(['diff', fixture('models/conv_mobilenet_v1_w025.onnx'), fixture('models/mobilenet_v1_w025.onnx')])).toMatchSnapshot();
  });

  it('mbn.advise/1', () => {
    expect(json(['advise', 'fixtures/models/mobilenet_v2_w035.onnx'])).toMatchSnapshot();
  });

  it('mbn.advise/1: an incomplete one (PaddleOCR cls, symbolic H and W: MACs and FLOPs unknown)', () => {
    expect(json(['advise', 'fixtures/real/ppocr_mobile_v2_cls.onnx'])).toMatchSnapshot();
  });
});
