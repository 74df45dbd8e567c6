// renderswarm web app: one page, no build step. It reads the node's JSON
// API (authenticated by the session cookie the page was served with) and
// re-renders on every state event of /api/events.
'use strict';

const $ = (id) => document.getElementById(id);

// el builds an element: el('td', {class: 'num', text: '3'}, child...).
function el(tag, attrs, ...children) {
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

function empty(text) { return el('p', {class: 'empty', text}); }

// ---- formatting ----

function fmtBytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
}

function fmtDuration(s) {
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

function fmtCU(n) { return (Math.round(n * 10) / 10).toLocaleString(); }
function fmtTime(t) { const d = new Date(t); return isNaN(d) || d.getFullYear() < 2000 ? '–' : d.toLocaleString(); }
function shortID(id) { return id && id.length > 20 ? id.slice(0, 10) + '…' + id.slice(-6) : (id || ''); }
function pct(x) { return Math.round(x * 100) + ' %'; }
function slug(s) { return String(s || '').toLowerCase().replace(/[^a-z0-9]+/g, '-'); }

// ---- API ----

class APIError extends Error {}

let reloading = false;

async function api(method, path, body) {
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

function sessionExpired() {
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

function showMsg(node, text, kind) {
  node.textContent = text;
  node.className = 'msg' + (kind ? ' ' + kind : '');
  clearTimeout(node.timer);
  if (kind === 'ok') node.timer = setTimeout(() => { node.textContent = ''; }, 3000);
}

async function copy(text, button) {
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

function copyButton(text) {
  return el('button', {type: 'button', class: 'small', text: 'Copy', title: 'Copy to the clipboard',
    onclick: (ev) => copy(text, ev.currentTarget)});
}

// ---- state and tabs ----

const app = {
  snap: null,       // last Snapshot from /api/events
  settings: null,   // last Settings from /api/settings (null: not volunteering)
  tab: 'overview',
};

function showTab(name) {
  if (!document.getElementById(name) || !document.querySelector(`[data-tab="${name}"]`)) name = 'overview';
  app.tab = name;
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== name;
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.tab === name);
  if (name === 'assets') loadAssets();
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
  if (prev && JSON.stringify(prev.activity.renderers) !== JSON.stringify(s.activity.renderers)) renderRenderers();
}

// ---- overview ----

function renderOverview(s, prev) {
  $('peer-id').textContent = s.id.peer_id;
  $('peer-count').textContent = String(s.peers.length);
  $('net-reach').textContent = s.network.reachability || 'unknown';
  $('net-routing').textContent = String(s.network.routing_peers || 0);
  $('net-relays').textContent = (s.network.relays || []).join('\n') || 'none';
  $('net-listen').textContent = (s.network.listen_addrs || []).join('\n') || 'none';

  const a = s.activity;
  const state = $('vol-state');
  state.textContent = a.state;
  state.className = 'badge ' + slug(a.state);
  $('vol-cpu').textContent = a.cpu_percent ? a.cpu_percent.toFixed(0) + ' % of one core' : '–';
  $('vol-mem').textContent = a.memory_bytes ? fmtBytes(a.memory_bytes) : '–';
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

// ---- my jobs ----

const jobCards = new Map(); // job id -> {card, parts, framesKey, open}

function renderMyJobs(jobs) {
  const list = $('my-jobs');
  if (!jobs.length) {
    jobCards.clear();
    list.replaceChildren(empty('You have not published anything yet. Pick a scene above.'));
    return;
  }
  const seen = new Set();
  const cards = [];
  for (const j of [...jobs].sort((a, b) => (b.created || '').localeCompare(a.created || ''))) {
    seen.add(j.id);
    let jc = jobCards.get(j.id);
    if (!jc) {
      jc = makeJobCard(j);
      jobCards.set(j.id, jc);
    }
    updateJobCard(jc, j);
    cards.push(jc.card);
  }
  for (const id of jobCards.keys()) if (!seen.has(id)) jobCards.delete(id);
  list.replaceChildren(...cards);
}

function makeJobCard(j) {
  const p = {
    title: el('span', {class: 'title'}),
    state: el('span', {class: 'badge'}),
    meta: el('div', {class: 'meta'}),
    progress: el('progress', {max: '1', value: '0'}),
    counts: el('span'),
    errors: el('ul', {class: 'errors'}),
    frames: el('div', {class: 'frames', hidden: true}),
    legend: el('div', {class: 'legend', hidden: true},
      ...['queued', 'rendering', 'verifying', 'verified', 'failed'].map((s) => el('span', {}, el('i', {class: s}), s))),
    pause: el('button', {type: 'button', class: 'small'}),
    cancel: el('button', {type: 'button', class: 'small danger', text: 'Cancel'}),
    toggle: el('button', {type: 'button', class: 'small frames-toggle', text: 'Show frames'}),
    zip: el('a', {href: '/api/jobs/' + encodeURIComponent(j.id) + '/frames.zip', download: '', text: 'Download verified frames'}),
    msg: el('span', {class: 'msg'}),
  };
  const jc = {parts: p, framesKey: '', open: false, id: j.id};
  jc.card = el('div', {class: 'job', 'data-job': j.id},
    el('div', {class: 'head'}, p.title, p.state, el('div', {class: 'actions'}, p.toggle, p.pause, p.cancel)),
    p.meta,
    el('div', {class: 'bar'}, p.progress, p.counts),
    el('div', {class: 'row'}, p.zip, p.msg),
    p.errors, p.legend, p.frames);
  p.pause.addEventListener('click', () => control(jc, jc.state === 'paused' ? 'resume' : 'pause'));
  p.cancel.addEventListener('click', () => {
    if (confirm('Cancel this job? Volunteers stop rendering it.')) control(jc, 'cancel');
  });
  p.toggle.addEventListener('click', () => {
    jc.open = !jc.open;
    p.frames.hidden = p.legend.hidden = !jc.open;
    p.toggle.textContent = jc.open ? 'Hide frames' : 'Show frames';
    if (jc.open) loadFrames(jc);
  });
  return jc;
}

async function control(jc, action) {
  try {
    await api('POST', '/api/jobs/' + encodeURIComponent(jc.id) + '/' + action, {});
    showMsg(jc.parts.msg, action === 'cancel' ? 'Cancelled' : action === 'pause' ? 'Paused' : 'Resumed', 'ok');
  } catch (e) {
    showMsg(jc.parts.msg, e.message, 'err');
  }
}

function updateJobCard(jc, j) {
  const p = jc.parts;
  jc.state = j.state;
  p.title.textContent = j.title || shortID(j.id);
  p.state.textContent = j.state;
  p.state.className = 'badge ' + slug(j.state);
  const f = j.frames;
  const parts = [j.renderer, 'id ' + shortID(j.id), 'published ' + fmtTime(j.created)];
  if (j.eta_seconds && j.state === 'running') parts.push('about ' + fmtDuration(j.eta_seconds) + ' left');
  p.meta.textContent = parts.filter(Boolean).join(' · ');
  p.progress.value = f.total ? f.verified / f.total : 0;
  p.counts.textContent = `${f.verified}/${f.total} verified` + (f.rendering ? `, ${f.rendering} rendering` : '') +
    (f.failed ? `, ${f.failed} failed` : '');
  const finished = ['done', 'cancelled', 'failed'].includes(j.state);
  p.pause.textContent = j.state === 'paused' ? 'Resume' : 'Pause';
  p.pause.disabled = p.cancel.disabled = finished;
  p.zip.hidden = !f.verified;
  p.errors.replaceChildren(...(j.errors || []).map((e) => el('li', {},
    `frame ${e.frame}${e.tile ? ' tile ' + e.tile : ''} on ${shortID(e.peer)} (${fmtTime(e.at)}): ${e.reason}`)));
  const key = JSON.stringify(f) + j.state;
  if (jc.open && key !== jc.countsKey) loadFrames(jc);
  jc.countsKey = key;
}

async function loadFrames(jc) {
  let frames;
  try {
    frames = await api('GET', '/api/jobs/' + encodeURIComponent(jc.id) + '/frames');
  } catch (e) {
    jc.parts.frames.replaceChildren(empty('Frames unavailable: ' + e.message));
    return;
  }
  const key = JSON.stringify(frames);
  if (key === jc.framesKey) return;
  jc.framesKey = key;
  const base = '/api/jobs/' + encodeURIComponent(jc.id) + '/frames/';
  jc.parts.frames.replaceChildren(...frames.map((fr) => {
    let tip = `frame ${fr.frame}: ${fr.state}`;
    if (fr.state === 'rendering') tip += ' ' + pct(fr.progress);
    if (fr.error) tip += ' — ' + fr.error;
    const cell = el('div', {class: 'frame ' + fr.state, title: tip, 'data-frame': String(fr.frame)});
    if (fr.state === 'rendering') {
      const fill = el('div', {class: 'fill'});
      fill.style.width = pct(fr.progress || 0).replace(' ', '');
      cell.append(fill);
    }
    if (fr.state === 'verified') {
      cell.append(el('img', {src: base + fr.frame + '/thumb', alt: 'frame ' + fr.frame, loading: 'lazy'}));
      cell.tabIndex = 0;
      cell.addEventListener('click', () => openFrame(base + fr.frame, 'Frame ' + fr.frame));
      cell.addEventListener('keydown', (k) => { if (k.key === 'Enter') openFrame(base + fr.frame, 'Frame ' + fr.frame); });
    }
    cell.append(el('span', {text: String(fr.frame)}));
    return cell;
  }));
  if (!frames.length) jc.parts.frames.append(empty('No frames.'));
}

function openFrame(src, title) {
  $('viewer-title').textContent = title;
  $('viewer-img').src = src;
  $('viewer').showModal();
}

async function publish(ev) {
  ev.preventDefault();
  const f = ev.target;
  const num = (name) => Number(f.elements[name].value) || 0;
  const req = {
    scene: f.elements.scene.value.trim(),
    title: f.elements.title.value.trim(),
    renderer: f.elements.renderer.value,
    frames: f.elements.frames.value.trim(),
    replicas: num('replicas'),
    resolution: f.elements.resolution.value.trim(),
    samples: num('samples'),
    tiles: num('tiles'),
    time_limit: f.elements.time_limit.value.trim(),
  };
  const msg = $('pub-msg');
  $('pub-submit').disabled = true;
  showMsg(msg, 'Publishing… (hashing the scene can take a while)');
  try {
    const st = await api('POST', '/api/jobs', req);
    showMsg(msg, `Published “${st.title || st.id}”`, 'ok');
    f.reset();
  } catch (e) {
    showMsg(msg, e.message, 'err');
  } finally {
    $('pub-submit').disabled = false;
  }
}

// ---- network jobs ----

function renderNetworkJobs(jobs) {
  const box = $('net-jobs');
  if (!jobs.length) {
    box.replaceChildren(empty('No jobs announced by other publishers yet.'));
    return;
  }
  const rows = jobs.map((j) => el('tr', {},
    el('td', {}, el('div', {text: j.title || shortID(j.id)}), el('code', {class: 'muted', text: shortID(j.id), title: j.id})),
    el('td', {}, el('code', {text: shortID(j.publisher), title: j.publisher})),
    el('td', {text: j.renderer}),
    el('td', {class: 'num', text: String(j.frames.queued)}),
    el('td', {text: j.working ? 'yes, rendering' : ''}),
    el('td', {},
      el('button', {type: 'button', class: 'small danger block-publisher', text: 'Block publisher', onclick: () => block('blocked_publishers', j.publisher)}),
      ' ',
      el('button', {type: 'button', class: 'small danger block-job', text: 'Block job', onclick: () => block('blocked_jobs', j.id)}))));
  box.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, ...['Job', 'Publisher', 'Renderer', 'Tasks left', 'This node', ''].map((h, i) =>
      el('th', {class: i === 3 ? 'num' : null, text: h})))),
    el('tbody', {}, ...rows)));
}

async function block(field, id) {
  try {
    const s = await api('GET', '/api/settings');
    s[field] = [...new Set([...(s[field] || []), id])];
    app.settings = await api('PUT', '/api/settings', s);
    fillSettings();
  } catch (e) {
    alert('Could not block: ' + e.message);
  }
}

// ---- assets ----

async function loadAssets() {
  const box = $('asset-list');
  let list;
  try {
    list = await api('GET', '/api/assets');
  } catch (e) {
    box.replaceChildren(empty('Could not list assets: ' + e.message));
    return;
  }
  if (!list.length) {
    box.replaceChildren(empty('No assets yet. Publishing a scene or sharing a folder adds one.'));
    return;
  }
  box.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, ...['Name', 'CID', 'Size', 'Files', 'State', 'Pinned'].map((h, i) =>
      el('th', {class: i === 2 || i === 3 ? 'num' : null, text: h})))),
    el('tbody', {}, ...list.map((a) => el('tr', {},
      el('td', {text: a.name}),
      el('td', {}, el('code', {text: shortID(a.cid), title: a.cid}), ' ', copyButton(a.cid)),
      el('td', {class: 'num', text: fmtBytes(a.size)}),
      el('td', {class: 'num', text: String(a.files)}),
      el('td', {text: a.complete ? 'complete' : 'partial'}),
      el('td', {}, a.pinned ? 'yes ' : 'no ', el('button', {type: 'button', class: 'small', text: a.pinned ? 'Unpin' : 'Pin',
        title: a.pinned ? 'Pinned assets are never evicted from the cache' : 'Keep this asset whatever the cache quota',
        onclick: () => pin(a.cid, !a.pinned)})))))));
}

async function pin(cid, pinned) {
  try {
    await api('POST', '/api/assets/pin', {cid, pinned});
  } catch (e) {
    alert(e.message);
  }
  loadAssets();
}

async function addAsset(ev) {
  ev.preventDefault();
  const msg = $('asset-add-msg');
  showMsg(msg, 'Hashing…');
  try {
    const a = await api('POST', '/api/assets', {paths: [$('asset-path').value.trim()]});
    showMsg(msg, 'Added ' + a.name + ' (' + shortID(a.cid) + ')', 'ok');
    loadAssets();
  } catch (e) {
    showMsg(msg, e.message, 'err');
  }
}

// getAsset reads the fetch's newline-delimited progress events as they
// come.
async function getAsset(ev) {
  ev.preventDefault();
  const msg = $('asset-get-msg');
  const bar = $('asset-get-progress');
  bar.hidden = false;
  bar.removeAttribute('value');
  showMsg(msg, 'Looking for peers…');
  try {
    const resp = await fetch('/api/assets/get', {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({cid: $('asset-cid').value.trim()})});
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({}));
      throw new Error(body.error || resp.statusText);
    }
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const e = JSON.parse(line);
        if (e.error) throw new Error(e.error);
        if (e.asset) {
          bar.value = 1;
          showMsg(msg, 'Fetched ' + e.asset.name + ' (' + fmtBytes(e.asset.size) + ')', 'ok');
          loadAssets();
          return;
        }
        if (e.progress) {
          const p = e.progress;
          if (p.total) bar.value = p.done / p.total;
          showMsg(msg, `${p.phase}: ${fmtBytes(p.done)} of ${fmtBytes(p.total)} from ${p.peers} peers` +
            (p.rate ? `, ${fmtBytes(p.rate)}/s` : ''));
        }
      }
    }
    throw new Error('the node closed the connection before the fetch finished');
  } catch (e) {
    bar.hidden = true;
    showMsg(msg, e.message, 'err');
  }
}

// ---- file browser ----

const browser = {mode: 'file', target: null, path: ''};

function openBrowser(mode, target) {
  browser.mode = mode;
  browser.target = target;
  $('br-title').textContent = mode === 'file' ? 'Choose the scene file' : 'Choose a folder';
  $('br-here').hidden = mode === 'file';
  const cur = target.value.trim();
  browse(cur ? (mode === 'file' ? cur.replace(/\/[^/]*$/, '') || '/' : cur) : '');
  $('browser').showModal();
}

async function browse(path) {
  const list = $('br-list');
  try {
    const l = await api('GET', '/api/browse' + (path ? '?path=' + encodeURIComponent(path) : ''));
    browser.path = l.path;
    browser.parent = l.parent;
    $('br-path').textContent = l.path;
    $('br-up').disabled = !l.parent;
    showMsg($('br-msg'), '');
    const join = (name) => (l.path.endsWith('/') ? l.path : l.path + '/') + name;
    const items = l.entries.filter((e) => !e.name.startsWith('.')).map((e) => {
      const li = el('li', {class: e.dir ? 'dir' : 'file', tabindex: '0'}, el('span', {text: e.name}),
        e.dir ? null : el('span', {class: 'size', text: fmtBytes(e.size)}));
      const pick = () => {
        if (e.dir) browse(join(e.name));
        else if (browser.mode === 'file') choose(join(e.name));
      };
      li.addEventListener('click', pick);
      li.addEventListener('keydown', (k) => { if (k.key === 'Enter') pick(); });
      return li;
    });
    list.replaceChildren(...items);
    if (!items.length) list.append(el('li', {class: 'empty', text: 'Empty folder'}));
  } catch (e) {
    showMsg($('br-msg'), e.message, 'err');
  }
}

function choose(path) {
  browser.target.value = path;
  browser.target.dispatchEvent(new Event('change'));
  $('browser').close();
}

// ---- settings ----

async function loadSettings() {
  try {
    app.settings = await api('GET', '/api/settings');
  } catch (e) {
    app.settings = null;
  }
  fillSettings();
}

const GB = 1e9;
const MB = 1e6;

function fillSettings() {
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
  renderRenderers();
  renderBlocked();
}

function coresLabel() {
  const max = $('set-cpus').max;
  const n = Number($('set-cpus').value) || 0;
  $('set-ncpu').textContent = n === 0 ? `all ${max} cores` : `${n} of ${max} cores`;
}

function renderRenderers() {
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
    el('span', {class: 'muted', text: r.installed ? (r.version || '') : (r.problem || 'not installed')}))));
}

function renderBlocked() {
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

function renderPauseButtons() {
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

function collectSettings() {
  const s = {...app.settings};
  s.cpus = Math.max(0, Math.floor(Number($('set-cpus').value) || 0));
  const mode = document.querySelector('input[name=mode]:checked');
  s.mode = mode ? mode.value : 'always';
  s.idle_minutes = Math.max(0, Math.floor(Number($('set-idle').value) || 0));
  s.schedule = s.mode === 'schedule' ? $('set-from').value + '-' + $('set-to').value : (s.schedule || '');
  s.cache_quota = Math.max(0, Math.round((Number($('set-quota').value) || 0) * GB));
  s.max_upload_rate = Math.max(0, Math.round((Number($('set-rate').value) || 0) * MB));
  const boxes = [...document.querySelectorAll('input[name=renderer]')];
  const installed = boxes.filter((b) => !b.disabled);
  const offered = installed.filter((b) => b.checked).map((b) => b.value);
  s.renderers = offered.length === installed.length && app.settings.renderers == null ? null : offered;
  return s;
}

async function putSettings(next) {
  const msg = $('set-msg');
  try {
    app.settings = await api('PUT', '/api/settings', next);
    fillSettings();
    showMsg(msg, 'Saved ✓', 'ok');
  } catch (e) {
    showMsg(msg, e.message, 'err');
  }
}

function saveSettings() {
  if (app.settings) putSettings(collectSettings());
}

async function togglePause() {
  if (!app.settings) await loadSettings();
  if (!app.settings) return;
  await putSettings({...app.settings, paused: !app.settings.paused});
}

// ---- credits ----

async function loadCredits() {
  let r;
  try {
    r = await api('GET', '/api/credits?limit=1000');
  } catch (e) {
    $('cr-receipts').replaceChildren(empty('Could not read the ledger: ' + e.message));
    return;
  }
  $('cr-balance').textContent = fmtCU(r.balance);
  $('cr-earned').textContent = fmtCU(r.earned);
  $('cr-spent').textContent = fmtCU(r.spent);
  plotEarnings(r.receipts);
  if (!r.receipts.length) {
    $('cr-receipts').replaceChildren(empty('No receipts yet. Volunteering earns compute units; publishing spends them.'));
    return;
  }
  $('cr-receipts').replaceChildren(el('div', {class: 'scroll'}, el('table', {},
    el('thead', {}, el('tr', {}, ...['When', 'Role', 'Counterpart', 'Task', 'CU'].map((h) =>
      el('th', {class: h === 'CU' ? 'num' : null, text: h})))),
    el('tbody', {}, ...r.receipts.map((x) => el('tr', {},
      el('td', {text: fmtTime(x.issued)}),
      el('td', {text: x.role === 'volunteer' ? 'earned' : 'paid'}),
      el('td', {}, el('code', {text: shortID(x.counterpart), title: x.counterpart})),
      el('td', {}, el('code', {text: shortID(x.task), title: x.task})),
      el('td', {class: 'num', text: (x.role === 'volunteer' ? '+' : '−') + fmtCU(x.cu)})))))));
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// plotEarnings draws cumulative earnings (volunteer receipts) over time.
function plotEarnings(receipts) {
  const box = $('cr-plot');
  const earned = receipts.filter((r) => r.role === 'volunteer')
    .map((r) => ({t: new Date(r.issued).getTime(), cu: r.cu}))
    .filter((p) => !isNaN(p.t)).sort((a, b) => a.t - b.t);
  if (!earned.length) {
    box.replaceChildren(empty('Nothing earned yet.'));
    return;
  }
  const pts = [];
  let sum = 0;
  for (const p of earned) { sum += p.cu; pts.push({t: p.t, y: sum}); }
  const W = Math.max(box.clientWidth, 320), H = 220, L = 56, R = 12, T = 12, B = 28;
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  const ymax = sum || 1;
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => H - B - v / ymax * (H - T - B);
  let d = `M ${x(t0)} ${y(0)}`;
  for (const p of pts) d += ` L ${x(p.t).toFixed(1)} ${y(p.y).toFixed(1)}`;
  const s = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Cumulative earnings'});
  s.append(svg('path', {class: 'area', d: d + ` L ${x(t1)} ${y(0)} Z`}));
  s.append(svg('path', {class: 'line', d}));
  s.append(svg('line', {class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B}));
  s.append(svg('line', {class: 'axis', x1: L, y1: T, x2: L, y2: H - B}));
  s.append(svg('text', {x: L - 6, y: y(ymax) + 4, 'text-anchor': 'end'}, fmtCU(ymax)));
  s.append(svg('text', {x: L - 6, y: y(0) + 4, 'text-anchor': 'end'}, '0'));
  const day = (t) => new Date(t).toLocaleString([], {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'});
  s.append(svg('text', {x: L, y: H - 8}, day(t0)));
  s.append(svg('text', {x: W - R, y: H - 8, 'text-anchor': 'end'}, day(t1)));
  box.replaceChildren(s);
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
  $('set-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('set-pause').addEventListener('click', togglePause);
  $('ov-pause').addEventListener('click', togglePause);
  $('set-cpus-range').addEventListener('input', () => { $('set-cpus').value = $('set-cpus-range').value; coresLabel(); });
  $('set-cpus').addEventListener('input', () => { $('set-cpus-range').value = $('set-cpus').value; coresLabel(); });
  $('set-cpus-range').addEventListener('change', saveSettings);
  for (const id of ['set-cpus', 'set-idle', 'set-from', 'set-to', 'set-quota', 'set-rate']) {
    $(id).addEventListener('change', saveSettings);
  }
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', saveSettings);
  loadSettings();
  showTab(location.hash.slice(1) || 'overview');
  connect();
}

init();
