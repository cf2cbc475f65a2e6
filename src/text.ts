/**
 * Text from models, configs and file names is hostile: it may carry characters that a terminal acts on (ESC
 * sequences, CR, BS), that reorder what is shown (bidi overrides), or that start a new line. These helpers make
 * such text visible instead, and bound its length. Used by error messages (errors.ts) and by every report
 * format (report/safe-text.ts).
 */

/**
 * C0 controls, DEL, C1 controls, the Arabic letter mark, LRM/RLM, the line and paragraph separators, and the bidi
 * embeddings, overrides and isolates (U+202A–202E, U+2066–2069).
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Every control character written as an escape: ESC → `\x1b`, U+202E → `\u202e`. Nothing else changes. */
export function escapeControls(text: string): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(text)) return text;
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** At most `max` UTF-16 units, cut at the end with `…`, never inside a surrogate pair. */
export function clipEnd(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end--;
  return `${text.slice(0, end)}…`;
}

/** At most `max` UTF-16 units, keeping the end (the telling part of a layer name or a path) behind `…`. */
export function clipStart(text: string, max: number): string {
  if (text.length <= max) return text;
  let start = text.length - Math.max(0, max - 1);
  if (start < text.length && isLowSurrogate(text.charCodeAt(start))) start++;
  return `…${text.slice(start)}`;
}

/** At most `max` UTF-16 units, keeping both ends (a layer name's scope and its op) around a `…` in the middle. */
export function clipMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = Math.floor((max - 1) / 2);
  const head = clipEnd(text.slice(0, text.length - tail), max - tail);
  return head.endsWith('…') ? head + clipStart(text, tail + 1).slice(1) : head;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
