import { describe, expect, it } from 'vitest';
import { type GlobEntry, type GlobFs, expandGlob, hasMagic, matchGlob, matchName, matchSegment } from '../src/budget/glob.js';

/** An in-memory tree: paths ending in '/' are directories; '@' marks a symbolic link to a directory. */
function fakeFs(paths: string[]): GlobFs {
  const dirs = new Map<string, Map<string, GlobEntry>>();
  const ensure = (d: string) => {
    if (!dirs.has(d)) dirs.set(d, new Map());
    return dirs.get(d)!;
  };
  for (const p of paths) {
    const isDir = p.endsWith('/');
    const parts = p.replace(/\/$/, '').split('/');
    let dir = 'root';
    ensure(dir);
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const link = part.startsWith('@');
      const name = link ? part.slice(1) : part;
      const entryIsDir = !last || isDir;
      ensure(dir).set(name, { name, dir: entryIsDir, link });
      if (entryIsDir) ensure(`${dir}/${name}`);
      dir = `${dir}/${name}`;
    });
  }
  return { list: (d) => [...(dirs.get(d)?.values() ?? [])] };
}

describe('glob: matching', () => {
  it.each([
    ['*.onnx', 'a.onnx', true],
    ['*.onnx', 'a.onnx.data', false],
    ['*.onnx', 'dir/a.onnx', false],
    ['models/*.onnx', 'models/m.onnx', true],
    ['models/**/*.onnx', 'models/m.onnx', true],
    ['models/**/*.onnx', 'models/a/b/c/m.onnx', true],
    ['**/*.onnx', 'x/y.onnx', true],
    ['**', 'x/y.onnx', true],
    ['m?.onnx', 'm1.onnx', true],
    ['m?.onnx', 'm12.onnx', false],
    ['m[0-9].onnx', 'm7.onnx', true],
    ['m[0-9].onnx', 'mx.onnx', false],
    ['m[!0-9].onnx', 'mx.onnx', true],
    ['m[^0-9].onnx', 'm7.onnx', false],
    ['m[ab].onnx', 'mb.onnx', true],
    ['[]]x', ']x', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['(x)+.onnx', '(x)+.onnx', true],
    ['*', '.hidden', false],
    ['.*', '.hidden', true],
    ['**/*.onnx', '.git/x.onnx', false],
    ['m[a-c', 'm[a-c', true],
  ])('%s vs %s → %s', (pattern, path, expected) => {
    expect(matchGlob(pattern, path)).toBe(expected);
  });

  it('knows a plain path from a glob', () => {
    expect(hasMagic('models/a.onnx')).toBe(false);
    expect(hasMagic('models/*.onnx')).toBe(true);
    expect(hasMagic('m?.onnx')).toBe(true);
    expect(hasMagic('m[12].onnx')).toBe(true);
  });

  it('matches one segment without crossing "/"', () => {
    expect(matchSegment('*', 'a/b')).toBe(false);
    expect(matchSegment('a*', 'abc')).toBe(true);
  });
});

describe('glob: expansion over a tree', () => {
  const fs = fakeFs([
    'cfg/models/a.onnx',
    'cfg/models/b.onnx',
    'cfg/models/b.onnx.data',
    'cfg/models/notes.txt',
    'cfg/models/sub/c.onnx',
    'cfg/models/sub/deeper/d.onnx',
    'cfg/models/.cache/e.onnx',
    'cfg/models/node_modules/f.onnx',
    'cfg/models/@linked/g.onnx',
    'cfg/models/dir.onnx/',
    'cfg/other/x.onnx',
  ]);

  it('expands *, relative to the base folder, sorted, files only', () => {
    expect(expandGlob('models/*.onnx', 'root/cfg', fs)).toEqual(['root/cfg/models/a.onnx', 'root/cfg/models/b.onnx']);
  });

  it('expands ** to any depth, skipping dot folders, node_modules and links', () => {
    expect(expandGlob('models/**/*.onnx', 'root/cfg', fs)).toEqual([
      'root/cfg/models/a.onnx',
      'root/cfg/models/b.onnx',
      'root/cfg/models/sub/c.onnx',
      'root/cfg/models/sub/deeper/d.onnx',
    ]);
  });

  it('descends into a link or dot folder named literally', () => {
    expect(expandGlob('models/linked/*.onnx', 'root/cfg', fs)).toEqual(['root/cfg/models/linked/g.onnx']);
    expect(expandGlob('models/.cache/*.onnx', 'root/cfg', fs)).toEqual(['root/cfg/models/.cache/e.onnx']);
  });

  it('handles ?, classes, ./ and ..', () => {
    expect(expandGlob('./models/[ab].onnx', 'root/cfg', fs)).toEqual(['root/cfg/models/a.onnx', 'root/cfg/models/b.onnx']);
    expect(expandGlob('models/?.onnx', 'root/cfg', fs)).toEqual(['root/cfg/models/a.onnx', 'root/cfg/models/b.onnx']);
    expect(expandGlob('../cfg/other/*.onnx', 'root/cfg', fs)).toEqual(['root/cfg/other/x.onnx']);
  });

  it('returns nothing when nothing matches', () => {
    expect(expandGlob('models/*.pt', 'root/cfg', fs)).toEqual([]);
    expect(expandGlob('nope/**/*.onnx', 'root/cfg', fs)).toEqual([]);
  });

  it('a trailing ** matches every file below', () => {
    expect(expandGlob('models/sub/**', 'root/cfg', fs)).toEqual(['root/cfg/models/sub/c.onnx', 'root/cfg/models/sub/deeper/d.onnx']);
  });
});

describe('matchName (node names, --include/--exclude)', () => {
  it('* crosses slashes, ? is one character, everything else is literal', () => {
    expect(matchName('/layer1/*', '/layer1/layer1.0/conv1/Conv')).toBe(true);
    expect(matchName('*conv?/Conv', '/layer1/layer1.0/conv1/Conv')).toBe(true);
    expect(matchName('*conv?/Conv', '/layer1/layer1.0/conv12/Conv')).toBe(false);
    expect(matchName('conv[1]', 'conv[1]')).toBe(true);
    expect(matchName('conv[1]', 'conv1')).toBe(false);
    expect(matchName('a.b', 'aXb')).toBe(false);
    expect(matchName('a\\b', 'a\\b')).toBe(true);
    expect(matchName('*', '.hidden\nline')).toBe(true);
  });
});
