// pt-BR first, English by the toggle; the choice (not a secret) is kept in localStorage.
const LANGS = ['pt-BR', 'en'];
const KEY = 'criptoren.lang';
const dictionaries = JSON.parse(document.getElementById('i18n').textContent);
const listeners = [];
let current = LANGS.includes(localStorage.getItem(KEY)) ? localStorage.getItem(KEY) : LANGS[0];

export const lang = () => current;

/** The string `key` in the current language, with `{name}` placeholders filled. */
export function t(key, vars = {}) {
  const text = dictionaries[current][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** Re-label every element marked data-i18n / data-i18n-title below `root`. */
export function translate(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  const toggler = document.querySelector('[data-testid="lang-toggle"]');
  if (toggler) toggler.lang = LANGS[(LANGS.indexOf(current) + 1) % LANGS.length];
}

export function onLanguage(listener) {
  listeners.push(listener);
}

export function toggle() {
  current = LANGS[(LANGS.indexOf(current) + 1) % LANGS.length];
  localStorage.setItem(KEY, current);
  translate();
  for (const listener of listeners) listener(current);
}
