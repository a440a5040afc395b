// The selected symbol's candles (lightweight-charts), live last candle, order lines, trade marks.
import {
  CandlestickSeries,
  LineStyle,
  createChart,
  createSeriesMarkers,
} from '../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs';
import { format, parse, placesOf, toNumber } from './decimal.js';
import { lang, t } from './i18n.js';

export const INTERVAL_MS = {
  '1m': 60e3, '5m': 300e3, '15m': 900e3, '1h': 3600e3, '4h': 14400e3, '1d': 86400e3,
};
const BUY = '#0b6e35';
const SELL = '#b3261e';

const bar = (c) => ({
  time: c.time / 1000,
  open: Number(c.open),
  high: Number(c.high),
  low: Number(c.low),
  close: Number(c.close),
});

export class PriceChart {
  constructor(element) {
    this.element = element;
    this.chart = createChart(element, {
      autoSize: true,
      layout: { background: { color: '#ffffff' }, textColor: '#1f2328', attributionLogo: true },
      grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } },
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 8 },
    });
    this.series = this.chart.addSeries(CandlestickSeries, {
      upColor: BUY, downColor: SELL, borderVisible: false, wickUpColor: BUY, wickDownColor: SELL,
    });
    this.markers = createSeriesMarkers(this.series, []);
    this.lines = [];
    this.last = null;
    this.symbol = null;
    this.places = 2;
  }

  /** Show `symbol`'s candles; `tick` sets the price axis' precision. */
  show(symbol, interval, candles, tick) {
    this.symbol = symbol;
    this.width = INTERVAL_MS[interval];
    this.places = placesOf(tick);
    this.series.applyOptions({
      priceFormat: {
        type: 'custom',
        minMove: toNumber(parse(tick)) || 0.01,
        formatter: (price) => format(price.toFixed(this.places), lang(), { min: this.places }),
      },
    });
    const bars = candles.map(bar);
    this.series.setData(bars);
    this.last = bars.length ? { ...bars[bars.length - 1] } : null;
    document.getElementById('chart-desc').textContent = t('chart_label', { symbol });
    this.chart.timeScale().scrollToRealTime();
  }

  /** A streamed trade price: updates the current candle or opens the next one. */
  price(symbol, price, timeMs) {
    if (symbol !== this.symbol || !this.width) return;
    const value = Number(price);
    const time = (Math.floor(timeMs / this.width) * this.width) / 1000;
    if (this.last && time < this.last.time) return;
    if (this.last && time === this.last.time) {
      this.last.high = Math.max(this.last.high, value);
      this.last.low = Math.min(this.last.low, value);
      this.last.close = value;
    } else {
      this.last = { time, open: value, high: value, low: value, close: value };
    }
    this.series.update({ ...this.last });
  }

  /** A labelled horizontal line at each waiting order's target (buy and sell coloured apart). */
  orders(waiting) {
    for (const line of this.lines) this.series.removePriceLine(line);
    this.lines = waiting
      .filter((o) => o.symbol === this.symbol)
      .map((o) => this.series.createPriceLine({
        price: Number(o.target_price),
        color: o.side === 'buy' ? BUY : SELL,
        lineWidth: 1,
        lineStyle: LineStyle.Dashed,
        axisLabelVisible: true,
        title: `#${o.id} ${t(o.side)} ${format(o.quantity, lang())}`,
      }));
  }

  /** A mark at each of the client's trades of this symbol, on its candle. */
  trades(trades) {
    if (!this.width) return;
    const marks = trades
      .filter((tr) => tr.symbol === this.symbol)
      .map((tr) => ({
        time: (Math.floor(Date.parse(tr.executed_at) / this.width) * this.width) / 1000,
        position: tr.side === 'buy' ? 'belowBar' : 'aboveBar',
        shape: tr.side === 'buy' ? 'arrowUp' : 'arrowDown',
        color: tr.side === 'buy' ? BUY : SELL,
        text: `${t(tr.side)} ${format(tr.price, lang(), { min: this.places })}`,
      }))
      .sort((a, b) => a.time - b.time);
    this.markers.setMarkers(marks);
  }
}
