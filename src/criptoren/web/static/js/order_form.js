// The order form: what was typed, as the API wants it; the API's refusals next to each field.
import { ApiError, api } from './api.js';
import { normalise } from './decimal.js';
import { lang, t } from './i18n.js';

const FIELDS = ['symbol', 'side', 'target_price', 'quantity', 'condition'];
const AMOUNTS = ['target_price', 'quantity'];
const FIELD_OF_CODE = {
  quantity_too_small: 'quantity',
  quantity_too_large: 'quantity',
  quantity_off_step: 'quantity',
  notional_too_small: 'quantity',
  notional_too_large: 'quantity',
  insufficient_holdings: 'quantity',
  price_off_tick: 'target_price',
  price_too_low: 'target_price',
  price_too_high: 'target_price',
  unknown_symbol: 'symbol',
  reference_price_stale: 'condition',
  reference_price_unavailable: 'condition',
  symbol_not_trading: 'symbol',
};
const $ = (id) => document.getElementById(id);

export class OrderForm {
  /** `placed(order)` is called with each order the API accepted. */
  constructor(placed) {
    this.form = $('order-form');
    this.placed = placed;
    this.form.symbol.addEventListener('input', () => { this.form.symbol.dataset.auto = '0'; });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  setSymbol(symbol) {
    if (!this.form.symbol.value || this.form.symbol.dataset.auto === '1') {
      this.form.symbol.value = symbol;
      this.form.symbol.dataset.auto = '1';
    }
  }

  body() {
    const f = this.form;
    const body = {
      symbol: f.symbol.value.trim().toUpperCase(),
      side: f.side.value,
      target_price: normalise(f.target_price.value, lang()),
      quantity: normalise(f.quantity.value, lang()),
    };
    if (f.condition.value) body.condition = f.condition.value;
    return body;
  }

  async submit() {
    this.clear();
    const body = this.body();
    const missing = ['symbol', ...AMOUNTS].filter((name) => !body[name]);
    if (missing.length) {
      this.show(Object.fromEntries(missing.map((name) => [name, t('err_required')])), '');
      return;
    }
    try {
      const order = await api('/api/v1/orders', { method: 'POST', body });
      this.form.target_price.value = '';
      this.form.quantity.value = '';
      $('order-notice').textContent = t('order_placed', { id: order.id });
      this.placed(order);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.refused(error);
    }
  }

  /** Put the API's refusal next to the field it is about, in words. */
  refused(error) {
    const messages = {};
    for (const detail of error.details) {
      const name = (detail.loc || [])[1];
      if (!FIELDS.includes(name)) continue;
      messages[name] = AMOUNTS.includes(name) ? `${t('err_number')} (${detail.msg})` : detail.msg;
    }
    if (!error.details.length) {
      const name = FIELD_OF_CODE[error.code] || FIELDS.find((f) => error.message.startsWith(f))
        || (error.message.startsWith('price') ? 'target_price' : null);
      const key = `err_${error.code}`;
      const said = t(key);
      const known = said === key ? null : said;  // t() gives back a key it does not know
      if (name) messages[name] = known ? `${known} (${error.message})` : error.message;
      if (known) return this.show(messages, `${t('order_error')} ${known}`);
    }
    this.show(messages, `${t('order_error')} ${error.message}`);
  }

  show(messages, summary) {
    for (const [name, message] of Object.entries(messages)) {
      $(`err-${name}`).textContent = message;
      this.form[name].setAttribute('aria-invalid', 'true');
    }
    const first = Object.keys(messages)[0];
    $('order-error').textContent = summary || Object.values(messages)[0] || '';
    if (first) this.form[first].focus();
  }

  clear() {
    for (const name of FIELDS) {
      $(`err-${name}`).textContent = '';
      this.form[name].removeAttribute('aria-invalid');
    }
    $('order-error').textContent = '';
    $('order-notice').textContent = '';
  }
}
