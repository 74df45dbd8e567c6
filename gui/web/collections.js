// Collections: named, versioned folders signed by their owner. Publish a
// version, follow others' collections, see each version and what changed.
import {$, el, empty, fmtBytes, fmtTime, shortID, api, showMsg, copyButton} from './util.js';

export async function loadCollections() {
  const box = $('coll-list');
  let list;
  try {
    list = await api('GET', '/api/collections');
  } catch (e) {
    box.replaceChildren(empty('Could not list collections: ' + e.message));
    return;
  }
  if (!list.length) {
    box.replaceChildren(empty('No collections yet. Publish a folder as one, or follow OWNER/NAME.'));
    return;
  }
  box.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, ...['Collection', 'Newest', 'Listing', 'Following', ''].map((h) => el('th', {text: h})))),
    el('tbody', {}, ...list.map((c) => {
      const ref = c.owner + '/' + c.name;
      const follow = c.mine ? el('span', {class: 'muted', text: 'mine'}) :
        el('button', {type: 'button', class: 'small', text: c.followed ? 'Unfollow' : 'Follow',
          title: c.followed ? 'Stop fetching new versions' : 'Fetch new versions as they appear',
          onclick: () => setFollow(ref, !c.followed)});
      return el('tr', {'data-coll': c.name},
        el('td', {}, el('code', {text: shortID(c.owner), title: c.owner}), '/' + c.name, ' ', copyButton(ref)),
        el('td', {text: c.head ? 'v' + c.head : '–'}),
        el('td', {}, c.listing ? el('code', {text: shortID(c.listing), title: c.listing}) : '–'),
        el('td', {}, c.followed ? (c.fetched ? 'yes, v' + c.fetched + ' fetched ' : 'yes ') : '', follow),
        el('td', {}, el('button', {type: 'button', class: 'small', text: 'Versions', onclick: () => showVersions(ref)})));
    }))));
}

async function setFollow(ref, on) {
  try {
    await api('POST', '/api/collections/follow', {ref, follow: on});
  } catch (e) {
    alert(e.message);
  }
  loadCollections();
}

// showVersions lists a collection's versions, each with what changed since
// the one before.
export async function showVersions(ref) {
  const box = $('coll-versions');
  box.hidden = false;
  $('coll-versions-title').textContent = 'Versions of ' + ref.replace(/^(.{10}).*(\/.*)$/, '$1…$2');
  const list = $('coll-versions-list');
  list.replaceChildren(empty('Asking the network…'));
  let versions;
  try {
    versions = await api('POST', '/api/collections/versions', {ref});
  } catch (e) {
    list.replaceChildren(empty(e.message));
    return;
  }
  const items = [];
  for (let i = 0; i < versions.length; i++) {
    const v = versions[i];
    const changes = el('ul', {class: 'changes'});
    items.push(el('li', {'data-version': String(v.version)},
      el('strong', {text: 'v' + v.version}), ' ', el('code', {text: shortID(v.listing), title: v.listing}), ' ',
      copyButton(v.listing), ' ', el('span', {class: 'muted', text: fmtTime(v.created) + (v.stored ? ' · stored here' : '')}),
      changes));
    const prev = versions[i + 1];
    if (prev) {
      api('POST', '/api/assets/diff', {a: prev.listing, b: v.listing}).then((d) => {
        if (!d.changes.length) {
          changes.replaceChildren(el('li', {class: 'muted', text: 'no changes since v' + prev.version}));
          return;
        }
        changes.replaceChildren(...d.changes.map((c) => el('li', {class: 'change-' + c.kind},
          el('span', {class: 'kind', text: c.kind}), ' ', el('code', {text: c.path}), ' (' + fmtBytes(c.size) + ')')),
        el('li', {class: 'muted', text: fmtBytes(d.bytes) + ' to fetch with v' + prev.version + ' at hand'}));
      }).catch((e) => changes.replaceChildren(el('li', {class: 'muted', text: 'changes unknown: ' + e.message})));
    } else {
      changes.replaceChildren(el('li', {class: 'muted', text: 'first version'}));
    }
  }
  list.replaceChildren(...items);
}

export async function publishCollection(ev) {
  ev.preventDefault();
  const msg = $('coll-pub-msg');
  showMsg(msg, 'Hashing…');
  try {
    const v = await api('POST', '/api/collections', {name: $('coll-name').value.trim(), dir: $('coll-dir').value.trim()});
    showMsg(msg, 'Published ' + v.name + ' v' + v.version, 'ok');
    loadCollections();
  } catch (e) {
    showMsg(msg, e.message, 'err');
  }
}

export async function followCollection(ev) {
  ev.preventDefault();
  const msg = $('coll-follow-msg');
  const ref = $('coll-ref').value.trim();
  try {
    await api('POST', '/api/collections/follow', {ref, follow: true});
    showMsg(msg, 'Following ' + ref.replace(/^.*\//, ''), 'ok');
    loadCollections();
  } catch (e) {
    showMsg(msg, e.message, 'err');
  }
}
