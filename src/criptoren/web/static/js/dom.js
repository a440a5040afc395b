// Keyed table rows updated in place, so a live update never steals keyboard focus.

/** Make `tbody` show `items` in order: `build(item)` creates a row, `fill(row, item)` updates it. */
export function syncRows(tbody, items, key, build, fill) {
  const existing = new Map([...tbody.children].map((row) => [row.dataset.key, row]));
  let previous = null;
  for (const item of items) {
    const k = String(key(item));
    let row = existing.get(k);
    if (row) existing.delete(k);
    else {
      row = build(item);
      row.dataset.key = k;
    }
    fill(row, item);
    const expected = previous ? previous.nextSibling : tbody.firstChild;
    if (row !== expected) tbody.insertBefore(row, expected);
    previous = row;
  }
  for (const row of existing.values()) row.remove();
}

/** A <tr> with `count` cells; cells listed in `numeric` are right-aligned. */
export function row(count, numeric = []) {
  const tr = document.createElement('tr');
  for (let i = 0; i < count; i += 1) {
    const td = document.createElement(i === 0 ? 'th' : 'td');
    if (i === 0) td.scope = 'row';
    if (numeric.includes(i)) td.className = 'num';
    tr.append(td);
  }
  return tr;
}

export function button(text, label, onClick, testid) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  if (testid) b.dataset.testid = testid;
  b.addEventListener('click', onClick);
  return b;
}

/** Set a cell's text only when it changed (no needless layout or screen-reader noise). */
export function text(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

export const dateTime = (iso, locale) =>
  new Date(iso).toLocaleString(locale, { dateStyle: 'short', timeStyle: 'medium' });
