// Credits: balance, receipts and the earnings plot.
import {$, el, empty, fmtCU, fmtTime, shortID, api} from './util.js';

// ---- credits ----

export async function loadCredits() {
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

export const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// plotEarnings draws cumulative earnings (volunteer receipts) over time.
export function plotEarnings(receipts) {
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
