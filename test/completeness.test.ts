import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnx from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { mjText } from '../src/report/energy-report.js';
import { msText } from '../src/report/latency-report.js';
import { buildModel } from './helpers/build-model.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

/**
 * Issue 9 §1 and §6: an incomplete analysis (a layer that runs but is not counted, a non-batch input dim nothing
 * fixed) passes no gate — `analyze --max-*`, `mbn check`, `--baseline` — and says what is missing and how to fix
 * it; `--allow-uncounted` accepts named ops; `--input-value` gives an input a known value (Silero VAD's `sr`).
 *
 * Models: torchvision's ResNet-18 (fixtures/graph-only, weights left out) with a custom-domain op
 * `com.example::MyBlur` spliced in after the first Relu, or with symbolic H and W; Silero VAD v5 and PaddleOCR's
 * v2 text-direction classifier (fixtures/real, symbolic dims as shipped).
 */
const { onnx: o } = onnx;

const RESNET = 'fixtures/graph-only/resnet18.onnx';
const SILERO = 'fixtures/real/silero_vad_v5.onnx';
const PPOCR = 'fixtures/real/ppocr_mobile_v2_cls.onnx';
/** torchvision's resnet18: 1.814 GMACs (README table; test/zoo and PyTorch hooks give the same). */
const RESNET_MACS = 1_814_073_344;
/** conv1 alone: 64 out × 3 in × 7·7 kernel × 112·112 outputs. */
const CONV1_MACS = 64 * 3 * 7 * 7 * 112 * 112;

type Variant = 'blur' | 'blur-declared' | 'symbolic';

/**
 * ResNet-18 variants written to `dir`:
 * - blur: MyBlur (com.example) between the first Relu and the MaxPool, its output shape unknown;
 * - blur-declared: the same, with the MyBlur output's shape [1,64,112,112] in value_info (as some exporters write);
 * - symbolic: the input's H and W are the symbols 'H' and 'W'.
 */
function resnetVariant(dir: string, variant: Variant): string {
  const model = o.ModelProto.decode(readFileSync(fixture('graph-only/resnet18.onnx')));
  const graph = model.graph!;
  if (variant === 'symbolic') {
    const dims = graph.input![0].type!.tensorType!.shape!.dim!;
    dims[2] = { dimParam: 'H' };
    dims[3] = { dimParam: 'W' };
  } else {
    const relu = graph.node!.findIndex((n) => n.opType === 'Relu');
    const reluOut = graph.node![relu].output![0];
    for (const n of graph.node!) n.input = n.input!.map((i) => (i === reluOut ? 'blurred' : i));
    graph.node!.splice(relu + 1, 0, o.NodeProto.create({ name: 'blur', opType: 'MyBlur', domain: 'com.example', input: [reluOut], output: ['blurred'] }));
    model.opsetImport!.push(o.OperatorSetIdProto.create({ domain: 'com.example', version: 1 }));
    if (variant === 'blur-declared') {
      graph.valueInfo!.push(
        o.ValueInfoProto.create({
          name: 'blurred',
          type: { tensorType: { elemType: 1, shape: { dim: [1, 64, 112, 112].map((d) => ({ dimValue: d })) } } },
        }),
      );
    }
  }
  const path = join(dir, `resnet18_${variant}.onnx`);
  writeFileSync(path, o.ModelProto.encode(model).finish());
  return path;
}

const json = (stdout: string) => JSON.parse(stdout);

let dir: string;
let blur: string;
let declared: string;
let symbolic: string;

beforeAll(() => {
  dir = tempDir('mbn-complete-');
  blur = resnetVariant(dir, 'blur');
  declared = resnetVariant(dir, 'blur-declared');
  symbolic = resnetVariant(dir, 'symbolic');
});

function analyzeJson(args: string[]) {
  const r = mbn(['analyze', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return json(r.stdout);
}

describe('the report knows whether it is complete', () => {
  it('a complete model: totals.complete, no gaps, inputs keep their declared shape', () => {
    const r = analyzeJson([RESNET]);
    expect(r.totals.macs).toBe(RESNET_MACS);
    expect(r.totals.complete).toBe(true);
    expect(r.incomplete).toEqual([]);
    expect(r.model.inputs).toEqual([{ name: 'input', dtype: 'float32', shape: [1, 3, 224, 224], declaredShape: [1, 3, 224, 224], assumedDims: [] }]);
  });

  it('ResNet-18 with MyBlur: only conv1 is counted, and every layer after the blur is a gap', () => {
    const r = analyzeJson([blur]);
    expect(r.totals.macs).toBe(CONV1_MACS);
    expect(r.totals.complete).toBe(false);
    // The fixture's 49 layers and MyBlur.
    expect(r.totals.layers).toBe(50);
    expect(r.totals.notCounted).toBe(48);
    const gaps = r.incomplete;
    expect(gaps).toHaveLength(48);
    expect(gaps[0]).toEqual({ kind: 'uncounted', layer: 'blur', op: 'MyBlur', domain: 'com.example', reason: 'no rule for com.example::MyBlur', reasonCode: { code: 'no-rule', op: 'MyBlur', domain: 'com.example' } });
    expect(gaps[1]).toEqual({ kind: 'uncounted', layer: '/maxpool/MaxPool', op: 'MaxPool', domain: '', reason: 'input shape unknown', reasonCode: { code: 'input-shape-unknown' } });
    expect(gaps.every((g: { kind: string }) => g.kind === 'uncounted')).toBe(true);
  });

  it('a declared output shape after the custom op leaves MyBlur as the only gap', () => {
    const r = analyzeJson([declared]);
    expect(r.totals.macs).toBe(RESNET_MACS);
    expect(r.totals.notCounted).toBe(1);
    expect(r.incomplete).toEqual([{ kind: 'uncounted', layer: 'blur', op: 'MyBlur', domain: 'com.example', reason: 'no rule for com.example::MyBlur', reasonCode: { code: 'no-rule', op: 'MyBlur', domain: 'com.example' } }]);
  });

  it('symbolic H and W assumed 1 are gaps; the names stay beside the values used', () => {
    const r = analyzeJson([symbolic]);
    expect(r.totals.complete).toBe(false);
    // At 1×1 every conv (padded) and the FC produce one output per channel: the MACs are the weight elements.
    // torchvision's resnet18 has 11,689,512 params; the export folds the 2·4800 BatchNorm params into 4800 conv
    // biases (conv out-channels: 64 + 4·64 + 5·128 + 5·256 + 5·512), and the FC has 1000 biases.
    expect(r.totals.params).toBe(11_689_512 - 2 * 4800 + 4800);
    expect(r.totals.macs).toBe(11_689_512 - 2 * 4800 - 1000);
    expect(r.incomplete).toEqual([
      { kind: 'assumed-dim', input: 'input', dim: 2, name: 'H', value: 1 },
      { kind: 'assumed-dim', input: 'input', dim: 3, name: 'W', value: 1 },
    ]);
    expect(r.model.inputs[0]).toEqual({ name: 'input', dtype: 'float32', shape: [1, 3, 1, 1], declaredShape: [1, 3, 'H', 'W'], assumedDims: [2, 3] });
    const given = analyzeJson([symbolic, '--input', 'input:1x3x224x224']);
    expect(given.totals.macs).toBe(RESNET_MACS);
    expect(given.totals.complete).toBe(true);
    expect(given.model.inputs[0]).toEqual({ name: 'input', dtype: 'float32', shape: [1, 3, 224, 224], declaredShape: [1, 3, 'H', 'W'], assumedDims: [] });
  });

  it('a symbolic batch dim assumed 1 is the per-sample convention: a note, not a gap', () => {
    const r = analyzeJson(['fixtures/models/dynamic_batch.onnx']);
    expect(r.totals.complete).toBe(true);
    expect(r.incomplete).toEqual([]);
    expect(r.model.inputs[0].declaredShape).toEqual(['batch', 3, 16, 16]);
    expect(r.model.inputs[0].assumedDims).toEqual([0]);
    expect(r.notes.some((n: string) => n.includes("dim 0 ('batch') is not fixed; assumed 1"))).toBe(true);
  });

  it('the table says it in one line above the totals', () => {
    const r = mbn(['analyze', blur]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('⚠ Incomplete analysis'));
    expect(lines[at]).toBe('⚠ Incomplete analysis: 48 layers that run are not counted; no budget gate passes it (see --input, --allow-uncounted)');
    expect(lines[at + 1]).toMatch(/^MACs +118M +118,013,952$/);
    const sym = mbn(['analyze', symbolic]).stdout;
    expect(sym).toContain('⚠ Incomplete analysis: 2 input dims were assumed; no budget gate passes it');
    expect(mbn(['analyze', RESNET]).stdout).not.toContain('Incomplete');
    expect(mbn(['analyze', blur, '--format', 'md']).stdout).toContain(
      '\n**⚠ Incomplete analysis: 48 layers that run are not counted; no budget gate passes it (see --input, --allow-uncounted)**\n',
    );
  });
});

describe('analyze --device on an incomplete analysis: the predicted totals are lower bounds, and say so', () => {

  it('uncounted layers: the latency reads "at least" in the table, Markdown and HTML; the energy is unknown', () => {
    const json = JSON.parse(mbn(['analyze', blur, '--device', 'rpi4', '--format', 'json']).stdout);
    expect(json.totals.complete).toBe(false);
    expect(json.totals.latencyMs).toBeGreaterThan(0);
    expect(json.totals.energyMj).toBeNull();
    const ms = msText(json.totals.latencyMs);
    const table = mbn(['analyze', blur, '--device', 'rpi4', '--no-color']).stdout;
    expect(table).toContain(`Predicted latency on rpi4 (uncalibrated estimate): at least ${ms} (incomplete analysis)\n`);
    expect(table).toContain("Estimated energy per inference on rpi4: unknown: some layer's bytes are unknown (give the input shapes with --input)\n");
    const md = mbn(['analyze', blur, '--device', 'rpi4', '--format', 'md']).stdout;
    expect(md).toContain(`#### Predicted latency on rpi4 (uncalibrated estimate): at least ${ms} (incomplete analysis)\n`);
    const html = mbn(['analyze', blur, '--device', 'rpi4', '--format', 'html']).stdout;
    expect(html).toContain(`<div class="k">Predicted latency</div><div class="v">at least ${ms} (incomplete analysis)</div>`);
  });

  it('assumed input dims: latency and energy both read "at least"; a complete analysis reads neither', () => {
    const json = JSON.parse(mbn(['analyze', symbolic, '--device', 'rpi4', '--format', 'json']).stdout);
    expect(json.totals.complete).toBe(false);
    const [ms, mj] = [msText(json.totals.latencyMs), mjText(json.totals.energyMj)];
    const table = mbn(['analyze', symbolic, '--device', 'rpi4', '--no-color']).stdout;
    expect(table).toContain(`Predicted latency on rpi4 (uncalibrated estimate): at least ${ms} (incomplete analysis)\n`);
    expect(table).toContain(`Estimated energy per inference on rpi4 (estimate): at least ${mj} (incomplete analysis)\n`);
    const html = mbn(['analyze', symbolic, '--device', 'rpi4', '--format', 'html']).stdout;
    expect(html).toContain(`<div class="k">Energy (estimate)</div><div class="v">at least ${mj} (incomplete analysis)</div>`);
    const complete = mbn(['analyze', RESNET, '--device', 'rpi4', '--no-color']).stdout;
    expect(complete).toMatch(/Predicted latency on rpi4 \(uncalibrated estimate\): [0-9.]+ ms\n/);
    expect(complete).toMatch(/Estimated energy per inference on rpi4 \(estimate\): [0-9.]+ mJ\n/);
    expect(complete).not.toContain('at least');
  });
});

const BLUR_RULE = "1 layer of op MyBlur (com.example) has no cost rule: accept it with --allow-uncounted MyBlur (config: \"allowUncounted\")";
const HW_FIX = "input 'input' dims 2 ('H'), 3 ('W') are symbolic and were assumed 1: give them with --input input:1x3xHxW (config: \"input\")";

describe('analyze --max-*: an incomplete analysis fails every budget', () => {
  it('uncounted custom op: exit 1 although the counted MACs are within the budget', () => {
    const r = mbn(['analyze', blur, '--max-macs', '1G']);
    expect(r.status).toBe(1);
    const err = r.stderr.split('\n');
    expect(err[0]).toBe('✖ the analysis is incomplete, so no budget can pass:');
    expect(err[1]).toBe(`  ${BLUR_RULE}`);
    expect(err[2]).toMatch(/^ {2}47 layers are not counted because their shapes are unknown \(.*first: \/maxpool\/MaxPool: input shape unknown\): they follow the layers above/);
  });

  it('--allow-uncounted accepts the named op; the budget then decides, and the report still lists the gap', () => {
    const plain = mbn(['analyze', declared, '--max-macs', '2G']);
    expect(plain.status).toBe(1);
    expect(plain.stderr).toBe(`✖ the analysis is incomplete, so no budget can pass:\n  ${BLUR_RULE}\n`);
    const allowed = mbn(['analyze', declared, '--max-macs', '2G', '--allow-uncounted', 'MyBlur', '--format', 'json']);
    expect(allowed.stderr).toBe('');
    expect(allowed.status).toBe(0);
    expect(json(allowed.stdout).incomplete).toHaveLength(1);
    expect(json(allowed.stdout).totals.complete).toBe(false);
    // domain::op works too; an exceeded budget still fails.
    expect(mbn(['analyze', declared, '--max-macs', '2G', '--allow-uncounted', 'com.example::MyBlur']).status).toBe(0);
    const over = mbn(['analyze', declared, '--max-macs', '1G', '--allow-uncounted', 'MyBlur']);
    expect(over.status).toBe(1);
    expect(over.stderr).toBe('✖ MACs 1.81G exceed the budget of 1G by 814M (81.4%)\n');
    // Accepting MyBlur does not accept the 47 layers whose shapes it hides.
    expect(mbn(['analyze', blur, '--max-macs', '1G', '--allow-uncounted', 'MyBlur']).status).toBe(1);
  });

  it('symbolic non-batch dims: exit 1 with the --input to give; with it the budget passes', () => {
    for (const flag of ['--max-macs', '--max-flops', '--max-activation-bytes']) {
      const r = mbn(['analyze', symbolic, flag, flag === '--max-activation-bytes' ? '1GB' : '10G']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`✖ the analysis is incomplete, so no budget can pass:\n  ${HW_FIX}\n`);
    }
    expect(mbn(['analyze', symbolic, '--max-macs', '10G', '--input', 'input:1x3x224x224']).status).toBe(0);
    // Without a budget, analyze is no gate: exit 0.
    expect(mbn(['analyze', symbolic]).status).toBe(0);
  });

  it('an unknown --allow-uncounted value is a usage error', () => {
    const r = mbn(['analyze', blur, '--allow-uncounted', 'My Blur']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("mbn: --allow-uncounted 'My Blur' is not an op type (for example --allow-uncounted MyBlur)\n");
  });
});

describe('mbn check: an incomplete analysis fails', () => {
  function check(entries: unknown, args: string[] = []) {
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify(entries));
    return mbn(['check', ...args], { cwd: dir });
  }

  it('uncounted custom op: the figures within budget are unknown, and the check says how to fix it', () => {
    const r = check([{ name: 'blur', model: 'resnet18_blur.onnx', maxMacs: '1G', maxParams: '20M' }], ['--format', 'json']);
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(out.passed).toBe(false);
    expect(out.models[0].complete).toBe(false);
    expect(out.models[0].incomplete).toHaveLength(48);
    const [macs, params, ...gaps] = out.checks;
    expect(macs).toMatchObject({ metric: 'macs', kind: 'budget', passed: false, complete: false, value: CONV1_MACS, limit: 1e9 });
    // Params come from the file, not from shapes: known, and within the budget.
    expect(params).toMatchObject({ metric: 'params', kind: 'budget', passed: true, complete: true });
    expect(gaps.map((g: { kind: string; message: string }) => [g.kind, g.message.slice(0, 40)])).toEqual([
      ['incomplete', BLUR_RULE.slice(0, 40)],
      ['incomplete', '47 layers are not counted because their '],
    ]);
    expect(r.stderr).toContain(`✖ blur (resnet18_blur.onnx): MACs unknown: the analysis is incomplete and counted 118M so far; the budget is 1G\n`);
    expect(r.stderr).toContain(`✖ blur (resnet18_blur.onnx): incomplete analysis: ${BLUR_RULE}\n`);
  });

  it('the table marks the lower bound and the failure', () => {
    const r = check([{ name: 'blur', model: 'resnet18_blur.onnx', maxMacs: '1G' }]);
    expect(r.status).toBe(1);
    // The model's row says incomplete; its MACs cell is the lower bound against the budget, marked unknown (?).
    expect(r.stdout).toMatch(/│ ✖ incomplete │ blur\s+│ ≥118M \/ 1G \? │/);
    expect(r.stdout).toContain('✖ blur (resnet18_blur.onnx): MACs unknown: the analysis is incomplete and counted 118M so far; the budget is 1G\n');
    expect(r.stdout).toContain('✖ blur (resnet18_blur.onnx): incomplete analysis: ');
    // The MACs budget and one record per gap group (MyBlur; the 47 layers after it).
    expect(r.stdout).toContain('✖ 3 of 3 checks failed');
  });

  it('allowUncounted (config) and --allow-uncounted accept the named op', () => {
    const entry = { name: 'declared', model: 'resnet18_blur-declared.onnx', maxMacs: '2G' };
    expect(check([entry]).status).toBe(1);
    const ok = check([{ ...entry, allowUncounted: ['MyBlur'] }], ['--format', 'json']);
    expect(ok.status).toBe(0);
    expect(json(ok.stdout).checks).toEqual([
      expect.objectContaining({ metric: 'macs', passed: true, complete: true, value: RESNET_MACS }),
    ]);
    expect(json(ok.stdout).models[0].incomplete).toHaveLength(1);
    expect(check([entry], ['--allow-uncounted', 'MyBlur']).status).toBe(0);
  });

  it('a bad allowUncounted is a config error', () => {
    const r = check([{ model: 'resnet18_blur.onnx', maxMacs: '1G', allowUncounted: 'MyBlur' }]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mbn: mbn.config.json: entry 1: "allowUncounted" is 'MyBlur', expected an array of op types such as \["MyBlur"\]/);
  });

  it('symbolic non-batch dims fail until the config gives "input"', () => {
    const entry = { name: 'sym', model: 'resnet18_symbolic.onnx', maxMacs: '10G' };
    const r = check([entry], ['--format', 'json']);
    expect(r.status).toBe(1);
    expect(json(r.stdout).checks.map((c: { kind: string; passed: boolean; message: string | null }) => [c.kind, c.passed, c.message])).toEqual([
      ['budget', false, null],
      ['incomplete', false, HW_FIX],
    ]);
    expect(check([{ ...entry, input: { input: [1, 3, 224, 224] } }]).status).toBe(0);
  });
});

describe('--baseline: an incomplete analysis fails the comparison', () => {
  function baselineOf(model: string, args: string[] = []): string {
    const r = mbn(['analyze', model, '--format', 'json', ...args]);
    expect(r.status).toBe(0);
    const path = join(dir, `base-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, r.stdout);
    return path;
  }
  function check(entries: unknown, args: string[]) {
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify(entries));
    return mbn(['check', ...args, '--format', 'json'], { cwd: dir });
  }

  it('uncounted op in the head: the MACs that shrank from 1.81G to 118M are unknown, not a pass', () => {
    const base = baselineOf(RESNET);
    const r = check([{ name: 'm', model: 'resnet18_blur.onnx' }], ['--baseline', base, '--max-increase', '5%']);
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    const macs = out.checks.find((c: { kind: string; metric: string }) => c.kind === 'baseline' && c.metric === 'macs');
    expect(macs).toMatchObject({ passed: false, complete: false, value: CONV1_MACS, baseline: RESNET_MACS });
    expect(out.checks.filter((c: { kind: string }) => c.kind === 'incomplete')).toHaveLength(2);
  });

  it('symbolic dims in the head fail; given in the config, the comparison passes', () => {
    const base = baselineOf(RESNET);
    const r = check([{ name: 'm', model: 'resnet18_symbolic.onnx' }], ['--baseline', base]);
    expect(r.status).toBe(1);
    expect(json(r.stdout).checks.at(-1)).toMatchObject({ kind: 'incomplete', message: HW_FIX });
    const ok = check([{ name: 'm', model: 'resnet18_symbolic.onnx', input: { input: [1, 3, 224, 224] } }], ['--baseline', base]);
    expect(ok.status).toBe(0);
  });

  it('an incomplete baseline is no reference: the model is not compared', () => {
    const base = baselineOf(symbolic);
    const r = check([{ name: 'm', model: 'resnet18_symbolic.onnx', input: { input: [1, 3, 224, 224] } }], ['--baseline', base]);
    expect(r.status).toBe(0);
    const out = json(r.stdout);
    expect(out.checks).toEqual([expect.objectContaining({ kind: 'no-baseline', passed: true })]);
    expect(out.checks[0].message).toMatch(/is an incomplete analysis: not compared$/);
  });
});

describe('mbn diff marks what it could not count', () => {
  it('layers not counted on one side show ?, and the incomplete side is named', () => {
    const r = mbn(['diff', RESNET, blur]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`⚠ head (${blur}) is an incomplete analysis: 48 layers that run are not counted; its figures leave those out, and layers marked ? are not counted`);
    // Totals: the head's MACs are what it could count; params come from the file and compare as usual.
    const total = (label: string) => r.stdout.split('\n').find((l) => l.startsWith(`│ ${label} `))!.split('│').map((x) => x.trim()).filter(Boolean);
    expect(total('MACs')).toEqual(['MACs', '1.81G', '≥118M', '?', '?']);
    expect(total('Params')).toEqual(['Params', '11.7M', '11.7M', '0', '0%']);
    const row = r.stdout.split('\n').find((l) => l.includes('/layer1/layer1.0/conv1/Conv'))!;
    expect(row.split('│').map((s) => s.trim()).filter(Boolean)).toEqual(['~', '/layer1/layer1.0/conv1/Conv', 'Conv', '?', '?', '?', '36.9K', '0']);
    const out = json(mbn(['diff', RESNET, blur, '--format', 'json']).stdout);
    expect(out.base.complete).toBe(true);
    expect(out.head.complete).toBe(false);
    const conv = out.layers.find((l: { name: string }) => l.name === '/layer1/layer1.0/conv1/Conv');
    expect(conv.uncounted).toEqual({ base: false, head: true });
    expect(out.layers.find((l: { name: string }) => l.name === 'blur')).toMatchObject({ status: 'added', uncounted: { base: false, head: true } });
    const md = mbn(['diff', RESNET, blur, '--format', 'md']).stdout;
    expect(md).toContain('| MACs | 1.81G | ≥118M | ? | ? |');
    expect(md).toContain('| ✏️ | /layer1/layer1.0/conv1/Conv | Conv | ? | ? | ? | 36.9K | 0 |');
    expect(mbn(['diff', RESNET, RESNET]).stdout).not.toContain('incomplete');
  });
});

describe('real models with symbolic dims', () => {
  it('PaddleOCR cls: incomplete without --input (H, W assumed), complete with it', () => {
    const r = mbn(['analyze', PPOCR, '--max-macs', '1G']);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[1]).toBe(
      "  input 'x' dims 2 ('p2o.DynamicDimension.1'), 3 ('p2o.DynamicDimension.2') are symbolic and were assumed 1: give them with --input x:1x3xD2xD3 (config: \"input\")",
    );
    const ok = mbn(['analyze', PPOCR, '--max-macs', '1G', '--input', 'x:1x3x48x192', '--format', 'json']);
    expect(ok.status).toBe(0);
    const report = json(ok.stdout);
    expect(report.totals.complete).toBe(true);
    expect(report.model.inputs[0].declaredShape).toEqual(['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2']);
  });

  it('PaddleOCR cls through mbn check, with and without "input"', () => {
    writeFileSync(join(dir, 'cls.onnx'), readFileSync(fixture('real/ppocr_mobile_v2_cls.onnx')));
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'cls.onnx', maxMacs: '1G' }]));
    expect(mbn(['check'], { cwd: dir }).status).toBe(1);
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'cls.onnx', maxMacs: '1G', input: { x: [1, 3, 48, 192] } }]));
    expect(mbn(['check'], { cwd: dir }).status).toBe(0);
  });

  it('Silero VAD v5 through mbn check, with and without "input"', () => {
    writeFileSync(join(dir, 'vad.onnx'), readFileSync(fixture('real/silero_vad_v5.onnx')));
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ name: 'vad', model: 'vad.onnx', maxMacs: '1M' }]));
    const r = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(r.status).toBe(1);
    const kinds = json(r.stdout).checks.map((c: { kind: string }) => c.kind);
    // The two inputs' dims, then the layers whose shapes they leave unknown.
    expect(kinds).toEqual(['budget', 'incomplete', 'incomplete', 'incomplete']);
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ name: 'vad', model: 'vad.onnx', maxMacs: '1M', input: { input: [1, 512], state: [2, 1, 128] } }]));
    const ok = mbn(['check', '--format', 'json'], { cwd: dir });
    expect(ok.status).toBe(0);
    expect(json(ok.stdout).models[0].complete).toBe(true);
  });

  it('Silero VAD v5: unnamed dynamic dims are gaps; with --input the untaken branch layers (×0) are not', () => {
    const r = mbn(['analyze', SILERO, '--max-macs', '1G']);
    expect(r.status).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines[1]).toBe("  input 'input' dim 1 is dynamic and was assumed 1: give it with --input input:1xD1 (config: \"input\")");
    expect(lines[2]).toBe("  input 'state' dim 1 is dynamic and was assumed 1: give it with --input state:2xD1x128 (config: \"input\")");
    const given = analyzeJson([SILERO, '--input', 'input:1x512', '--input', 'state:2x1x128']);
    expect(given.totals.notCounted).toBeGreaterThan(0);
    expect(given.layers.filter((l: { counted: boolean; multiplier: number }) => !l.counted).every((l: { multiplier: number }) => l.multiplier === 0)).toBe(true);
    expect(given.totals.complete).toBe(true);
    expect(mbn(['analyze', SILERO, '--input', 'input:1x512', '--input', 'state:2x1x128', '--max-macs', '1G']).status).toBe(0);
  });
});

describe('--input-value', () => {
  const shapes = ['--input', 'input:1x512', '--input', 'state:2x1x128'];

  it('in analyze, the sample rate decides the If branch', () => {
    const top = (r: { layers: { name: string; notes: string[] }[] }) => r.layers.find((l) => l.name === 'If_0')!.notes;
    const k16 = analyzeJson([SILERO, ...shapes, '--input-value', 'sr=16000']);
    const k8 = analyzeJson([SILERO, ...shapes, '--input-value', 'sr=8000']);
    expect(top(k16)).toEqual(['condition is constant: counted then_branch only']);
    expect(top(k8)).toEqual(['condition is constant: counted else_branch only']);
    const free = analyzeJson([SILERO, ...shapes]);
    // Without the value, the costlier branch: the 16 kHz one.
    expect(free.totals.macs).toBe(k16.totals.macs);
    expect(k8.totals.macs).toBeLessThan(k16.totals.macs);
  });

  it('--if-branch counts the branch asked for where the condition is known at run time only', () => {
    const top = (r: { layers: { name: string; notes: string[]; noteCodes: unknown[] }[] }) => r.layers.find((l) => l.name === 'If_0')!;
    const asked = analyzeJson([SILERO, ...shapes, '--if-branch', 'If_0=else']);
    // The else branch is the 8 kHz one: the same MACs as sr=8000 folds to (463,232 against 563,968).
    expect(asked.totals.macs).toBe(463_232);
    expect(analyzeJson([SILERO, ...shapes, '--input-value', 'sr=8000']).totals.macs).toBe(463_232);
    expect(top(asked).noteCodes).toEqual([{ code: 'if-asked-branch', branch: 'else_branch' }]);
    expect(top(asked).notes).toEqual(["counted else_branch, as asked; the other branch's layers are listed with ×0"]);
    // A constant condition wins: the model cannot take the other branch.
    const folded = analyzeJson([SILERO, ...shapes, '--if-branch', 'If_0=else', '--input-value', 'sr=16000']);
    expect(folded.totals.macs).toBe(563_968);
    expect(top(folded).notes).toEqual(['condition is constant: counted then_branch only']);
  });

  it('bad values and names are usage errors', () => {
    const cases: [string[], string][] = [
      [['--input-value', 'sr'], "mbn: --input-value 'sr' is not NAME=VALUE with a number (for example --input-value sr=16000)\n"],
      [['--input-value', 'sr=abc'], "mbn: --input-value 'sr=abc' is not NAME=VALUE with a number (for example --input-value sr=16000)\n"],
      [['--input-value', 'rate=8000'], "mbn: --input-value names 'rate', which is not a graph input (inputs: input, state, sr)\n"],
      [['--input-value', 'sr=8000.5'], "mbn: --input-value sr=8000.5: input 'sr' is int64, so the value must be an integer\n"],
      [['--if-branch', 'If_0=maybe'], "mbn: --if-branch 'If_0=maybe' is not NAME=then or NAME=else (for example --if-branch If_32=else)\n"],
      [['--if-branch', 'If_9=then'], "mbn: --if-branch names 'If_9', which is not an If layer of this model (it has 25: If_0, If_0/then_branch/If_0_then_branch__Inline_0__/decoder/If, If_0/then_branch/If_0_then_branch__Inline_0__/decoder/If_1, …)\n"],
    ];
    for (const [args, message] of cases) {
      const r = mbn(['analyze', SILERO, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(message);
    }
  });

  describe.skipIf(!loadOrt())('in bench (ONNX Runtime runs Silero at both sample rates)', () => {
    it.each([
      ['16000', 512],
      ['8000', 256],
    ])('sr=%s with %i-sample chunks runs, and ONNX Runtime prints nothing of its own', (sr, samples) => {
      const r = mbn(['bench', SILERO, '--input', `input:1x${samples}`, '--input', 'state:2x1x128', '--input-value', `sr=${sr}`, '--runs', '2', '--warmup', '1', '--format', 'json']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const m = json(r.stdout).models[0];
      expect(m.inputs).toEqual([
        { name: 'input', type: 'float32', dims: [1, samples] },
        { name: 'state', type: 'float32', dims: [2, 1, 128] },
        { name: 'sr', type: 'int64', dims: [], value: Number(sr) },
      ]);
      expect(m.timesMs).toHaveLength(2);
    });

    it('a run ONNX Runtime rejects is one mbn line, without its own log lines', () => {
      const r = mbn(['bench', SILERO, '--input', 'input:1x512', '--input', 'state:2x1x128', '--input-value', 'sr=8000', '--runs', '1', '--warmup', '0']);
      expect(r.status).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^mbn: onnxruntime cannot run .*silero_vad_v5\.onnx: .*Input X must have 3 dimensions/);
    });

    it('a model ONNX Runtime refuses to load is one mbn line too', () => {
      const path = join(dir, 'unknown_op.onnx');
      writeFileSync(path, buildModel({
        inputs: [{ name: 'x', shape: [1, 4] }],
        outputs: [{ name: 'y', shape: [1, 4] }],
        nodes: [{ op: 'NoSuchOp', inputs: ['x'], outputs: ['y'] }],
      }));
      const r = mbn(['bench', path, '--runs', '1', '--warmup', '0']);
      expect(r.status).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^mbn: onnxruntime cannot load .*unknown_op\.onnx: .*NoSuchOp/);
    });

    it('without the value, sr is fed 0, the run fails, and the message names the input to set', () => {
      const r = mbn(['bench', SILERO, '--input', 'input:1x512', '--input', 'state:2x1x128', '--runs', '1', '--warmup', '0']);
      expect(r.status).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^mbn: onnxruntime cannot run .* \(integer input 'sr' was fed 0: give its value with --input-value sr=VALUE\)$/);
    });
  });
});
