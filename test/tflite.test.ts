import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advise } from '../src/api/advise.js';
import { analyze } from '../src/api/analyze.js';
import { readAnyModel } from '../src/formats/read.js';
import { readModelBytes } from '../src/onnx/read.js';
import { fixture, mbn, tempDir } from './helpers/cli.js';
import { type FbField, buildTflite, bytes, i32, i8, ints, str, table, tables, u32, u64, u8 } from './helpers/tflite-builder.js';
import { VENV_PYTHON, venvHas } from './helpers/venv.js';

/**
 * TFLite models: every figure is compared with TensorFlow's own (fixtures/make_tflite.py): output shapes from its
 * interpreter, MACs counted from the interpreter's op list, params and weight bytes from TensorFlow's generated
 * flatbuffer reader. reference.json is written by that script next to the fixtures it made.
 */

interface Reference {
  macs: number;
  params: number;
  weightBytes: number;
  layers: { op: string; macs: number; outputShapes: (number[] | null)[] }[];
  inputs: { name: string; shape: number[]; dtype: string }[];
  outputs: { name: string; shape: number[]; dtype: string }[];
}

const DIR = fixture('tflite');
const REFERENCE: Record<string, Reference> = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8'));

/** An analysis compared with its reference, figure by figure and layer by layer. */
async function expectMatches(path: string, ref: Reference): Promise<void> {
  const json = await analyze(path);
  expect(json.totals.macs).toBe(ref.macs);
  expect(json.totals.params).toBe(ref.params);
  expect(json.totals.weightBytes).toBe(ref.weightBytes);
  expect(json.layers.map((l) => l.op)).toEqual(ref.layers.map((l) => l.op));
  expect(json.layers.map((l) => l.macs)).toEqual(ref.layers.map((l) => l.macs));
  expect(json.layers.map((l) => l.outputShapes)).toEqual(ref.layers.map((l) => l.outputShapes));
  expect(json.model.inputs.map((i) => [i.name, i.shape, i.dtype])).toEqual(ref.inputs.map((i) => [i.name, i.shape, i.dtype]));
  expect(json.model.outputs.map((o) => [o.name, o.shape, o.dtype])).toEqual(ref.outputs.map((o) => [o.name, o.shape, o.dtype]));
}

describe('TFLite fixtures equal TensorFlow’s figures', () => {
  for (const name of Object.keys(REFERENCE).filter((n) => n !== 'while_loop.tflite')) {
    it(name, async () => {
      await expectMatches(join(DIR, name), REFERENCE[name]);
      const json = await analyze(join(DIR, name));
      expect(json.totals.complete).toBe(true);
    });
  }

  it('float and int8 conversions of one network have the same MACs and output shapes', async () => {
    for (const net of ['mobilenet_v2_035_96', 'mobilenet_v3_small_075_96']) {
      const float = await analyze(join(DIR, `${net}_float.tflite`));
      const int8 = await analyze(join(DIR, `${net}_int8.tflite`));
      expect(int8.totals.macs).toBe(float.totals.macs);
      expect(int8.model.outputs[0].shape).toEqual(float.model.outputs[0].shape);
      // int8 weights are a quarter of float's bytes; biases stay 4-byte int32.
      expect(int8.weightsByDtype.int8.elements).toBeGreaterThan(0.9 * float.weightsByDtype.float32.elements);
    }
  });
});

describe('third-party TFLite models (MediaPipe, Apache-2.0, from npm)', () => {
  const real: Record<string, Reference> = JSON.parse(readFileSync(fixture('real/tflite-reference.json'), 'utf8'));

  it('face_detection_short_range: float16 weights behind DEQUANTIZE, every figure equals TensorFlow’s', async () => {
    await expectMatches(fixture('real/face_detection_short_range.tflite'), real['face_detection_short_range.tflite']);
    const json = await analyze(fixture('real/face_detection_short_range.tflite'));
    expect(json.totals.complete).toBe(true);
    // Its weights are stored as float16: 2 bytes per parameter (the int32 shape tensors aside).
    expect(json.weightsByDtype.float16).toEqual({ tensors: 74, elements: 101_390, bytes: 202_780 });
  });

  it('selfie_segmentation: its custom op is listed as not counted, never silently 0, and gates fail on it', async () => {
    const json = await analyze(fixture('real/selfie_segmentation.tflite'));
    expect(json.incomplete).toEqual([
      { kind: 'uncounted', layer: 'segment', op: 'Convolution2DTransposeBias', domain: 'tflite', reason: 'no rule for tflite::Convolution2DTransposeBias', reasonCode: { code: 'no-rule', op: 'Convolution2DTransposeBias', domain: 'tflite' } },
    ]);
    expect(json.totals.complete).toBe(false);
    const r = mbn(['analyze', fixture('real/selfie_segmentation.tflite'), '--max-macs', '10G']);
    expect(r.status).toBe(1);
  });
});

describe('TFLite models through the gates', () => {
  const V2 = join(DIR, 'mobilenet_v2_035_96_int8.tflite');
  const MACS = REFERENCE['mobilenet_v2_035_96_int8.tflite'].macs;

  it('mbn check: a .tflite in the config fails above its budget and passes at and below it', () => {
    for (const [limit, status] of [[MACS + 1, 0], [MACS, 0], [MACS - 1, 1]] as const) {
      const dir = tempDir('mbn-check-');
      copyFileSync(V2, join(dir, 'v2.tflite'));
      writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ name: 'v2', model: 'v2.tflite', maxMacs: limit, maxWeightBytes: '500KB' }]));
      const r = mbn(['check', '--format', 'json'], { cwd: dir });
      expect(r.stderr).toBe(status === 0 ? '' : `✖ v2 (v2.tflite): MACs 10,666,928 exceed the budget of 10,666,927 by 1 (0.0%)\n`);
      expect(r.status, `maxMacs ${limit}`).toBe(status);
      const checks = JSON.parse(r.stdout).checks;
      expect(checks.map((c: { metric: string; value: number; passed: boolean }) => [c.metric, c.value, c.passed])).toEqual([
        ['macs', MACS, status === 0],
        ['weightBytes', REFERENCE['mobilenet_v2_035_96_int8.tflite'].weightBytes, true],
      ]);
    }
  });

  it('mbn init finds .tflite models beside .onnx ones, and mbn check passes the budgets it wrote', () => {
    const dir = tempDir('mbn-init-');
    mkdirSync(join(dir, 'models'));
    copyFileSync(V2, join(dir, 'models/v2.tflite'));
    copyFileSync(fixture('models/tiny_cnn.onnx'), join(dir, 'models/tiny.onnx'));
    const init = mbn(['init'], { cwd: dir });
    // Its batch dim is dynamic (−1): the suggested "input" is the model's own, NHWC.
    expect(init.stderr).toBe(
      `mbn: warning: 'models/v2.tflite' has symbolic input dims, taken as 1: add "input" (e.g. {"serving_default_keras_tensor_156:0":[1,96,96,3]}) to its entry and run mbn init --force again, or edit the limits\n`,
    );
    expect(init.status).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'mbn.config.json'), 'utf8'));
    // 10,666,928 MACs + 5% headroom = 11,200,274.4, rounded up to three significant digits.
    expect(config.map((e: { model: string; maxMacs: string }) => [e.model, e.maxMacs])).toEqual([
      ['models/tiny.onnx', expect.any(String)],
      ['models/v2.tflite', '11.3M'],
    ]);
    expect(mbn(['check'], { cwd: dir }).status).toBe(0);
  });

  it('mbn analyze --max-macs on a .tflite: exit 1 above, 0 below', () => {
    expect(mbn(['analyze', V2, '--max-macs', String(MACS - 1)]).status).toBe(1);
    expect(mbn(['analyze', V2, '--max-macs', String(MACS)]).status).toBe(0);
  });

  it('mbn diff: float → int8 TFLite, and TFLite → ONNX of the same network (torchvision’s MobileNetV2 0.35 at 96×96)', async () => {
    const float = join(DIR, 'mobilenet_v2_035_96_float.tflite');
    const r = mbn(['diff', float, V2, '--format', 'json']);
    expect(r.status).toBe(0);
    const diff = JSON.parse(r.stdout);
    expect(diff.totals.macs).toMatchObject({ base: MACS, head: MACS, delta: 0 });
    expect(diff.totals.weightBytes).toMatchObject({ base: REFERENCE['mobilenet_v2_035_96_float.tflite'].weightBytes, head: REFERENCE['mobilenet_v2_035_96_int8.tflite'].weightBytes });
    const onnx = fixture('models/mobilenet_v2_w035.onnx');
    const cross = JSON.parse(mbn(['diff', V2, onnx, '--format', 'json']).stdout);
    // Keras' and torchvision's MobileNetV2 at width 0.35 have the same layers: the same MACs in either format.
    expect(cross.totals.macs).toMatchObject({ base: MACS, head: MACS, delta: 0 });
    expect((await analyze(onnx)).totals.macs).toBe(MACS);
  });
});

describe('mbn advise on TFLite models', () => {
  it('advice_zoo, float and int8: the fused ReLU of a projection, a separable 3×3 conv, a swish, 12 channels', async () => {
    for (const kind of ['float', 'int8']) {
      const json = await advise(join(DIR, `advice_zoo_${kind}.tflite`));
      const rules = json.findings.map((f) => [f.rule, f.severity]);
      expect(rules).toEqual([
        ['bottleneck-nonlinearity', 'error'],
        ['separable-conv', 'warning'],
        ['swish-to-hardswish', 'warning'],
        ['inverted-residual-summary', 'info'],
        ['channel-alignment', 'info'],
      ]);
      const [bottleneck, separable, swish] = json.findings;
      expect(bottleneck.message).toBe(
        'RELU (fused into the projection) on the output of the 1×1 projection 96→16 (a narrowing bottleneck), which the residual Add then sums: a non-linearity in the bottleneck destroys information the block cannot recover',
      );
      // The fused activation is the projection's own FLOPs: 16×16×16 output elements.
      expect(bottleneck.fix.otherFlopsSaved).toBe(16 * 16 * 16);
      // 3×3 conv 16→32 on 16×16: 16·16·32·9·16 MACs; separated 16·16·(16·9 + 16·32).
      expect(separable.fix.macsSaved).toBe(16 * 16 * 32 * 9 * 16 - 16 * 16 * (16 * 9 + 16 * 32));
      expect(separable.fix.text).toContain('mbn separate rewrites ONNX models');
      expect(swish.fix.text).toContain('HARD_SWISH, in the model’s source');
      expect(json.findings.some((f) => f.rule === 'runtime-conv-path')).toBe(false);
    }
  });

  it('MobileNetV2 0.35: 17 inverted residual blocks, linear bottlenecks (no finding), residual ADDs found', async () => {
    const json = await advise(join(DIR, 'mobilenet_v2_035_96_int8.tflite'));
    expect(json.findings.map((f) => f.rule)).toEqual(['inverted-residual-summary']);
    expect(json.findings[0].message).toMatch(/^17 inverted residual blocks, expansion ratios 1, 6; 10 with a residual Add;/);
  });
});

describe('TFLite reading', () => {
  it('keeps tensor quantization: per-channel int8 filter scales along the output channel', () => {
    const model = readAnyModel(join(DIR, 'mobilenet_v2_035_96_int8.tflite'));
    try {
      const conv = model.graph.nodes.find((n) => n.opType === 'CONV_2D')!;
      const filter = model.graph.initializers.find((t) => t.name === conv.inputs[1])!;
      const q = model.graph.quantization!.get(filter.name)!;
      expect(filter.dtype).toBe(3); // int8
      expect(q.scale.length).toBe(filter.dims[0]);
      expect(q.axis).toBe(0);
      expect(q.zeroPoint.every((z) => z === 0)).toBe(true);
      expect(model.format).toBe('tflite');
      expect(model.metadata.get('min_runtime_version')).toMatch(/^\d+\.\d+/);
    } finally {
      model.source.close();
    }
  });

  it('a WHILE loop walks its cond and body subgraphs once, with a note', async () => {
    const json = await analyze(join(DIR, 'while_loop.tflite'));
    const loop = json.layers.find((l) => l.op === 'WHILE')!;
    expect(loop.notes.join(' ')).toMatch(/trip count is decided at run time/);
    const fc = json.layers.find((l) => l.op === 'FULLY_CONNECTED' || l.op === 'BATCH_MATMUL')!;
    // [1, 8] × [8, 8] once: 64 MACs.
    expect(fc.macs).toBe(64);
    expect(fc.name.startsWith(`${loop.name}/body/`)).toBe(true);
    expect(json.layers.some((l) => l.name.startsWith(`${loop.name}/cond/`))).toBe(true);
    expect(json.model.outputs[0].shape).toEqual([1, 8]);
    expect(json.totals.notCounted).toBe(0);
  });

  it('refuses a truncated or corrupt flatbuffer in one line (exit 2), never a crash', () => {
    const bytes = readFileSync(join(DIR, 'ops_zoo_float.tflite'));
    const dir = tempDir();
    const cut = join(dir, 'cut.tflite');
    writeFileSync(cut, bytes.subarray(0, 4096));
    const r = mbn(['analyze', cut]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mbn: '.*cut\.tflite' is not a valid TFLite model: .*\n$/);
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(0x7fffffff, 0); // the root table offset past the end
    writeFileSync(cut, bad);
    const r2 = mbn(['analyze', cut]);
    expect(r2.status).toBe(2);
    expect(r2.stderr.split('\n').length).toBe(2);
  });

  it('separate and rewrite refuse a .tflite in one line that says what works', () => {
    for (const args of [['separate', join(DIR, 'ops_zoo_float.tflite'), '-o', join(tempDir(), 'x.onnx')], ['rewrite', join(DIR, 'ops_zoo_float.tflite'), '--hard-swish', '--dry-run']]) {
      const r = mbn(args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^mbn: '.*ops_zoo_float\.tflite' is not an ONNX model: it is a TensorFlow Lite model, which this command does not take \(mbn analyze, check, diff and advise read \.tflite\)\n$/);
    }
    expect(() => readModelBytes(readFileSync(join(DIR, 'ops_zoo_float.tflite')))).toThrow(/TensorFlow Lite/);
  });
});

describe('TFLite models through the converter at full size (TensorFlow needed)', () => {
  const ok = venvHas('tensorflow');
  // Keras applications (weights=None) converted by TensorFlow 2.21: REFERENCE.md's interpreter-op-list MACs.
  const PUBLISHED: Record<string, number> = {
    mobilenet_v1_float: 568_740_352,
    mobilenet_v2_float: 300_774_272,
    mobilenet_v2_int8: 300_774_272,
    mobilenet_v3_large_float: 216_589_760,
    mobilenet_v3_small_float: 56_510_400,
    efficientnet_b0_float: 385_814_752,
  };
  it.skipIf(!ok)('MACs within 0.5% of the published figures and equal to the interpreter’s; params, bytes and shapes too', async () => {
    const dir = tempDir('mbn-tflite-');
    // Minutes of conversion: run asynchronously, so that the test worker stays responsive.
    const r = await new Promise<{ status: number | null; stderr: string }>((done) => {
      const child = spawn(VENV_PYTHON, [fixture('make_tflite.py'), '--full', dir, ...Object.keys(PUBLISHED).map((k) => k.replace(/_float$/, ''))], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
      child.on('close', (status) => done({ status, stderr }));
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const refs: Record<string, Reference> = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
    for (const [name, published] of Object.entries(PUBLISHED)) {
      const ref = refs[`${name}.tflite`];
      await expectMatches(join(dir, `${name}.tflite`), ref);
      const json = await analyze(join(dir, `${name}.tflite`));
      expect(Math.abs(json.totals.macs - published) / published).toBeLessThan(0.005);
      expect(json.totals.complete).toBe(true);
    }
  }, 1_200_000);
});

describe('TFLite schema traps (hand-built flatbuffers)', () => {
  /**
   * One CONV_2D (1×1, 2 → 3 channels, no bias: input index −1) whose filter lives outside the flatbuffer, as in
   * models past 2 GB (buffer offset/size), then a GELU whose code (150) only `builtin_code` holds.
   */
  function model(filterOffset: number | null, codes: Record<number, FbField>[] = [{ 0: i8(3) }, { 0: i8(127), 3: i32(150) }]): Uint8Array {
    const filter = new Float32Array([1, 2, 3, 4, 5, 6]);
    const build = (offset: number) =>
      buildTflite(
        {
          0: u32(3),
          1: tables(codes),
          2: tables([
            {
              0: tables([
                { 0: ints([1, 4, 4, 2]), 1: i8(0), 2: u32(0), 3: str('x') },
                { 0: ints([3, 1, 1, 2]), 1: i8(0), 2: u32(1), 3: str('filter') },
                { 0: ints([1, 4, 4, 3]), 1: i8(0), 2: u32(0), 3: str('conv') },
                { 0: ints([1, 4, 4, 3]), 1: i8(0), 2: u32(0), 3: str('y') },
              ]),
              1: ints([0]),
              2: ints([3]),
              3: tables([
                { 0: u32(0), 1: ints([0, 1, -1]), 2: ints([2]), 3: u8(1), 4: table({ 0: i8(1), 1: i32(1), 2: i32(1) }) },
                { 0: u32(1), 1: ints([2]), 2: ints([3]) },
              ]),
              4: str('main'),
            },
          ]),
          4: tables(filterOffset === null ? [{}, { 0: bytes([...new Uint8Array(filter.buffer)]) }] : [{}, { 1: u64(offset), 2: u64(24) }]),
        },
        filterOffset === null ? new Uint8Array(0) : new Uint8Array(filter.buffer),
      );
    if (filterOffset === null) return build(0);
    // The filter is appended after the flatbuffer: its offset is the flatbuffer's length (the same at any value).
    const first = build(0);
    return build(filterOffset >= 0 ? first.length - 24 + filterOffset : 1e9);
  }

  async function analyzeBytes(bytes: Uint8Array) {
    const path = join(tempDir(), 'm.tflite');
    writeFileSync(path, bytes);
    return analyze(path);
  }

  for (const [label, offset] of [['inside the flatbuffer', null], ['by offset/size past the flatbuffer (models over 2 GB)', 0]] as const) {
    it(`a filter ${label}, an absent bias (−1), an op code above 127`, async () => {
      const json = await analyzeBytes(model(offset));
      expect(json.layers.map((l) => [l.op, l.macs, l.otherFlops, l.params, l.weightBytes, l.outputShapes])).toEqual([
        // 4·4·3 outputs, each 1·1·2 products; no bias, no fused activation.
        ['CONV_2D', 96, 0, 6, 24, [[1, 4, 4, 3]]],
        ['GELU', 0, 48, 0, 0, [[1, 4, 4, 3]]],
      ]);
      expect(json.totals.complete).toBe(true);
      expect(json.model.producer).toBe('TFLite');
    });
  }

  it('a builtin newer than mbn is a layer listed as not counted; a buffer past the file’s end is refused', async () => {
    const json = await analyzeBytes(model(null, [{ 0: i8(3) }, { 0: i8(127), 3: i32(4000) }]));
    expect(json.incomplete).toEqual([{ kind: 'uncounted', layer: 'y', op: 'BUILTIN_4000', domain: 'tflite', reason: 'no rule for tflite::BUILTIN_4000', reasonCode: { code: 'no-rule', op: 'BUILTIN_4000', domain: 'tflite' } }]);
    const path = join(tempDir(), 'past.tflite');
    writeFileSync(path, model(-1));
    const r = mbn(['analyze', path]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^mbn: '.*past\.tflite' is not a valid TFLite model: a buffer's data \(bytes 1000000000–1000000024\) run past the end of the file\n$/);
  });
});
