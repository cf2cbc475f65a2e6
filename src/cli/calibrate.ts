import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { MbnError, quote } from '../errors.js';
import { calibrate } from '../api/calibrate.js';
import { write } from './output.js';

export interface CalibrateCliOptions {
  output?: string;
  threads: number;
  runs: number;
  name?: string;
  force: boolean;
}

/** Runs `mbn calibrate`: the device profile on stdout, or in `-o FILE` (written whole, then renamed into place). */
export async function runCalibrate(opts: CalibrateCliOptions): Promise<void> {
  if (opts.output && existsSync(opts.output) && !opts.force) {
    throw new MbnError('output-exists', `${quote(opts.output)} exists; use --force to overwrite it`);
  }
  const profile = await calibrate({ threads: opts.threads, runs: opts.runs, name: opts.name }, opts.output ? (name) => write(2, `calibrate: ${name}…\n`) : undefined);
  const text = JSON.stringify(profile, null, 2) + '\n';
  if (!opts.output) {
    write(1, text);
    return;
  }
  const temp = `${opts.output}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, opts.output);
  } catch (error) {
    throw new MbnError('write-failed', `cannot write ${quote(opts.output)}: ${(error as Error).message.split('\n')[0]}`);
  }
  write(2, `wrote ${opts.output}: conv ${profile.gflops.conv} GFLOP/s, 1×1 conv ${profile.gflops.pointwise}, depthwise ${profile.gflops.depthwise}, GEMM ${profile.gflops.gemm}, memory ${profile.memoryGBps} GB/s, ${profile.overheadUs.conv} µs per conv, ${profile.overheadUs.elementwise} µs per elementwise op\n`);
}
