/**
 * Globs, both dialects in one place. Paths (the `model` field of budget entries, `mbn init`): `*` (any run of
 * characters within a path segment), `**` (any number of whole segments, including none), `?` (one character),
 * `[abc]`, `[a-z]`, `[!a-z]` / `[^a-z]` (character classes), and `\` to escape the next character. Paths use `/`
 * (a `\` in a pattern is an escape, so Windows-style separators are not supported in patterns).
 *
 * Like most shells: `*`, `?`, `**` and classes never match a leading `.` of a name (write `.*` to match dot files),
 * and `**` does not descend into symbolic links or `node_modules`.
 *
 * Pure: the expansion walks a directory tree through the `GlobFs` it is given; the CLI passes the real file system.
 */

export interface GlobEntry {
  name: string;
  /** A directory (or a link to one). */
  dir: boolean;
  /** A symbolic link: `**` does not descend into it. */
  link: boolean;
}

export interface GlobFs {
  /** Entries of a directory; [] when it does not exist or is not a directory. */
  list(dir: string): GlobEntry[];
}

/** Does the text contain glob syntax? A pattern without any is a plain path. */
export function hasMagic(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

/** The RegExp source for one path segment (no `/` inside), or throws on an unclosed class. */
function segmentSource(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === '\\') {
      i++;
      out += i < segment.length ? escapeRegExp(segment[i]) : '\\\\';
    } else if (ch === '*') {
      while (segment[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (ch === '?') {
      out += '[^/]';
    } else if (ch === '[') {
      const end = classEnd(segment, i);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, end);
      let negate = false;
      if (body[0] === '!' || body[0] === '^') {
        negate = true;
        body = body.slice(1);
      }
      const escaped = body.replace(/\\(.)/g, '$1').replace(/[\\\]^]/g, (c) => `\\${c}`);
      out += negate ? `[^/${escaped}]` : `[${escaped}]`;
      i = end;
    } else {
      out += escapeRegExp(ch);
    }
  }
  return out;
}

/** Index of the `]` closing the class that opens at `start`, or -1. A `]` right after `[` or `[!` is literal. */
function classEnd(text: string, start: number): number {
  let i = start + 1;
  if (text[i] === '!' || text[i] === '^') i++;
  if (text[i] === ']') i++;
  for (; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === ']') return i;
  }
  return -1;
}

function escapeRegExp(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Splits a pattern into `/`-separated segments (empty segments from `//` or a trailing `/` are dropped). */
function segmentsOf(pattern: string): string[] {
  return pattern.split('/').filter((s, i) => s !== '' || i === 0);
}

/** Does a segment match a name? Wildcards do not match a leading dot unless the pattern starts with one. */
export function matchSegment(segment: string, name: string): boolean {
  if (name.startsWith('.') && !segment.startsWith('.') && !segment.startsWith('\\.')) {
    if (hasMagic(segment)) return false;
  }
  return new RegExp(`^${segmentSource(segment)}$`).test(name);
}

/**
 * The other dialect, for node names (`mbn separate --include/--exclude`): `*` matches any run of characters, slashes
 * included (exporters put scopes in names: `/layer1/layer1.0/conv1/Conv`), `?` one character; everything else,
 * `[`, `]` and `\` included, is literal. Names are not paths: no segments, no dot rule.
 */
export function matchName(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}

/** Does a whole `/`-separated path match the pattern? (Pure; used by tests and by `expandGlob`'s contract.) */
export function matchGlob(pattern: string, path: string): boolean {
  const pat = segmentsOf(pattern);
  const parts = path.split('/').filter((s, i) => s !== '' || i === 0);
  const memo = new Map<string, boolean>();
  const go = (p: number, q: number): boolean => {
    const key = `${p},${q}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (p === pat.length) result = q === parts.length;
    else if (pat[p] === '**') {
      result = go(p + 1, q) || (q < parts.length && !parts[q].startsWith('.') && go(p, q + 1));
    } else result = q < parts.length && matchSegment(pat[p], parts[q]) && go(p + 1, q + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

/**
 * Expands a pattern against a directory tree. `base` is the folder relative patterns start from; the pattern may
 * also be absolute (starting with `/`). Returns matching files (not directories) as `base`-joined paths with `/`,
 * sorted. A pattern without glob syntax returns itself when that file exists.
 */
export function expandGlob(pattern: string, base: string, fs: GlobFs): string[] {
  const absolute = pattern.startsWith('/');
  const segments = segmentsOf(absolute ? pattern.slice(1) : pattern).filter((s) => s !== '.');
  const root = absolute ? '/' : base;
  const found = new Set<string>();
  const join = (dir: string, name: string) => (dir === '' ? name : dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`);
  const seen = new Set<string>();
  const parent = (dir: string) => {
    if (dir === '/') return '/';
    const trimmed = dir.replace(/\/+$/, '');
    const at = trimmed.lastIndexOf('/');
    const last = trimmed.slice(at + 1);
    if (trimmed === '' || last === '..' || last === '.') return join(dir, '..');
    return at < 0 ? '.' : at === 0 ? '/' : trimmed.slice(0, at);
  };

  const walk = (dir: string, i: number): void => {
    const key = `${i}\u0000${dir}`;
    if (seen.has(key)) return;
    seen.add(key);
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '**') {
      if (last) {
        // A trailing `**` matches every file below.
        for (const e of fs.list(dir)) {
          if (e.name.startsWith('.')) continue;
          if (!e.dir) found.add(join(dir, e.name));
          else if (!e.link && e.name !== 'node_modules') walk(join(dir, e.name), i);
        }
        return;
      }
      walk(dir, i + 1);
      for (const e of fs.list(dir)) {
        if (e.dir && !e.link && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(dir, e.name), i);
      }
      return;
    }
    if (segment === '..') {
      if (last) return;
      walk(parent(dir), i + 1);
      return;
    }
    for (const e of fs.list(dir)) {
      if (!matchSegment(segment, e.name)) continue;
      if (last) {
        if (!e.dir) found.add(join(dir, e.name));
      } else if (e.dir) walk(join(dir, e.name), i + 1);
    }
  };
  if (segments.length > 0) walk(root, 0);
  return [...found].sort();
}
