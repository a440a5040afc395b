// The desk's tables, each re-filled in place from the desk's state.
import { div, format, isNegative, isZero, mul, parse, placesOf, sub } from './decimal.js';
import { button, dateTime, row, syncRows, text } from './dom.js';
import { lang, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
export const OPEN = ['waiting', 'triggered'];

function show(empty, items) {
  $(empty).hidden = items.length > 0;
}

function signClass(el, d) {
  el.classList.toggle('up', Boolean(d) && !isNegative(d) && !isZero(d));
  el.classList.toggle('down', Boolean(d) && isNegative(d));
}

/** Formatting for one desk: prices to the tick, quantities to the step, P&L in the quote. */
export class Formats {
  constructor(rules) {
    this.rules = rules;
  }

  places(symbol, field) {
    const rules = this.rules.get(symbol);
    return rules ? placesOf(rules[field]) : 2;
  }

  price = (symbol, value) => format(value, lang(), { min: this.places(symbol, 'tick_size') });

  qty = (symbol, value) => format(value, lang(), { min: this.places(symbol, 'step_size') });

  quote = (value, sign = false) => format(value, lang(), { min: 2, sign });
}

export function watchTable(desk) {
  const { fmt } = desk;
  syncRows($('watch-rows'), desk.watchlist, (s) => s, (symbol) => {
    const tr = row(4, [1, 2]);
    const pick = button(symbol, t('select_symbol', { symbol }), () => desk.select(symbol));
    pick.className = 'link';
    tr.cells[0].append(pick);
    tr.cells[1].dataset.testid = `price-${symbol}`;
    tr.cells[3].append(button('×', t('watch_remove', { symbol }), () => desk.unwatch(symbol),
      `watch-remove-${symbol}`));
    return tr;
  }, (tr, symbol) => {
    const last = desk.prices.get(symbol);
    text(tr.cells[1], last ? fmt.price(symbol, last.price) : '—');
    const open = desk.opens.get(symbol);
    const change = last && open ? div(mul(sub(parse(last.price), open), parse('100')), open, 2) : null;
    text(tr.cells[2], change ? `${format(change, lang(), { min: 2, sign: true })} %` : '—');
    signClass(tr.cells[2], change);
    tr.classList.toggle('selected', symbol === desk.selected);
    if (symbol === desk.selected) tr.cells[0].firstChild.setAttribute('aria-current', 'true');
    else tr.cells[0].firstChild.removeAttribute('aria-current');
  });
  show('watch-empty', desk.watchlist);
}

export function waitingTable(desk) {
  const { fmt } = desk;
  const open = [...desk.orders.values()].filter((o) => OPEN.includes(o.status));
  open.sort((a, b) => b.id - a.id);
  syncRows($('waiting-rows'), open, (o) => o.id, (o) => {
    const tr = row(8, [3, 4, 5, 6]);
    tr.dataset.testid = `order-${o.id}`;
    tr.cells[7].append(button(t('cancel'), t('cancel_label', { id: o.id }), () => desk.cancel(o.id),
      `order-cancel-${o.id}`));
    return tr;
  }, (tr, o) => {
    tr.dataset.status = o.status;
    const last = desk.prices.get(o.symbol)?.price ?? o.last_price;
    const cells = [`${o.id}`, o.symbol, t(o.side), fmt.price(o.symbol, o.target_price),
      fmt.qty(o.symbol, o.quantity), last ? fmt.price(o.symbol, last) : '—'];
    cells.forEach((value, i) => text(tr.cells[i], value));
    let distance = '—';
    if (last && !isZero(parse(last))) {
      const gap = sub(parse(o.target_price), parse(last));
      const pct = div(mul(gap, parse('100')), parse(last), 2);
      distance = `${fmt.price(o.symbol, gap)} (${format(pct, lang(), { min: 2, sign: true })} %)`;
    }
    text(tr.cells[6], distance);
    tr.cells[7].firstChild.disabled = o.status !== 'waiting';
  });
  show('waiting-empty', open);
}

export function historyTable(desk) {
  const { fmt } = desk;
  const done = [...desk.orders.values()].filter((o) => !OPEN.includes(o.status));
  done.sort((a, b) => b.id - a.id);
  syncRows($('history-rows'), done.slice(0, 200), (o) => o.id, (o) => {
    const tr = row(8, [4, 5]);
    tr.dataset.testid = `order-${o.id}`;
    return tr;
  }, (tr, o) => {
    tr.dataset.status = o.status;
    const cells = [`${o.id}`, dateTime(o.created_at, lang()), o.symbol, t(o.side),
      fmt.price(o.symbol, o.target_price), fmt.qty(o.symbol, o.quantity),
      t(`status_${o.status}`), o.failure_reason || ''];
    cells.forEach((value, i) => text(tr.cells[i], value));
  });
  show('history-empty', done);
}

export function positionTable(desk) {
  const { fmt } = desk;
  const held = [...desk.positions.values()].filter(
    (p) => !isZero(parse(p.quantity)) || !isZero(parse(p.realized_pnl)),
  );
  held.sort((a, b) => a.symbol.localeCompare(b.symbol));
  syncRows($('position-rows'), held, (p) => p.symbol, (p) => {
    const tr = row(6, [1, 2, 3, 4, 5]);
    tr.dataset.testid = `position-${p.symbol}`;
    return tr;
  }, (tr, p) => {
    const last = desk.prices.get(p.symbol)?.price ?? p.last_price;
    const live = last ? mul(sub(parse(last), parse(p.average_cost)), parse(p.quantity)) : null;
    const unrealized = live ?? parse(p.unrealized_pnl);
    const cells = [p.symbol, fmt.qty(p.symbol, p.quantity), fmt.price(p.symbol, p.average_cost),
      last ? fmt.price(p.symbol, last) : '—', fmt.quote(p.realized_pnl, true),
      unrealized ? fmt.quote(unrealized, true) : '—'];
    cells.forEach((value, i) => text(tr.cells[i], value));
    signClass(tr.cells[4], parse(p.realized_pnl));
    signClass(tr.cells[5], unrealized);
  });
  show('positions-empty', held);
}

export function tradeTable(desk) {
  const { fmt } = desk;
  const trades = [...desk.trades.values()].sort((a, b) => b.id - a.id).slice(0, 200);
  syncRows($('trade-rows'), trades, (tr) => tr.id, (trade) => {
    const tr = row(7, [4, 5, 6]);
    tr.dataset.testid = `trade-${trade.id}`;
    return tr;
  }, (tr, trade) => {
    const fee = `${format(trade.fee, lang())} ${trade.fee_asset || ''}`.trim();
    const cells = [`${trade.id}`, dateTime(trade.executed_at, lang()), trade.symbol, t(trade.side),
      fmt.price(trade.symbol, trade.price), fmt.qty(trade.symbol, trade.quantity), fee];
    cells.forEach((value, i) => text(tr.cells[i], value));
  });
  show('trades-empty', trades);
}

const CSV_COLUMNS = ['id', 'executed_at', 'symbol', 'side', 'price', 'quantity', 'fee',
  'fee_asset', 'source', 'mode', 'positioned_order_id', 'order_id'];

/** Trades as CSV: the API's exact strings; text a spreadsheet would run as a formula is quoted. */
export function tradesCsv(trades) {
  const cell = (value) => {
    let s = value === null || value === undefined ? '' : String(value);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = trades.map((trade) => CSV_COLUMNS.map((c) => cell(trade[c])).join(','));
  return [CSV_COLUMNS.join(','), ...lines].join('\r\n') + '\r\n';
}
