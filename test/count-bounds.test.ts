import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnx from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel } from './helpers/build-model.js';
import { mbn, tempDir } from './helpers/cli.js';
import { loadOrt } from './helpers/ort.js';

/**
 * Counts past 2^53 (issue 15, item 8): a double cannot hold them exactly, so mbn refuses the model with one line
 * (exit 2) instead of printing a rounded figure as exact. Just below the bound, the figures are exact.
 */
const { onnx: o } = onnx;
const REFUSED = 'exceeds 2^53, past which counts are not exact; mbn refuses such a model';
let dir: string;
beforeAll(() => {
  dir = tempDir('mbn-count-bounds-');
});

function save(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A 1-D conv over x [1, 2^20, 2^30] with a weight [n, 2^20, k] given as a graph input (no bytes needed). */
function bigConv(n: number, k: number): string {
  return save(
    `conv_n${n}_k${k}.onnx`,
    buildModel({
      inputs: [
        { name: 'x', shape: [1, 2 ** 20, 2 ** 30] },
        { name: 'w', shape: [n, 2 ** 20, k] },
      ],
      outputs: ['y'],
      nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [(k - 1) / 2, (k - 1) / 2] } }],
    }),
  );
}

function reluChain(n: number, dims: (number | string)[], dtype = 1): string {
  const nodes = Array.from({ length: n }, (_, i) => ({ op: 'Relu', name: `relu${i}`, inputs: [i ? `t${i - 1}` : 'x'], outputs: [i === n - 1 ? 'y' : `t${i}`] }));
  return save(`relu${n}_${dims.join('x')}_${dtype}.onnx`, buildModel({ inputs: [{ name: 'x', dtype, shape: dims }], outputs: ['y'], nodes, opset: 14 }));
}

describe('counts past 2^53', () => {
  it('one layer: 3·2^50 MACs are exact; 2·(3·2^51) FLOPs and 5·2^51 MACs are refused', () => {
    const ok = mbn(['analyze', bigConv(3, 1), '--format', 'json']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // 2^30 pixels · 3 outputs · 2^20 channels · 1 = 3,377,699,720,527,872 MACs, twice that in FLOPs: both < 2^53.
    expect(JSON.parse(ok.stdout).totals).toMatchObject({ macs: 3_377_699_720_527_872, flops: 6_755_399_441_055_744 });

    const flops = mbn(['analyze', bigConv(2, 3)]);
    expect(flops.stdout).toBe('');
    expect(flops.stderr).toBe(`mbn: layer 'conv' (Conv): its FLOP count (2·MACs + other) (about 1.35e+16) ${REFUSED}\n`);
    expect(flops.status).toBe(2);

    const macs = mbn(['analyze', bigConv(2, 5)]);
    expect(macs.stderr).toBe(`mbn: layer 'conv' (Conv): its MAC count (about 1.13e+16) ${REFUSED}\n`);
    expect(macs.status).toBe(2);
  });

  it('a layer output of more than 2^53 elements is refused', () => {
    const path = save(
      'wide_out.onnx',
      buildModel({
        inputs: [{ name: 'x', shape: [1, 1, 2 ** 40] }],
        initializers: [{ name: 'w', dtype: 1, dims: [16384, 1, 1], values: new Array(16384).fill(0.5) }],
        outputs: ['y'],
        nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'w'], outputs: ['y'] }],
      }),
    );
    const r = mbn(['analyze', path]);
    expect(r.stderr).toBe(`mbn: layer 'conv' (Conv): the element count of its output, shape [1,16384,1099511627776] (about 1.80e+16) ${REFUSED}\n`);
    expect(r.status).toBe(2);
  });

  it('--batch 9007199254740991 and a huge --input are refused at the input', () => {
    const path = reluChain(1, ['N', 3, 224, 224]);
    const batch = mbn(['analyze', path, '--batch', '9007199254740991']);
    expect(batch.stderr).toBe(`mbn: the element count of input 'x', shape [9007199254740991,3,224,224] (about 1.36e+21) ${REFUSED}\n`);
    expect(batch.status).toBe(2);
    const input = mbn(['analyze', reluChain(1, ['N', 'L']), '--input', 'x:1099511627776x1099511627776']);
    expect(input.stderr).toBe(`mbn: the element count of input 'x', shape [1099511627776,1099511627776] (about 1.21e+24) ${REFUSED}\n`);
    expect(input.status).toBe(2);
    // The same input with a batch that fits is counted exactly: 3·224·224 Relu FLOPs per sample.
    const ok = mbn(['analyze', path, '--batch', '1000000', '--format', 'json']);
    expect(JSON.parse(ok.stdout).totals.otherFlops).toBe(150_528_000_000);
  });

  it('an initializer of 2^80 elements is refused', () => {
    const bytes = o.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'g',
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
        output: [{ name: 'y' }],
        initializer: [{ name: 'w', dataType: 1, dims: [2 ** 40, 2 ** 40] }],
        node: [{ name: 'add', opType: 'Add', input: ['x', 'w'], output: ['y'] }],
      },
    }).finish();
    const r = mbn(['analyze', save('huge_init.onnx', bytes)]);
    expect(r.stderr).toBe(`mbn: the element count of tensor 'w', dims [1099511627776,1099511627776] (about 1.21e+24) ${REFUSED}\n`);
    expect(r.status).toBe(2);
  });

  it('layers each within 2^53 whose sum is not: 3 × 2^51 FLOPs is exact, 4 × 2^51 is refused', () => {
    // int8 Relus over 2^51 elements: 2^51 FLOPs each, 2^52 bytes live at most (input and output).
    const ok = mbn(['analyze', reluChain(3, [2 ** 51], 3), '--format', 'json']);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout).totals).toMatchObject({ otherFlops: 6_755_399_441_055_744, flops: 6_755_399_441_055_744, peakActivationBytes: 2 ** 52 });
    const refused = mbn(['analyze', reluChain(4, [2 ** 51], 3)]);
    expect(refused.stderr).toBe(`mbn: the model's total flops (about 9.01e+15) ${REFUSED}\n`);
    expect(refused.status).toBe(2);
  });

  it('byte sizes past 2^53 are refused too: 2^51 float32 values are 2^53 bytes', () => {
    const r = mbn(['analyze', reluChain(1, [2 ** 51])]);
    expect(r.stderr).toBe(`mbn: the byte size of 2251799813685248 float32 values (about 9.01e+15) ${REFUSED}\n`);
    expect(r.status).toBe(2);
  });

  it.skipIf(!loadOrt())('mbn bench refuses an input too large to allocate, before loading anything', () => {
    const path = reluChain(1, [1, 2 ** 40]);
    const r = mbn(['bench', path]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `mbn: ${path}: input 'x' [1,1099511627776] of float32 needs 4,398,046,511,104 bytes; mbn bench allocates at most 4,294,967,296 bytes per input (give a smaller shape with --input x:…)\n`,
    );
    expect(r.status).toBe(2);
  });
});
