import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readModel, readModelBytes } from '../src/onnx/read.js';
import { BufferSource } from '../src/onnx/source.js';
import { emptyEdit, type MessageEdit, spliceMessage, varint } from '../src/onnx/splice.js';
import { writePieces } from '../src/onnx/write-file.js';
import { fixture, mbn, tempDir, ROOT } from './helpers/cli.js';
import { checkModel, pythonOnnx } from './helpers/python.js';

const TESTDATA = '/usr/share/libonnx-testdata/data';

function modelsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.onnx')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Reads a model and writes it back through the writer with no edit, as `mbn separate` does when nothing changes. */
function roundTrip(path: string, out: string): boolean {
  const model = readModel(path);
  try {
    const pieces = spliceMessage(model.source, 0, model.size, emptyEdit());
    writePieces({ path: out, force: true, protect: [path] }, pieces, model.source);
  } finally {
    model.source.close();
  }
  return readFileSync(out).equals(readFileSync(path));
}

describe('round trip: read, then write with no change, is byte-identical', () => {
  it('every fixture', () => {
    const dir = tempDir();
    const files = modelsUnder(join(ROOT, 'fixtures'));
    expect(files.length).toBeGreaterThan(30);
    const differ = files.filter((f, i) => !roundTrip(f, join(dir, `${i}.onnx`)));
    expect(differ).toEqual([]);
  });

  it.skipIf(!existsSync(TESTDATA))(`every model in Debian's libonnx-testdata (${TESTDATA})`, () => {
    const dir = tempDir();
    const files = modelsUnder(TESTDATA);
    expect(files.length).toBeGreaterThan(1000);
    const differ = files.filter((f, i) => !roundTrip(f, join(dir, `${i % 50}.onnx`)));
    expect(differ).toEqual([]);
    console.log(`round trip: ${files.length} libonnx-testdata models, ${files.length - differ.length} byte-identical`);
  });
});

// Fields onnx-proto@8 (onnx 1.10's schema) does not know: they must survive a rewrite untouched.
function field(no: number, payload: Uint8Array): Uint8Array {
  return Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);
}
function entry(key: string, value: string): Uint8Array {
  return Buffer.concat([field(1, Buffer.from(key)), field(2, Buffer.from(value))]);
}

describe('fields newer than the onnx-proto schema survive mbn separate', () => {
  const nodeMeta = field(9, entry('node-key', 'kept on both halves'));
  const graphMeta = field(16, entry('graph-key', 'graph metadata (IR 10)'));
  const valueMeta = field(4, entry('value-key', 'value_info metadata (IR 10)'));
  const modelConfig = field(26, Buffer.from('opaque ModelProto.configuration (IR 11)'));

  function craft(): string {
    const bytes = readFileSync(fixture('edge/strided.onnx'));
    const model = readModelBytes(bytes);
    const conv = model.graph.nodes[0];
    const graphEdit: MessageEdit = emptyEdit();
    graphEdit.fields.set(conv.span.tagStart, { kind: 'nested', edit: { fields: new Map(), append: [nodeMeta] } });
    graphEdit.fields.set(model.graph.inputs[0].span.tagStart, { kind: 'nested', edit: { fields: new Map(), append: [valueMeta] } });
    graphEdit.append.push(graphMeta);
    const edit: MessageEdit = { fields: new Map([[model.graph.span.tagStart, { kind: 'nested', edit: graphEdit }]]), append: [modelConfig] };
    const pieces = spliceMessage(new BufferSource(bytes), 0, bytes.length, edit);
    const out = Buffer.concat(pieces.map((p) => (p instanceof Uint8Array ? p : bytes.subarray(p.start, p.end))));
    const path = join(tempDir(), 'ir11.onnx');
    writeFileSync(path, out);
    return path;
  }

  it('keeps model, graph and value fields as bytes, and carries node fields onto both new nodes', () => {
    const input = craft();
    const out = input.replace('.onnx', '.sep.onnx');
    const r = mbn(['separate', input, '-o', out, '--format', 'json']);
    expect(r.status).toBe(0);
    const bytes = readFileSync(out);
    const count = (needle: Uint8Array) => {
      let n = 0;
      for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) n++;
      return n;
    };
    expect(count(modelConfig)).toBe(1);
    expect(count(graphMeta)).toBe(1);
    expect(count(valueMeta)).toBe(1);
    expect(count(nodeMeta)).toBe(2);
    const model = readModel(out);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Conv', 'Conv']);
    model.source.close();
    if (pythonOnnx()) expect(checkModel(out)).toBeNull();
  });
});
