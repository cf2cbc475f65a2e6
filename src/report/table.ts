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
  if (PRINTABLE_ASCII.test(plain)) return plain.length;
  let width = 0;
  let previous = 0;
  for (const ch of plain) {
    const cp = ch.codePointAt(0)!;
    // VS16 asks for emoji presentation: a one-column symbol becomes two.
    if (cp === 0xfe0f && previous === 1) {
      width += 1;
      previous = 2;
      continue;
    }
    previous = codePointWidth(cp, ch);
    width += previous;
  }
  return width;
}

const widthCache = new Map<number, number>();
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\ufe00-\ufe0f]$/u;
const EMOJI = /^\p{Emoji_Presentation}$/u;

function codePointWidth(cp: number, ch: string): number {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  let w = widthCache.get(cp);
  if (w === undefined) {
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

interface Cell {
  lines: string[];
  widths: number[];
}

function cellOf(text: string): Cell {
  const lines = text.split('\n');
  return { lines, widths: lines.map(displayWidth) };
}

/** The table as text, without a final newline. */
export function boxTable(spec: TableSpec): string {
  const columns = spec.head.length;
  const aligns = spec.aligns ?? [];
  const head = spec.head.map(cellOf);
  const body: Cell[][] = new Array(spec.rows.length);
  // Content width of each column: its widest line (1 padding space each side comes on top).
  const width = head.map((c) => Math.max(0, ...c.widths));
  for (let r = 0; r < spec.rows.length; r++) {
    const row = spec.rows[r];
    const cells: Cell[] = new Array(columns);
    for (let j = 0; j < columns; j++) {
      const cell = cellOf(row[j] ?? '');
      cells[j] = cell;
      for (const w of cell.widths) if (w > width[j]) width[j] = w;
    }
    body[r] = cells;
  }
  const rule = (left: string, mid: string, right: string) => left + width.map((w) => '─'.repeat(w + 2)).join(mid) + right;
  const out: string[] = [rule('┌', '┬', '┐')];
  const draw = (cells: Cell[]) => {
    const height = Math.max(1, ...cells.map((c) => c.lines.length));
    for (let line = 0; line < height; line++) {
      let text = '│';
      for (let j = 0; j < columns; j++) {
        const cell = cells[j];
        const content = line < cell.lines.length ? cell.lines[line] : '';
        const padding = ' '.repeat(width[j] - (line < cell.lines.length ? cell.widths[line] : 0));
        text += aligns[j] === 'right' ? ` ${padding}${content} │` : ` ${content}${padding} │`;
      }
      out.push(text);
    }
  };
  draw(head);
  const middle = rule('├', '┼', '┤');
  for (let r = 0; r < body.length; r++) {
    if (r === 0 || !spec.compact) out.push(middle);
    draw(body[r]);
  }
  out.push(rule('└', '┴', '┘'));
  return out.join('\n');
}
