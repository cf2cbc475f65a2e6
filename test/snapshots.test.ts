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
