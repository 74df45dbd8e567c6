// renderswarm web app: one page, no build step. It reads the node's JSON
// API (authenticated by the session cookie the page was served with) and
// re-renders on every state event of /api/events.
import {$, el, empty, fmtBytes, fmtCU, shortID, pct, slug, api, copy, app} from './util.js';
import {renderMyJobs, renderNetworkJobs, publish} from './jobs.js';
import {loadAssets, addAsset, getAsset, openBrowser, browse, choose, browser} from './assets.js';
import {loadSettings, renderRenderers, renderPauseButtons, saveSettings, togglePause, coresLabel} from './settings.js';
import {loadCredits} from './credits.js';
import {loadCollections, publishCollection, followCollection} from './collections.js';

function showTab(name) {
  if (!document.getElementById(name) || !document.querySelector(`[data-tab="${name}"]`)) name = 'overview';
  app.tab = name;
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== name;
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.tab === name);
  if (name === 'assets') {
    loadAssets();
    loadCollections();
  }
  if (name === 'credits') loadCredits();
  if (name === 'settings') loadSettings();
}

function connect() {
  const conn = $('conn');
  const es = new EventSource('/api/events');
  es.addEventListener('state', (ev) => {
    conn.textContent = 'live';
    conn.className = 'conn live';
    const prev = app.snap;
    app.snap = JSON.parse(ev.data);
    render(prev);
  });
  es.onerror = () => {
    conn.textContent = 'reconnecting…';
    conn.className = 'conn down';
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (the node is down, or refused us): try again
      // ourselves, and find out whether the session expired.
      setTimeout(() => { api('GET', '/api/id').catch(() => {}); connect(); }, 3000);
    }
  };
}

function render(prev) {
  const s = app.snap;
  renderOverview(s, prev);
  renderMyJobs(s.jobs.filter((j) => j.mine));
  renderNetworkJobs(s.jobs.filter((j) => !j.mine));
  renderPauseButtons();
  if (app.tab === 'credits' && prev && JSON.stringify(prev.balance) !== JSON.stringify(s.balance)) loadCredits();
  if (!prev || JSON.stringify(prev.activity.renderers) !== JSON.stringify(s.activity.renderers)) renderRenderers();
}

// ---- overview ----

function renderOverview(s, prev) {
  $('peer-id').textContent = s.id.peer_id;
  $('peer-count').textContent = String(s.peers.length);
  $('net-reach').textContent = s.network.reachability || 'unknown';
  $('net-routing').textContent = String(s.network.routing_peers || 0);
  $('net-relays').textContent = (s.network.relays || []).join('\n') || 'none';
  $('net-listen').textContent = (s.network.listen_addrs || []).join('\n') || 'none';
  const sb = s.id.sandbox || {};
  const sbBox = $('sandbox-state');
  sbBox.textContent = sb.working ? 'working'
    : `not working (${sb.problem || 'unknown'})` + (sb.allow_unsandboxed ? ': strangers\' scenes render unsandboxed' : ': strangers\' Blender/POV-Ray scenes are not rendered');
  sbBox.classList.toggle('sandbox-bad', !sb.working);

  const a = s.activity;
  const state = $('vol-state');
  state.textContent = a.state;
  state.className = 'badge ' + slug(a.state);
  $('vol-cpu').textContent = !a.usage_known ? 'unknown on this system' : a.cpu_percent ? a.cpu_percent.toFixed(0) + ' % of one core' : '–';
  $('vol-mem').textContent = !a.usage_known ? 'unknown on this system' : a.memory_bytes ? fmtBytes(a.memory_bytes) : '–';
  $('vol-rendered').textContent = a.rendered + (a.rendered === 1 ? ' task' : ' tasks') + ' since start';

  const renders = $('renders');
  renders.replaceChildren();
  for (const r of a.renders || []) {
    const what = 'frame ' + r.frame + (r.tile ? ', tile ' + r.tile : '');
    renders.append(el('div', {class: 'render'},
      el('div', {class: 'title', text: r.title || shortID(r.job)}),
      el('div', {class: 'muted', text: what + ' · ' + r.phase + ' · for ' + shortID(r.publisher)}),
      el('div', {class: 'bar'}, el('progress', {max: '1', value: String(r.progress || 0)}), el('span', {text: pct(r.progress || 0)}))));
  }
  if (!renders.childElementCount) {
    renders.append(empty(a.state === 'not volunteering' ? 'This node does not render for others.' : 'Not rendering anything right now.'));
  }
  // The preview changes when a render finishes or starts.
  const key = a.rendered + '/' + (a.renders || []).map((r) => r.job + r.frame + r.tile).join();
  if (!prev || app.previewKey !== key) {
    app.previewKey = key;
    const img = $('preview');
    img.onload = () => { $('preview-box').hidden = false; };
    img.onerror = () => { $('preview-box').hidden = true; };
    img.src = '/api/volunteer/preview?v=' + encodeURIComponent(key);
  }

  $('ov-balance').textContent = fmtCU(s.balance.balance);
  $('ov-earned').textContent = fmtCU(s.balance.earned);
  $('ov-spent').textContent = fmtCU(s.balance.spent);

  const peers = $('peers');
  if (!s.peers.length) {
    peers.replaceChildren(empty('No peers yet — looking for the swarm…'));
    return;
  }
  const rows = s.peers.map((p) => el('tr', {},
    el('td', {}, el('code', {text: shortID(p.peer_id), title: p.peer_id})),
    el('td', {}, el('span', {class: 'badge ' + slug(p.state), text: p.state})),
    el('td', {text: (p.renderers || []).join(', ') || '–'}),
    el('td', {class: 'num', text: p.latency_ms ? p.latency_ms.toFixed(0) + ' ms' : ''})));
  peers.replaceChildren(el('div', {class: 'scroll'}, el('table', {},
    el('thead', {}, el('tr', {}, el('th', {text: 'Peer'}), el('th', {text: 'Link'}), el('th', {text: 'Renderers'}), el('th', {class: 'num', text: 'Latency'}))),
    el('tbody', {}, ...rows))));
}

// ---- wiring ----

function init() {
  for (const b of document.querySelectorAll('[data-copy]')) {
    b.addEventListener('click', () => copy($(b.dataset.copy).textContent, b));
  }
  window.addEventListener('hashchange', () => showTab(location.hash.slice(1)));
  $('publish').addEventListener('submit', publish);
  $('pub-browse').addEventListener('click', () => openBrowser('file', $('pub-scene')));
  $('asset-browse').addEventListener('click', () => openBrowser('dir', $('asset-path')));
  $('br-up').addEventListener('click', () => browser.parent && browse(browser.parent));
  $('br-here').addEventListener('click', () => choose(browser.path));
  $('asset-add').addEventListener('submit', addAsset);
  $('asset-get').addEventListener('submit', getAsset);
  $('coll-browse').addEventListener('click', () => openBrowser('dir', $('coll-dir')));
  $('coll-publish').addEventListener('submit', publishCollection);
  $('coll-follow').addEventListener('submit', followCollection);
  $('set-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('set-pause').addEventListener('click', togglePause);
  $('ov-pause').addEventListener('click', togglePause);
  $('set-cpus-range').addEventListener('input', () => { $('set-cpus').value = $('set-cpus-range').value; coresLabel(); });
  $('set-cpus').addEventListener('input', () => { $('set-cpus-range').value = $('set-cpus').value; coresLabel(); });
  $('set-cpus-range').addEventListener('change', saveSettings);
  for (const id of ['set-cpus', 'set-idle', 'set-from', 'set-to', 'set-quota', 'set-rate', 'set-memory', 'set-unsandboxed']) {
    $(id).addEventListener('change', saveSettings);
  }
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', saveSettings);
  loadSettings();
  showTab(location.hash.slice(1) || 'overview');
  connect();
}

init();
