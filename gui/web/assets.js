// Assets: the list, adding a folder, fetching by CID; and the file browser.
import {$, el, empty, fmtBytes, shortID, api, showMsg, copyButton} from './util.js';

// ---- assets ----

export async function loadAssets() {
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

export async function pin(cid, pinned) {
  try {
    await api('POST', '/api/assets/pin', {cid, pinned});
  } catch (e) {
    alert(e.message);
  }
  loadAssets();
}

export async function addAsset(ev) {
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
export async function getAsset(ev) {
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

export const browser = {mode: 'file', target: null, path: ''};

export function openBrowser(mode, target) {
  browser.mode = mode;
  browser.target = target;
  $('br-title').textContent = mode === 'file' ? 'Choose the scene file' : 'Choose a folder';
  $('br-here').hidden = mode === 'file';
  const cur = target.value.trim();
  browse(cur ? (mode === 'file' ? cur.replace(/\/[^/]*$/, '') || '/' : cur) : '');
  $('browser').showModal();
}

export async function browse(path) {
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

export function choose(path) {
  browser.target.value = path;
  browser.target.dispatchEvent(new Event('change'));
  $('browser').close();
}
