import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { MbnError, quote } from '../errors.js';
import { calibrate, calibrateEnergy } from '../api/calibrate.js';
import { mjText } from '../report/energy-report.js';
import { terminalText } from '../report/safe-text.js';
import { write } from './output.js';
import type { DeviceProfile } from '../contract/device.js';

export interface CalibrateCliOptions {
  output?: string;
  threads: number;
  runs: number;
  name?: string;
  force: boolean;
  /** `--energy-samples FILE`: fit the energy constants of `device` instead of measuring. */
  energySamples?: string;
  device?: string;
  input?: Map<string, number[]>;
  batch?: number;
  /** `--lut MODEL…`: models whose layer shapes are measured into the profile's lookup table. */
  lut?: string[];
}

/** Runs `mbn calibrate`: the device profile on stdout, or in `-o FILE` (written whole, then renamed into place). */
export async function runCalibrate(opts: CalibrateCliOptions): Promise<void> {
  if (opts.output && existsSync(opts.output) && !opts.force) {
    throw new MbnError('output-exists', `${quote(opts.output)} exists; use --force to overwrite it`);
  }
  if (opts.device !== undefined && opts.energySamples === undefined) throw new MbnError('usage', '--device goes with --energy-samples (the profile whose energy constants are fitted)');
  if (opts.lut !== undefined && opts.energySamples !== undefined) throw new MbnError('usage', '--lut measures models on this machine; --energy-samples fits a profile without measuring: use one or the other');
  if (opts.energySamples !== undefined) {
    if (opts.device === undefined) throw new MbnError('usage', '--energy-samples needs --device (the profile to fit: a built-in name such as rpi4, or a profile file)');
    const { profile, samples } = calibrateEnergy({ device: opts.device, samples: opts.energySamples, input: opts.input, batch: opts.batch });
    if (opts.name !== undefined) profile.name = opts.name;
    const e = profile.energy!;
    for (const s of samples) write(2, `calibrate: ${terminalText(s.model)}: measured ${mjText(s.measuredJ * 1e3)}, fitted ${mjText(s.fittedJ * 1e3)} (${signed((100 * (s.fittedJ - s.measuredJ)) / s.measuredJ)})\n`);
    writeProfile(opts, profile);
    write(2, `${opts.output ? `wrote ${opts.output}` : 'energy constants'} (an estimate fitted to ${samples.length} sample${samples.length === 1 ? '' : 's'}, rms error ${(100 * e.fit!.rmsRelativeError).toFixed(1)}%): fp32 ${e.pjPerMac.fp32} pJ/MAC, DRAM ${e.pjPerByteDram} pJ/byte (fp16 ${e.pjPerMac.fp16}, int8 ${e.pjPerMac.int8} pJ/MAC, on chip ${e.pjPerByteOnChip} pJ/byte in the base ratios)\n`);
    return;
  }
  const profile = await calibrate({ threads: opts.threads, runs: opts.runs, name: opts.name, lut: opts.lut, input: opts.input, batch: opts.batch }, opts.output ? (name) => write(2, `calibrate: ${name}…\n`) : undefined);
  if (!writeProfile(opts, profile)) return;
  const lut = profile.lut ? `; lookup table: ${profile.lut.length} layer shape${profile.lut.length === 1 ? '' : 's'} measured in ${opts.lut!.length} model${opts.lut!.length === 1 ? '' : 's'}` : '';
  write(2, `wrote ${opts.output}: conv ${profile.gflops.conv} GFLOP/s, 1×1 conv ${profile.gflops.pointwise}, depthwise ${profile.gflops.depthwise}, GEMM ${profile.gflops.gemm}, memory ${profile.memoryGBps} GB/s, ${profile.overheadUs.conv} µs per conv, ${profile.overheadUs.elementwise} µs per elementwise op${lut}\n`);
}

function signed(percent: number): string {
  return `${percent >= 0 ? '+' : '−'}${Math.abs(percent).toFixed(1)}%`;
}

/** The profile on stdout, or in `-o FILE` (written whole, then renamed into place); true when written to a file. */
function writeProfile(opts: CalibrateCliOptions, profile: DeviceProfile): boolean {
  const text = JSON.stringify(profile, null, 2) + '\n';
  if (!opts.output) {
    write(1, text);
    return false;
  }
  const temp = `${opts.output}.tmp-${process.pid}`;
  try {
    writeFileSync(temp, text);
    renameSync(temp, opts.output);
  } catch (error) {
    throw new MbnError('write-failed', `cannot write ${quote(opts.output)}: ${(error as Error).message.split('\n')[0]}`);
  }
  return true;
}
