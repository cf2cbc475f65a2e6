import { clipMiddle, clipStart, escapeControls } from '../text.js';

/**
 * The one place where text that mbn did not write (node and op names, file names, config names and patterns,
 * notes that quote them) is made safe for the format it is printed in. Every renderer passes such text through
 * one of these on its way out:
 *
 * - terminal (table and text lines): control characters escaped (`\x1b`, `\u202e`), so nothing reaches the
 *   terminal raw, with or without colour, and no newline splits a row; a leading `::` is escaped too, because
 *   GitHub's runner reads any stdout line that starts with `::` (after spaces) as a workflow command;
 * - markdown (PR comments): controls escaped, then the characters markdown acts on, `@` mentions defused;
 * - CSV: RFC 4180 quoting, the data as is;
 * - GitHub workflow commands: the runner's own escaping of data and properties;
 * - JSON needs nothing: JSON.stringify escapes what could break a line, and the data stays exact.
 */

/** Widest name cell in a terminal table; longer names keep their end behind `…`. */
export const NAME_WIDTH = 48;
/** Widest file path cell in a terminal table. */
export const PATH_WIDTH = 80;
/** Widest name cell in a markdown table. */
export const MD_NAME_WIDTH = 120;

/** Text for a terminal line: controls escaped, and never the start of a workflow command. */
export function terminalText(text: string): string {
  return noCommand(escapeControls(text));
}

/** A terminal table cell from data: escaped, then clipped to `max` characters keeping the end. */
export function terminalCell(text: string, max = NAME_WIDTH): string {
  return noCommand(clipStart(escapeControls(text), max));
}

/** A terminal table cell clipped in the middle: a layer's scope and its op name both stay (tables fit to a terminal). */
export function terminalCellMiddle(text: string, max: number): string {
  return noCommand(clipMiddle(escapeControls(text), max));
}

/** Escaped text that cannot start a workflow command: a leading `::` (after spaces) becomes `\x3a:`. */
function noCommand(escaped: string): string {
  return escaped.includes('::') && /^\s*::/.test(escaped) ? escaped.replace(':', '\\x3a') : escaped;
}

/**
 * Text for markdown, in a table cell or a list item: controls escaped (so no newline ends the cell or starts a
 * heading), markdown's punctuation backslash-escaped (`|` stays in its cell, `<` opens no HTML, backticks no code,
 * `#` no heading), and `@` followed by a zero-width space so that a name never mentions anyone.
 */
export function markdownText(text: string, max = Infinity): string {
  const clipped = max < Infinity ? clipStart(text, max) : text;
  return escapeControls(clipped)
    .replace(/[\\`*_~<>[\]|&$#!]/g, (ch) => `\\${ch}`)
    .replace(/@/g, '@&#8203;');
}

/** Data in a markdown table cell or list item: escaped, and clipped to MD_NAME_WIDTH keeping the end. */
export function mdEscape(text: string): string {
  return markdownText(text, MD_NAME_WIDTH);
}

/**
 * Data as a markdown code span (a path): controls escaped, `|` escaped (GFM splits table cells on it even inside
 * code), and a fence of backticks longer than any run inside it.
 */
export function markdownCode(text: string, max = Infinity): string {
  const clipped = max < Infinity ? clipStart(text, max) : text;
  const body = escapeControls(clipped).replace(/\|/g, '\\|');
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/**
 * One CSV field per RFC 4180: quoted, with quotes doubled, when it holds a quote, a comma, CR or LF. A field that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is quoted too. The data itself is unchanged.
 */
export function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) || /^[=+\-@]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** GitHub Actions workflow-command data: '%', CR and LF escaped, so a message stays one command. */
export function workflowData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow-command property value (file=, title=): as data, and ':' and ',' too. */
export function workflowProperty(text: string): string {
  return workflowData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
