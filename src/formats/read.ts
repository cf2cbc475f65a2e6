import type { Model } from '../ir/types.js';
import { readModelFrom } from '../onnx/read.js';
import type { ByteSource } from '../ir/types.js';
import { readWithSource } from '../onnx/source.js';
import { isTflite, readTfliteFrom } from '../tflite/read.js';

/**
 * The model formats mbn analyses, as a reader list (the way Netron opens files): each reader's cheap signature check
 * on the first bytes, then the first reader that matches reads the whole model into the layer IR. ONNX comes last:
 * protobuf has no signature, and its reader names what a file is when it is not ONNX.
 */
interface ModelReader {
  format: string;
  matches(head: Uint8Array): boolean;
  read(source: ByteSource, path: string | null): Model;
}

const READERS: readonly ModelReader[] = [
  { format: 'tflite', matches: isTflite, read: readTfliteFrom },
  { format: 'onnx', matches: () => true, read: readModelFrom },
];

/** The first bytes a signature check looks at. */
const HEAD = 16;

export function readAnyModelFrom(source: ByteSource, path: string | null): Model {
  const head = source.view(0, Math.min(HEAD, source.size));
  const reader = READERS.find((r) => r.matches(head))!;
  return reader.read(source, path);
}

/**
 * Reads a model file of any format mbn analyses (ONNX, TFLite). Commands that rewrite or run models read ONNX only
 * (`onnx/read.ts`'s readModel), which refuses a TFLite file in one line. The caller closes model.source.
 */
export function readAnyModel(path: string): Model {
  return readWithSource(path, (source) => readAnyModelFrom(source, path));
}
