import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseNpy } from '../src/calibrate/npy.js';
import { ROOT, fixture, mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

/**
 * The done-when figures for `mbn quantize`, on rendered text (scripts/make-ocr-eval.py: DejaVu fonts, PIL):
 * PP-OCRv4 detection at 640×640 keeps a text-map IoU ≥ 0.95 of the float map, and PP-OCRv4 recognition reads within
 * 2 of the 48 words the float model reads, each with the weights at ≤ 0.3× the float bytes. Recognition needs the
 * model fetched by scripts/fetch-ppocr-rec.sh (10.8 MB, not committed); the test says so and skips without it.
 */
const ort = loadOrt();
const PIL = spawnSync('/usr/bin/python3', ['-c', 'import PIL, numpy'], { encoding: 'utf8' }).status === 0;
const REC_DIR = process.env.MBN_PPOCR_DIR ?? join(homedir(), '.cache/mbn/ppocr');
const REC = join(REC_DIR, 'ch_PP-OCRv4_rec_infer.onnx');
const hasRec = existsSync(REC);
if (!PIL) console.warn('skipping the PaddleOCR quantize checks: /usr/bin/python3 has no PIL/numpy to render text');
if (!hasRec) console.warn(`skipping PP-OCRv4 recognition: ${REC} is missing (run scripts/fetch-ppocr-rec.sh)`);
const canRender = ort && PIL ? it : it.skip;

let data = '';
beforeAll(() => {
  if (!PIL) return;
  data = tempDir('mbn-ocr-');
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts/make-ocr-eval.py'), data], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
});

async function outputsOf(model: string, folder: string): Promise<Float32Array[]> {
  const session = await ort!.InferenceSession.create(model, { intraOpNumThreads: 1, logSeverityLevel: 4 });
  try {
    const out: Float32Array[] = [];
    for (const f of readdirSync(folder).filter((n) => n.endsWith('.npy')).sort()) {
      const a = parseNpy(readFileSync(join(folder, f)), f);
      const r = await session.run({ x: new ort!.Tensor('float32', Float32Array.from(a.data), a.shape) });
      out.push(r[session.outputNames[0]].data as Float32Array);
    }
    return out;
  } finally {
    await session.release();
  }
}

function quantizeJson(args: string[]) {
  const r = mbn(['quantize', ...args, '--format', 'json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('mbn quantize on PaddleOCR PP-OCRv4 (rendered text)', () => {
  canRender('detection at 640×640: text-map IoU ≥ 0.95 of the float map, weights ≤ 0.3×', { timeout: 300_000 }, async () => {
    const out = join(tempDir('mbn-ocr-'), 'det.int8.onnx');
    const det = fixture('real/ppocr_v4_det.onnx');
    const j = quantizeJson([det, '-o', out, '--calibrate', join(data, 'det_calib'), '--input', 'x:1x3x640x640']);
    expect(j.weightBytes.after / j.weightBytes.before).toBeLessThanOrEqual(0.3);
    const want = await outputsOf(det, join(data, 'det_eval'));
    const got = await outputsOf(out, join(data, 'det_eval'));
    let inter = 0;
    let union = 0;
    want.forEach((w, k) => {
      for (let i = 0; i < w.length; i++) {
        const a = w[i] > 0.3;
        const b = got[k][i] > 0.3;
        if (a && b) inter++;
        if (a || b) union++;
      }
    });
    expect(union).toBeGreaterThan(10000);
    expect(inter / union).toBeGreaterThanOrEqual(0.95);
  });

  (hasRec ? canRender : it.skip)('recognition: within 2 of the 48 words the float model reads, weights ≤ 0.3×', { timeout: 300_000 }, async () => {
    const out = join(tempDir('mbn-ocr-'), 'rec.int8.onnx');
    const j = quantizeJson([REC, '-o', out, '--calibrate', join(data, 'rec_calib'), '--input', 'x:1x3x48x320']);
    expect(j.opset).toMatchObject({ from: 9, to: 13 });
    expect(j.weightBytes.after / j.weightBytes.before).toBeLessThanOrEqual(0.3);
    // Class 0 is the CTC blank, then one class per dictionary line (the file has no final newline), then the space.
    const chars = ['', ...readFileSync(join(REC_DIR, 'ppocr_keys_v1.txt'), 'utf8').replace(/\n$/, '').split('\n'), ' '];
    expect(chars.length).toBe(6625);
    const words = readFileSync(join(data, 'rec_eval', 'words.txt'), 'utf8').trim().split('\n');
    const read = (scores: Float32Array) => {
      // CTC greedy: the best class per time step, repeats merged, blanks (0) dropped.
      const classes = chars.length;
      let text = '';
      let previous = 0;
      for (let t = 0; t < scores.length / classes; t++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (scores[t * classes + c] > scores[t * classes + best]) best = c;
        if (best !== previous && best !== 0) text += chars[best];
        previous = best;
      }
      return text;
    };
    const right = (outs: Float32Array[]) => outs.filter((s, i) => read(s) === words[i]).length;
    const float = right(await outputsOf(REC, join(data, 'rec_eval')));
    const int8 = right(await outputsOf(out, join(data, 'rec_eval')));
    expect(float).toBeGreaterThanOrEqual(44);
    expect(int8).toBeGreaterThanOrEqual(float - 2);
  });
});
