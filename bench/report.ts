/** Plain-text tables and number formats for the bench report. */

export function table(headers: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    '| ' +
    r
      .map((cell, c) => ((align?.[c] ?? (c === 0 ? 'l' : 'r')) === 'l' ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join(' | ') +
    ' |';
  return [line(cells[0]!), '|' + widths.map((w, c) => ((align?.[c] ?? (c === 0 ? 'l' : 'r')) === 'l' ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...cells.slice(1).map(line)].join('\n');
}

export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fixed = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
export const pct = (n: number, digits = 1): string => (Number.isFinite(n) ? `${(n * 100).toFixed(digits)}%` : 'n/a');
export const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a');
export const passFail = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
