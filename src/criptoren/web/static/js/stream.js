// WS /api/v1/stream: the token as the first message, a fresh snapshot after every reconnect.
import { streamUrl } from './api.js';

const UNAUTHORIZED = 4401;
const FIRST_DELAY = 250;
const MAX_DELAY = 3000;

export class Stream {
  /** handlers: message(msg), state('connecting'|'connected'|'disconnected'), unauthorized() */
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.delay = FIRST_DELAY;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
    this.handlers.state('disconnected');
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(message));
    }
  }

  connect() {
    this.handlers.state('connecting');
    const socket = new WebSocket(streamUrl());
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: this.token }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'snapshot') {
        this.delay = FIRST_DELAY;
        this.handlers.state('connected');
      }
      this.handlers.message(message);
    };
    socket.onclose = (event) => {
      if (this.stopped || socket !== this.socket) return;
      if (event.code === UNAUTHORIZED) {
        this.handlers.unauthorized();
        return;
      }
      this.handlers.state('connecting');
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY);
    };
  }
}
