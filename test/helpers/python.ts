import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Debian's python3-onnx as a reference tool (onnx.checker, onnx.shape_inference). Tests that use it skip, with
 * the reason printed, where it is missing; the shipped CLI never needs Python.
 */
const PYTHON = '/usr/bin/python3';

let available: boolean | undefined;
export function pythonOnnx(): boolean {
  if (available === undefined) {
    available = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
    if (!available) console.warn('skipping onnx.checker checks: /usr/bin/python3 with python3-onnx is not installed (apt-get install python3-onnx)');
  }
  return available;
}

/** Runs onnx.checker.check_model(full_check=True); returns null when valid, else the checker's message. */
export function checkModel(path: string): string | null {
  const r = spawnSync(
    PYTHON,
    ['-c', 'import onnx,sys\nm=onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)', path],
    { encoding: 'utf8' },
  );
  return r.status === 0 ? null : (r.stderr.trim().split('\n').pop() ?? 'failed');
}

const imports = new Map<string, boolean>();

/** Whether Debian's python3 can import every module named (e.g. 'torch', 'torchvision'); warns once when not. */
export function debianPythonHas(...modules: string[]): boolean {
  const key = modules.join(',');
  let ok = imports.get(key);
  if (ok === undefined) {
    ok = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('\n')], { encoding: 'utf8' }).status === 0;
    if (!ok) console.warn(`skipping: ${PYTHON} cannot import ${modules.join(', ')} (apt-get install python3-torch python3-torchvision)`);
    imports.set(key, ok);
  }
  return ok;
}

export const DEBIAN_PYTHON = PYTHON;
