import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../src/api/analyze.js';
import { fitLayerColumns, renderTable } from '../src/report/analyze-report.js';
import { makeStyle } from '../src/report/style.js';
import { displayWidth } from '../src/report/table.js';
import { clipMiddle } from '../src/text.js';
import { fixture } from './helpers/cli.js';

/** The layer table on a terminal: as wide as the terminal, names shortened in the middle, low-value columns dropped. */
const plain = makeStyle({ isTTY: false }, false);
const W025 = analyzeFile(fixture('models/mobilenet_v1_w025.onnx')).report;
const view = (width: number | null) => ({ flops: false, top: 3, all: false, style: plain, modules: null, width });

// mobilenet_v1_w025's top-3 table at full width: Layer 48 (names clipped at 48), Op 4, Output 12, MACs 4,
// Params 6, Share 16, Separable 9 → 1 + Σ(w + 3) = 121 columns.
const WIDTHS = [48, 4, 12, 4, 6, 16, 9];

describe('fitLayerColumns', () => {
  it('shortens the names first, down to 20, then drops Output, Separable, Share, Params in turn', () => {
    expect(fitLayerColumns(WIDTHS, 121)).toEqual({ keep: [0, 1, 2, 3, 4, 5, 6], nameWidth: 48 });
    expect(fitLayerColumns(WIDTHS, 120)).toEqual({ keep: [0, 1, 2, 3, 4, 5, 6], nameWidth: 47 });
    // The other columns take 1 + 7 + 15 + 7 + 9 + 19 + 12 + 3 = 73: 27 are left for names.
    expect(fitLayerColumns(WIDTHS, 100)).toEqual({ keep: [0, 1, 2, 3, 4, 5, 6], nameWidth: 27 });
    // 80 − 73 = 7 < 20: Output (15) goes, 22 left.
    expect(fitLayerColumns(WIDTHS, 80)).toEqual({ keep: [0, 1, 3, 4, 5, 6], nameWidth: 22 });
    // Every droppable column gone: Layer, Op, MACs take 18 + the names' 22.
    expect(fitLayerColumns(WIDTHS, 40)).toEqual({ keep: [0, 1, 3], nameWidth: 22 });
    // Narrower than that cannot fit: the names keep 20 and the table overflows.
    expect(fitLayerColumns(WIDTHS, 10)).toEqual({ keep: [0, 1, 3], nameWidth: 20 });
  });

  it('short names are never padded out to the minimum', () => {
    expect(fitLayerColumns([12, 4, 12, 4, 6, 16, 9], 70)).toEqual({ keep: [0, 1, 3, 4, 5, 6], nameWidth: 12 });
  });
});

describe('renderTable with a terminal width', () => {
  it('every line of the layer table fits, from 40 to 160 columns', () => {
    for (let width = 40; width <= 160; width += 7) {
      const lines = renderTable(W025, view(width)).split('\n');
      const table = lines.slice(lines.findIndex((l) => l.startsWith('┌')), lines.findIndex((l) => l.startsWith('└')) + 1);
      expect(table.length).toBe(7);
      for (const line of table) expect(displayWidth(line)).toBeLessThanOrEqual(width);
    }
  });

  it('names are shortened in the middle, the dropped columns are named; piped (no width) nothing changes', () => {
    const narrow = renderTable(W025, view(80));
    const name = '/features/features.3/features.3.1/features.3.1.0/Conv';
    expect(narrow).toContain(`│ ${clipMiddle(name, 22)} │ Conv │`);
    expect(clipMiddle(name, 22)).toBe('/features/f…3.1.0/Conv');
    expect(narrow).toContain('(Output left out to fit the terminal; piped, all columns show)');
    expect(narrow).toContain('│ Layer                  │ Op   │ MACs │ Params │ Share            │ Separable │');
    const full = renderTable(W025, view(null));
    expect(full).toBe(renderTable(W025, view(121)));
    expect(full).toContain('│ Layer ');
    expect(full).toContain('│ Op   │ Output       │ MACs │');
    expect(full).not.toContain('left out');
  });
});
