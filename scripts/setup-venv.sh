#!/usr/bin/env bash
# The Python reference tools for the tests (never needed by the CLI): a Python 3.11 venv with onnxruntime 1.30 (its
# quantizer), onnx 1.23, TensorFlow 2.21 (TFLite converter and interpreter) and torch 2.13 (CPU) and onnxscript (its exporter), installed offline from
# the machine's local wheel folders and package index (`pip config list` names them). Idempotent.
set -uo pipefail
VENV=${MBN_VENV:-/opt/mbn-venv}
PY=${PYTHON311:-$(command -v python3.11 || true)}
if [ -z "$PY" ]; then echo "setup-venv: python3.11 not found; tests that need the venv will skip"; exit 0; fi
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import onnxruntime, onnx, tensorflow, torch, onnxscript' >/dev/null 2>&1; then exit 0; fi
"$PY" -m venv "$VENV" || { echo "setup-venv: venv creation failed"; exit 0; }
args=()
for d in /opt/wheels; do [ -d "$d" ] && args+=(--find-links "$d"); done
idx=()
[ -d /opt/pypi/simple ] && idx+=(--index-url file:///opt/pypi/simple)
[ -d /opt/pypi-more/simple ] && idx+=(--extra-index-url file:///opt/pypi-more/simple)
"$VENV/bin/pip" install -q "${idx[@]}" "${args[@]}" onnxruntime==1.30.0 onnx==1.23.1 tensorflow-cpu==2.21.0 torch==2.13.0 onnxscript \
  || echo "setup-venv: pip install failed; tests that need the venv will skip"
