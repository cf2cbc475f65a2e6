import type { ChalkInstance } from 'chalk';
import { mdEscape, terminalCell } from './safe-text.js';
import { boxTable } from './table.js';
import { bar, human, humanBytes, percent } from './units.js';
import type { ModuleCost } from '../contract/analyze.js';

/** The `--depth N` section of `mbn analyze`: costs rolled up by name scope (src/cost/modules.ts). */

/** What a module row is called: its path, or a label for layers outside any module. */
export function moduleLabel(m: ModuleCost): string {
  return m.name === '' ? '(top level)' : m.name;
}

function moduleCost(m: ModuleCost, flops: boolean): number {
  return flops ? m.flops : m.macs;
}

/** The name shown in a table: the last path segment, indented by depth; control characters shown as \xNN. */
function indentedName(m: ModuleCost): string {
  const last = m.name === '' ? moduleLabel(m) : m.name.slice(m.name.lastIndexOf('/') + 1);
  const printable = last.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `${'  '.repeat(m.depth - 1)}${printable}`;
}

export function moduleHeading(depth: number, modules: readonly ModuleCost[]): string {
  const top = modules.filter((m) => m.depth === 1);
  const note = top.length === 1 && top[0].name === '' ? ' — no layer name has a `/` module scope, so every layer is top level' : '';
  return `By module (depth ${depth})${note}`;
}

export function renderModuleTable(modules: readonly ModuleCost[], depth: number, total: number, flops: boolean, c: ChalkInstance): string {
  const metric = flops ? 'FLOPs' : 'MACs';
  const rows = modules.map((m) => {
    const cost = moduleCost(m, flops);
    const incomplete = m.notCounted > 0 ? c.yellow(` +${m.notCounted} not counted`) : '';
    return [
      terminalCell(indentedName(m)),
      String(m.layers),
      `${human(cost)}${incomplete}`,
      m.params ? human(m.params) : '',
      humanBytes(m.activationBytes),
      `${c.cyan(bar(total ? cost / total : 0, 10))} ${percent(cost, total).padStart(5)}`,
    ];
  });
  const table = boxTable({
    head: ['Module', 'Layers', metric, 'Params', 'Activations', 'Share'].map((h) => c.bold(h)),
    rows,
    aligns: ['left', 'right', 'right', 'right', 'right', 'left'],
    compact: true,
  });
  return `${c.bold(moduleHeading(depth, modules))}\n${table}`;
}

export function renderModuleMarkdown(modules: readonly ModuleCost[], depth: number, total: number, flops: boolean): string {
  const metric = flops ? 'FLOPs' : 'MACs';
  const out = [`#### ${mdEscape(moduleHeading(depth, modules))}`, '', `| Module | Layers | ${metric} | Params | Share |`, '|---|---:|---:|---:|---:|'];
  for (const m of modules) {
    const cost = moduleCost(m, flops);
    const name = `${'&nbsp;&nbsp;'.repeat(m.depth - 1)}${mdEscape(m.depth === 1 ? moduleLabel(m) : indentedName(m).trimStart())}`;
    const incomplete = m.notCounted > 0 ? ` (+${m.notCounted} not counted)` : '';
    out.push(`| ${name} | ${m.layers} | ${human(cost)}${incomplete} | ${m.params ? human(m.params) : ''} | ${percent(cost, total)} |`);
  }
  return out.join('\n');
}

