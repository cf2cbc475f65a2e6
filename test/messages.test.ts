import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { advise, analyze, check, diff } from '../src/index.js';
import { adviseModel } from '../src/advise/index.js';
import { countedBranch } from '../src/shape/control-flow.js';
import { gapMessages } from '../src/budget/completeness.js';
import { analyzeModel } from '../src/cost/analyze.js';
import { readAnyModel } from '../src/formats/read.js';
import { ADVISE_CODES } from '../src/report/messages/advise.js';
import { ANALYZE_CODES, gateLines, noteText, reasonText } from '../src/report/messages/analyze.js';
import { CHECK_CODES } from '../src/report/messages/check.js';
import { INIT_CODES } from '../src/report/messages/init.js';
import { BENCH_CODES } from '../src/report/messages/bench.js';
import { QUANTIZE_CODES } from '../src/report/messages/quantize.js';
import { REWRITE_CODES } from '../src/report/messages/rewrite.js';
import { SEPARATE_CODES } from '../src/report/messages/separate.js';
import { fixture } from './helpers/cli.js';

/**
 * Messages as data (src/contract/messages.ts): the core says what happened as codes, src/report/messages/ words them, and only
 * src/report/ and src/cli/ name CLI flags. Library callers get the codes beside the English in every document.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');


/**
 * Literals that word a user error thrown through a helper (the check sees `new MbnError(…)` itself, not a helper's
 * argument): errors for bad input stay one-line messages with their ErrorCode, naming the flag the user gave.
 */
const ERROR_WORDING: { file: string; text: string; why: string }[] = [
  { file: 'src/shape/infer.ts', text: '--input', why: "the option's name in `--input names 'x', which is not a graph input` and `--input x:… has rank 3`" },
  { file: 'src/shape/infer.ts', text: '--input-value', why: 'the same check for --input-value' },
  { file: 'src/api/bench.ts', text: '--input', why: '`--input names x, which is not an input of any model given`' },
  { file: 'src/api/bench.ts', text: '--input-value', why: 'the same check for --input-value' },
  { file: 'src/bench/run.ts', text: ' with --input-value ', why: "the hint appended to `onnxruntime cannot run MODEL` (zeroFedHint)" },
  { file: 'src/latency/load-profile.ts', text: '--device', why: "the default name of the option in `--device X is neither a profile file nor a built-in profile`" },
  { file: 'src/latency/energy-fit.ts', text: 'a JSON samples file must be mbn bench --energy --format json output (schema mbn.bench/1)', why: 'thrown by its `bad` helper' },
  { file: 'src/latency/energy-fit.ts', text: 'no model in it has measured energy (run mbn bench with --energy where RAPL is readable)', why: 'thrown by its `bad` helper' },
];

/** Where flag names belong: the renderers (and their English tables) and the commands. */
const WORDING = ['src/report/', 'src/cli/'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const FLAG = /(?:^|[^-\w])--[a-z]/;

/**
 * String and template literals that name a CLI flag (`--input`), outside comments and outside errors: an MbnError
 * (or Error) thrown for bad input is a one-line user error with its ErrorCode, not a message for the reports, and
 * stays as it is.
 */
export function flagLiterals(path: string, text: string): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  // `new XError(…)`, or `super(…)` in the constructor of an error class (`class MacsUnknown extends MbnError`).
  const errorClass = (c: ts.Node | undefined) =>
    c !== undefined && ts.isClassDeclaration(c) && (c.heritageClauses ?? []).some((h) => h.types.some((t) => /Error$/.test(t.expression.getText())));
  const inError = (node: ts.Node): boolean => {
    for (let p: ts.Node | undefined = node.parent; p; p = p.parent) {
      if (ts.isNewExpression(p) && ts.isIdentifier(p.expression) && /Error$/.test(p.expression.text)) return true;
      if (ts.isCallExpression(p) && p.expression.kind === ts.SyntaxKind.SuperKeyword && errorClass(p.parent?.parent?.parent?.parent)) return true;
      if (ts.isFunctionLike(p)) return false;
    }
    return false;
  };
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      if (FLAG.test(node.text) && !inError(node)) found.push(`${path}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('CLI flags are named in src/report and src/cli only', () => {
  it('the check finds a flag in a string or template, not in a comment or a thrown error', () => {
    const text = [
      "// --input in a comment",
      "const a = 'set it with --input x:1x3';",
      'const b = `use ${x} --allow-uncounted`;',
      "throw new MbnError('usage', `--max-increase ${v} is not a fraction`);",
      "const c = 'x--y and a-b';",
      "const d = `${a} then --batch N`;",
      "class E extends MbnError { constructor() { super('usage', '--target-macs needs the MACs'); } }",
      "class F { constructor() { super('--not-an-error'); } }",
    ].join('\n');
    expect(flagLiterals('x.ts', text)).toEqual(['x.ts:2: set it with --input x:1x3', 'x.ts:3:  --allow-uncounted', 'x.ts:6:  then --batch N', 'x.ts:8: --not-an-error']);
  });

  it('no file of the core or the API names one in a message', () => {
    const offenders = sourceFiles(SRC)
      .map((f) => relative(ROOT, f).replace(/\\/g, '/'))
      .filter((f) => !WORDING.some((w) => f.startsWith(w)))
      .flatMap((f) => flagLiterals(f, readFileSync(join(ROOT, f), 'utf8')).filter((hit) => !ERROR_WORDING.some((e) => hit.startsWith(`${e.file}:`) && hit.endsWith(`: ${e.text}`))));
    expect(offenders).toEqual([]);
  });
});

describe('library callers get codes', () => {
  /** The core's report of a fixture (src/cost/analyze.ts), its messages as codes. */
  const reportOf = (name: string) => {
    const model = readAnyModel(fixture(name));
    try {
      return analyzeModel(model);
    } finally {
      model.source.close();
    }
  };

  it('ppocr_v4_det: its assumed dims as notes, gaps and the gate, as codes and in words', async () => {
    const doc = await analyze(fixture('real/ppocr_v4_det.onnx'));
    // Its input x is [N, 3, H, W] with dims named p2o.DynamicDimension.0/1/2: all three assumed 1.
    expect(doc.noteCodes).toEqual([0, 2, 3].map((dim) => ({ code: 'input-dim-assumed', input: 'x', dim, name: `p2o.DynamicDimension.${dim === 0 ? 0 : dim - 1}`, value: 1, example: ['N', 3, 'D2', 'D3'] })));
    expect(doc.notes).toEqual(doc.noteCodes.map(noteText));
    expect(doc.notes[1]).toBe("input 'x' dim 2 ('p2o.DynamicDimension.1') is not fixed; assumed 1 (set it with --input x:Nx3xD2xD3)");
    expect(doc.incomplete).toEqual([
      { kind: 'assumed-dim', input: 'x', dim: 2, name: 'p2o.DynamicDimension.1', value: 1 },
      { kind: 'assumed-dim', input: 'x', dim: 3, name: 'p2o.DynamicDimension.2', value: 1 },
    ]);
    const report = reportOf('real/ppocr_v4_det.onnx');
    expect(gapMessages(report.incomplete, report.model.inputs)).toEqual([
      {
        code: 'gap-assumed-dims',
        input: 'x',
        dims: [{ dim: 2, name: 'p2o.DynamicDimension.1', value: 1 }, { dim: 3, name: 'p2o.DynamicDimension.2', value: 1 }],
        example: [1, 3, 'D2', 'D3'],
      },
    ]);
    // Worded as main's `mbn check` worded it before messages became codes.
    expect(gateLines(report.incomplete, report.model.inputs)).toEqual([
      "input 'x' dims 2 ('p2o.DynamicDimension.1'), 3 ('p2o.DynamicDimension.2') are symbolic and were assumed 1: give them with --input x:1x3xD2xD3 (config: \"input\")",
    ]);
  });

  it('ppocr_mobile_v2_cls: the layers left without shapes are one gap, its first reason a code', () => {
    const report = reportOf('real/ppocr_mobile_v2_cls.onnx');
    const [, shapes] = gapMessages(report.incomplete, report.model.inputs);
    expect(shapes).toEqual({
      code: 'gap-shapes-unknown',
      layers: 11,
      ops: [
        { op: 'Cast', layers: 2 },
        { op: 'Add', layers: 1 },
        { op: 'Concat', layers: 1 },
        { op: 'GlobalAveragePool', layers: 1 },
        { op: 'MatMul', layers: 1 },
        { op: 'MaxPool', layers: 1 },
        { op: 'Reshape', layers: 1 },
        { op: 'Shape', layers: 1 },
        { op: 'Slice', layers: 1 },
        { op: 'Softmax', layers: 1 },
      ],
      first: { layer: 'p2o.MaxPool.0', reason: { code: 'shape-invalid', detail: 'MaxPool kernel 2 (dilated 2) exceeds padded input 1' } },
      after: 'assumed-dims',
    });
  });

  it('selfie_segmentation.tflite: an op without a rule is a no-rule layer, gap and gate line', async () => {
    const doc = await analyze(fixture('real/selfie_segmentation.tflite'));
    expect(doc.incomplete).toEqual([
      {
        kind: 'uncounted',
        layer: 'segment',
        op: 'Convolution2DTransposeBias',
        domain: 'tflite',
        reason: 'no rule for tflite::Convolution2DTransposeBias',
        reasonCode: { code: 'no-rule', op: 'Convolution2DTransposeBias', domain: 'tflite' },
      },
    ]);
    const layer = doc.layers.find((l) => l.name === 'segment')!;
    expect([layer.reason, layer.reasonCode]).toEqual(['no rule for tflite::Convolution2DTransposeBias', { code: 'no-rule', op: 'Convolution2DTransposeBias', domain: 'tflite' }]);
    expect(doc.noteCodes).toEqual([{ code: 'layers-not-counted', notCounted: 1, layers: 246 }]);
    expect(doc.notes).toEqual(['1 of 246 layers are not counted (see their reasons); totals leave them out']);
    const report = reportOf('real/selfie_segmentation.tflite');
    expect(gapMessages(report.incomplete, report.model.inputs)).toEqual([{ code: 'gap-no-rule', op: 'Convolution2DTransposeBias', domain: 'tflite', layers: 1 }]);
    expect(gateLines(report.incomplete, report.model.inputs, { configKeys: false })).toEqual([
      '1 layer of op Convolution2DTransposeBias (tflite) has no cost rule: accept it with --allow-uncounted Convolution2DTransposeBias',
    ]);
  });

  it('conv_in_if: the If layer notes which branch it counted', async () => {
    const doc = await analyze(fixture('edge/conv_in_if.onnx'));
    const ifLayer = doc.layers.find((l) => l.name === 'if')!;
    expect(ifLayer.noteCodes).toEqual([{ code: 'if-costlier-branch', branch: 'then_branch' }]);
    expect(ifLayer.notes).toEqual(["counted the costlier branch (then_branch); the other branch's layers are listed with ×0"]);
    expect(ifLayer.reasonCode).toBeNull();
    expect(doc.layers.map((l) => l.noteCodes.length)).toEqual([1, 0, 0]);
  });

  it('advise: every finding carries its evidence and fix as codes, the core\'s own', async () => {
    const doc = await advise(fixture('real/ppocr_v4_det.onnx'));
    expect(doc.findings.length).toBeGreaterThan(0);
    const model = readAnyModel(fixture('real/ppocr_v4_det.onnx'));
    const core = adviseModel(model, {}, { minSaving: 0.01 }).findings;
    model.source.close();
    expect(doc.findings.map((f) => [f.messageCode, f.fix.textCode])).toEqual(core.map((f) => [f.message, f.fix.text]));
    for (const f of doc.findings) {
      expect(ADVISE_CODES).toContain(f.messageCode.code);
      expect(ADVISE_CODES).toContain(f.fix.textCode.code);
    }
  });
});

describe('every code is worded and documented', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### analyze, check, diff, advise, bench, init');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 3));
  // The rows of the tables headed `| code | args | means |`.
  const tables = section.split('| code | args | means |').slice(1).map((t) => t.slice(0, t.search(/\n\n|$/)));
  const documented = new Set(tables.flatMap((t) => [...t.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1])));

  it('the README lists every code of the tables, and no other', () => {
    expect(documented.size).toBeGreaterThan(60);
    const codes = new Set([...ANALYZE_CODES, 'gap-assumed-dims', 'gap-no-rule', 'gap-shapes-unknown', ...CHECK_CODES, ...ADVISE_CODES, ...INIT_CODES, ...BENCH_CODES]);
    expect([...codes].filter((c) => !documented.has(c))).toEqual([]);
    expect([...documented].filter((c) => !codes.has(c))).toEqual([]);
  });

  it('the README names every code of separate, quantize, rewrite and calibrate (in tables and in prose)', () => {
    const from = readme.indexOf('### separate, quantize, rewrite, calibrate');
    const named = new Set([...readme.slice(from, readme.indexOf('### analyze, check, diff, advise, bench, init')).matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]));
    expect([...SEPARATE_CODES, ...QUANTIZE_CODES, ...REWRITE_CODES].filter((c) => !named.has(c))).toEqual([]);
  });
});

describe('check and diff documents carry the codes', () => {
  it('diff of an incomplete model: each side\'s gaps keep their reasons as codes', async () => {
    const doc = await diff(fixture('real/ppocr_v4_det.onnx'), fixture('real/ppocr_v4_det.onnx'));
    expect(doc.base.incomplete).toEqual(doc.head.incomplete);
    for (const g of doc.base.incomplete) if (g.kind === 'uncounted') expect(g.reason).toBe(reasonText(g.reasonCode));
  });

  it('check of a missing model: the record says model-missing', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mbn-messages-'));
    writeFileSync(join(dir, 'mbn.config.json'), JSON.stringify([{ model: 'gone.onnx', maxMacs: '1G' }]));
    const doc = await check({ cwd: dir });
    expect(doc.checks.map((c) => [c.kind, c.message, c.messageCode])).toEqual([
      ['missing', "model missing: 'gone.onnx' does not exist", { code: 'model-missing', pattern: 'gone.onnx', glob: false }],
    ]);
  });
});

describe('countedBranch: which branch of an If is counted', () => {
  it('a constant condition first, then the branch asked for, then the costlier (then on a tie)', () => {
    expect(countedBranch([10, 20], null, undefined)).toEqual({ taken: 1, why: 'if-costlier-branch' });
    expect(countedBranch([20, 20], null, undefined)).toEqual({ taken: 0, why: 'if-costlier-branch' });
    expect(countedBranch([10, 20], null, 'then')).toEqual({ taken: 0, why: 'if-asked-branch' });
    expect(countedBranch([10, 20], [1], 'else')).toEqual({ taken: 0, why: 'if-constant-condition' });
    expect(countedBranch([10, 20], [0], 'then')).toEqual({ taken: 1, why: 'if-constant-condition' });
    // A branch the model lacks cannot be asked for.
    expect(countedBranch([10, null], null, 'else')).toEqual({ taken: 0, why: 'if-costlier-branch' });
  });
});
