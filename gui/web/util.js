// Helpers shared by the app's modules: DOM building, formatting, the API.

export const $ = (id) => document.getElementById(id);

// el builds an element: el('td', {class: 'num', text: '3'}, child...).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

export function empty(text) { return el('p', {class: 'empty', text}); }

// ---- formatting ----

export function fmtBytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
}

export function fmtDuration(s) {
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

export function fmtCU(n) { return (Math.round(n * 10) / 10).toLocaleString(); }
export function fmtTime(t) { const d = new Date(t); return isNaN(d) || d.getFullYear() < 2000 ? '–' : d.toLocaleString(); }
export function shortID(id) { return id && id.length > 20 ? id.slice(0, 10) + '…' + id.slice(-6) : (id || ''); }
export function pct(x) { return Math.round(x * 100) + ' %'; }
export function slug(s) { return String(s || '').toLowerCase().replace(/[^a-z0-9]+/g, '-'); }

// ---- API ----

export class APIError extends Error {}

export let reloading = false;

export async function api(method, path, body) {
  const opts = {method, headers: {}, credentials: 'same-origin'};
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) {
    // The session cookie is stale (the node restarted with a new token,
    // or another node on this machine set its own): the page sets it anew.
    sessionExpired();
    throw new APIError('session expired, reloading');
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  if (!resp.ok) throw new APIError((data && data.error) || resp.status + ' ' + resp.statusText);
  return data;
}

export function sessionExpired() {
  const last = Number(sessionStorage.getItem('renderswarm-reload') || 0);
  if (reloading) return;
  if (Date.now() - last < 10000) {
    // Reloading did not help: say so rather than loop.
    $('conn').textContent = 'not authorized: open the URL that `renderswarm id` prints';
    $('conn').className = 'conn down';
    return;
  }
  reloading = true;
  sessionStorage.setItem('renderswarm-reload', String(Date.now()));
  location.reload();
}

export function showMsg(node, text, kind) {
  node.textContent = text;
  node.className = 'msg' + (kind ? ' ' + kind : '');
  clearTimeout(node.timer);
  if (kind === 'ok') node.timer = setTimeout(() => { node.textContent = ''; }, 3000);
}

export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const ta = el('textarea', {}, text);
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  const old = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = old; }, 1200);
}

export function copyButton(text) {
  return el('button', {type: 'button', class: 'small', text: 'Copy', title: 'Copy to the clipboard',
    onclick: (ev) => copy(text, ev.currentTarget)});
}

// app is the state the modules share.
export const app = {
  snap: null,       // last Snapshot from /api/events
  settings: null,   // last Settings from /api/settings (null: not volunteering)
  tab: 'overview',
};
