import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnergyMeasurement } from '../contract/messages.js';

/**
 * Intel/AMD RAPL energy counters through Linux powercap (`/sys/class/powercap/intel-rapl:N/energy_uj`, one per CPU
 * package; sub-zones such as `intel-rapl:0:0` are parts of a package and are not added again). Root-only since
 * Linux 5.10; absent in most containers and VMs and on Arm boards. A counter wraps at `max_energy_range_uj`.
 */
export interface RaplCounters {
  /** The package zones read, e.g. `intel-rapl:0 (package-0)`. */
  zones: string[];
  /** Microjoules of every zone, now. */
  read(): number[];
  /** Joules between two readings, counting a wrap of each counter. */
  joulesBetween(before: number[], after: number[]): number;
}

/** The package counters under `root`, or why there are none (a code: report/messages/bench.ts words it). */
export function openRapl(root = '/sys/class/powercap'): RaplCounters | { absent: EnergyMeasurement } {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^intel-rapl:\d+$/.test(n)).sort();
  } catch {
    return { absent: { code: 'rapl-absent', root, missing: 'folder' } };
  }
  if (names.length === 0) return { absent: { code: 'rapl-absent', root, missing: 'zone' } };
  const zones = names.map((n) => {
    const dir = join(root, n);
    const label = readText(join(dir, 'name'));
    const range = Number(readText(join(dir, 'max_energy_range_uj')) ?? NaN);
    return { dir, label: label ? `${n} (${label})` : n, range };
  });
  const read = () => zones.map((z) => Number(readFileSync(join(z.dir, 'energy_uj'), 'utf8').trim()));
  try {
    const first = read();
    if (first.some((v) => !Number.isFinite(v))) return { absent: { code: 'rapl-not-a-number', root } };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { absent: { code: 'rapl-unreadable', root, errno: code ?? null } };
  }
  return {
    zones: zones.map((z) => z.label),
    read,
    joulesBetween(before, after) {
      let uj = 0;
      zones.forEach((z, i) => {
        const d = after[i] - before[i];
        uj += d >= 0 ? d : d + (Number.isFinite(z.range) ? z.range : 0);
      });
      return uj / 1e6;
    },
  };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}
