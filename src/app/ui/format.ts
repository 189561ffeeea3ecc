// Number formatting shared by the views.

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units with up to three significant digits: 1 GiB, 128 MiB, 1.5 GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${UNITS[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatRate(tokensPerSecond: number): string {
  if (tokensPerSecond >= 10) return `${Math.round(tokensPerSecond)} tok/s`;
  return `${Number(tokensPerSecond.toFixed(1))} tok/s`;
}
