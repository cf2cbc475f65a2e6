/**
 * Quantities: reading "600M" / "20MB" and writing 1,234,567 as "1.23M". Below both budget/ (limits are quantities)
 * and report/ (which renders them), so the pure gate does not depend on presentation.
 */

/** Readable numbers: 1,234,567 → "1.23M". Counts use powers of 1000; bytes use KB/MB/GB (1000) like size-limit. */
export function human(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, suffix] of units) {
    if (abs >= scale) return `${trim((n / scale).toPrecision(digits))}${suffix}`;
  }
  return String(Number.isInteger(n) ? n : Number(n.toPrecision(digits)));
}

export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  return `${human(n)}B`;
}

function trim(text: string): string {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

const SCALE: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
  B: 1,
};

/**
 * Parses "600M", "1.5G", "20MB", "4MiB", "5%"-free plain numbers. Returns null when the text is not such a quantity.
 * `bytes` allows the byte units (KB/MB/GB, KiB/MiB/GiB, B); counts allow K/M/G/T.
 */
export function parseQuantity(text: string | number, bytes = false): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : null;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = m[3].toUpperCase();
  if (!(unit in SCALE)) return null;
  if (!bytes && (unit.endsWith('B'))) return null;
  const value = Number(m[1]) * 10 ** Number(m[2] ?? 0) * SCALE[unit];
  return Number.isFinite(value) ? Math.round(value) : null;
}
