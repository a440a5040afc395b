// Exact decimal arithmetic on the API's amount strings (BigInt), and locale formatting that
// never drops a significant digit: money is never a float here, only the chart's pixels are.

const PATTERN = /^\s*(-?)(\d*)(?:\.(\d*))?\s*$/;
const MAX_PLACES = 8; // the API's amounts have 8 decimal places

/** "61837.63000000" → {n: 6183763000000n, s: 8}; null if it is not a decimal. */
export function parse(text) {
  if (text === null || text === undefined) return null;
  const m = PATTERN.exec(String(text));
  if (!m || (m[2] === '' && !m[3])) return null;
  const frac = m[3] || '';
  const n = BigInt((m[2] || '0') + frac);
  return { n: m[1] ? -n : n, s: frac.length };
}

const scaled = (d, s) => d.n * 10n ** BigInt(s - d.s);

export function sub(a, b) {
  const s = Math.max(a.s, b.s);
  return { n: scaled(a, s) - scaled(b, s), s };
}

export function mul(a, b) {
  return { n: a.n * b.n, s: a.s + b.s };
}

/** a / b to `places` decimals, rounded half away from zero (null when b is zero). */
export function div(a, b, places) {
  if (b.n === 0n) return null;
  const num = a.n * 10n ** BigInt(b.s + places + 1);
  const den = b.n * 10n ** BigInt(a.s);
  let q = num / den;
  q = (q + (q < 0n ? -5n : 5n)) / 10n;
  return { n: q, s: places };
}

/** Round half-even to `places` (only ever used beyond the API's 8 places). */
function round(d, places) {
  if (d.s <= places) return d;
  const unit = 10n ** BigInt(d.s - places);
  const neg = d.n < 0n;
  const abs = neg ? -d.n : d.n;
  let q = abs / unit;
  const r = abs % unit;
  if (r * 2n > unit || (r * 2n === unit && q % 2n === 1n)) q += 1n;
  return { n: neg ? -q : q, s: places };
}

export const isNegative = (d) => d.n < 0n;
export const isZero = (d) => d.n === 0n;
export const toNumber = (d) => Number(d.n) / 10 ** d.s; // chart pixels only

/** Decimal places of a tick or step size: "0.01000000" → 2. */
export function placesOf(size) {
  const d = parse(size);
  if (!d || d.n === 0n) return 0;
  const digits = d.n.toString().padStart(d.s + 1, '0');
  return d.s - (digits.length - digits.replace(/0+$/, '').length);
}

const separators = new Map();
function separatorsFor(locale) {
  if (!separators.has(locale)) {
    const parts = new Intl.NumberFormat(locale).formatToParts(1234567.5);
    const find = (type, fallback) => (parts.find((p) => p.type === type) || {}).value || fallback;
    separators.set(locale, { group: find('group', ','), decimal: find('decimal', '.') });
  }
  return separators.get(locale);
}

/**
 * `value` (string or decimal) for `locale`: at least `min` decimal places (the tick or step),
 * more when the value has more significant digits, never fewer (nothing is rounded away).
 */
export function format(value, locale, { min = 0, sign = false } = {}) {
  let d = typeof value === 'string' ? parse(value) : value;
  if (!d) return '—';
  d = round(d, MAX_PLACES);
  const neg = d.n < 0n;
  const digits = (neg ? -d.n : d.n).toString().padStart(d.s + 1, '0');
  const int = digits.slice(0, digits.length - d.s);
  let frac = digits.slice(digits.length - d.s).replace(/0+$/, '');
  if (frac.length < min) frac = frac.padEnd(min, '0');
  const { group, decimal } = separatorsFor(locale);
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const lead = neg ? '−' : sign && d.n > 0n ? '+' : '';
  return lead + grouped + (frac ? decimal + frac : '');
}

/** What a person typed ("0,01" in pt-BR, "1,234.5" in English) as the API's decimal text. */
export function normalise(typed, locale) {
  const { group, decimal } = separatorsFor(locale);
  let text = String(typed).trim().replace(/\s/g, '');
  if (decimal === ',' && text.includes(',')) text = text.split(group).join('').replace(',', '.');
  else if (decimal === '.') text = text.split(group).join('');
  return text;
}
