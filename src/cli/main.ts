import { Command, CommanderError, Option } from 'commander';
import { METRICS, type Limits, parseLimit } from '../budget/limits.js';
import { MbnError, quote } from '../errors.js';
import { write } from './analyze.js';
import { exitCode } from './exit-code.js';
import { parseChoice, parseInputSpec, parsePositiveInt } from './options.js';

const VERSION = '0.1.0';

function limitOptions(cmd: Command): Command {
  for (const m of METRICS) {
    cmd.addOption(
      new Option(`${m.flag} <limit>`, `fail (exit 1) when ${m.label} exceed the limit (${m.bytes ? 'e.g. 20MB, 16MiB' : 'e.g. 600M, 1.2G'})`).argParser(
        (text: string) => {
          const v = parseLimit(m.key, text);
          if (v === null) throw new MbnError('usage', `${m.flag} ${quote(text)} is not a ${m.bytes ? 'size such as 20MB or 16MiB' : 'number such as 600M or 1.2G'}`);
          return v;
        },
      ),
    );
  }
  return cmd;
}

function limitsFrom(opts: Record<string, unknown>): Limits {
  const limits: Limits = {};
  for (const m of METRICS) if (typeof opts[m.key] === 'number') limits[m.key] = opts[m.key] as number;
  return limits;
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
    .description('Per-layer cost of ONNX models, depthwise separable rewrites, and compute budgets for CI')
    .version(VERSION, '-v, --version')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (text) => write(2, text), writeOut: (text) => write(1, text) });

  const analyze = program
    .command('analyze')
    .description('per-layer MACs, FLOPs, params and memory, and what depthwise separation would save')
    .argument('<model>', 'ONNX model file')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv', 'md']).default('table'))
    .option('--flops', 'show FLOPs (2·MACs + other) instead of MACs', false)
    .option('--top <n>', 'show the N costliest layers', parsePositiveInt('--top'))
    .option('--all', 'show every layer', false)
    .option('--no-color', 'no colour (also: NO_COLOR)');
  inputOptions(analyze);
  limitOptions(analyze);
  analyze.action(async (path: string, opts) => {
    const { runAnalyze } = await import('./analyze.js');
    const result = runAnalyze(path, { ...opts, limits: limitsFrom(opts) });
    state.budgetsExceeded ||= result.budgetsExceeded;
  });
  return program;
}

/** Runs the CLI. Sets process.exitCode rather than exiting, so that output is flushed. */
export async function main(argv: string[]): Promise<void> {
  const state = { budgetsExceeded: false };
  const program = buildProgram(state);
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
      write(2, `mbn: ${error.message}\n`);
    } else {
      const e = error as Error;
      write(2, `mbn: internal error: ${e?.message ?? String(error)} (please report this; MBN_DEBUG=1 shows details)\n`);
      if (process.env.MBN_DEBUG) write(2, `${e?.stack ?? ''}\n`);
    }
  }
}
