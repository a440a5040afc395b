// Login, logout, the language toggle, and which view a token opens: desk or admin.
import { Admin } from './admin.js';
import { ApiError, api, clearToken, onUnauthorized, setToken, token } from './api.js';
import { Desk } from './desk.js';
import { t, toggle, translate } from './i18n.js';

const $ = (id) => document.getElementById(id);
const NOTICE = 'criptoren.notice'; // a message for the login screen, across the reload
const status = document.querySelector('[data-testid="stream-status"]');

function streamState(state) {
  status.dataset.state = state;
  status.dataset.i18n = `stream_${state}`;
  status.textContent = t(`stream_${state}`);
}

/** Back to the login screen with everything forgotten (a reload drops all state). */
function logout(notice) {
  clearToken();
  if (notice) sessionStorage.setItem(NOTICE, notice);
  location.reload();
}

/** 403 on the clients list: a client's token; 200: the operator's. */
async function isAdmin(candidate) {
  try {
    await api('/api/v1/clients', { auth: candidate });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return false;
    throw error;
  }
}

async function enter(candidate) {
  const admin = await isAdmin(candidate);
  setToken(candidate);
  $('login').hidden = true;
  document.querySelector('[data-testid="logout"]').hidden = false;
  if (admin) {
    $('admin').hidden = false;
    await new Admin().start();
    return;
  }
  $('desk').hidden = false;
  status.hidden = false;
  await new Desk(candidate, { state: streamState, unauthorized: () => logout('login_revoked') })
    .start();
}

async function login(event) {
  event.preventDefault();
  const message = $('login-message');
  const candidate = $('login-token').value.trim();
  message.textContent = '';
  if (!candidate) {
    message.textContent = t('err_required');
    return;
  }
  try {
    await enter(candidate);
    $('login-token').value = '';
  } catch (error) {
    const key = error instanceof ApiError && error.status === 401 ? 'login_invalid' : 'login_unreachable';
    message.textContent = t(key);
    message.dataset.i18n = key;
    $('login-token').focus();
  }
}

function boot() {
  translate();
  $('login-form').addEventListener('submit', login);
  document.querySelector('[data-testid="lang-toggle"]').addEventListener('click', toggle);
  document.querySelector('[data-testid="logout"]').addEventListener('click', () => logout());
  onUnauthorized(() => logout('login_revoked'));
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);
  if (notice) {
    $('login-message').textContent = t(notice);
    $('login-message').dataset.i18n = notice;
  }
  const saved = token();
  if (saved) {
    enter(saved).catch((error) => {
      const revoked = error instanceof ApiError && error.status === 401;
      logout(revoked ? 'login_revoked' : 'login_unreachable');
    });
  }
  else $('login-token').focus();
}

boot();
