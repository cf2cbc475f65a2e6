// The quantity helpers live in src/units.ts (shared with budget/); re-exported for the renderers.
export { human, humanBytes } from '../units.js';

export function percent(part: number, whole: number, digits = 1): string {
  if (whole === 0) return '0%';
  return `${((100 * part) / whole).toFixed(digits)}%`;
}

/**
 * `1,234,567`: digits in groups of three, as `toLocaleString('en-US')` writes them. Safe integers (every count) are
 * grouped here, because the first toLocaleString of a process builds an ICU number formatter, a noticeable part of
 * mbn's start-up; anything else (fractions, -0, huge or non-finite values) still goes through it.
 */
export function grouped(n: number): string {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/** A shape in tables: `[1×3×224×224]`, `[]` for a scalar, `?` when unknown. */
export function shapeText(shape: readonly number[] | null): string {
  return shape ? `[${shape.join('×')}]` : '?';
}

/** A shape in CSV and flag syntax: `1x3x224x224`, `[]` for a scalar, `?` when unknown (never an empty cell). */
export function dimsText(shape: readonly number[] | null): string {
  if (!shape) return '?';
  return shape.length > 0 ? shape.join('x') : '[]';
}

/** A horizontal bar of `width` cells for a fraction in [0, 1], with eighth-cell resolution. */
export function bar(fraction: number, width = 12): string {
  // Round once, in eighths: a last cell that rounds up to 8/8 becomes a full cell (there is no 8/8 partial glyph).
  const eighths = Math.round((Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0) * width * 8);
  const full = Math.floor(eighths / 8);
  const partial = eighths % 8;
  const glyphs = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  return ('█'.repeat(full) + glyphs[partial]).padEnd(width, ' ');
}

/** The format and producer part of a report's header: `IR 8 · opset 13 · pytorch 2.1`, or `TFLite schema 3 · MLIR Converted.` */
export function formatText(model: { irVersion: number; opsets: Record<string, number>; producer: string }, producer: string): string {
  if (model.opsets.tflite !== undefined) return `TFLite schema ${model.opsets.tflite} · ${producer.replace(/^TFLite ?/, '') || 'unknown producer'}`;
  return `IR ${model.irVersion} · opset ${model.opsets['ai.onnx'] ?? '?'} · ${producer || 'unknown producer'}`;
}

/** A time given in ms, to 3 significant figures without trailing zeros (`1.5 ms`), as messages word it. */
export function shortMs(ms: number): string {
  return `${Number(ms.toPrecision(3))} ms`;
}

/** The same in µs (`488 µs`), for the small differences one layer makes. */
export function shortUs(ms: number): string {
  return `${Number((ms * 1e3).toPrecision(3))} µs`;
}

/**
 * A total as the report states it: an incomplete analysis adds up only the layers it counted, so its total is a
 * lower bound ("at least 46.6 µs (incomplete analysis)"), never a figure that reads as the whole model's.
 */
export function lowerBoundText(report: { totals: { complete: boolean } }, text: string): string {
  return report.totals.complete ? text : `at least ${text} (incomplete analysis)`;
}
