// The public HTTP API with the session's token as a Bearer header.
const TOKEN = 'criptoren.token';
const base = document.body.dataset.base || '';
let unauthorized = () => {};

export const token = () => sessionStorage.getItem(TOKEN);
export const setToken = (value) => sessionStorage.setItem(TOKEN, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN);
export const streamUrl = () =>
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${base}/api/v1/stream`;

/** Called once a request answers 401 (the token was revoked or rotated). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || 'http_error';
    this.details = error.details || [];
  }
}

/** JSON from `path`; an ApiError for any answer but 2xx. */
export async function api(path, { method = 'GET', body, auth = token() } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth) headers.Authorization = `Bearer ${auth}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth === token()) unauthorized(error);
    throw error;
  }
  return data;
}
