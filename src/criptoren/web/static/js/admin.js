// The operator's view: clients (create, rotate, revoke) and the service's health.
import { ApiError, api } from './api.js';
import { button, dateTime, row, syncRows, text } from './dom.js';
import { lang, onLanguage, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const HEALTH_EVERY_MS = 5000;

export class Admin {
  constructor() {
    this.clients = [];
    this.health = null;
  }

  async start() {
    $('client-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.create($('client-name').value.trim());
    });
    onLanguage(() => {
      $('client-rows').replaceChildren();
      this.render();
    });
    await Promise.all([this.loadClients(), this.loadHealth()]);
    setInterval(() => this.loadHealth(), HEALTH_EVERY_MS);
  }

  async loadClients() {
    this.clients = await api('/api/v1/clients');
    this.render();
  }

  async loadHealth() {
    this.health = await api('/healthz');
    this.render();
  }

  async create(name) {
    $('client-error').textContent = '';
    try {
      this.issued(await api('/api/v1/clients', { method: 'POST', body: { name } }));
      $('client-name').value = '';
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      $('client-error').textContent = error.message;
    }
  }

  async rotate(client) {
    const reactivate = client.active ? '' : '?reactivate=true';
    this.issued(await api(`/api/v1/clients/${client.id}/rotate${reactivate}`, { method: 'POST' }));
  }

  async revoke(client) {
    await api(`/api/v1/clients/${client.id}/revoke`, { method: 'POST' });
    await this.loadClients();
  }

  /** A token is shown this once, then only its owner has it. */
  async issued(answer) {
    $('client-token-label').textContent = t('client_token_once', { name: answer.name });
    $('client-token-value').textContent = answer.token;
    $('client-token').hidden = false;
    await this.loadClients();
  }

  render() {
    syncRows($('client-rows'), this.clients, (c) => `${c.id}:${c.active}`, (c) => {
      const tr = row(5);
      tr.dataset.testid = `client-${c.id}`;
      const renew = button(
        t(c.active ? 'rotate' : 'reactivate'),
        t(c.active ? 'rotate_label' : 'reactivate_label', { name: c.name }),
        () => this.rotate(c),
        `client-rotate-${c.id}`,
      );
      tr.cells[4].append(renew);
      if (c.active) {
        tr.cells[4].append(button(t('revoke'), t('revoke_label', { name: c.name }),
          () => this.revoke(c), `client-revoke-${c.id}`));
      }
      return tr;
    }, (tr, c) => {
      const cells = [`${c.id}`, c.name, t(c.active ? 'active' : 'revoked'), dateTime(c.created_at, lang())];
      cells.forEach((value, i) => text(tr.cells[i], value));
    });
    this.renderHealth();
  }

  renderHealth() {
    const h = this.health;
    if (!h) return;
    const feed = h.feed || {};
    const stale = feed.stale_symbols || [];
    const items = [
      ['health_status', h.status],
      ['health_reasons', h.reasons.length ? h.reasons.join('; ') : t('none')],
      ['health_database', h.database],
      ['health_mode', `${h.mode} (${h.venue})`],
      ['health_feed', t(feed.connected ? 'health_feed_up' : 'health_feed_down')],
      ['health_streams', `${feed.streams ?? 0}`],
      ['health_symbols', `${feed.symbols ?? 0}`],
      ['health_stale', stale.length ? stale.join(', ') : t('none')],
      ['health_reconnects', `${feed.reconnects ?? 0}`],
      ['health_waiting', `${h.engine.waiting_orders}`],
      ['health_pending', `${h.engine.pending_executions}`],
    ];
    const list = $('health');
    list.dataset.status = h.status;
    list.replaceChildren(...items.flatMap(([key, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = t(key);
      const dd = document.createElement('dd');
      dd.textContent = value;
      if (key === 'health_status') dd.className = value === 'ok' ? 'up' : 'down';
      return [dt, dd];
    }));
  }
}
