import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../src/calibrate/npy.js';
import { MbnError } from '../src/errors.js';
import { pythonOnnx } from './helpers/python.js';

/** A .npy file by hand: magic, version, header length, header padded so that data starts at a multiple of 64. */
function npy(major: number, header: string, data: Uint8Array): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const padded = header + ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(pre + padded.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(new TextEncoder().encode(padded), pre);
  out.set(data, pre + padded.length);
  return out;
}

function bytesOf(values: number[], size: number, set: (v: DataView, o: number, x: number) => void): Uint8Array {
  const b = new Uint8Array(values.length * size);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => set(v, i * size, x));
  return b;
}

function error(f: () => unknown): MbnError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MbnError);
    return e as MbnError;
  }
  throw new Error('no error');
}

describe('parseNpy', () => {
  it('reads v1 <f4, v2 <i8, v3 <f2, >f8 and |u1 in C order', () => {
    const f4 = parseNpy(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", bytesOf([1, 2.5, -3, 4, 5, 6], 4, (v, o, x) => v.setFloat32(o, x, true))), 'a.npy');
    expect(f4).toEqual({ descr: '<f4', shape: [2, 3], data: Float64Array.from([1, 2.5, -3, 4, 5, 6]) });
    const i8 = parseNpy(npy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", bytesOf([7, -1, 1e12], 8, (v, o, x) => v.setBigInt64(o, BigInt(x), true))), 'b.npy');
    expect([...i8.data]).toEqual([7, -1, 1e12]);
    expect(i8.shape).toEqual([3]);
    // float16 bits: 0x3c00 = 1, 0xc000 = −2, 0x3555 ≈ 0.333251953125.
    const f2 = parseNpy(npy(3, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 3), }", bytesOf([0x3c00, 0xc000, 0x3555], 2, (v, o, x) => v.setUint16(o, x, true))), 'c.npy');
    expect([...f2.data]).toEqual([1, -2, 0.333251953125]);
    const be = parseNpy(npy(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", bytesOf([0.1, -7], 8, (v, o, x) => v.setFloat64(o, x, false))), 'd.npy');
    expect([...be.data]).toEqual([0.1, -7]);
    const u1 = parseNpy(npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", Uint8Array.from([200])), 'e.npy');
    expect(u1).toEqual({ descr: '|u1', shape: [], data: Float64Array.from([200]) });
  });

  it('refuses what is not a usable .npy file, naming the file', () => {
    expect(error(() => parseNpy(new TextEncoder().encode('PK\u0003\u0004 not numpy'), 'x.npy')).message).toBe("'x.npy' is not a usable .npy file: no NumPy magic (\\x93NUMPY) at the start");
    const good = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(16));
    expect(error(() => parseNpy(good.subarray(0, good.length - 1), 'x.npy')).message).toBe("'x.npy' is not a usable .npy file: truncated data (shape (4) needs 16 bytes, 15 present)");
    expect(error(() => parseNpy(good.subarray(0, 30), 'x.npy')).message).toMatch(/truncated header \(118 bytes announced, 20 present\)/);
    expect(error(() => parseNpy(npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new Uint8Array(16)), 'f.npy')).message).toMatch(/fortran_order is True/);
    expect(error(() => parseNpy(npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'c.npy')).message).toMatch(/dtype '<c8' is not a float, integer or bool dtype/);
    expect(error(() => parseNpy(npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), 'o.npy')).message).toMatch(/dtype '\|O'/);
    const v9 = good.slice();
    v9[6] = 9;
    expect(error(() => parseNpy(v9, 'v.npy')).message).toMatch(/format version 9\.0/);
  });

  it('round-trips encodeNpy and agrees with NumPy', () => {
    const values = [0.5, -1.25, 3e-3, 42];
    const back = parseNpy(encodeNpy([2, 2], values), 'r.npy');
    expect(back.shape).toEqual([2, 2]);
    expect([...back.data]).toEqual(values.map((x) => Math.fround(x)));
    if (!pythonOnnx()) return;
    const dir = mkdtempSync(join(tmpdir(), 'mbn-npy-'));
    const py = `import numpy as np
np.save('${dir}/a.npy', np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8)
np.save('${dir}/b.npy', np.array([[1, -2], [3, 4]], dtype=np.int32))
np.save('${dir}/c.npy', np.array([0.5, 2], dtype='>f8'))`;
    expect(spawnSync('/usr/bin/python3', ['-c', py]).status).toBe(0);
    const a = parseNpy(readFileSync(join(dir, 'a.npy')), 'a.npy');
    expect(a.shape).toEqual([2, 3, 4]);
    expect(a.data[23]).toBe(23 / 8);
    expect([...parseNpy(readFileSync(join(dir, 'b.npy')), 'b.npy').data]).toEqual([1, -2, 3, 4]);
    expect([...parseNpy(readFileSync(join(dir, 'c.npy')), 'c.npy').data]).toEqual([0.5, 2]);
  });
});
