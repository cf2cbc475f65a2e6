import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MbnError } from '../src/errors.js';
import type { Model } from '../src/ir/types.js';
import { readModel } from '../src/onnx/read.js';
import { inferModel } from '../src/shape/infer.js';
import { TESTDATA_FOLDERS, TESTDATA_ROOT, feedInputs, listCases, missingRules, opsOf, readTensorFile } from './helpers/onnx-testdata.js';
import { reasonText } from '../src/report/messages/analyze.js';
import type { LayerReason } from '../src/contract/messages.js';

/**
 * Conformance over the ONNX backend test data (Debian package libonnx-testdata). For every model:
 *   1. it parses, or is refused with an MbnError (listed; each refusal must be in EXPECTED below with a reason);
 *   2. when every node has a rule and inference gives every graph output a shape, those shapes equal the dims of
 *      the stored output_N.pb, with the stored input_N.pb dims fed as --input shapes.
 * A rule that rejects a valid test model (ShapeError, or a rule that throws) counts as a mismatch too.
 * Op rules are still being written: models with ops that have no rule are counted, not checked.
 *
 * MBN_CONFORMANCE_REPORT=<file.json> writes the full per-folder summary (mismatches, missing ops) to a file.
 */

/**
 * Known failures, by folder/case, each with its reason. Anything failing that is not listed fails the suite; a
 * listed case that now passes is reported (remove it from the list).
 */
const EXPECTED: Record<string, string> = {
  // Test data inconsistent with its own model: input_1.pb ('like') has dims [1], the model declares [3,4]. mbn is
  // right to refuse the shape (usage error, as for a wrong --input).
  'node/test_castlike_BFLOAT16_to_FLOAT': 'test data: like is [1], model declares [3,4]',
  'node/test_castlike_BFLOAT16_to_FLOAT_expanded': 'test data: like is [1], model declares [3,4]',
  'node/test_castlike_FLOAT_to_BFLOAT16': 'test data: like is [1], model declares [3,4]',
  'node/test_castlike_FLOAT_to_BFLOAT16_expanded': 'test data: like is [1], model declares [3,4]',
};

interface Failure {
  id: string;
  kind: 'crash' | 'refused' | 'rule-error' | 'mismatch';
  ops: string[];
  detail: string;
}

interface Summary {
  folder: string;
  models: number;
  parsed: number;
  refused: { id: string; message: string }[];
  notCheckable: { id: string; why: string }[];
  missingOps: Record<string, number>;
  unresolved: { id: string; why: string }[];
  checked: number;
  matched: number;
  failures: Failure[];
  unexpected: Failure[];
  fixedButListed: string[];
}

/** Reasons a layer can carry that mean "not known", not "wrong": inputs' values or shapes unknown before run time. */
const BENIGN = /^(input shape unknown|output shape unknown|the value of input [0-9]+ is only known at run time|no rule for |cost rule failed|cost overflows)/;

function fmt(shape: readonly number[] | null | undefined): string {
  return shape ? `[${shape.join(',')}]` : 'unknown';
}

function runCase(c: ReturnType<typeof listCases>[number], s: Summary): void {
  let model: Model;
  try {
    model = readModel(c.model);
  } catch (error) {
    if (error instanceof MbnError) {
      s.refused.push({ id: c.id, message: error.message });
      s.failures.push({ id: c.id, kind: 'refused', ops: [], detail: `read: ${error.code}: ${error.message}` });
    } else {
      s.failures.push({ id: c.id, kind: 'crash', ops: [], detail: `read: ${(error as Error)?.stack ?? error}` });
    }
    return;
  }
  try {
    s.parsed++;
    const ops = opsOf(model);
    const missing = missingRules(model);
    if (missing.size > 0) {
      for (const op of missing) s.missingOps[op] = (s.missingOps[op] ?? 0) + 1;
      return;
    }
    const feeds = feedInputs(model);
    const outs = model.graph.outputs;
    const nonTensor = [...feeds, ...outs].find((v) => v.type && v.type.kind !== 'tensor');
    if (nonTensor) {
      s.notCheckable.push({ id: c.id, why: `${nonTensor.name} is a ${nonTensor.type!.kind}` });
      return;
    }
    if (c.outputs.length !== outs.length || c.inputs.length > feeds.length) {
      s.notCheckable.push({ id: c.id, why: `test data has ${c.inputs.length} inputs/${c.outputs.length} outputs, graph ${feeds.length}/${outs.length}` });
      return;
    }
    const inputShapes = new Map<string, number[]>();
    c.inputs.forEach((file, i) => inputShapes.set(feeds[i].name, readTensorFile(file).dims));
    let result;
    try {
      result = inferModel(model, { inputShapes });
    } catch (error) {
      if (error instanceof MbnError) {
        s.refused.push({ id: c.id, message: error.message });
        s.failures.push({ id: c.id, kind: 'refused', ops, detail: `infer: ${error.code}: ${error.message}` });
      } else {
        s.failures.push({ id: c.id, kind: 'crash', ops, detail: `infer: ${(error as Error)?.stack ?? error}` });
      }
      return;
    }
    const bad = result.layers.filter((l) => l.reason && !BENIGN.test(reasonText(l.reason)));
    if (bad.length > 0) {
      s.failures.push({
        id: c.id,
        kind: 'rule-error',
        ops: [...new Set(bad.map((l) => l.node.opType))],
        detail: bad.map((l) => `${l.node.opType} ${l.name}: ${reasonText(l.reason!)}`).join('; '),
      });
      return;
    }
    // An output counts as inferred only when the layer producing it had no reason (not a declared-shape fallback).
    const producer = new Map<string, LayerReason | null>();
    for (const l of result.layers) if (l.scope === '') for (const o of l.node.outputs) producer.set(o, l.reason);
    const blocked = result.outputs.find((o) => !o.state?.shape || (producer.has(o.name) && producer.get(o.name) !== null));
    if (blocked) {
      const why = result.layers.find((l) => l.reason)?.reason ?? 'no shape';
      s.unresolved.push({ id: c.id, why: `${blocked.name}: ${why}` });
      return;
    }
    s.checked++;
    const diffs: string[] = [];
    outs.forEach((o, i) => {
      const expected = readTensorFile(c.outputs[i]).dims;
      const got = result.outputs[i].state?.shape ?? null;
      if (fmt(got) !== fmt(expected)) diffs.push(`${o.name}: inferred ${fmt(got)}, expected ${fmt(expected)}`);
    });
    if (diffs.length === 0) s.matched++;
    else s.failures.push({ id: c.id, kind: 'mismatch', ops, detail: diffs.join('; ') });
  } finally {
    model.source.close();
  }
}

const present = existsSync(TESTDATA_ROOT);
if (!present) {
  console.log(`conformance: skipped: ONNX backend test data not found at ${TESTDATA_ROOT} (apt-get install libonnx-testdata)`);
}

const summaries: Summary[] = [];

describe.skipIf(!present)('conformance with the ONNX backend test data (libonnx-testdata)', () => {
  for (const folder of TESTDATA_FOLDERS) {
    const cases = listCases(folder);
    it(`${folder}: ${cases.length} models parse and inferred output shapes match`, () => {
      const s: Summary = {
        folder, models: cases.length, parsed: 0, refused: [], notCheckable: [], missingOps: {}, unresolved: [],
        checked: 0, matched: 0, failures: [], unexpected: [], fixedButListed: [],
      };
      for (const c of cases) runCase(c, s);
      s.unexpected = s.failures.filter((f) => !(f.id in EXPECTED));
      const failing = new Set(s.failures.map((f) => f.id));
      s.fixedButListed = cases.map((c) => c.id).filter((id) => id in EXPECTED && !failing.has(id));
      summaries.push(s);
      const missing = Object.keys(s.missingOps).length;
      console.log(
        `conformance ${folder}: ${s.models} models, ${s.parsed} parsed, ${s.refused.length} refused, ` +
          `${s.failures.filter((f) => f.kind === 'crash').length} crashed; ${s.checked} shape-checked, ${s.matched} matched, ` +
          `${s.failures.filter((f) => f.kind === 'mismatch' || f.kind === 'rule-error').length} mismatched/rule errors; ` +
          `${s.unresolved.length} unresolved, ${s.notCheckable.length} not checkable, ${missing} ops without a rule` +
          (s.failures.length ? `; ${s.failures.length - s.unexpected.length} expected failures` : ''),
      );
      for (const f of s.unexpected) console.log(`  UNEXPECTED ${f.kind} ${f.id} [${f.ops.join(',')}]: ${f.detail.split('\n')[0]}`);
      for (const id of s.fixedButListed) console.log(`  now passes, remove from EXPECTED: ${id}`);
      if (process.env.MBN_CONFORMANCE_REPORT) writeFileSync(process.env.MBN_CONFORMANCE_REPORT, JSON.stringify(summaries, null, 1));
      expect(s.unexpected.map((f) => `${f.kind} ${f.id}: ${f.detail.split('\n')[0]}`)).toEqual([]);
    });
  }
});
