/**
 * A large report as JSON without one string of it all: the same bytes as `JSON.stringify(value, null, 2) + '\n'`,
 * handed to `sink` in pieces of about `chunk` characters. The top-level object's arrays (a report's layers) are
 * written one element at a time, so a million-layer report never becomes a 400 MB string.
 */
export function streamJson(value: Record<string, unknown>, sink: (text: string) => void, chunk = 1 << 16): void {
  let pending = '';
  const emit = (text: string) => {
    pending += text;
    if (pending.length >= chunk) {
      sink(pending);
      pending = '';
    }
  };
  // JSON.stringify leaves out keys whose value has no JSON form (undefined, functions, symbols).
  const entries = Object.keys(value).filter((k) => hasJsonForm(value[k]));
  if (entries.length === 0) {
    sink('{}\n');
    return;
  }
  emit('{');
  entries.forEach((key, i) => {
    emit(`${i ? ',' : ''}\n  ${JSON.stringify(key)}: `);
    const v = value[key];
    if (Array.isArray(v) && v.length > 0 && typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
      emit('[');
      for (let j = 0; j < v.length; j++) {
        // An element with no JSON form is written as null, as JSON.stringify does inside arrays.
        emit(`${j ? ',' : ''}\n    ${indent(JSON.stringify(v[j], null, 2) ?? 'null', '    ')}`);
      }
      emit('\n  ]');
    } else {
      emit(indent(JSON.stringify(v, null, 2), '  '));
    }
  });
  emit('\n}\n');
  if (pending) sink(pending);
}

function hasJsonForm(v: unknown): boolean {
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return false;
  // An object's toJSON decides for itself (rare: ask JSON.stringify); anything else has a JSON form.
  return v === null || typeof (v as { toJSON?: unknown }).toJSON !== 'function' || JSON.stringify(v) !== undefined;
}

/** JSON text nested one level deeper: its strings hold no raw newlines, so every newline starts a line of it. */
function indent(json: string, by: string): string {
  return json.includes('\n') ? json.replace(/\n/g, `\n${by}`) : json;
}
