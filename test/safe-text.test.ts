import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { describe as describeValue, parseConfigText } from '../src/budget/config.js';
import { MbnError, quote } from '../src/errors.js';
import { csvField, markdownCode, markdownText, terminalCell, terminalText, workflowData, workflowProperty } from '../src/report/safe-text.js';
import { boxTable, displayWidth } from '../src/report/table.js';
import { parseCsv } from './helpers/csv.js';
import { escapeControls } from '../src/text.js';

const require = createRequire(import.meta.url);
// cli-table3 drew mbn's tables before; it is the reference that boxTable's output must equal.
const CliTable = require('cli-table3') as new (options: object) => string[][] & { toString(): string };

/** The same table through cli-table3, with the options mbn used. */
function reference(head: string[], rows: string[][], aligns: ('left' | 'right')[], compact: boolean): string {
  const table = new CliTable({ head, style: { head: [], border: [], compact }, colAligns: aligns });
  for (const r of rows) table.push(r);
  return table.toString();
}

/** Every character a terminal acts on or that reorders text, and the escapes they must become. */
const HOSTILE: [string, string][] = [
  ['\x1b[2J', '\\x1b[2J'],
  ['\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
  ['a\rb', 'a\\x0db'],
  ['a\bb', 'a\\x08b'],
  ['a\x7fb', 'a\\x7fb'],
  ['a\x9bb', 'a\\x9bb'],
  ['a\nb', 'a\\x0ab'],
  ['\u202egnp.exe', '\\u202egnp.exe'],
  ['\u2066x\u2069', '\\u2066x\\u2069'],
  ['\u202a\u202b\u202c\u202d', '\\u202a\\u202b\\u202c\\u202d'],
  ['/layer1/conv.0/Conv', '/layer1/conv.0/Conv'],
  ['名前 ✔ é', '名前 ✔ é'],
];

describe('terminal text', () => {
  it.each(HOSTILE)('%j is shown escaped', (raw, shown) => {
    expect(escapeControls(raw)).toBe(shown);
    expect(terminalText(raw)).toBe(shown);
  });

  it('a leading :: (a GitHub workflow command) is escaped, also after spaces', () => {
    expect(terminalText('::warning title=x::pwned')).toBe('\\x3a:warning title=x::pwned');
    expect(terminalText('  ::error::x')).toBe('  \\x3a:error::x');
    expect(terminalText('a::b')).toBe('a::b');
  });

  it('cells keep the end of a long name, at most the width given', () => {
    const long = `${'x'.repeat(200_000)}/conv/Conv`;
    const cell = terminalCell(long, 48);
    expect(cell).toHaveLength(48);
    expect(cell.startsWith('…')).toBe(true);
    expect(cell.endsWith('/conv/Conv')).toBe(true);
    // A name of control characters cannot widen the cell past the limit either.
    expect(terminalCell('\x1b'.repeat(1000), 48)).toHaveLength(48);
    // Never half a surrogate pair.
    expect(terminalCell(`a${'😀'.repeat(30)}`, 10)).toBe(`…${'😀'.repeat(4)}`);
  });
});

describe('markdown text', () => {
  it('a name cannot leave its table cell, start a heading, open HTML or code, or mention anyone', () => {
    const name = 'a|b\n\n## INJECTED HEADING <img src=x> `code` @octocat';
    const md = markdownText(name);
    // The escape's own backslash is escaped too, so markdown shows `\x0a`.
    expect(md).toBe('a\\|b\\\\x0a\\\\x0a\\#\\# INJECTED HEADING \\<img src=x\\> \\`code\\` @&#8203;octocat');
    expect(md).not.toMatch(/\n/);
    // Every | left in it is escaped, so a table row keeps its cells.
    expect(md.replace(/\\\|/g, '')).not.toContain('|');
    expect(md).not.toMatch(/(^|[^\\])[<`]/);
    expect(md).not.toMatch(/@octocat/);
  });

  it('ordinary names are unchanged except for markdown punctuation', () => {
    expect(markdownText('/features/features.1/Conv')).toBe('/features/features.1/Conv');
    expect(markdownText('conv_1*')).toBe('conv\\_1\\*');
  });

  it('code spans: a fence longer than any backtick run, | escaped, controls escaped', () => {
    expect(markdownCode('models/a.onnx')).toBe('`models/a.onnx`');
    expect(markdownCode('a`b')).toBe('``a`b``');
    expect(markdownCode('`x``')).toBe('``` `x`` ```');
    expect(markdownCode('a|b\nc')).toBe('`a\\|b\\x0ac`');
  });
});

describe('CSV fields (RFC 4180)', () => {
  it('every name survives a round trip through an RFC 4180 parser', () => {
    const names = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rlf', '=cmd()', '', '\x1b[2J', 'a|b'];
    const text = `${names.map(csvField).join(',')}\n${names.map((n) => csvField(n.length)).join(',')}\n`;
    expect(parseCsv(text)).toEqual([names, names.map((n) => String(n.length))]);
  });
});

describe('GitHub workflow commands', () => {
  it('data and property escaping, as the runner unescapes them', () => {
    expect(workflowData('50% a\nb\r::warning::x')).toBe('50%25 a%0Ab%0D::warning::x');
    expect(workflowProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
  });
});

describe('error quotes', () => {
  it('at most 200 characters of a value, controls escaped', () => {
    expect(quote('x'.repeat(1_000_000), 10_000)).toHaveLength(2 + 200 + 1);
    expect(quote('a\u0000b\u202e')).toBe("'a\\x00b\\u202e'");
  });

  it('describing a config value nested 100,000 deep does not overflow the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(describeValue(deep)).toBe(`an array '${'['.repeat(40)}…'`);
    let caught: unknown;
    try {
      parseConfigText(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, 'c.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MbnError);
    expect((caught as MbnError).message.length).toBeLessThan(400);
  });
});

describe('box tables', () => {
  const symbols = ['✔ pass', '✖ FAIL', '• new', '█▍', '221K → 52.2K', '[1×8×32×32]', '×0.236 (4.2× less)', '名前', '😀', ''];

  it('draw exactly what cli-table3 drew, on 200 seeded random tables', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const word = () => (rand(4) === 0 ? symbols[rand(symbols.length)] : 'abcdefghij/._-0123456789'.slice(rand(10), 10 + rand(14)));
    for (let t = 0; t < 200; t++) {
      const columns = 1 + rand(8);
      const head = Array.from({ length: columns }, () => word());
      const rows = Array.from({ length: rand(12) }, () => Array.from({ length: columns }, () => (rand(10) === 0 ? `${word()}\n${word()}` : word())));
      const aligns = Array.from({ length: columns }, () => (rand(2) ? 'right' : 'left') as 'left' | 'right');
      const compact = rand(2) === 0;
      expect(boxTable({ head, rows, aligns, compact }), JSON.stringify({ head, rows, aligns, compact })).toBe(reference(head, rows, aligns, compact));
    }
  });

  it('colour codes take no width', () => {
    expect(displayWidth('\x1b[1mMACs\x1b[22m')).toBe(4);
    expect(displayWidth('中文')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
  });

  it('a million rows render (cli-table3 overflowed the stack spreading them: push.apply)', () => {
    const rows: string[][] = new Array(1_000_000);
    for (let i = 0; i < rows.length; i++) rows[i] = [`v${i}`, 'Relu'];
    const text = boxTable({ head: ['Layer', 'Op'], rows, compact: true });
    const lines = text.split('\n');
    expect(lines).toHaveLength(1_000_000 + 4);
    expect(lines[1_000_000 + 2]).toBe('│ v999999 │ Relu │');
  });
});
