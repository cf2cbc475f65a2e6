/** A reference parser for an RFC 4180 record set (quoted fields may hold commas, quotes, CR and LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (ch === '"') (quoted = false), i++;
      else (field += ch), i++;
    } else if (ch === '"' && field === '') (quoted = true), i++;
    else if (ch === ',') row.push(field), (field = ''), i++;
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = ''), i++;
    else (field += ch), i++;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}
