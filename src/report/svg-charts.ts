/**
 * Plain SVG charts for the HTML report, written as text: no charting library, no script needed to see them. Every
 * string that comes from a model goes through `escapeHtml` (names are hostile input).
 */

/** Text safe in HTML and SVG content and in double- or single-quoted attributes; control characters shown as \xNN. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'\u0000-\u001f\u007f\u2028\u2029]/g, (ch) => {
    switch (ch) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      case "'": return '&#39;';
      default: return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}

/** A number for an SVG attribute: two decimals at most, no exponent. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}

export interface Bar {
  value: number;
  /** CSS class of the bar (colour by op family). */
  cls: string;
  /** Index into the report's layers, for the script's tooltip. */
  index: number;
  /** Position on the axis when layers are left out of the chart (default: `index`). */
  slot?: number;
}

const LAYER_CHART = { width: 1200, height: 260, left: 64, right: 8, top: 10, bottom: 24 };

/**
 * Bars in model order, one per layer (zero-height bars are left out). `log` uses a log10 axis from the smallest
 * non-zero value's decade; `label` formats the axis ticks.
 */
export function layerBarChart(bars: readonly Bar[], count: number, log: boolean, label: (v: number) => string, title: string): string {
  const { width, height, left, right, top, bottom } = LAYER_CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const values = bars.map((b) => b.value).filter((v) => v > 0);
  const max = values.length ? Math.max(...values) : 1;
  const minDecade = values.length ? Math.floor(Math.log10(Math.min(...values))) : 0;
  const maxDecade = Math.max(minDecade + 1, Math.ceil(Math.log10(max)));
  const scale = (v: number): number => {
    if (v <= 0) return 0;
    if (!log) return (v / max) * plotH;
    return ((Math.log10(v) - minDecade) / (maxDecade - minDecade)) * plotH;
  };
  const step = plotW / Math.max(1, count);
  const barW = Math.max(0.5, step * 0.8);
  const out: string[] = [];
  out.push(`<svg class="chart layer-chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`);
  // Axis ticks: 0, ¼, ½, ¾ and the max (linear), or every decade (log).
  const ticks = log
    ? Array.from({ length: maxDecade - minDecade + 1 }, (_, i) => 10 ** (minDecade + i))
    : [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  for (const t of ticks) {
    const y = top + plotH - scale(t);
    out.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${n(y)}" y2="${n(y)}"/>`);
    out.push(`<text class="tick" x="${left - 6}" y="${n(y + 4)}" text-anchor="end">${escapeHtml(label(t))}</text>`);
  }
  for (const b of bars) {
    if (b.value <= 0) continue;
    const h = Math.max(0.5, scale(b.value));
    out.push(`<rect class="${b.cls}" data-i="${b.index}" x="${n(left + (b.slot ?? b.index) * step)}" y="${n(top + plotH - h)}" width="${n(barW)}" height="${n(h)}"/>`);
  }
  out.push(`<line class="axis" x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}"/>`);
  out.push(`<text class="tick" x="${left}" y="${height - 6}">layer 1</text>`);
  out.push(`<text class="tick" x="${width - right}" y="${height - 6}" text-anchor="end">layer ${count}</text>`);
  out.push('</svg>');
  return out.join('');
}

export interface HBar {
  label: string;
  /** Stacked segments, each with its CSS class. */
  segments: { value: number; cls: string }[];
  text: string;
}

/** Horizontal bars with a label on the left and a value on the right (cost by op type). */
export function horizontalBarChart(rows: readonly HBar[], title: string): string {
  const width = 1200;
  const rowH = 22;
  const left = 200;
  const right = 200;
  const height = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => r.segments.reduce((s, x) => s + x.value, 0)));
  const out = [`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`];
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    out.push(`<text class="label" x="${left - 8}" y="${y + 15}" text-anchor="end">${escapeHtml(clip(r.label, 28))}</text>`);
    let x = left;
    for (const s of r.segments) {
      if (s.value <= 0) continue;
      const w = Math.max(1, (s.value / max) * (width - left - right));
      out.push(`<rect class="${s.cls}" x="${n(x)}" y="${y + 3}" width="${n(w)}" height="${rowH - 6}"/>`);
      x += w;
    }
    out.push(`<text class="value" x="${n(x + 6)}" y="${y + 15}">${escapeHtml(r.text)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

export interface TreeNode {
  label: string;
  value: number;
  /** Tooltip text. */
  detail: string;
  children: TreeNode[];
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Squarified treemap layout (Bruls, Huizing, van Wijk 2000): rows of items laid along the shorter side, each row
 * closed when adding the next item would worsen the worst aspect ratio. Values must be > 0; returns one rect per item.
 */
export function squarify(values: readonly number[], box: Rect): Rect[] {
  const total = values.reduce((a, b) => a + b, 0);
  const out: Rect[] = new Array(values.length);
  if (total <= 0) return values.map(() => ({ x: box.x, y: box.y, w: 0, h: 0 }));
  const area = box.w * box.h;
  const order = values.map((v, i) => ({ v: (v / total) * area, i })).sort((a, b) => b.v - a.v);
  let rest = { ...box };
  let row: typeof order = [];
  const worst = (items: typeof order, side: number): number => {
    const sum = items.reduce((s, x) => s + x.v, 0);
    let w = 0;
    for (const x of items) w = Math.max(w, Math.max((side * side * x.v) / (sum * sum), (sum * sum) / (side * side * x.v)));
    return w;
  };
  const layoutRow = (items: typeof order): void => {
    const sum = items.reduce((s, x) => s + x.v, 0);
    if (rest.w >= rest.h) {
      const w = rest.h > 0 ? sum / rest.h : 0;
      let y = rest.y;
      for (const x of items) {
        const h = w > 0 ? x.v / w : 0;
        out[x.i] = { x: rest.x, y, w, h };
        y += h;
      }
      rest = { x: rest.x + w, y: rest.y, w: rest.w - w, h: rest.h };
    } else {
      const h = rest.w > 0 ? sum / rest.w : 0;
      let x0 = rest.x;
      for (const x of items) {
        const w = h > 0 ? x.v / h : 0;
        out[x.i] = { x: x0, y: rest.y, w, h };
        x0 += w;
      }
      rest = { x: rest.x, y: rest.y + h, w: rest.w, h: rest.h - h };
    }
  };
  for (const item of order) {
    const side = Math.min(rest.w, rest.h);
    if (row.length === 0 || worst([...row, item], side) <= worst(row, side)) row.push(item);
    else {
      layoutRow(row);
      row = [item];
    }
  }
  if (row.length) layoutRow(row);
  return out;
}

/** A two-level treemap: top-level modules, their children drawn inside them. Zero-valued nodes are left out. */
export function treemap(nodes: readonly TreeNode[], title: string): string {
  const width = 1200;
  const height = 420;
  const out = [`<svg class="chart treemap" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`];
  const draw = (items: readonly TreeNode[], box: Rect, depth: number): void => {
    const shown = items.filter((t) => t.value > 0);
    const rects = squarify(shown.map((t) => t.value), box);
    shown.forEach((t, i) => {
      const r = rects[i];
      if (r.w < 0.5 || r.h < 0.5) return;
      out.push(`<g><title>${escapeHtml(t.detail)}</title>`);
      // Top-level modules get a colour each; their children are lighter tints of it.
      out.push(`<rect class="tm d${depth}${depth === 1 ? ` c${i % 8}` : ''}" x="${n(r.x)}" y="${n(r.y)}" width="${n(r.w)}" height="${n(r.h)}"/>`);
      const labelFits = r.w > 60 && r.h > 18;
      if (labelFits) {
        const chars = Math.floor((r.w - 8) / 7);
        out.push(`<text class="tm-label" x="${n(r.x + 4)}" y="${n(r.y + 14)}">${escapeHtml(clip(t.label, chars))}</text>`);
      }
      out.push('</g>');
      if (t.children.length > 0 && depth === 1 && r.w > 24 && r.h > 36) {
        draw(t.children, { x: r.x + 3, y: r.y + 20, w: r.w - 6, h: r.h - 23 }, 2);
      }
    });
  };
  draw(nodes, { x: 0, y: 0, w: width, h: height }, 1);
  out.push('</svg>');
  return out.join('');
}

export interface PairRow {
  label: string;
  base: number;
  head: number;
  text: string;
}

/** Before/after bars per row: the base value in grey above the head value in colour, on one scale. */
export function pairedBarChart(rows: readonly PairRow[], title: string): string {
  const width = 1200;
  const rowH = 30;
  const left = 220;
  const right = 220;
  const height = rows.length * rowH + 8;
  const max = Math.max(1, ...rows.flatMap((r) => [r.base, r.head]));
  const scale = (v: number) => (v > 0 ? Math.max(1, (v / max) * (width - left - right)) : 0);
  const out = [`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">`];
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    out.push(`<text class="label" x="${left - 8}" y="${y + 18}" text-anchor="end">${escapeHtml(clip(r.label, 30))}</text>`);
    out.push(`<rect class="k-other2" x="${left}" y="${y + 3}" width="${n(scale(r.base))}" height="11"/>`);
    out.push(`<rect class="k-conv" x="${left}" y="${y + 15}" width="${n(scale(r.head))}" height="11"/>`);
    out.push(`<text class="value" x="${n(left + Math.max(scale(r.base), scale(r.head)) + 6)}" y="${y + 18}">${escapeHtml(r.text)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

/** Shortens text to `max` characters with an ellipsis in the middle (both ends of a layer name carry meaning). */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…';
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
}
