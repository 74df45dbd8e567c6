// My jobs (publish form, job cards, frame grid) and the jobs of others.
import {$, el, empty, fmtDuration, fmtTime, shortID, pct, slug, api, showMsg, app} from './util.js';
import {fillSettings} from './settings.js';

// ---- my jobs ----

export const jobCards = new Map(); // job id -> {card, parts, framesKey, open}

export function renderMyJobs(jobs) {
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

export function makeJobCard(j) {
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

export async function control(jc, action) {
  try {
    await api('POST', '/api/jobs/' + encodeURIComponent(jc.id) + '/' + action, {});
    showMsg(jc.parts.msg, action === 'cancel' ? 'Cancelled' : action === 'pause' ? 'Paused' : 'Resumed', 'ok');
  } catch (e) {
    showMsg(jc.parts.msg, e.message, 'err');
  }
}

export function updateJobCard(jc, j) {
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

export async function loadFrames(jc) {
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

export function openFrame(src, title) {
  $('viewer-title').textContent = title;
  $('viewer-img').src = src;
  $('viewer').showModal();
}

export async function publish(ev) {
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

export function renderNetworkJobs(jobs) {
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

export async function block(field, id) {
  try {
    const s = await api('GET', '/api/settings');
    s[field] = [...new Set([...(s[field] || []), id])];
    app.settings = await api('PUT', '/api/settings', s);
    fillSettings();
  } catch (e) {
    alert('Could not block: ' + e.message);
  }
}
