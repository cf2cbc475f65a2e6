import { REPORT_CSS, REPORT_SCRIPT } from './html-assets.js';
import { escapeHtml } from './svg-charts.js';

/** The frame both HTML reports (analyze, diff) share: page start and end, the data block, numeric cells. */

/** JSON for a `<script type="application/json">` block: nothing in it can close the block or break a JS parser. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The page up to <body>: no network (a CSP that allows only this page's inline style and script). */
export function pageStart(title: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${REPORT_CSS}</style></head><body>`,
  ].join('\n');
}

/** The page from </main>: footer, tooltip, the data block and the script (then `more`, in the same block). */
export function pageEnd(data: unknown, version: string, more = ''): string {
  return [
    '</main>',
    `<footer>mbn ${escapeHtml(version)} · MACs count Conv, Gemm, MatMul and friends (the torchvision/fvcore convention); FLOPs = 2·MACs + other FLOPs.</footer>`,
    '<div id="tip" role="tooltip"></div>',
    `<script type="application/json" id="mbn-data">${jsonForScript(data)}</script>`,
    `<script>${REPORT_SCRIPT}${more}</script>`,
    '</body></html>',
  ].join('\n');
}

/** A numeric table cell: the text shown, the value to sort by. */
export function num(value: number, text: string): string {
  return `<td class="n" data-v="${Number.isFinite(value) ? value : 0}">${escapeHtml(text)}</td>`;
}
