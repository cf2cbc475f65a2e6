import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnx from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';

/**
 * `mbn advise` under the completeness rule of every gate (src/budget/completeness.ts): its JSON says whether the
 * analysis is complete, a MAC or FLOP figure counted on an input dim that was assumed 1 is unknown (`?`, null), and
 * `--fail-on` (and a check's `advise` key) never passes an incomplete analysis, unless `--input` or
 * `--allow-uncounted` make it complete.
 */
const { onnx: o } = onnx;

const PPOCR = fixture('real/ppocr_mobile_v2_cls.onnx');
const PPOCR_INPUT = 'x:1x3x48x192';

interface Finding { rule: string; severity: string; layers: string[]; message: string; fix: { text: string; macsSaved: number | null; otherFlopsSaved: number | null; paramsSaved: number | null } }
interface AdviseJson {
  model: { macs: number | null; flops: number | null; params: number };
  passed: boolean;
  complete: boolean;
  incomplete: { kind: string; input?: string; dim?: number; op?: string }[];
  findings: Finding[];
  blocks: { macs: number | null }[];
}

function adviseJson(args: string[], status = 0): AdviseJson {
  const r = mbn(['advise', ...args, '--format', 'json']);
  expect(r.status, r.stderr).toBe(status);
  return JSON.parse(r.stdout);
}

const byRule = (j: AdviseJson, rule: string) => j.findings.filter((f) => f.rule === rule);

let dir: string;
let symbolicResnet: string;
let blurModel: string;
let twoInputs: string;

/** A 3×3 conv 8→12 channels on `input`, at `name` (12: not a multiple of 8, so channel-alignment reports it). */
const conv12 = (input: string, name: string) => ({ op: 'Conv', inputs: [input, 'w12'], outputs: [name], name, attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
const w12 = { name: 'w12', dtype: 1, dims: [12, 8, 3, 3], values: new Array(12 * 8 * 9).fill(0.01) };

beforeAll(() => {
  dir = tempDir('mbn-advise-complete-');
  // torchvision's ResNet-18 with symbolic H and W (as test/completeness.test.ts builds it).
  const model = o.ModelProto.decode(readFileSync(fixture('graph-only/resnet18.onnx')));
  const dims = model.graph!.input![0].type!.tensorType!.shape!.dim!;
  dims[2] = { dimParam: 'H' };
  dims[3] = { dimParam: 'W' };
  symbolicResnet = join(dir, 'resnet18_symbolic.onnx');
  writeFileSync(symbolicResnet, o.ModelProto.encode(model).finish());
  // A conv, then an op mbn has no rule for as the last layer: complete but for that one layer.
  blurModel = join(dir, 'blur.onnx');
  writeFileSync(blurModel, buildModel({
    opsets: { 'com.example': 1 },
    inputs: [{ name: 'x', dtype: 1, shape: [1, 8, 10, 10] }],
    outputs: ['y'],
    initializers: [w12],
    nodes: [conv12('x', 'conv'), { op: 'MyBlur', domain: 'com.example', inputs: ['conv'], outputs: ['y'], name: 'blur' }],
  }));
  // Two inputs: `a` with symbolic H and W, `b` fixed at 10×10. Only the conv on `a` depends on an assumed dim.
  twoInputs = join(dir, 'two_inputs.onnx');
  writeFileSync(twoInputs, buildModel({
    inputs: [{ name: 'a', dtype: 1, shape: [1, 8, 'H', 'W'] }, { name: 'b', dtype: 1, shape: [1, 8, 10, 10] }],
    outputs: ['ya', 'yb'],
    initializers: [w12],
    nodes: [conv12('a', 'ya'), conv12('b', 'yb')],
  }));
});

describe('mbn advise on an incomplete analysis', () => {
  it('PaddleOCR cls (H, W assumed 1): complete false, the gaps listed, every MAC and FLOP figure unknown', () => {
    const j = adviseJson([PPOCR]);
    expect(j.complete).toBe(false);
    expect(j.incomplete.filter((g) => g.kind === 'assumed-dim').map((g) => [g.input, g.dim])).toEqual([['x', 2], ['x', 3]]);
    expect(j.model.macs).toBeNull();
    expect(j.model.flops).toBeNull();
    // Params come from the file, not from shapes.
    const analyzed = JSON.parse(mbn(['analyze', PPOCR, '--format', 'json']).stdout);
    expect(j.model.params).toBe(analyzed.totals.params);
    // The structure is still found: 11 blocks, 7 channel-alignment findings, their figures unknown.
    expect(j.blocks).toHaveLength(11);
    expect(j.blocks.every((b) => b.macs === null)).toBe(true);
    const aligned = byRule(j, 'channel-alignment');
    expect(aligned).toHaveLength(7);
    for (const f of aligned) {
      expect(f.fix.macsSaved).toBeNull();
      expect(f.fix.text).toMatch(/^use \d+ channels \(\+\? MACs in this layer\)/);
    }
    expect(byRule(j, 'inverted-residual-summary')[0].message).toMatch(/; \? MACs$/);
  });

  it('PaddleOCR cls with --input: complete, and the figures are the ones worked out by hand', () => {
    const j = adviseJson([PPOCR, '--input', PPOCR_INPUT]);
    expect(j.complete).toBe(true);
    expect(j.incomplete).toEqual([]);
    const analyzed = JSON.parse(mbn(['analyze', PPOCR, '--input', PPOCR_INPUT, '--format', 'json']).stdout);
    expect(j.model.macs).toBe(analyzed.totals.macs);
    expect(j.model.flops).toBe(analyzed.totals.flops);
    // The SE squeeze convs run on the pooled 1×1 map: widening C_in→C_out to the next multiple of 8 adds
    // C_in·(up − C_out) MACs: 88·2, 88·2, 40·6, 48·4, 104·6, 200·6, 200·6.
    expect(byRule(j, 'channel-alignment').map((f) => f.fix.macsSaved)).toEqual([-176, -176, -240, -192, -624, -1200, -1200]);
    expect(j.blocks.every((b) => typeof b.macs === 'number' && b.macs > 0)).toBe(true);
  });

  it('ResNet-18 with symbolic H, W: --min-saving cannot be applied, every 3×3 conv is listed with its saving unknown', () => {
    const complete = adviseJson([fixture('graph-only/resnet18.onnx'), '--min-saving', '5%']);
    const j = adviseJson([symbolicResnet, '--min-saving', '5%']);
    const all = adviseJson([fixture('graph-only/resnet18.onnx'), '--min-saving', '0']);
    const found = byRule(j, 'separable-conv');
    // 16 3×3 convs; at 5% the complete model keeps fewer.
    expect(found.map((f) => f.layers[0])).toEqual(byRule(all, 'separable-conv').map((f) => f.layers[0]));
    expect(found).toHaveLength(16);
    expect(byRule(complete, 'separable-conv').length).toBeLessThan(16);
    for (const f of found) {
      expect(f.fix.macsSaved).toBeNull();
      expect(f.message).toMatch(/costs \? MACs, \? of the model; as depthwise \+ pointwise it would cost \d+\.\d% of that$/);
      expect(f.fix.text).toMatch(/saves \? MACs \(\? of the model\) and \d+ params$/);
    }
    // Params saved do not depend on shapes: the same as on the complete model.
    expect(found.map((f) => f.fix.paramsSaved)).toEqual(byRule(all, 'separable-conv').map((f) => f.fix.paramsSaved));
  });

  it('only the figures that depend on an assumed dim are unknown: a conv on a fixed input keeps its MACs', () => {
    const j = adviseJson([twoInputs]);
    expect(j.complete).toBe(false);
    expect(j.model.macs).toBeNull();
    const aligned = Object.fromEntries(byRule(j, 'channel-alignment').map((f) => [f.layers[0], f.fix.macsSaved]));
    // yb: 4 more output channels × 8 inputs × 3·3 × 10·10 outputs.
    expect(aligned).toEqual({ ya: null, yb: -(4 * 8 * 9 * 100) });
  });

  it('a layer mbn cannot count leaves the others\' figures known (no dim was assumed)', () => {
    const j = adviseJson([blurModel]);
    expect(j.complete).toBe(false);
    expect(j.incomplete).toEqual([expect.objectContaining({ kind: 'uncounted', op: 'MyBlur' })]);
    expect(j.model.macs).toBe(12 * 8 * 9 * 100);
    expect(byRule(j, 'channel-alignment')[0].fix.macsSaved).toBe(-(4 * 8 * 9 * 100));
  });
});

describe('advise --fail-on never passes an incomplete analysis', () => {
  it('PaddleOCR cls has info findings only, yet --fail-on error fails until --input is given', () => {
    const r = mbn(['advise', PPOCR, '--fail-on', 'error']);
    expect(r.status).toBe(1);
    const err = r.stderr.split('\n');
    expect(err[0]).toBe('✖ the analysis is incomplete, so --fail-on cannot pass:');
    expect(err[1]).toBe(
      "  input 'x' dims 2 ('p2o.DynamicDimension.1'), 3 ('p2o.DynamicDimension.2') are symbolic and were assumed 1: give them with --input x:1x3xD2xD3 (config: \"input\")",
    );
    expect(r.stdout).toContain('0 errors, 0 warnings, 8 info — fails --fail-on error: the analysis is incomplete');
    expect(r.stdout.split('\n')[0]).toMatch(/^⚠ Incomplete analysis: 11 layers that run are not counted, 2 input dims were assumed; MACs and FLOPs counted on an assumed dim show as \?/);
    expect(adviseJson([PPOCR, '--fail-on', 'error'], 1).passed).toBe(false);
    const ok = mbn(['advise', PPOCR, '--fail-on', 'error', '--input', PPOCR_INPUT]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('— passes --fail-on error');
    expect(adviseJson([PPOCR, '--fail-on', 'error', '--input', PPOCR_INPUT]).passed).toBe(true);
  });

  it('without --fail-on advise is no gate: exit 0 and nothing on stderr, whatever the completeness', () => {
    const r = mbn(['advise', PPOCR]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const md = mbn(['advise', PPOCR, '--format', 'md']);
    expect(md.status).toBe(0);
    expect(md.stdout).toContain(
      '**⚠ Incomplete analysis: 11 layers that run are not counted, 2 input dims were assumed; MACs and FLOPs counted on an assumed dim show as ?, and --fail-on cannot pass it (see --input, --allow-uncounted)**',
    );
    expect(md.stdout).toContain('| 1 | 8 → 8 → 8 | 1 | 2 | no | ? |');
  });

  it('an uncounted op fails --fail-on until --allow-uncounted accepts it', () => {
    const r = mbn(['advise', blurModel, '--fail-on', 'warning']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      '✖ the analysis is incomplete, so --fail-on cannot pass:\n' +
        '  1 layer of op MyBlur (com.example) has no cost rule: accept it with --allow-uncounted MyBlur (config: "allowUncounted")\n',
    );
    const ok = mbn(['advise', blurModel, '--fail-on', 'warning', '--allow-uncounted', 'MyBlur', '--format', 'json']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const j = JSON.parse(ok.stdout) as AdviseJson;
    expect(j.passed).toBe(true);
    // Accepted, the gap is still reported.
    expect(j.complete).toBe(false);
    expect(j.incomplete).toHaveLength(1);
    // Another op's name accepts nothing.
    expect(mbn(['advise', blurModel, '--fail-on', 'warning', '--allow-uncounted', 'OtherOp']).status).toBe(1);
  });

  it('a finding at --fail-on still fails a complete analysis (the rule adds to it, replaces nothing)', () => {
    const r = mbn(['advise', fixture('graph-only/resnet18.onnx'), '--fail-on', 'warning']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/— fails --fail-on warning\n$/);
  });
});

describe('mbn check: the advise key on an incomplete analysis', () => {
  it('the advise record fails (it passed before) until "input" makes the analysis complete', () => {
    const work = tempDir('mbn-advise-check-complete-');
    writeFileSync(join(work, 'cls.onnx'), readFileSync(PPOCR));
    const run = (entry: Record<string, unknown>) => {
      writeFileSync(join(work, 'mbn.config.json'), JSON.stringify([{ name: 'cls', model: 'cls.onnx', advise: 'error', ...entry }]));
      const r = mbn(['check', '--format', 'json'], { cwd: work });
      return { status: r.status, checks: JSON.parse(r.stdout).checks as { kind: string; passed: boolean; message: string }[] };
    };
    const incomplete = run({});
    expect(incomplete.status).toBe(1);
    const advice = incomplete.checks.filter((c) => c.kind === 'advise');
    expect(advice).toEqual([expect.objectContaining({ passed: false, message: 'advise: no finding of severity error or worse; the analysis is incomplete, so it cannot pass' })]);
    expect(incomplete.checks.filter((c) => c.kind === 'incomplete').length).toBeGreaterThan(0);
    const complete = run({ input: { x: [1, 3, 48, 192] } });
    expect(complete.status).toBe(0);
    expect(complete.checks).toEqual([expect.objectContaining({ kind: 'advise', passed: true, message: 'advise: no finding of severity error or worse' })]);
  });
});
