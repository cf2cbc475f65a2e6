import { FIGURES } from '../budget/limits.js';
import { human, humanBytes } from './units.js';

/** The figures of `mbn check` and `mbn diff` as text (check-report.ts, diff-report.ts): units, signed changes. */

/** Longest name or path in a line of text. */
export const LINE_WIDTH = 200;

export const isBytes = (metric: string) => FIGURES.find((f) => f.key === metric)?.bytes ?? false;
export const labelOf = (metric: string) => FIGURES.find((f) => f.key === metric)?.label ?? metric;

/** A figure with its unit: "569M", "16.9MB". */
export function fmt(metric: string, n: number): string {
  return isBytes(metric) ? humanBytes(n) : human(n);
}

/** A signed change: "+1.02M", "-3.5MB", "0". */
export function signed(metric: string, n: number): string {
  if (n === 0) return '0';
  const text = fmt(metric, Math.abs(n));
  return n > 0 ? `+${text}` : `-${text}`;
}

export function signedPercent(p: number | null): string {
  if (p === null) return 'new';
  if (p === 0) return '0%';
  // A tiny non-zero change keeps its sign: "+0.0%".
  return `${p > 0 ? '+' : '-'}${Math.abs(p).toFixed(1)}%`;
}
