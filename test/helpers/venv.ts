import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * The Python 3.11 reference environment (onnxruntime 1.30's quantizer, onnx 1.23, TensorFlow 2.21's TFLite converter
 * and interpreter, torch 2.x's exporter), installed offline from the machine's local wheel folders by
 * `scripts/setup-venv.sh` (CI runs it). Tests that use it skip, with the reason printed, where it is missing; the shipped
 * CLI never needs Python.
 */
export const VENV_PYTHON = process.env.MBN_VENV_PYTHON ?? '/opt/mbn-venv/bin/python';

const cache = new Map<string, boolean>();

/** Whether the venv exists and can import every module named (e.g. 'onnxruntime.quantization', 'tensorflow', 'torch'). */
export function venvHas(...modules: string[]): boolean {
  const key = modules.join(',');
  let ok = cache.get(key);
  if (ok === undefined) {
    ok = existsSync(VENV_PYTHON) && spawnSync(VENV_PYTHON, ['-c', modules.map((m) => `import ${m}`).join('\n')], { encoding: 'utf8' }).status === 0;
    if (!ok) console.warn(`skipping: ${VENV_PYTHON} cannot import ${modules.join(', ')} (run scripts/setup-venv.sh)`);
    cache.set(key, ok);
  }
  return ok;
}
