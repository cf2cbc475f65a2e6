/**
 * Box-drawn terminal tables, in linear time. This draws what cli-table3 drew for mbn's tables (the same characters,
 * padding and alignment, so reports look as they did), without its layout pass: cli-table3 checks every cell
 * against every cell of the rows above it for row and column spans (`fillInTable` → `conflictExists`), which is
 * quadratic in the rows (160 s for 40,000 layers), and it spreads all rows into one call (`push.apply`), which
 * overflows the stack at about a million. mbn's tables have no spans, so every column's width is one pass over its
 * cells and every row is drawn on its own.
 *
 * Cells are text that the caller has already made safe (report/safe-text.ts) and styled; a `\n` in a cell is a
 * line break inside the cell (a taller row).
 */

export type Align = 'left' | 'right';

export interface TableSpec {
  head: string[];
  rows: string[][];
  /** Per column; default left. */
  aligns?: Align[];
  /** No rule between body rows (the rule under the head stays). */
  compact?: boolean;
}

const ANSI_SGR = /\u001b\[[0-9;]*m/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Columns a string takes in a terminal: colour codes take none, wide East Asian characters and emoji take two. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  const plain = text.includes('\u001b') ? text.replace(ANSI_SGR, '') : text;
  let width = 0;
  let previous = 0;
  for (let i = 0; i < plain.length; i++) {
    let cp = plain.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < plain.length) {
      const low = plain.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = (cp - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
        i++;
      }
    }
    // VS16 asks for emoji presentation: a one-column symbol becomes two.
    if (cp === 0xfe0f && previous === 1) {
      width += 1;
      previous = 2;
      continue;
    }
    previous = codePointWidth(cp);
    width += previous;
  }
  return width;
}

const widthCache = new Map<number, number>();
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\ufe00-\ufe0f]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

function codePointWidth(cp: number): number {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  let w = widthCache.get(cp);
  if (w === undefined) {
    const ch = String.fromCodePoint(cp);
    w = ZERO_WIDTH.test(ch) ? 0 : isWide(cp) || EMOJI.test(ch) ? 2 : 1;
    widthCache.set(cp, w);
  }
  return w;
}

/** East Asian Wide and Fullwidth ranges (as is-fullwidth-code-point, which cli-table3's string-width uses). */
function isWide(cp: number): boolean {
  return (
    cp >= 0x1100 &&
    (cp <= 0x115f ||
      cp === 0x2329 ||
      cp === 0x232a ||
      (cp >= 0x2e80 && cp <= 0x3247 && cp !== 0x303f) ||
      (cp >= 0x3250 && cp <= 0x4dbf) ||
      (cp >= 0x4e00 && cp <= 0xa4c6) ||
      (cp >= 0xa960 && cp <= 0xa97c) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe10 && cp <= 0xfe19) ||
      (cp >= 0xfe30 && cp <= 0xfe6b) ||
      (cp >= 0xff01 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      (cp >= 0x1b000 && cp <= 0x1b001) ||
      (cp >= 0x1f200 && cp <= 0x1f251) ||
      (cp >= 0x20000 && cp <= 0x3fffd))
  );
}

/** `n` spaces, from a cache: padding is most of what a table is made of. */
const spaces: string[] = [''];
function pad(n: number): string {
  while (spaces.length <= n) spaces.push(`${spaces[spaces.length - 1]} `);
  return spaces[n];
}

/** A cell's width, or -1 for a cell of several lines (rare: measured again when drawn). */
function measure(text: string): number {
  if (!text.includes('\n')) return displayWidth(text);
  return -1;
}

function linesOf(text: string): { lines: string[]; widths: number[] } {
  const lines = text.split('\n');
  return { lines, widths: lines.map(displayWidth) };
}

/** The table as text, without a final newline. Time and memory are linear in the cells. */
export function boxTable(spec: TableSpec): string {
  const columns = spec.head.length;
  const right = Array.from({ length: columns }, (_, j) => spec.aligns?.[j] === 'right');
  const rows = spec.rows;
  // Content width of each column: its widest line (one padding space each side comes on top).
  const width = new Array<number>(columns).fill(0);
  // Each body cell's width, row after row; -1 marks a cell of several lines.
  const cellWidth = new Float64Array(rows.length * columns);
  const widen = (j: number, text: string): number => {
    const w = measure(text);
    if (w >= 0) {
      if (w > width[j]) width[j] = w;
    } else {
      for (const lw of linesOf(text).widths) if (lw > width[j]) width[j] = lw;
    }
    return w;
  };
  spec.head.forEach((h, j) => widen(j, h));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let j = 0; j < columns; j++) cellWidth[r * columns + j] = widen(j, row[j] ?? '');
  }
  const rule = (left: string, mid: string, end: string) => left + width.map((w) => '─'.repeat(w + 2)).join(mid) + end;
  const out: string[] = [rule('┌', '┬', '┐')];
  const drawTall = (cells: readonly string[]) => {
    const split = Array.from({ length: columns }, (_, j) => linesOf(cells[j] ?? ''));
    const height = Math.max(...split.map((c) => c.lines.length));
    for (let line = 0; line < height; line++) {
      let text = '│';
      for (let j = 0; j < columns; j++) {
        const content = split[j].lines[line] ?? '';
        const padding = pad(width[j] - (split[j].widths[line] ?? 0));
        text += right[j] ? ` ${padding}${content} │` : ` ${content}${padding} │`;
      }
      out.push(text);
    }
  };
  // A line is joined from its pieces once: concatenating them one by one builds a rope per line, twice as slow.
  const parts: string[] = [];
  const draw = (cells: readonly string[], widths: ArrayLike<number>, base: number) => {
    parts.length = 0;
    parts.push('│');
    for (let j = 0; j < columns; j++) {
      const w = widths[base + j];
      if (w < 0) return drawTall(cells);
      if (right[j]) parts.push(' ', pad(width[j] - w), cells[j] ?? '', ' │');
      else parts.push(' ', cells[j] ?? '', pad(width[j] - w), ' │');
    }
    out.push(parts.join(''));
  };
  draw(spec.head, spec.head.map(measure), 0);
  const middle = rule('├', '┼', '┤');
  for (let r = 0; r < rows.length; r++) {
    if (r === 0 || !spec.compact) out.push(middle);
    draw(rows[r], cellWidth, r * columns);
  }
  out.push(rule('└', '┴', '┘'));
  return out.join('\n');
}
