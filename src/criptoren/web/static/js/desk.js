// A client's desk: state kept from the stream's snapshot and messages, REST for the rest.
import { ApiError, api } from './api.js';
import { PriceChart } from './chart.js';
import { parse } from './decimal.js';
import { onLanguage, t } from './i18n.js';
import { OrderForm } from './order_form.js';
import { Stream } from './stream.js';
import {
  Formats, OPEN, historyTable, positionTable, tradeTable, tradesCsv, waitingTable, watchTable,
} from './tables.js';

const $ = (id) => document.getElementById(id);
const RANK = { waiting: 0, triggered: 1, executed: 2, failed: 2, cancelled: 2 };
const DAY_REFRESH_MS = 5 * 60e3;

export class Desk {
  constructor(token, { state, unauthorized }) {
    this.token = token;
    this.watchlist = [];
    this.prices = new Map();
    this.opens = new Map(); // symbol → open price 24 h ago (for the 24 h change)
    this.orders = new Map();
    this.trades = new Map();
    this.positions = new Map();
    this.selected = null;
    this.interval = $('chart-interval').value;
    this.stream = new Stream(token, { message: (m) => this.on(m), state, unauthorized });
  }

  async start() {
    const symbols = await api('/api/v1/symbols');
    this.fmt = new Formats(new Map(symbols.map((s) => [s.symbol, s])));
    $('symbols').replaceChildren(...symbols.map((s) => new Option(s.symbol)));
    this.chart = new PriceChart($('chart'));
    this.form = new OrderForm((order) => this.order(order));
    $('watch-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.watch($('watch-input').value.trim().toUpperCase());
    });
    $('chart-interval').addEventListener('change', (event) => {
      this.interval = event.target.value;
      this.loadChart();
    });
    $('trades-csv').addEventListener('click', () => this.downloadCsv());
    onLanguage(() => this.render(true));
    setInterval(() => this.watchlist.forEach((s) => this.loadOpen(s)), DAY_REFRESH_MS);
    this.stream.start();
  }

  // --- stream ---------------------------------------------------------------------------

  on(message) {
    const handler = {
      snapshot: () => this.snapshot(message),
      price: () => this.price(message),
      order: () => this.orderEvent(message),
      position: () => this.position(message.position),
      watchlist: () => this.setWatchlist(message.watchlist),
      error: () => { $('watch-error').textContent = message.message; },
    }[message.type];
    if (handler) handler();
  }

  async snapshot(message) {
    this.prices = new Map(Object.entries(message.prices));
    this.positions = new Map(message.positions.map((p) => [p.symbol, p]));
    // what happened while disconnected: every order and trade again, from the API
    const [orders, trades] = await Promise.all([api('/api/v1/orders'), api('/api/v1/trades')]);
    this.orders = new Map(orders.map((o) => [o.id, o]));
    for (const o of message.orders) this.order(o);
    this.trades = new Map(trades.map((tr) => [tr.id, tr]));
    this.setWatchlist(message.watchlist);
    if (!this.selected) {
      const first = message.watchlist[0] || message.orders[0]?.symbol;
      if (first) this.select(first);
    }
    this.render();
  }

  price({ symbol, price, time }) {
    this.prices.set(symbol, { price, time });
    this.chart.price(symbol, price, time);
    this.render();
  }

  orderEvent({ order, trade }) {
    this.order(order);
    if (trade) this.trades.set(trade.id, trade);
    this.chartDirty = true;
    this.render();
  }

  /** Keep the most advanced state of an order (a late REST answer never undoes an event). */
  order(order) {
    const known = this.orders.get(order.id);
    if (!known || RANK[order.status] >= RANK[known.status]) this.orders.set(order.id, order);
    this.chartDirty = true;
    this.render();
  }

  position(position) {
    this.positions.set(position.symbol, position);
    this.render();
  }

  setWatchlist(symbols) {
    this.watchlist = [...symbols];
    for (const symbol of symbols) if (!this.opens.has(symbol)) this.loadOpen(symbol);
    this.render();
  }

  // --- actions --------------------------------------------------------------------------

  async watch(symbol) {
    $('watch-error').textContent = '';
    if (!symbol) {
      $('watch-error').textContent = t('err_required');
      return;
    }
    try {
      await api(`/api/v1/monitored/${encodeURIComponent(symbol)}`, { method: 'PUT' });
      $('watch-input').value = ''; // the row appears with the stream's watchlist message
      if (!this.selected) this.select(symbol);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const known = t(`err_${error.code}`);
      $('watch-error').textContent = known === `err_${error.code}` ? error.message : known;
    }
  }

  async unwatch(symbol) {
    await api(`/api/v1/monitored/${encodeURIComponent(symbol)}`, { method: 'DELETE' });
    this.setWatchlist(this.watchlist.filter((s) => s !== symbol));
  }

  async cancel(id) {
    try {
      this.order(await api(`/api/v1/orders/${id}/cancel`, { method: 'POST' }));
      $('order-notice').textContent = t('order_cancelled', { id });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      $('order-notice').textContent = error.message;
    }
  }

  select(symbol) {
    this.selected = symbol;
    this.form.setSymbol(symbol);
    $('chart-symbol').textContent = symbol;
    this.loadChart();
    this.render();
  }

  async loadChart() {
    const symbol = this.selected;
    const interval = this.interval;
    const candles = await api(
      `/api/v1/klines/${encodeURIComponent(symbol)}?interval=${interval}&limit=300`,
    );
    if (symbol !== this.selected || interval !== this.interval) return; // a newer choice won
    this.chart.show(symbol, interval, candles, this.fmt.rules.get(symbol)?.tick_size || '0.01');
    this.chartDirty = true;
    this.render();
  }

  async loadOpen(symbol) {
    const candles = await api(`/api/v1/klines/${encodeURIComponent(symbol)}?interval=1h&limit=24`);
    if (candles.length) this.opens.set(symbol, parse(candles[0].open));
    this.render();
  }

  async downloadCsv() {
    const trades = await api('/api/v1/trades');
    const blob = new Blob([tradesCsv(trades)], { type: 'text/csv;charset=utf-8' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'criptoren-trades.csv';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // --- screen ---------------------------------------------------------------------------

  drawChart() {
    if (!this.chart.symbol) return;
    this.chart.orders([...this.orders.values()].filter((o) => OPEN.includes(o.status)));
    this.chart.trades([...this.trades.values()]);
  }

  /** Redraw soon (a burst of messages costs one redraw). */
  render(rebuild = false) {
    this.rebuild = this.rebuild || rebuild;
    this.chartDirty = this.chartDirty || rebuild;
    if (this.pending || !this.fmt) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      if (this.rebuild) {
        for (const id of ['watch-rows', 'waiting-rows', 'history-rows', 'position-rows', 'trade-rows']) {
          $(id).replaceChildren();
        }
        this.rebuild = false;
      }
      for (const table of [watchTable, waitingTable, historyTable, positionTable, tradeTable]) {
        table(this);
      }
      if (this.chartDirty) this.drawChart();
      this.chartDirty = false;
    }, 16);
  }
}
