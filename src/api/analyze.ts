import { dirname, resolve } from 'node:path';
import { buildReport } from '../cost/analyze.js';
import { type Dataflow, type MainGraphNodes, dataflow, mainGraphNodes } from '../cost/dataflow.js';
import { rollUpModules } from '../cost/modules.js';
import { MbnError, quote } from '../errors.js';
import type { Model } from '../ir/types.js';
import { externalLocations } from '../ir/walk.js';
import { layerLinks } from '../latency/graph.js';
import { addEnergy } from '../latency/energy.js';
import { addLatency } from '../latency/model.js';
import { loadProfile } from '../latency/load-profile.js';
import { missingExternalFiles } from '../onnx/external.js';
import { readAnyModel } from '../formats/read.js';
import { type WriteTarget, checkTarget, writePieces } from '../onnx/write-file.js';
import { ANNOTATION_PREFIX, nodeAnnotations, withoutAnnotation } from '../report/onnx-annotations.js';
import { type NodeText, annotatePieces } from '../rewrite/annotate.js';
import { analyzeJson } from '../report/analyze-report.js';
import { inferModel } from '../shape/infer.js';
import { checkShapeOptions, type ShapeOptions, type ValueOptions } from './options.js';
import type { AnalyzeJson, ModuleCost, Report } from '../contract/analyze.js';
import type { DeviceProfile } from '../contract/device.js';

export interface AnalyzeOptions extends ShapeOptions, ValueOptions {
  /** Op types whose uncounted layers do not block budgets (`--allow-uncounted`); kept for callers that gate. */
  allowUncounted?: string[];
  /** Roll costs up by name scope down to this depth: the document's `modules` (`--depth`). */
  depth?: number;
  /** Device profile (built-in name such as `rpi4`, or a profile file) for each layer's predicted `latencyMs` and estimated `energyMj`. */
  device?: string;
  /**
   * `--annotate`: also write a copy of the model whose main-graph nodes carry their figures in doc_string (and in
   * metadata_props from IR version 10), atomically; refused when the file exists unless `force`.
   */
  annotate?: { path: string; force?: boolean; version?: string };
}

/** What the CLI's renderers need beyond the JSON document. */
export interface AnalyzeFileOptions extends AnalyzeOptions {
  /** Also return the dataflow between layers (`Analysis.dataflow`: the HTML report's graph view). */
  dataflow?: boolean;
  /** Also return which main-graph node holds each layer (`Analysis.nodes`: `--format model-explorer`). */
  nodes?: boolean;
}

/** One analysis: the report, its module roll-up (with `depth`) and the device profile (with `device`). */
export interface Analysis {
  report: Report;
  modules: { depth: number; rows: ModuleCost[] } | null;
  profile: DeviceProfile | null;
  /** With `dataflow`: the edges between layers and the constant layers (cost/dataflow.ts); else null. */
  dataflow: Dataflow | null;
  /** With `nodes`: each layer's main-graph node (cost/dataflow.ts); else null. */
  nodes: MainGraphNodes | null;
}

/** Reads, infers and costs one model file. The CLI renders the result; `analyze` returns its JSON. */
export function analyzeFile(path: string, options: AnalyzeFileOptions = {}): Analysis {
  if (options.depth !== undefined && (!Number.isSafeInteger(options.depth) || options.depth < 1)) {
    throw new MbnError('usage', `depth ${quote(String(options.depth))} is not a positive integer`);
  }
  const infer = checkShapeOptions(options);
  const profile = options.device ? loadProfile(options.device) : null;
  const annotate = options.annotate ? { path: options.annotate.path, force: options.annotate.force ?? false, protect: [path] } : null;
  if (annotate) checkTarget(annotate);
  const model = readAnyModel(path);
  let report: Report;
  let flow: Dataflow | null = null;
  let nodes: MainGraphNodes | null = null;
  try {
    const inferred = inferModel(model, infer);
    if (options.dataflow) flow = dataflow(inferred.layers, model.graph);
    if (options.nodes || annotate) nodes = mainGraphNodes(inferred.layers, model.graph);
    // Latency needs the records after the report; without it they go as the rows are built.
    report = buildReport(model, inferred, { release: !profile });
    if (profile) {
      const links = layerLinks(inferred);
      addLatency(report, links, profile);
      addEnergy(report, links, profile);
    }
    for (const location of missingExternalFiles(path, externalLocations(model))) {
      report.notes.push({ code: 'external-data-missing', location });
    }
    if (annotate) writeAnnotated(model, path, report, nodes!, annotate, options.annotate?.version ?? '');
  } finally {
    model.source.close();
  }
  const modules = options.depth !== undefined ? { depth: options.depth, rows: rollUpModules(report.layers, options.depth) } : null;
  return { report, modules, profile, dataflow: flow, nodes };
}

/** The annotated copy (`--annotate`): the splice writer's copy with new node doc strings and metadata_props. */
function writeAnnotated(model: Model, input: string, report: Report, nodes: MainGraphNodes, target: WriteTarget, version: string): void {
  if (model.format === 'tflite') {
    throw new MbnError('usage', `--annotate writes an ONNX copy: ${quote(input)} is a TensorFlow Lite model (its report works; the annotated copy does not)`);
  }
  // External data stays where it is, named relative to the model: the copy must sit beside the original to find it.
  if (externalLocations(model).length > 0 && dirname(resolve(target.path)) !== dirname(resolve(input))) {
    throw new MbnError('usage', `${quote(input)} keeps its weights in external data files: write the annotated copy in the same folder (${quote(dirname(input))}) so that it finds them`);
  }
  const texts = new Map<number, NodeText>();
  for (const [index, note] of nodeAnnotations(report, nodes, version)) {
    const kept = withoutAnnotation(model.graph.nodes[index].docString);
    texts.set(index, { doc: kept ? `${kept}\n\n${note.doc}` : note.doc, props: note.props });
  }
  writePieces(target, annotatePieces(model, texts, ANNOTATION_PREFIX), model.source);
}

/**
 * `mbn analyze MODEL --format json` as a function: the `mbn.analyze/1` document (per-layer MACs, FLOPs, params,
 * memory, separable candidates, totals). Throws MbnError for a bad model or option.
 */
export async function analyze(path: string, options: AnalyzeOptions = {}): Promise<AnalyzeJson> {
  const { report, modules } = analyzeFile(path, options);
  return analyzeJson(report, modules ? { modules: modules.rows } : {});
}
