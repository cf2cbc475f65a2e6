/**
 * A large report as JSON without one string of it all: the same bytes as `JSON.stringify(value, null, 2) + '\n'`,
 * handed to `sink` in pieces. The top-level object's arrays (a report's layers) are written a batch of elements at a
 * time, so a million-layer report never becomes a 400 MB string.
 *
 * Each piece is JSON.stringify's own output for `{ key: batch }`, cut out of its wrapper: the wrapper puts the
 * elements at the depth they have in the whole document, so they come out indented exactly as they would there.
 */
export function streamJson(
  value: Record<string, unknown>,
  sink: (text: string) => void,
  options: { batch?: number; map?: Record<string, (element: any) => unknown> } = {},
): void {
  const batch = options.batch ?? 1024;
  // JSON.stringify leaves out keys whose value has no JSON form (undefined, functions, symbols).
  const keys = Object.keys(value).filter((k) => hasJsonForm(value[k]));
  if (keys.length === 0) {
    sink('{}\n');
    return;
  }
  keys.forEach((key, i) => {
    const map = options.map?.[key];
    const raw = value[key];
    // `map` turns each element of a top-level array into what is written, a batch at a time (never all at once).
    const v = map && Array.isArray(raw) && raw.length <= batch ? raw.map(map) : raw;
    const head = `${i ? ',' : '{'}\n`;
    if (!Array.isArray(v) || v.length <= batch || typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      sink(head + member(key, v));
      return;
    }
    // `{\n  "key": [` … elements … `\n  ]`: the elements of each batch, joined by the commas between batches.
    const open = `  ${JSON.stringify(key)}: [`;
    sink(head + open);
    for (let start = 0; start < v.length; start += batch) {
      const slice = v.slice(start, start + batch);
      const text = member(key, map ? slice.map(map) : slice);
      sink((start ? ',' : '') + text.slice(open.length, text.length - '\n  ]'.length));
    }
    sink('\n  ]');
  });
  sink('\n}\n');
}

/** `  "key": value` as it stands inside the top-level object of JSON.stringify(…, null, 2). */
function member(key: string, v: unknown): string {
  const text = JSON.stringify({ [key]: v }, null, 2);
  return text.slice('{\n'.length, text.length - '\n}'.length);
}

function hasJsonForm(v: unknown): boolean {
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return false;
  // An object's toJSON decides for itself (rare: ask JSON.stringify); anything else has a JSON form.
  return v === null || typeof (v as { toJSON?: unknown }).toJSON !== 'function' || JSON.stringify(v) !== undefined;
}
