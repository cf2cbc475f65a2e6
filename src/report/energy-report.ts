import type { ChalkInstance } from 'chalk';
import type { LatencyReport } from '../latency/model.js';
import { num } from './html-page.js';
import { markdownText, terminalCell, terminalText } from './safe-text.js';
import { escapeHtml } from './svg-charts.js';
import { boxTable } from './table.js';
import { human, humanBytes, lowerBoundText } from './units.js';
import type { DeviceProfile } from '../contract/device.js';

/**
 * Rendering of the energy estimate of `mbn analyze --device` (src/latency/energy.ts) in every format: the table
 * and Markdown section, the CSV columns and the HTML section. Every rendering says the figure is an estimate.
 */

type Layer = LatencyReport['layers'][number];

/** "0.113 mJ", three significant digits; "?" when unknown. */
export function mjText(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '?';
  return `${Number(value.toPrecision(3))} mJ`;
}

function shareText(value: number, total: number | null | undefined): string {
  return total ? `${((100 * value) / total).toFixed(1)}%` : '';
}

/** Layers with energy of their own, costliest first. */
function ranked(report: LatencyReport): Layer[] {
  return report.layers.filter((l) => (l.energyMj ?? 0) > 0).sort((a, b) => b.energyMj! - a.energyMj!);
}

/** "compute 0.083 mJ (73.3%), data movement 0.030 mJ (26.7%: 0 B from DRAM, 12.1 MB on chip)". */
function splitText(report: LatencyReport): string {
  const t = report.totals;
  const dram = report.layers.reduce((s, l) => s + (l.energyDramBytes ?? 0), 0);
  const chip = report.layers.reduce((s, l) => s + (l.energyOnChipBytes ?? 0), 0);
  return `compute ${mjText(t.computeEnergyMj)} (${shareText(t.computeEnergyMj ?? 0, t.energyMj)}), data movement ${mjText(t.movementEnergyMj)} (${shareText(t.movementEnergyMj ?? 0, t.energyMj)}: ${humanBytes(dram)} from DRAM, ${humanBytes(chip)} on chip)`;
}

function separationText(report: LatencyReport): string | null {
  const t = report.totals;
  if (t.separableLayers === 0 || t.energyMj == null || t.energyIfSeparatedMj == null || t.macs === 0) return null;
  return `Separating ${t.separableLayers} standard conv${t.separableLayers === 1 ? '' : 's'}: energy ${mjText(t.energyMj)} → ${mjText(t.energyIfSeparatedMj)} (×${(t.energyIfSeparatedMj / t.energyMj).toFixed(2)}; MACs ×${(t.macsIfSeparated / t.macs).toFixed(2)})`;
}

function constantsText(profile: DeviceProfile): string {
  const e = profile.energy!;
  return `energy = MACs × pJ/MAC (fp32 ${e.pjPerMac.fp32}, fp16 ${e.pjPerMac.fp16}, int8 ${e.pjPerMac.int8}) + bytes moved × pJ/byte (DRAM ${e.pjPerByteDram}, on chip ${e.pjPerByteOnChip}); an estimate${e.fit ? `, constants fitted to ${e.fit.samples} measured samples (${e.fit.from}, rms error ${(100 * e.fit.rmsRelativeError).toFixed(1)}%)` : ' from published figures (order of magnitude: see the profile\'s energy.sources)'}`;
}

/** Why the total is unknown, in one line. */
function unknownText(profile: DeviceProfile): string {
  return profile.energy
    ? 'unknown: some layer\'s bytes are unknown (give the input shapes with --input)'
    : `unknown: profile ${profile.name} has no "energy" block (the built-in profiles have one; mbn calibrate --energy-samples FILE fits one)`;
}

/** `mbn analyze --device` (table, md): the estimated energy, its split, the costliest layers and separation. */
export function renderEnergy(report: LatencyReport, profile: DeviceProfile, view: { top: number | null; all: boolean; style: ChalkInstance; markdown: boolean }): string {
  const c = view.style;
  const device = view.markdown ? markdownText(profile.name) : terminalText(profile.name);
  const total = report.totals.energyMj ?? null;
  if (total === null) {
    const line = `Estimated energy per inference on ${device}: ${unknownText(profile)}`;
    return view.markdown ? `\n#### ${line}\n` : `\n${c.bold(line)}\n`;
  }
  const title = `Estimated energy per inference on ${device} (estimate): ${lowerBoundText(report, mjText(total))}`;
  const all = ranked(report);
  const rows = view.all ? all : all.slice(0, view.top ?? 10);
  const head = ['Layer', 'Op', 'MACs', 'Precision', 'DRAM', 'On chip', 'Energy', 'Share'];
  const cells = rows.map((l) => [
    view.markdown ? markdownText(l.name) : terminalCell(l.name),
    view.markdown ? markdownText(l.op) : terminalCell(l.op),
    l.macs ? human(l.macs) : '',
    l.energyPrecision ?? '',
    humanBytes(l.energyDramBytes ?? 0),
    humanBytes(l.energyOnChipBytes ?? 0),
    mjText(l.energyMj),
    shareText(l.energyMj!, total),
  ]);
  const split = splitText(report);
  const sep = separationText(report);
  const hidden = all.length - rows.length;
  const footnote = constantsText(profile);
  if (view.markdown) {
    const out = ['', `#### ${title}`, '', `${split}.`, '', `| ${head.join(' | ')} |`, '|---|---|---:|---|---:|---:|---:|---:|'];
    for (const r of cells) out.push(`| ${r.join(' | ')} |`);
    if (hidden > 0) out.push('', `_${hidden} more layers not shown._`);
    if (sep) out.push('', sep + '.');
    out.push('', `_${markdownText(footnote)}._`);
    return out.join('\n') + '\n';
  }
  const table = boxTable({ head: head.map((h) => c.bold(h)), rows: cells, aligns: ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'right'], compact: true });
  const out = ['', c.bold(title), split, table];
  if (hidden > 0) out.push(c.dim(`… ${hidden} more layer${hidden === 1 ? '' : 's'} with energy (--all shows every layer)`));
  if (sep) out.push(c.green(sep));
  out.push(c.dim(terminalText(footnote)));
  return out.join('\n') + '\n';
}

/** The energy columns of `--format csv --device`, after the latency columns. */
export const ENERGY_CSV_HEAD = ['energy_mj_estimate', 'energy_precision', 'energy_dram_bytes', 'energy_onchip_bytes'];

/** One layer's energy cells (raw values; empty where unknown, never 0 for unknown). */
export function energyCsvCells(l: Layer): (string | number)[] {
  return [l.energyMj ?? '', l.energyPrecision ?? '', l.energyDramBytes ?? '', l.energyOnChipBytes ?? ''];
}

/** "Energy budget 0.2 mJ exceeded …", or null when it holds; unknown never passes. */
export function energyBudgetFailure(energyMj: number | null, limitMj: number, name: string): string | null {
  const device = terminalText(name);
  if (energyMj === null) return `Estimated energy on ${device} is unknown, so the budget of ${mjText(limitMj)} cannot pass`;
  if (energyMj <= limitMj) return null;
  const over = energyMj - limitMj;
  return `Estimated energy ${mjText(energyMj)} on ${device} exceeds the budget of ${mjText(limitMj)} by ${mjText(over)} (${((100 * over) / limitMj).toFixed(1)}%)`;
}

/** The "Estimated energy" section of the HTML report. */
export function renderEnergySection(report: LatencyReport, options: { profile: DeviceProfile; top: number | null; all: boolean }): string {
  const { profile } = options;
  const e = escapeHtml;
  const total = report.totals.energyMj ?? null;
  const out = [`<section id="energy"><h2>Estimated energy per inference on ${e(profile.name)}</h2>`];
  if (total === null) {
    out.push(`<p class="note" id="energy-unknown">${e(unknownText(profile))}</p></section>`);
    return out.join('\n');
  }
  out.push('<div class="cards">');
  out.push(`<div class="card" id="energy-total"><div class="k">Energy (estimate)</div><div class="v">${e(lowerBoundText(report, mjText(total)))}</div><div class="x"><span class="warn">estimate</span>: ${e(splitText(report))}</div></div>`);
  const sep = separationText(report);
  if (sep) out.push(`<div class="card" id="energy-separated"><div class="k">If separated</div><div class="v">${e(mjText(report.totals.energyIfSeparatedMj))}</div><div class="x">${e(sep)}</div></div>`);
  out.push('</div>');
  const all = ranked(report);
  const rows = options.all ? all : all.slice(0, options.top ?? 25);
  if (rows.length > 0) {
    out.push(
      '<div class="scroll"><table id="energy-layers"><thead><tr><th data-sort="text">Layer</th><th data-sort="text">Op</th><th class="n" data-sort="num">MACs</th><th data-sort="text">Precision</th><th class="n" data-sort="num">DRAM bytes</th><th class="n" data-sort="num">On-chip bytes</th><th class="n" data-sort="num">Energy</th><th class="n" data-sort="num">Share</th></tr></thead><tbody>',
    );
    for (const l of rows) {
      out.push(
        `<tr><td class="name">${e(l.name)}</td><td>${e(l.op)}</td>${num(l.macs, l.macs ? human(l.macs) : '')}<td>${e(l.energyPrecision ?? '')}</td>${num(l.energyDramBytes ?? 0, humanBytes(l.energyDramBytes ?? 0))}${num(l.energyOnChipBytes ?? 0, humanBytes(l.energyOnChipBytes ?? 0))}${num(l.energyMj!, mjText(l.energyMj))}${num(l.energyMj! / total, shareText(l.energyMj!, total))}</tr>`,
      );
    }
    out.push('</tbody></table></div>');
  }
  out.push(`<p class="note">${e(constantsText(profile))}.</p></section>`);
  return out.join('\n');
}
