// Volunteer settings: applied as soon as a control changes.
import {$, el, empty, api, showMsg, app} from './util.js';

// ---- settings ----

export async function loadSettings() {
  try {
    app.settings = await api('GET', '/api/settings');
  } catch (e) {
    app.settings = null;
  }
  fillSettings();
}

export const GB = 1e9;
export const MB = 1e6;
export const GiB = 1024 * 1024 * 1024;

export function fillSettings() {
  const s = app.settings;
  $('set-disabled').hidden = !!s;
  $('set-form').hidden = !s;
  renderPauseButtons();
  if (!s) return;
  const max = Math.max((app.snap && app.snap.cpus) || navigator.hardwareConcurrency || 1, s.cpus);
  for (const id of ['set-cpus', 'set-cpus-range']) $(id).max = String(max);
  $('set-cpus').value = $('set-cpus-range').value = String(s.cpus);
  coresLabel();
  const mode = s.mode || 'always';
  for (const r of document.querySelectorAll('input[name=mode]')) r.checked = r.value === mode;
  $('set-idle').value = String(s.idle_minutes || 2);
  const [from, to] = (s.schedule || '22:00-07:00').split('-');
  $('set-from').value = from;
  $('set-to').value = to;
  $('set-quota').value = s.cache_quota ? String(Math.round(s.cache_quota / GB * 10) / 10) : '0';
  $('set-rate').value = s.max_upload_rate ? String(Math.round(s.max_upload_rate / MB * 10) / 10) : '0';
  $('set-memory').value = s.max_memory ? String(Math.round(s.max_memory / GiB * 10) / 10) : '0';
  $('set-unsandboxed').checked = !!s.allow_unsandboxed;
  renderRenderers();
  renderBlocked();
}

export function coresLabel() {
  const max = $('set-cpus').max;
  const n = Number($('set-cpus').value) || 0;
  $('set-ncpu').textContent = n === 0 ? `all ${max} cores` : `${n} of ${max} cores`;
}

export function renderRenderers() {
  const box = $('set-renderers');
  const s = app.settings;
  if (!s || !app.snap) return;
  const list = app.snap.activity.renderers || [];
  if (!list.length) {
    box.replaceChildren(empty('No renderer reported.'));
    return;
  }
  box.replaceChildren(...list.map((r) => el('label', {class: 'opt'},
    el('input', {type: 'checkbox', name: 'renderer', value: r.name, disabled: !r.installed,
      checked: r.installed && (s.renderers == null || s.renderers.includes(r.name)), onchange: saveSettings}),
    el('strong', {text: r.name}),
    el('span', {class: 'muted', text: r.installed ? (r.version || '') : (r.problem || 'not installed')}),
    r.sandbox && r.sandbox !== 'working' ? el('span', {class: 'sandbox-bad',
      text: s.allow_unsandboxed ? ' no sandbox: renders strangers\' scenes unsandboxed' : ' no sandbox: not offered (' + r.sandbox + ')'}) : null)));
}

export function renderBlocked() {
  const s = app.settings;
  const rows = [];
  for (const [field, kind] of [['blocked_publishers', 'publisher'], ['blocked_jobs', 'job']]) {
    for (const id of s[field] || []) {
      rows.push(el('tr', {}, el('td', {text: kind}), el('td', {}, el('code', {class: 'wrap', text: id})),
        el('td', {}, el('button', {type: 'button', class: 'small', text: 'Unblock', onclick: async () => {
          const next = {...app.settings, [field]: (app.settings[field] || []).filter((x) => x !== id)};
          await putSettings(next);
        }}))));
    }
  }
  $('set-blocked').replaceChildren(rows.length ? el('table', {class: 'compact'}, el('tbody', {}, ...rows))
    : empty('Nobody blocked. Block a publisher or a job from the Network jobs tab.'));
}

export function renderPauseButtons() {
  const paused = app.settings ? app.settings.paused : (app.snap && app.snap.activity.state === 'paused');
  const disabled = app.snap && app.snap.activity.state === 'not volunteering';
  for (const b of [$('set-pause'), $('ov-pause')]) {
    b.textContent = paused ? (b.id === 'ov-pause' ? 'Resume' : 'Resume volunteering') : (b.id === 'ov-pause' ? 'Pause' : 'Pause volunteering');
    b.classList.toggle('resume', !!paused);
  }
  $('ov-pause').hidden = !!disabled;
  if (app.snap) {
    const a = app.snap.activity;
    $('set-state').textContent = 'Now: ' + a.state + (a.renders && a.renders.length ? ` (${a.renders.length} task${a.renders.length > 1 ? 's' : ''})` : '');
  }
}

export function collectSettings() {
  const s = {...app.settings};
  s.cpus = Math.max(0, Math.floor(Number($('set-cpus').value) || 0));
  const mode = document.querySelector('input[name=mode]:checked');
  s.mode = mode ? mode.value : 'always';
  s.idle_minutes = Math.max(0, Math.floor(Number($('set-idle').value) || 0));
  s.schedule = s.mode === 'schedule' ? $('set-from').value + '-' + $('set-to').value : (s.schedule || '');
  s.cache_quota = Math.max(0, Math.round((Number($('set-quota').value) || 0) * GB));
  s.max_upload_rate = Math.max(0, Math.round((Number($('set-rate').value) || 0) * MB));
  const mem = Math.max(0, Number($('set-memory').value) || 0);
  s.max_memory = mem ? Math.max(64 * 1024 * 1024, Math.round(mem * GiB)) : 0;
  s.allow_unsandboxed = $('set-unsandboxed').checked;
  const boxes = [...document.querySelectorAll('input[name=renderer]')];
  const installed = boxes.filter((b) => !b.disabled);
  const offered = installed.filter((b) => b.checked).map((b) => b.value);
  s.renderers = offered.length === installed.length && app.settings.renderers == null ? null : offered;
  return s;
}

export async function putSettings(next) {
  const msg = $('set-msg');
  try {
    app.settings = await api('PUT', '/api/settings', next);
    fillSettings();
    showMsg(msg, 'Saved ✓', 'ok');
  } catch (e) {
    showMsg(msg, e.message, 'err');
  }
}

export function saveSettings() {
  if (app.settings) putSettings(collectSettings());
}

export async function togglePause() {
  if (!app.settings) await loadSettings();
  if (!app.settings) return;
  await putSettings({...app.settings, paused: !app.settings.paused});
}
