import { Command, CommanderError, Option } from 'commander';
import { METRICS, type Limits } from '../budget/limits.js';
import { MbnError, oneLine, quote } from '../errors.js';
import { write } from './output.js';
import { exitCode } from './exit-code.js';
import { collectOpType, parseFraction, parseIfBranch, parseInputSpec, parseInputValue, parseLimitFlag, parseNonNegativeInt, parsePositiveInt } from './options.js';
import { FORMATS } from '../report/formats.js';
import { VERSION } from '../version.js';
import type { IfBranch } from '../shape/types.js';

function limitOptions(cmd: Command): Command {
  for (const m of METRICS) {
    // The flag is the key in kebab case: maxWeightBytes → --max-weight-bytes (commander maps it back).
    const flag = `--${m.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    cmd.addOption(
      new Option(`${flag} <limit>`, `fail (exit 1) when ${m.label} exceed the limit (${m.bytes ? 'e.g. 20MB, 16MiB' : 'e.g. 600M, 1.2G'})`).argParser(parseLimitFlag(flag, m.key)),
    );
  }
  return cmd;
}

function limitsFrom(opts: Record<string, unknown>): Limits {
  const limits: Limits = {};
  for (const m of METRICS) if (typeof opts[m.key] === 'number') limits[m.key] = opts[m.key] as number;
  return limits;
}

function inputValueOption(cmd: Command): Command {
  return cmd.option('--input-value <name=value>', 'a graph input holds this value in every element, e.g. sr=16000 (repeatable; dtype from the model)', (v: string, prev?: Map<string, number>) => parseInputValue(v, prev));
}

function allowUncountedOption(cmd: Command): Command {
  return cmd.option('--allow-uncounted <op>', 'accept layers of this op type that mbn cannot count: budgets may then pass (repeatable)', (v: string, prev?: string[]) => collectOpType(v, prev));
}

function inputOptions(cmd: Command): Command {
  return cmd
    .option('--input <name:dims>', 'fix a graph input shape, e.g. input:1x3x224x224 (repeatable)', (v: string, prev?: Map<string, number[]>) => parseInputSpec(v, prev))
    .option('--batch <n>', 'value for a symbolic batch (first) dim of every input', parsePositiveInt('--batch'));
}

export function buildProgram(state: { budgetsExceeded: boolean }): Command {
  const program = new Command();
  program
    .name('mbn')
    .description('Per-layer cost of ONNX and TFLite models, depthwise separable rewrites, and compute budgets for CI')
    .version(VERSION, '-V, --version')
    .addOption(new Option('-v', 'output the version number (as -V)').hideHelp())
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (text) => write(2, text), writeOut: (text) => write(1, text), outputError: (text) => write(2, commanderLine(text)) });
  program.on('option:v', () => {
    write(1, `${VERSION}\n`);
    throw new CommanderError(0, 'commander.version', VERSION);
  });

  const analyze = program
    .command('analyze')
    .description('per-layer MACs, FLOPs, params and memory, and what depthwise separation would save')
    .argument('<model>', 'ONNX or TFLite (.tflite) model file')
    .addOption(new Option('--format <format>', 'output format (html: a self-contained page with charts and the graph; model-explorer: node data for Google Model Explorer)').choices(FORMATS.analyze).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout (atomically)')
    .option('--force', 'with -o or --annotate: overwrite an existing file', false)
    .option('--annotate <file>', 'also write a copy of the model whose nodes carry their MACs, params, output shape and share (latency with --device) in doc_string, for Netron')
    .option('--flops', 'show FLOPs (2·MACs + other) instead of MACs', false)
    .option('--top <n>', 'show the N costliest layers', parsePositiveInt('--top'))
    .option('--all', 'show every layer', false)
    .option('--depth <n>', 'also roll costs up by name scope down to depth N (/layer1/layer1.0/conv1/Conv is layer1 at depth 1)', parsePositiveInt('--depth'))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(analyze);
  inputValueOption(analyze);
  analyze.option('--if-branch <name=then|else>', 'count this branch of the If layer NAME where its condition is known at run time only (default: the costlier; repeatable)', (v: string, prev?: Map<string, IfBranch>) => parseIfBranch(v, prev));
  limitOptions(analyze);
  allowUncountedOption(analyze);
  analyze
    .option('--device <profile>', 'predict each layer\'s latency and estimate its energy on a device: a profile file (mbn calibrate) or a built-in name (rpi4, rpi5, jetson-orin-nano)')
    .option('--max-latency <ms>', 'with --device: fail (exit 1) when the predicted latency exceeds this many milliseconds', parsePositiveNumber('--max-latency'))
    .option('--max-energy <mJ>', 'with --device: fail (exit 1) when the estimated energy per inference exceeds this many millijoules', parsePositiveNumber('--max-energy'));
  analyze.action(async (path: string, opts) => {
    if (opts.all && opts.top !== undefined) warn('--top is ignored with --all: every layer is shown');
    const { runAnalyze } = await import('./analyze.js');
    const result = runAnalyze(path, { ...opts, limits: limitsFrom(opts), version: VERSION });
    state.budgetsExceeded ||= result.budgetsExceeded;
  });

  const separate = program
    .command('separate')
    .description('rewrite standard convs as depthwise + pointwise pairs and write a new ONNX model')
    .argument('<model>', 'ONNX model file (never modified)')
    .option('-o, --output <file>', 'output model (default: <model>.separated.onnx beside the input)')
    .option('--dry-run', 'plan and report, write nothing', false)
    .option('--force', 'overwrite an existing output file', false)
    .option('--include <glob>', 'only convs whose node name matches (repeatable; * matches any text)', collect, [])
    .option('--exclude <glob>', 'skip convs whose node name matches (repeatable)', collect, [])
    .option('--min-reduction <fraction>', 'skip layers that would save less than this share of their MACs (0.5 or 50%)', parseFraction('--min-reduction', 1))
    .option('--max-error <e>', 'skip layers whose relative weight error would exceed e (svd init)', parseFraction('--max-error'))
    .option('--target-macs <budget>', 'separate, greedily, only until the model fits this many MACs (e.g. 600M)', parseLimitFlag('--target-macs', 'maxMacs'))
    .option('--target-latency <ms>', 'with --device: separate, by predicted time saved, only until the predicted latency fits (milliseconds)', parsePositiveNumber('--target-latency'))
    .option('--device <profile>', 'device profile for --target-latency: a file from mbn calibrate or a built-in name (rpi4, rpi5, jetson-orin-nano)')
    .option('--multiplier <r>', 'depth multiplier r: depthwise filters per input channel (rank of the approximation)', parsePositiveInt('--multiplier'), 1)
    .option('--allow-costlier', 'also rewrite convs whose pair costs more than the conv (r·(g/N + 1/K) ≥ 1, e.g. at full rank)', false)
    .addOption(new Option('--init <method>', 'new weights: svd approximates the original conv, he draws fresh He-normal weights').choices(['svd', 'he']).default('svd'))
    .option('--seed <n>', 'seed for --init he and --calibrate random:N', parseNonNegativeInt('--seed'), 0)
    .option('--calibrate <dir|random:N>', 'fit the pointwise weights to the original outputs on data (a folder of .npy batches, or N seeded Gaussian batches) and check the whole model on it (needs onnxruntime-node)')
    .option('--refit-depthwise', 'with --calibrate: refit the depthwise filters too, alternating with the pointwise fit (helps the detector at rank 1, can hurt elsewhere: see README)', false)
    .option('--torch-plan <dir>', 'with -o: also write the same change for the PyTorch model (separation.json, weights.safetensors, mbn_torch.py) to this folder')
    .addOption(new Option('--format <format>', 'report format').choices(FORMATS.separate).default('table'))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(separate);
  separate.action(async (path: string, opts) => {
    // The seed draws He-normal weights and random calibration batches; SVD weights need none.
    if (separate.getOptionValueSource('seed') === 'cli' && opts.init !== 'he' && !String(opts.calibrate ?? '').startsWith('random:')) {
      warn('--seed is ignored without --init he or --calibrate random:N (SVD weights are not random)');
    }
    const { runSeparate } = await import('./separate.js');
    await runSeparate(path, opts);
  });
  const quantize = program
    .command('quantize')
    .description('static int8 quantization to QDQ (int8 weights per output channel, uint8 activations), checked in ONNX Runtime')
    .argument('<model>', 'ONNX model file (never modified)')
    .option('-o, --output <file>', 'output model (default: <model>.int8.onnx beside the input)')
    .option('--force', 'overwrite an existing output file', false)
    .option('--calibrate <dir|random:N>', 'calibration data: a folder of .npy batches (one per input, or one subfolder per input), or N seeded Gaussian batches (default random:8)')
    .option('--seed <n>', 'seed for --calibrate random:N', parseNonNegativeInt('--seed'), 0)
    .addOption(new Option('--method <method>', 'activation range: the observed extremes (minmax), percentile, or the clip with the least squared error (mse)').choices(['minmax', 'percentile', 'mse']).default('minmax'))
    .option('--percentile <p>', 'with --method percentile: the percentile kept (default 99.99)', parsePositiveNumber('--percentile'))
    .option('--no-fold-batch-norm', 'keep each BatchNormalization after a conv as it is (default: folded into the conv)')
    .option('--no-equalize', 'skip cross-layer equalization')
    .option('--no-bias-correction', 'skip the empirical bias correction')
    .option('--max-error <e>', 'keep the most sensitive layers float until the worst output\'s relative error on the held-back batches is within e', parseFraction('--max-error'))
    .option('--include <glob>', 'only layers whose node name matches (repeatable; * matches any text); the others stay float', collect, [])
    .option('--exclude <glob>', 'keep layers whose node name matches float (repeatable)', collect, [])
    .option('--device <profile>', 'predict latency before and after on this device (a file from mbn calibrate or a built-in name) and keep float the layers whose int8 form is predicted slower there')
    .option('--target-latency <ms>', 'with --device: quantize, by predicted time saved, only until the predicted latency fits (milliseconds)', parsePositiveNumber('--target-latency'))
    .option('--measure', 'time the input and the written model in ONNX Runtime, as mbn bench does (default: with --device)')
    .option('--no-measure', 'with --device: predict only, no timing')
    .addOption(new Option('--format <format>', 'report format').choices(['table', 'json', 'md']).default('table'))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(quantize);
  inputValueOption(quantize);
  quantize.action(async (path: string, opts) => {
    if (quantize.getOptionValueSource('seed') === 'cli' && !String(opts.calibrate ?? 'random:').startsWith('random:')) warn('--seed is ignored with --calibrate DIR');
    const { runQuantize } = await import('./quantize.js');
    await runQuantize(path, opts);
  });
  const advise = program
    .command('advise')
    .description('MobileNet lessons as checks: separable convs, linear bottlenecks, inverted residual blocks, hard-swish, channel alignment')
    .argument('<model>', 'ONNX or TFLite (.tflite) model file')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS.advise).default('table'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding of this severity or worse is found').choices(['warning', 'error']))
    .option('--min-saving <fraction>', 'separable-conv: report convs whose separation saves at least this share of the model MACs (default 1%)', parseFraction('--min-saving', 1))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(advise);
  allowUncountedOption(advise);
  advise.action(async (path: string, opts) => {
    const { runAdvise } = await import('./advise.js');
    state.budgetsExceeded ||= runAdvise(path, opts).failed;
  });

  const rewrite = program
    .command('rewrite')
    .description('MobileNetV3 activations: swish → HardSwish, sigmoid gates → HardSigmoid; writes a new ONNX model and says how far outputs moved')
    .argument('<model>', 'ONNX model file (never modified)')
    .option('--hard-swish', 'replace swish x·Sigmoid(x) by HardSwish x·ReLU6(x+3)/6', false)
    .option('--hard-sigmoid', 'replace sigmoid gates (squeeze-and-excite) by HardSigmoid ReLU6(x+3)/6', false)
    .option('-o, --output <file>', 'output model (default: <model>.hardswish.onnx beside the input)')
    .option('--dry-run', 'plan, check and report, write nothing', false)
    .option('--force', 'overwrite an existing output file', false)
    .option('--samples <n>', 'seeded random inputs to compare outputs on', parsePositiveInt('--samples'), 4)
    .option('--seed <n>', 'seed of the random inputs', parseNonNegativeInt('--seed'), 1)
    .addOption(new Option('--format <format>', 'report format').choices(FORMATS.rewrite).default('table'))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(rewrite);
  rewrite.action(async (path: string, opts) => {
    const { runRewrite } = await import('./rewrite.js');
    await runRewrite(path, opts);
  });

  program
    .command('check')
    .description('hold models to the budgets of mbn.config.json (or package.json "mbn", or --config) and to a stored baseline; exit 1 when one is exceeded')
    .option('--config <file>', 'budget config: a JSON array of {name?, model, maxMacs, maxFlops, maxParams, maxWeightBytes, maxActivationBytes, input?, batch?}')
    .option('--baseline <report>', 'a stored `mbn analyze --format json` or `mbn check --format json` report to compare against')
    .option('--max-increase <percent>', 'with --baseline: allowed growth of each figure, a fraction or percentage: 0.05 or 5% (default 0: any growth fails)')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS.check).default('table'))
    .option('--no-color', 'no colour (also: NO_COLOR)')
    .option('--allow-uncounted <op>', 'accept layers of this op type that mbn cannot count, in every model (repeatable; config: "allowUncounted")', (v: string, prev?: string[]) => collectOpType(v, prev))
    .action(async (opts) => {
      const { runCheck } = await import('./check.js');
      const result = runCheck(opts);
      state.budgetsExceeded ||= result.budgetsExceeded;
    });

  program
    .command('init')
    .description('write mbn.config.json: budgets at each model\'s current figures plus a headroom')
    .argument('[models...]', 'model files or globs (default: every **/*.onnx and **/*.tflite below this folder, skipping node_modules and dot folders)')
    .option('--headroom <share>', 'growth allowed over the current figures: 0.05 or 5%', parseFraction('--headroom'), 0.05)
    .option('--config <file>', 'the config to write', 'mbn.config.json')
    .option('--force', 'overwrite an existing config', false)
    .action(async (models: string[], opts) => {
      const { runInit } = await import('./init.js');
      runInit(models, opts);
    });

  const diff = program
    .command('diff')
    .description('per-layer and total cost changes from one model to another')
    .argument('<base>', 'model before the change (ONNX or TFLite)')
    .argument('<head>', 'model after the change (ONNX or TFLite)')
    .addOption(new Option('--format <format>', 'output format (html: a self-contained page, per-module before/after)').choices(FORMATS.diff).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout (atomically)')
    .option('--force', 'with -o: overwrite an existing file', false)
    .option('--depth <n>', 'html: module depth of the before/after comparison (default 2)', parsePositiveInt('--depth'))
    .option('--all', 'list every layer (default: only layers whose MACs or params change)', false)
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(diff);
  diff.action(async (base: string, head: string, opts) => {
    const { runDiff } = await import('./diff.js');
    runDiff(base, head, { ...opts, version: VERSION });
  });

  const bench = program
    .command('bench')
    .description('latency of models in ONNX Runtime (onnxruntime-node) on random inputs, next to their MAC ratio')
    .argument('<models...>', 'ONNX model files; ratios are to the first')
    .option('--warmup <n>', 'untimed runs before timing (default: 3, and more until 0.1 s has passed)', parseNonNegativeInt('--warmup'))
    .option('--runs <n>', 'timed runs per model (default: 20, and more until 0.5 s of runs, at most 10,000)', parsePositiveInt('--runs'))
    .option('--threads <n>', 'ONNX Runtime intra-op threads', parsePositiveInt('--threads'), 1)
    .option('--per-layer', 'profile in ONNX Runtime and report each layer\'s time, bytes moved and arithmetic intensity', false)
    .option('--energy', 'read RAPL energy counters around each model\'s timed runs (joules per run; for mbn calibrate --energy-samples)', false)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS.bench).default('table'))
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(bench);
  inputValueOption(bench);
  bench.action(async (paths: string[], opts) => {
    const { runBench } = await import('./bench.js');
    await runBench(paths, opts);
  });
  const calibrateCmd = program
    .command('calibrate')
    .description('measure this machine through ONNX Runtime (micro-benchmarks, under a minute) and write a device profile for --device')
    .option('-o, --output <file>', 'write the profile here (default: stdout)')
    .option('--force', 'overwrite an existing output file', false)
    .option('--threads <n>', 'ONNX Runtime intra-op threads', parsePositiveInt('--threads'), 1)
    .option('--runs <n>', 'timed runs per micro-benchmark (the fastest is kept)', parsePositiveInt('--runs'), 20)
    .option('--name <name>', 'profile name (default: <hostname>-<threads>t)')
    .option('--energy-samples <file>', 'instead of measuring: fit the energy constants of --device to measured joules per inference (MODEL,JOULES lines, or mbn bench --energy --format json)')
    .option('--device <profile>', 'with --energy-samples: the profile to fit (a built-in name or a profile file)')
    .option('--lut <model...>', 'also profile these models through ONNX Runtime and store each layer shape\'s measured kernel time in the profile (a lookup table analyze --device uses where a layer matches; --input fixes their shapes)');
  inputOptions(calibrateCmd);
  calibrateCmd
    .action(async (opts) => {
      const { runCalibrate } = await import('./calibrate.js');
      await runCalibrate(opts);
    });

  program.addHelpText('after', `\nExamples:\n  mbn analyze model.onnx --top 10\n  mbn separate model.onnx -o model.sep.onnx\n  mbn quantize model.onnx --calibrate calib/ -o model.int8.onnx\n  mbn check\n${EXIT_CODES}`);
  for (const cmd of program.commands) {
    const example = EXAMPLES[cmd.name()];
    if (example) cmd.addHelpText('after', `\nExample:\n  ${example}\n${EXIT_CODES}`);
    // Extra arguments are reported by mbn, which names the first one (commander only counts them).
    cmd.allowExcessArguments(true);
  }
  program.hook('preAction', (_program, command) => {
    const expected = command.registeredArguments;
    if (expected.some((a) => a.variadic) || command.args.length <= expected.length) return;
    const usage = expected.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ');
    const takes = expected.length === 0 ? 'takes no argument' : `takes ${usage}`;
    throw new MbnError('usage', `unexpected argument ${quote(command.args[expected.length])}: mbn ${command.name()} ${takes} (options start with --)`);
  });
  return program;
}

const EXIT_CODES = `
Exit codes: 0 success, 1 a budget is exceeded (or a check failed), 2 usage error or bad input,
70 a bug in mbn (please report it), 128+n stopped by signal n.`;

const EXAMPLES: Record<string, string> = {
  analyze: 'mbn analyze model.onnx --input input:1x3x224x224 --top 10 --max-macs 600M',
  separate: 'mbn separate model.onnx -o model.separated.onnx --min-reduction 50% --dry-run',
  quantize: 'mbn quantize model.onnx --calibrate calib/ --input x:1x3x224x224 --max-error 0.05 -o model.int8.onnx',
  advise: 'mbn advise model.onnx --fail-on warning',
  rewrite: 'mbn rewrite model.onnx --hard-swish -o model.hardswish.onnx',
  check: 'mbn check --baseline main.json --max-increase 2%',
  init: 'mbn init models/*.onnx --headroom 5%',
  diff: 'mbn diff before.onnx after.onnx --format md',
  bench: 'mbn bench model.onnx model.separated.onnx --runs 50',
  calibrate: 'mbn calibrate -o my-board.json',
};

/**
 * Commander's error text in mbn's one-line style: `error: unknown option '--fromat'\n(Did you mean --format?)`
 * becomes `mbn: unknown option '--fromat' (did you mean --format?)`.
 */
export function commanderLine(text: string): string {
  const lines = text.trim().replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean);
  const [first, ...rest] = lines;
  const hint = rest.map((l) => l.replace(/^\((.*)\)$/, '$1').replace(/^Did you mean/, 'did you mean')).join('; ');
  return `mbn: ${oneLine(first ?? 'invalid command line')}${hint ? ` (${oneLine(hint)})` : ''}\n`;
}

function parsePositiveNumber(flag: string) {
  return (text: string): number => {
    const value = Number(text.replace(/ms$/, ''));
    if (!/^[0-9.]+(ms)?$/.test(text) || !Number.isFinite(value) || value <= 0) throw new MbnError('usage', `${flag} '${text.slice(0, 40)}' is not a positive number of milliseconds`);
    return value;
  };
}

/** A flag that changes nothing, said once on stderr: the run goes on. */
function warn(message: string): void {
  write(2, `mbn: warning: ${message}\n`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}


/** Runs the CLI. Sets process.exitCode rather than exiting, so that output is flushed. */
export async function main(argv: string[]): Promise<void> {
  const state = { budgetsExceeded: false };
  const program = buildProgram(state);
  if (argv.length <= 2) {
    // `mbn` alone: what it can do, on stdout, as a success.
    write(1, program.helpInformation());
    process.exitCode = 0;
    return;
  }
  try {
    await program.parseAsync(argv);
    process.exitCode = exitCode({ budgetsExceeded: state.budgetsExceeded });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message; help and version are successes.
      const ok = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
      process.exitCode = ok ? 0 : 2;
      return;
    }
    process.exitCode = exitCode({ error });
    if (error instanceof MbnError) {
      write(2, `mbn: ${oneLine(error.message)}\n`);
    } else {
      const e = error as Error;
      write(2, `mbn: internal error: ${oneLine(e?.message ?? String(error), 500)} (please report this; MBN_DEBUG=1 shows details)\n`);
      if (process.env.MBN_DEBUG) write(2, `${e?.stack ?? ''}\n`);
    }
  }
}
