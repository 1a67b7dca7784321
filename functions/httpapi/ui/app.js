// Cartwheel dashboard: polls the admin API and draws the ring, the nodes and
// the traffic. Plain JavaScript, no dependencies; every URL is relative to the
// page (/ui), so it works behind an API Gateway stage prefix too.
'use strict';

(() => {
  const REFRESH_MS = 2000;
  const HINTS_EVERY = 5; // refreshes between two /admin/hints (one LIST per node)
  const SVGNS = 'http://www.w3.org/2000/svg';
  const TAU = Math.PI * 2;
  const R_OUT = 196, R_IN = 150, R_ZONE0 = 200, R_ZONE1 = 206, R_BADGE = 218;
  // Zones are shown in the ring's outer band in neutral tones, so that the
  // nodes' own hues stay distinct.
  const ZONE_TONES = ['#e2e8f0', '#94a3b8', '#475569', '#cbd5e1', '#64748b', '#f1f5f9', '#334155', '#a8b4c7'];

  const $ = (sel, root = document) => root.querySelector(sel);

  // ---- DOM helpers -----------------------------------------------------------
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    return e;
  }
  function h(tag, attrs, ...kids) {
    const e = setAttrs(document.createElement(tag), attrs);
    for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
    return e;
  }
  function s(tag, attrs, ...kids) {
    const e = setAttrs(document.createElementNS(SVGNS, tag), attrs);
    for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
    return e;
  }
  const fmt = (n, d = 0) => (n === undefined || n === null || Number.isNaN(n)) ? '–' :
    Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const ms = (v) => v === undefined || v === null ? '–' : v >= 100 ? fmt(v, 0) : v >= 10 ? fmt(v, 1) : fmt(v, 2);
  const clock = (t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false });

  // ---- API -----------------------------------------------------------------------
  class ApiError extends Error {
    constructor(method, path, status, message, code) {
      super(`${method} /${path} → ${status || 'no answer'}: ${message}`);
      this.status = status;
      this.code = code;
    }
  }
  async function api(method, path, body) {
    const opt = { method, cache: 'no-store', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      opt.body = JSON.stringify(body);
      opt.headers['Content-Type'] = 'application/json';
    }
    let r;
    try {
      r = await fetch(path, opt);
    } catch (e) {
      throw new ApiError(method, path, 0, 'network error (' + e.message + ')');
    }
    const text = await r.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch { data = text; } }
    if (!r.ok) {
      const msg = data && data.message ? data.message : (typeof data === 'string' && data ? data : r.statusText);
      throw new ApiError(method, path, r.status, msg, data && data.error);
    }
    return data;
  }

  // ---- state -------------------------------------------------------------------------
  const S = {
    nodes: [], byId: new Map(), ring: null, stats: null, hints: null, plan: null, transfers: null,
    key: '', pref: null, prefError: '', paused: false, refreshes: 0,
    colors: new Map(), zoneColor: new Map(), zones: [], ringSig: '', arcs: [],
    lastRepair: null, busy: false,
  };

  function status(n) {
    const f = n.fault && n.fault.mode;
    if (f === 'down') return { cls: 'bad', glyph: '⚡', text: 'fault: down' };
    if (n.state === 'down') return { cls: 'bad', glyph: '✕', text: 'down' };
    if (n.suspect) return { cls: 'warn', glyph: '◐', text: 'suspect' };
    if (f) return { cls: 'warn', glyph: '⚡', text: 'fault: ' + f + (n.fault.latencyMs ? ` ${n.fault.latencyMs} ms` : '') + (n.fault.rate ? ` ${Math.round(n.fault.rate * 100)}%` : '') };
    if (n.state === 'active') return { cls: 'ok', glyph: '●', text: 'active' };
    return { cls: 'info', glyph: n.state === 'joining' ? '↗' : '↘', text: n.state || 'unknown' };
  }
  const stateBadge = (n) => {
    const st = status(n);
    return h('span', { class: 'state ' + st.cls, 'data-state': st.text },
      h('span', { class: 'glyph', 'aria-hidden': 'true', text: st.glyph }), st.text);
  };

  // Colours: each node its own hue, spread evenly around the colour wheel
  // in id order (alternating lightness, so neighbours differ even with many
  // nodes); each zone a neutral tone for the ring's outer band.
  function assignColors() {
    const zones = [...new Set(S.nodes.map((n) => n.zone))].sort();
    S.zones = zones;
    S.colors.clear();
    S.zoneColor.clear();
    zones.forEach((z, zi) => S.zoneColor.set(z, ZONE_TONES[zi % ZONE_TONES.length]));
    const ids = S.nodes.map((n) => n.id).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    ids.forEach((id, i) => {
      const hue = (8 + (360 * i) / ids.length) % 360;
      S.colors.set(id, `hsl(${hue.toFixed(1)} ${i % 2 ? 62 : 76}% ${i % 2 ? 52 : 64}%)`);
    });
  }
  const colorOf = (id) => S.colors.get(id) || '#64748b';

  // ---- header ----------------------------------------------------------------------
  function renderParams() {
    const r = S.ring;
    if (!r) return;
    const items = [['ring epoch', r.ringEpoch === undefined ? '–' : r.ringEpoch, 'Ring changes: a change planned, committed or cancelled'],
      ['membership epoch', r.epoch, 'Every membership change, injected faults and node states included'],
      ['Q', r.q], ['N', r.n], ['R', r.r], ['W', r.w], ['nodes', S.nodes.length]];
    if (r.lww) items.push(['mode', 'LWW']);
    $('#params').replaceChildren(...items.map(([k, v, title]) => h('div', { title, 'data-param': k }, h('dt', { text: k }), h('dd', { text: String(v) }))));
  }

  // ---- ring ------------------------------------------------------------------------------
  const pt = (r, a) => [(r * Math.cos(a)).toFixed(2), (r * Math.sin(a)).toFixed(2)];
  const angle = (frac) => frac * TAU - Math.PI / 2;

  function arcPath(a0, a1, r0, r1) {
    if (a1 - a0 >= Math.PI * 0.999) { // split big arcs (Q = 1 or 2)
      const mid = (a0 + a1) / 2;
      return arcPath(a0, mid, r0, r1) + ' ' + arcPath(mid, a1, r0, r1);
    }
    const [x0, y0] = pt(r1, a0), [x1, y1] = pt(r1, a1), [x2, y2] = pt(r0, a1), [x3, y3] = pt(r0, a0);
    return `M${x0} ${y0}A${r1} ${r1} 0 0 1 ${x1} ${y1}L${x2} ${y2}A${r0} ${r0} 0 0 0 ${x3} ${y3}Z`;
  }

  // Node order for the ring's sector view: by zone, then id, so each zone's
  // nodes form adjacent bands.
  const nodeOrder = () => [...S.nodes].sort((a, b) => a.zone.localeCompare(b.zone) || a.id.localeCompare(b.id)).map((n) => n.id);

  // buildRing draws the partitions. Up to MAX_ARCS partitions, one arc each;
  // beyond that arcs would be a few pixels wide or less, so the ring is cut
  // into 64 sectors and each sector stacks its owners' shares radially (a node
  // down then shows as a striped band all around).
  const MAX_ARCS = 128;
  function buildRing() {
    const r = S.ring;
    const q = r.q;
    const sig = r.epoch + '|' + q + '|' + r.owners.join(',') + '|' + [...S.colors].join(',');
    if (sig === S.ringSig) return;
    S.ringSig = sig;
    const arcs = [];
    const frag = document.createDocumentFragment();
    const sectors = q <= MAX_ARCS ? q : 64;
    const per = q / sectors;
    const order = nodeOrder();
    $('#ring').setAttribute('data-q', q);
    $('#ring').setAttribute('data-view', per === 1 ? 'partitions' : 'sectors');
    for (let sec = 0; sec < sectors; sec++) {
      const a0 = angle(sec / sectors), a1 = angle((sec + 1) / sectors);
      const lo = sec * per, hi = lo + per;
      if (per === 1) {
        const owner = r.owners[lo];
        const node = S.byId.get(owner);
        const e = s('path', {
          class: 'arc', d: arcPath(a0, a1, R_IN, R_OUT), fill: colorOf(owner), 'data-owner': owner, 'data-partition': lo,
        }, s('title', { text: `partition ${lo} → ${owner}${node ? ' (zone ' + node.zone + ')' : ''}` }));
        arcs.push(e);
        frag.append(e);
        continue;
      }
      const counts = new Map();
      for (let p = lo; p < hi; p++) counts.set(r.owners[p], (counts.get(r.owners[p]) || 0) + 1);
      const title = `partitions ${lo}–${hi - 1}: ` + order.filter((id) => counts.get(id)).map((id) => `${id} ${counts.get(id)}`).join(', ');
      let r0 = R_IN;
      for (const id of order) {
        const c = counts.get(id);
        if (!c) continue;
        const r1 = r0 + ((R_OUT - R_IN) * c) / per;
        const e = s('path', { class: 'arc', d: arcPath(a0, a1, r0, r1), fill: colorOf(id), 'data-owner': id, 'data-sector': sec }, s('title', { text: title }));
        arcs.push(e);
        frag.append(e);
        r0 = r1;
      }
    }
    $('#ring-arcs').replaceChildren(frag);
    S.arcs = arcs;
    // Zone band (partition view only): runs of partitions whose owners share a zone.
    const zones = $('#ring-zones');
    zones.replaceChildren();
    const zoneOf = (p) => (S.byId.get(r.owners[p]) || {}).zone;
    if (per === 1) {
      let start = 0;
      for (let p = 1; p <= q; p++) {
        if (p < q && zoneOf(p) === zoneOf(start)) continue;
        zones.append(s('path', { class: 'zone-seg', d: arcPath(angle(start / q), angle(p / q), R_ZONE0, R_ZONE1), fill: S.zoneColor.get(zoneOf(start)) || '#475569', 'data-zone': zoneOf(start) }));
        start = p;
      }
    } else {
      // Each sector's band is split along the circle by its owners' zones.
      for (let sec = 0; sec < sectors; sec++) {
        const lo = sec * per;
        const counts = new Map();
        for (let p = lo; p < lo + per; p++) counts.set(zoneOf(p), (counts.get(zoneOf(p)) || 0) + 1);
        let f0 = sec / sectors;
        for (const z of S.zones) {
          const c = counts.get(z);
          if (!c) continue;
          const f1 = f0 + c / per / sectors;
          zones.append(s('path', { class: 'zone-seg', d: arcPath(angle(f0), angle(f1), R_ZONE0, R_ZONE1), fill: S.zoneColor.get(z), 'data-zone': z }));
          f0 = f1;
        }
      }
    }
    // Ticks at quarters of the hash space.
    const ticks = $('#ring-ticks');
    ticks.replaceChildren();
    ['0', '¼', '½', '¾'].forEach((label, i) => {
      const a = angle(i / 4);
      const [x0, y0] = pt(R_IN - 10, a), [x1, y1] = pt(R_IN - 2, a), [lx, ly] = pt(R_IN - 20, a);
      ticks.append(s('line', { class: 'tick', x1: x0, y1: y0, x2: x1, y2: y1 }));
      ticks.append(s('text', { class: 'tick-label', x: lx, y: Number(ly) + 3.5, text: label }));
    });
    const view = per === 1 ? `${q} partitions, one arc each` : `${q} partitions in ${sectors} sectors of ${per}; each sector shows its owners' shares`;
    $('#ring-desc').textContent = `The hash ring: ${view}, coloured by owner.`;
    $('#ring-mode').textContent = per === 1 ? 'one arc per partition' : `${sectors} sectors of ${per} partitions, owners' shares stacked`;
  }

  // firstOwned returns the first partition clockwise from p owned by node.
  function firstOwned(p, node) {
    const q = S.ring.q;
    for (let d = 0; d < q; d++) if (S.ring.owners[(p + d) % q] === node) return { k: (p + d) % q, d };
    return null;
  }

  function renderRing() {
    if (!S.ring) return;
    buildRing();
    const pref = S.pref && S.pref.q === S.ring.q ? S.pref : null;
    // The key's replicas and the primaries that fallbacks stand in for stay
    // bright; the other nodes' partitions dim.
    const inPref = new Set(pref ? pref.replicas.flatMap((x) => x.standsInFor ? [x.node, x.standsInFor] : [x.node]) : []);
    for (const a of S.arcs) {
      const owner = a.getAttribute('data-owner');
      const n = S.byId.get(owner);
      const st = n ? status(n).cls : 'ok';
      a.setAttribute('class', 'arc' + (st === 'bad' ? ' bad' : st === 'warn' ? ' warn' : '') + (pref && !inPref.has(owner) ? ' dim' : ''));
    }
    // Centre.
    const center = $('#ring-center');
    center.replaceChildren();
    if (pref) {
      center.append(s('text', { class: 'center-small', y: -24, text: 'partition' }));
      center.append(s('text', { class: 'center-big', y: 12, text: String(pref.partition) }));
      const k = pref.key.length > 22 ? pref.key.slice(0, 21) + '…' : pref.key;
      center.append(s('text', { class: 'center-key', y: 36, text: k }));
    } else {
      center.append(s('text', { class: 'center-big', y: 4, text: fmt(S.ring.q) }));
      center.append(s('text', { class: 'center-small', y: 24, text: 'partitions' }));
      center.append(s('text', { class: 'center-small', y: 42, text: `${S.nodes.length} nodes · ${S.zones.length} zones` }));
    }
    // Preference list overlay: the key's position, the walk clockwise, and a
    // numbered badge on the partition where each replica was found.
    const over = $('#ring-overlay');
    over.replaceChildren();
    if (!pref) return;
    const q = S.ring.q;
    const ka = angle(pref.position);
    const found = pref.replicas.map((rep) => ({ rep, f: firstOwned(pref.partition, rep.node) })).filter((x) => x.f);
    const maxD = found.reduce((m, x) => Math.max(m, x.f.d), 0);
    const endA = angle((pref.partition + maxD + 1) / q);
    if (endA - ka > 0.002) {
      const [sx, sy] = pt(R_IN - 6, ka), [ex, ey] = pt(R_IN - 6, endA);
      over.append(s('path', { class: 'sweep', d: `M${sx} ${sy}A${R_IN - 6} ${R_IN - 6} 0 ${endA - ka > Math.PI ? 1 : 0} 1 ${ex} ${ey}` }));
    }
    const [px0, py0] = pt(58, ka), [px1, py1] = pt(R_OUT + 2, ka);
    over.append(s('line', { class: 'keypin', x1: px0, y1: py0, x2: px1, y2: py1 }));
    const [dx, dy] = pt(R_IN - 6, ka);
    over.append(s('circle', { class: 'keydot', cx: dx, cy: dy, r: 5 }, s('title', { text: `key "${pref.key}": partition ${pref.partition}` })));
    let prevBadge = -Infinity;
    const minGap = 0.118; // radians between badges, so they never overlap
    found.forEach(({ rep, f }, i) => {
      const a = angle((f.k + 0.5) / q);
      const aUnwrapped = a < ka - 1e-9 ? a + TAU : a; // keep badges clockwise of the key
      const ba = Math.max(aUnwrapped, prevBadge + minGap, ka + minGap * 0.4);
      prevBadge = ba;
      const c = colorOf(rep.node);
      const [l0x, l0y] = pt(R_IN, a), [l1x, l1y] = pt(R_OUT + 6, a), [l2x, l2y] = pt(R_BADGE - 10, ba);
      over.append(s('path', { class: 'leader', stroke: c, d: `M${l0x} ${l0y}L${l1x} ${l1y}L${l2x} ${l2y}` }));
      const [bx, by] = pt(R_BADGE, ba);
      const label = rep.primary ? String(i + 1) : 'F';
      over.append(s('g', { class: 'badge' + (rep.primary ? '' : ' fallback'), transform: `translate(${bx} ${by})` },
        s('circle', { r: 10.5, fill: c }), s('text', { text: label }),
        s('title', { text: rep.primary ? `primary ${i + 1}: ${rep.node}` : `fallback ${rep.node} for ${rep.standsInFor}` })));
    });
  }

  function renderLegend() {
    const items = [];
    for (const z of S.zones) {
      items.push(h('li', { class: 'zone', text: 'zone ' + z }));
      for (const n of S.nodes.filter((x) => x.zone === z)) {
        const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        sw.style.background = colorOf(n.id);
        items.push(h('li', { class: 'node', 'data-node': n.id }, sw, n.id, stateBadge(n)));
      }
    }
    $('#legend').replaceChildren(...items);
    $('#zone-legend').replaceChildren(...S.zones.map((z) => {
      const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = S.zoneColor.get(z);
      return h('li', { 'data-zone': z }, sw, 'zone ' + z + ' (outer band)');
    }));
  }

  // ---- preference list ---------------------------------------------------------------------
  async function loadPref() {
    if (!S.key) { S.pref = null; S.prefError = ''; return; }
    try {
      S.pref = await api('GET', 'admin/preflist/' + encodeURIComponent(S.key));
      S.prefError = '';
    } catch (e) {
      S.pref = null;
      S.prefError = e.message;
    }
  }

  function renderPref() {
    const summary = $('#preflist-summary'), list = $('#preflist'), walk = $('#walk');
    const pref = S.pref;
    if (!S.key) {
      summary.textContent = 'No key selected.';
      summary.className = 'muted';
      list.replaceChildren();
      walk.setAttribute('hidden', '');
      return;
    }
    if (!pref) {
      summary.textContent = S.prefError || 'Loading…';
      summary.className = S.prefError ? 'err' : 'muted';
      list.replaceChildren();
      walk.setAttribute('hidden', '');
      return;
    }
    const fallbacks = pref.replicas.filter((r) => !r.primary).length;
    summary.className = '';
    summary.replaceChildren(h('strong', { text: pref.key }), ` → partition ${pref.partition} of ${pref.q}: `,
      `${pref.replicas.length} replica${pref.replicas.length === 1 ? '' : 's'} (N = ${pref.n})`,
      fallbacks ? h('span', { class: 'warnnote', text: ` · ${fallbacks} fallback${fallbacks > 1 ? 's' : ''} standing in` }) : '');
    list.replaceChildren(...pref.replicas.map((r, i) => {
      const badge = h('span', { class: 'num-badge', text: r.primary ? String(i + 1) : 'F' });
      badge.style.background = colorOf(r.node);
      const n = S.byId.get(r.node);
      const note = n && n.fault && n.fault.mode && !n.suspect ?
        h('span', { class: 'warnnote', text: `fault injected (${n.fault.mode}): the coordinator routes around it once requests to it fail` }) : null;
      return h('li', { class: 'replica ' + (r.primary ? 'primary' : 'fallback'), 'data-node': r.node, 'data-primary': String(r.primary) },
        badge, h('span', { class: 'node-id', text: r.node }), h('span', { class: 'muted', text: 'zone ' + r.zone }),
        r.primary ? h('span', { class: 'role', text: 'primary' }) :
          h('span', { class: 'role fb', text: `fallback for ${r.standsInFor} (holds a hinted replica)` }),
        n ? stateBadge(n) : null, note);
    }));
    renderWalk(pref);
  }

  // The walk strip: partitions clockwise from the key's, coloured by owner,
  // with the replicas' badges where the walk found them.
  function renderWalk(pref) {
    const walk = $('#walk');
    if (!S.ring || pref.q !== S.ring.q) { walk.setAttribute('hidden', ''); return; }
    const q = S.ring.q;
    const found = pref.replicas.map((rep, i) => ({ rep, i, f: firstOwned(pref.partition, rep.node) })).filter((x) => x.f);
    const cells = Math.min(q, Math.max(16, Math.min(32, found.reduce((m, x) => Math.max(m, x.f.d), 0) + 4)));
    const W = Math.min(26, 620 / cells), H = 22, top = 24;
    walk.setAttribute('viewBox', `0 0 ${cells * W + 4} ${top + H + 16}`);
    walk.replaceChildren();
    walk.append(s('defs', null, s('pattern', { id: 'walk-hatch-bad', patternUnits: 'userSpaceOnUse', width: 6, height: 6, patternTransform: 'rotate(45)' },
      s('rect', { width: 6, height: 6, fill: '#3a1620' }), s('rect', { width: 3, height: 6, fill: '#f87171' }))));
    const foundAt = new Map(found.map((x) => [x.f.d, x]));
    for (let d = 0; d < cells; d++) {
      const p = (pref.partition + d) % q;
      const owner = S.ring.owners[p];
      const n = S.byId.get(owner);
      const bad = n && status(n).cls === 'bad';
      const hit = foundAt.get(d);
      walk.append(s('rect', {
        x: 2 + d * W, y: top, width: W - 2, height: H, rx: 3, fill: colorOf(owner),
        class: (bad ? 'bad' : '') + (hit ? ' found' : ''),
      }, s('title', { text: `partition ${p} → ${owner}` })));
      if (!bad) walk.append(s('text', { class: 'cell-label', x: 2 + d * W + (W - 2) / 2, y: top + H / 2, text: owner.length <= 3 ? owner : owner.slice(-2) }));
      if (hit) {
        walk.append(s('g', { class: 'badge', transform: `translate(${2 + d * W + (W - 2) / 2} ${top - 12})` },
          s('circle', { r: 9, fill: colorOf(hit.rep.node), stroke: '#0b1120', 'stroke-width': 1.5, 'stroke-dasharray': hit.rep.primary ? null : '3 2' }),
          s('text', { text: hit.rep.primary ? String(hit.i + 1) : 'F' })));
      }
    }
    walk.append(s('text', { class: 'axis', x: 2, y: top + H + 13, text: `partition ${pref.partition} → clockwise; the walk takes one node per zone first` }));
    walk.removeAttribute('hidden');
  }

  // ---- traffic -------------------------------------------------------------------------------
  function card(id, label) {
    let c = document.getElementById('card-' + id);
    if (!c) {
      c = h('div', { class: 'card', id: 'card-' + id }, h('div', { class: 'label', text: label }), h('div', { class: 'value' }), h('div', { class: 'sub' }));
      $('#cards').append(c);
    }
    return c;
  }
  function setCard(id, label, value, unit, sub, alert) {
    const c = card(id, label);
    const v = c.querySelector('.value');
    v.replaceChildren(value, unit ? h('small', { text: ' ' + unit }) : '');
    c.querySelector('.sub').textContent = sub || '';
    c.classList.toggle('alert', !!alert);
  }

  function renderTraffic() {
    const st = S.stats;
    if (!st) return;
    const c = st.coordinator || {};
    const r = st.recent || {};
    const q = st.hints || {};
    setCard('gets', 'Gets / s', fmt(r.getsPerSec, 1), '', `${fmt(c.gets)} since start`);
    setCard('puts', 'Puts / s', fmt(r.putsPerSec, 1), '', `${fmt(c.puts)} puts · ${fmt(c.deletes)} deletes`);
    setCard('getlat', 'Get p50 · p99 ms', `${ms(r.getP50Ms)} · ${ms(r.getP99Ms)}`, '', `last ${Math.round((r.windowMs || 0) / 1000)} s`);
    setCard('putlat', 'Put p50 · p99 ms', `${ms(r.putP50Ms)} · ${ms(r.putP99Ms)}`, '', `last ${Math.round((r.windowMs || 0) / 1000)} s`);
    setCard('qf', 'Quorum failures', fmt(c.quorumFailures), '', `${fmt(r.quorumFailuresPerSec, 2)} / s now`, (r.quorumFailuresPerSec || 0) > 0);
    setCard('hintq', 'Hints queued', st.hints ? fmt((q.visible || 0) + (q.inFlight || 0)) : '–', '', st.hints ? `${fmt(q.inFlight)} in flight` : (st.hintsError || 'no queue'));
    setCard('dlq', 'Dead letters', st.hints ? fmt(q.dead) : '–', '', 'hints that gave up', (q.dead || 0) > 0);
    setCard('sib', 'Max siblings', fmt(c.maxSiblings), '', `${fmt(c.siblingRejects)} writes rejected`, false);
    renderChart($('#chart-rate'), r, (p, dt) => [p.gets / dt, p.puts / dt], '/s');
    renderChart($('#chart-latency'), r, (p) => [p.gets ? p.getP99Ms : null, p.puts ? p.putP99Ms : null], 'ms');
    const suspects = st.suspects || [];
    $('#traffic-hint').textContent = 'Rates and latencies over the last minute, as seen by the process serving this page' +
      (suspects.length ? ` · suspects: ${suspects.join(', ')}` : '') + '.';
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const e = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * e) return m * e;
    return 10 * e;
  }

  function renderChart(svg, r, values, unit) {
    const pts = r.series || [];
    const W = 320, H = 120, L = 34, T = 8, B = 16;
    svg.replaceChildren();
    if (!pts.length) return;
    const series = [[], []];
    pts.forEach((p, i) => {
      const last = i === pts.length - 1;
      const dt = last ? Math.max(1, (r.now - p.t) / 1000) : r.stepMs / 1000;
      const v = values(p, dt);
      series[0].push(v[0]);
      series[1].push(v[1]);
    });
    const dataMax = Math.max(0, ...series.flat().filter((v) => v !== null));
    const max = niceMax(dataMax); // the axis follows the data: the next 1, 2, 2.5 or 5 x 10^k above it
    svg.setAttribute('data-ymax', String(max));
    svg.setAttribute('data-datamax', String(dataMax));
    const x = (i) => L + ((W - L - 4) * i) / (pts.length - 1);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (const g of [0, 0.5, 1]) {
      svg.append(s('line', { class: 'grid', x1: L, x2: W - 4, y1: y(max * g), y2: y(max * g) }));
      const v = max * g;
      svg.append(s('text', { class: 'ylabel', x: L - 5, y: y(v) + 3, 'text-anchor': 'end', text: fmt(v, Number.isInteger(v) ? 0 : 1) }));
    }
    svg.append(s('text', { class: 'ylabel', x: L, y: H - 2, text: '−5 min' }));
    svg.append(s('text', { class: 'ylabel', x: W - 4, y: H - 2, 'text-anchor': 'end', text: 'now' }));
    ['get', 'put'].forEach((cls, k) => {
      let d = '';
      let pen = false;
      series[k].forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
        pen = true;
      });
      if (d) svg.append(s('path', { class: 'line ' + cls, d }));
    });
    const lastv = series.map((v) => v[v.length - 1]);
    svg.setAttribute('aria-label', `${svg.getAttribute('aria-label').split(':')[0]}: now gets ${fmt(lastv[0], 1)} ${unit}, puts ${fmt(lastv[1], 1)} ${unit}`);
  }

  // ---- nodes table ------------------------------------------------------------------------
  const rows = new Map();
  function renderNodes() {
    const tbody = $('#nodes tbody');
    const held = new Map(((S.hints && S.hints.nodes) || []).map((x) => [x.node, x]));
    const seen = new Set();
    let idx = 0;
    for (const n of S.nodes) {
      seen.add(n.id);
      let row = rows.get(n.id);
      if (!row) {
        const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        const toggle = h('button', { type: 'button', class: 'small', 'data-node': n.id, onclick: () => toggleFault(n.id) });
        const remove = h('button', { type: 'button', class: 'small danger', 'data-node': n.id, 'data-action': 'remove', text: 'Remove', 'aria-label': `Remove node ${n.id} from the cluster`, onclick: () => removeNode(n.id) });
        const cells = {
          node: h('td', null, h('span', { class: 'node-cell' }, sw, n.id)),
          zone: h('td'), state: h('td', { class: 'status' }), parts: h('td', { class: 'num' }), replicas: h('td', { class: 'num' }),
          held: h('td', { class: 'num' }), errors: h('td', { class: 'num' }), p99: h('td', { class: 'num' }), inc: h('td', { class: 'num' }),
          actions: h('td', null, h('div', { class: 'actions' }, toggle)), danger: h('td', { class: 'danger-col' }, remove),
        };
        const tr = h('tr', { 'data-node': n.id }, ...Object.values(cells));
        row = { tr, cells, sw, toggle };
        rows.set(n.id, row);
      }
      const st = status(n);
      row.tr.className = st.cls === 'bad' ? 'is-bad' : st.cls === 'warn' ? 'is-warn' : '';
      row.sw.style.background = colorOf(n.id);
      row.cells.zone.textContent = n.zone;
      const badge = row.cells.state.firstChild;
      if (!badge || badge.getAttribute('data-state') !== st.text) row.cells.state.replaceChildren(stateBadge(n));
      row.cells.inc.textContent = fmt(n.incarnation);
      const q = S.ring ? S.ring.q : 0;
      row.cells.parts.textContent = q ? `${fmt((100 * n.partitions) / q, 1)}%` : fmt(n.partitions);
      row.cells.parts.title = `${fmt(n.partitions)} of ${fmt(q)} partitions`;
      const replicas = n.replicas !== undefined ? n.replicas : replicasOf(n.id);
      row.cells.replicas.textContent = fmt(replicas);
      row.cells.replicas.title = replicas === undefined ? 'the server did not say' : `${fmt(replicas)} of ${fmt(q)} partitions`;
      const f = n.fault && n.fault.mode;
      const ns = S.stats && S.stats.nodes && S.stats.nodes[n.id];
      row.cells.errors.textContent = ns ? fmt(ns.errors) : '–';
      row.cells.errors.title = ns ? `${fmt(ns.errors)} failed of ${fmt(ns.requests)} replica requests (this process)` : 'the server did not say';
      row.cells.errors.className = 'num' + (ns && ns.errors > 0 ? ' alert' : '');
      row.cells.p99.textContent = ns && ns.requests ? ms(ns.p99Ms) : '–';
      row.cells.p99.title = ns && ns.requests ? `p50 ${ms(ns.p50Ms)} ms, p99 ${ms(ns.p99Ms)} ms over its last ${fmt(Math.min(ns.requests, 512))} replica requests` : 'no request yet';
      const hh = held.get(n.id);
      if (!hh) { row.cells.held.textContent = '–'; row.cells.held.title = 'not counted yet'; }
      else if (hh.error) { row.cells.held.textContent = '?'; row.cells.held.title = 'cannot list: ' + hh.error; }
      else {
        row.cells.held.textContent = fmt(hh.held) + (hh.more ? '+' : '');
        row.cells.held.title = Object.entries(hh.for || {}).map(([k, v]) => `${v} for ${k}`).join(', ') || 'none';
      }
      const down = !!f;
      row.toggle.textContent = down ? 'Up' : 'Down';
      row.toggle.className = 'small ' + (down ? 'up' : 'down');
      row.toggle.setAttribute('data-action', down ? 'up' : 'down');
      row.toggle.setAttribute('aria-label', down ? `Bring ${n.id} up (clear its injected fault)` : `Take ${n.id} down (inject a fault)`);
      // Rows are kept between refreshes (a focused button stays focused);
      // one is moved only when the order changes.
      if (tbody.children[idx] !== row.tr) tbody.insertBefore(row.tr, tbody.children[idx] || null);
      idx++;
    }
    for (const [id, row] of rows) if (!seen.has(id)) { row.tr.remove(); rows.delete(id); }
    $('#zones').replaceChildren(...S.zones.map((z) => h('option', { value: z })));
  }

  // replicasOf is a node's replica count from the plan (the same ring walk
  // the coordinator uses), or undefined.
  function replicasOf(id) {
    const p = S.plan && (S.plan.nodes || []).find((x) => x.id === id);
    return p ? p.replicas : undefined;
  }

  // ---- ring change -------------------------------------------------------------------------
  function renderPlan() {
    const p = S.plan;
    const status = $('#plan-status'), commit = $('#plan-commit'), cancel = $('#plan-cancel');
    const grid = $('#plan-grid'), bar = $('#plan-progress'), table = $('#plan-nodes');
    const panel = $('.plan-panel');
    if (!p || !p.pending) {
      status.textContent = p ? `No ring change pending (ring epoch ${S.ring && S.ring.ringEpoch !== undefined ? S.ring.ringEpoch : '–'}).` : 'Plan not available from this server.';
      status.className = 'muted';
      commit.disabled = true;
      cancel.disabled = true;
      panel.setAttribute('data-pending', 'false');
      grid.hidden = bar.hidden = table.hidden = true;
      grid.replaceChildren();
      table.tBodies[0].replaceChildren();
      return;
    }
    const moves = p.moves || 0, done = p.done || 0;
    const ready = !p.settling && done === moves;
    panel.setAttribute('data-pending', 'true');
    panel.setAttribute('data-done', String(done));
    panel.setAttribute('data-moves', String(moves));
    status.className = ready ? 'ready' : 'pending';
    status.textContent = p.settling ? `Pending: ${fmt(moves)} partitions move; settling before transfers start (so every coordinator sees the plan first).` :
      ready ? `Pending: all ${fmt(moves)} moving partitions transferred; Commit switches ownership now (else the next repair does).` :
        `Pending: ${fmt(done)} of ${fmt(moves)} moving partitions transferred (${fmt((100 * done) / Math.max(moves, 1), 0)}%). Commit is enabled when all are done.`;
    commit.disabled = !ready;
    commit.title = ready ? 'Switch ownership to the plan now' : 'Enabled once every moving partition is transferred';
    cancel.disabled = false;
    bar.hidden = false;
    bar.firstChild.style.width = `${(100 * done) / Math.max(moves, 1)}%`;
    const tr = (S.transfers && S.transfers.transfers) || [];
    const shown = tr.slice(0, 600);
    grid.replaceChildren(...shown.map((m) => h('span', { class: m.done ? 'done' : null, title: `partition ${m.partition}: ${(m.from || []).join(',') || '–'} → ${(m.to || []).join(',') || '–'} · ${m.done ? 'transferred' : 'waiting'}` })));
    grid.hidden = !shown.length;
    table.hidden = false;
    table.tBodies[0].replaceChildren(...(p.nodes || []).filter((n) => n.gains || n.losses || n.owned !== n.planned).map((n) => {
      const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = colorOf(n.id);
      return h('tr', { 'data-node': n.id }, h('td', null, h('span', { class: 'node-cell' }, sw, n.id)), h('td', { text: n.state }),
        h('td', { class: 'num', text: fmt(n.owned) }), h('td', { class: 'num', text: fmt(n.planned) }),
        h('td', { class: 'num', text: fmt(n.replicas) }), h('td', { class: 'num', text: fmt(n.plannedReplicas) }),
        h('td', { class: 'num', text: '+' + fmt(n.gains) }), h('td', { class: 'num', text: '−' + fmt(n.losses) }));
    }));
  }

  function commitPlan() {
    return act('Committing the ring change', async () => {
      const r = await api('POST', 'admin/commit');
      return `Ring change committed (epoch ${r.epoch}).`;
    });
  }

  function cancelPlan() {
    if (!window.confirm('Cancel the pending ring change?\n\nOwnership stays as it is; nodes the change added leave again. Copies made so far are cleaned up by the repair job.')) return;
    return act('Cancelling the ring change', async () => {
      const r = await api('DELETE', 'admin/plan');
      return `Ring change cancelled (epoch ${r.epoch}): ${fmt(r.moved)} partitions stay with their owners.`;
    });
  }

  // ---- hints and repair --------------------------------------------------------------------
  function kv(target, items) {
    $(target).replaceChildren(...items.map(([k, v, alert, sub]) =>
      h('div', null, h('dt', { text: k }), h('dd', { class: alert ? 'alert' : null }, v, sub ? h('small', { text: ' ' + sub }) : ''))));
  }

  function renderHints() {
    const st = S.stats || {};
    const c = st.coordinator || {};
    const q = st.hints || (S.hints && S.hints.queue) || {};
    const held = ((S.hints && S.hints.nodes) || []).reduce((a, x) => a + (x.held || 0), 0);
    kv('#hints', [
      ['Queued', fmt(q.visible), false, 'visible'],
      ['In flight', fmt(q.inFlight)],
      ['Dead-letter', fmt(q.dead), (q.dead || 0) > 0],
      ['Replicas held', S.hints ? fmt(held) : '–', false, 'all nodes'],
      ['Hints sent', fmt(c.hintsQueued), false, 'this process'],
      ['Delivered', fmt(c.hintsDelivered), false, 'this process'],
      ['Read repairs', fmt(c.readRepairs)],
      ['Corrupt replicas', fmt(c.corruptReplicas), (c.corruptReplicas || 0) > 0],
    ]);
    kv('#repair-stats', [
      ['Runs', fmt(c.repairs)],
      ['Keys compared', fmt(c.repairKeysCompared)],
      ['Keys repaired', fmt(c.repairKeysRepaired)],
      ['Last run', c.lastRepairMs ? clock(c.lastRepairMs) : 'never'],
    ]);
  }

  // renderValue shows any JSON: objects as key/value tables, arrays of
  // objects as tables with one column per key.
  function renderValue(v, depth = 0) {
    if (v === null || v === undefined) return h('span', { class: 'muted', text: '–' });
    if (Array.isArray(v)) {
      if (!v.length) return h('span', { class: 'muted', text: 'none' });
      if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x)) && depth < 3) {
        const cols = [...new Set(v.flatMap((x) => Object.keys(x)))];
        const shown = v.slice(0, 50);
        return h('div', null, h('table', null,
          h('thead', null, h('tr', null, ...cols.map((k) => h('th', { scope: 'col', text: k })))),
          h('tbody', null, ...shown.map((x) => h('tr', null, ...cols.map((k) => h('td', null, renderValue(x[k], depth + 1))))))),
        v.length > shown.length ? h('p', { class: 'muted', text: `… and ${v.length - shown.length} more` }) : null);
      }
      return h('span', { text: v.map((x) => typeof x === 'object' ? JSON.stringify(x) : String(x)).join(', ') });
    }
    if (typeof v === 'object') {
      if (depth >= 3) return h('code', { text: JSON.stringify(v) });
      return h('table', null, h('tbody', null, ...Object.entries(v).map(([k, x]) =>
        h('tr', null, h('th', { scope: 'row', text: k }), h('td', null, renderValue(x, depth + 1))))));
    }
    if (typeof v === 'number') return document.createTextNode(fmt(v, Number.isInteger(v) ? 0 : 2));
    return document.createTextNode(String(v));
  }

  function renderLastRepair() {
    const box = $('#last-repair');
    const lr = S.lastRepair;
    if (!lr) return;
    const when = h('p', { class: 'when', text: `${lr.running ? 'started' : 'finished'} ${clock(lr.at)}${lr.ms !== undefined ? ` · took ${fmt(lr.ms)} ms` : ''}` });
    if (lr.running) box.replaceChildren(when, h('p', { text: 'Running…' }));
    else if (lr.error) box.replaceChildren(when, h('p', { class: 'err', text: lr.error }));
    else box.replaceChildren(when, renderValue(lr.result));
  }

  // ---- actions -----------------------------------------------------------------------------
  let toastTimer = 0;
  function toast(msg, error) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = 'toast show' + (error ? ' error' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = 'toast' + (error ? ' error' : ''); }, error ? 7000 : 3500);
  }

  async function act(label, f) {
    try {
      const msg = await f();
      if (msg) toast(msg);
    } catch (e) {
      toast(`${label} failed: ${e.message}`, true);
    }
    await refresh(true);
  }

  function toggleFault(id) {
    const n = S.byId.get(id);
    if (!n) return;
    if (n.fault && n.fault.mode) {
      return act(`Bringing ${id} up`, async () => {
        await api('DELETE', 'admin/faults/' + encodeURIComponent(id));
        return `${id} is up: its fault is cleared.`;
      });
    }
    return act(`Taking ${id} down`, async () => {
      await api('PUT', 'admin/faults/' + encodeURIComponent(id), { mode: 'down' });
      return `${id} is down: requests to its storage fail until you bring it up.`;
    });
  }

  function removeNode(id) {
    const n = S.byId.get(id);
    const parts = n ? n.partitions : '?';
    if (!window.confirm(`Remove node ${id} from the cluster?\n\nThis plans moving its ${parts} partitions to the other nodes; the repair job copies them and then commits. The Ring change panel shows the progress and can cancel it.`)) return;
    return act(`Removing ${id}`, async () => {
      const r = await api('DELETE', 'admin/nodes/' + encodeURIComponent(id));
      return `${id} is leaving: ${fmt(r.moved)} partitions change owner once the change commits.`;
    });
  }

  async function addNode(ev) {
    ev.preventDefault();
    const id = $('#add-id').value.trim(), zone = $('#add-zone').value.trim();
    const weight = parseInt($('#add-weight').value, 10) || 1;
    if (!id || !zone) return;
    if (!window.confirm(`Add node ${id} in zone ${zone} (weight ${weight})?\n\nThis plans moving some partitions to it from the other nodes; the Ring change panel shows the transfers.`)) return;
    await act(`Adding ${id}`, async () => {
      const r = await api('POST', 'admin/nodes', { id, zone, weight });
      $('#add-id').value = '';
      return `${id} added: ${fmt(r.moved)} partitions will move to it (see Ring change).`;
    });
  }

  async function runRepair() {
    const btn = $('#repair');
    btn.disabled = true;
    btn.textContent = 'Repairing…';
    const at = Date.now();
    S.lastRepair = { at, running: true };
    renderLastRepair();
    try {
      const result = await api('POST', 'admin/repair');
      S.lastRepair = { at: Date.now(), ms: Date.now() - at, result };
      toast('Repair finished.');
    } catch (e) {
      S.lastRepair = { at: Date.now(), ms: Date.now() - at, error: e.message };
      toast('Repair failed: ' + e.message, true);
    } finally {
      btn.disabled = false;
      btn.textContent = 'Run repair now';
      renderLastRepair();
      refresh(true);
    }
  }

  function showKey(key) {
    S.key = key;
    S.pref = null;
    S.prefError = '';
    const url = new URL(window.location.href);
    url.hash = key ? 'key=' + encodeURIComponent(key) : '';
    window.history.replaceState(null, '', url);
    renderPref();
    refresh(true);
  }

  // ---- refresh loop ----------------------------------------------------------------------
  function banner(msg) {
    const b = $('#banner');
    b.hidden = !msg;
    b.textContent = msg || '';
  }

  let inflight = null;
  async function refresh(now) {
    if (inflight) {
      if (!now) return inflight;
      await inflight.catch(() => {});
    }
    inflight = (async () => {
      const wantHints = S.refreshes % HINTS_EVERY === 0 || now;
      const [nodes, ring, stats, hints, plan] = await Promise.all([
        api('GET', 'admin/nodes'), api('GET', 'admin/ring'), api('GET', 'admin/stats'),
        wantHints ? api('GET', 'admin/hints').catch(() => S.hints) : Promise.resolve(S.hints),
        api('GET', 'admin/plan').catch(() => null),
        loadPref(),
      ]);
      S.plan = plan;
      S.transfers = plan && plan.pending ? await api('GET', 'admin/transfers').catch(() => null) : null;
      S.nodes = nodes.nodes || [];
      S.byId = new Map(S.nodes.map((n) => [n.id, n]));
      S.ring = ring;
      S.stats = stats;
      S.hints = hints;
      assignColors();
      renderParams();
      renderRing();
      renderLegend();
      renderPref();
      renderNodes();
      renderTraffic();
      renderHints();
      renderPlan();
      S.refreshes++;
      document.body.setAttribute('data-refreshes', String(S.refreshes));
      $('#live-dot').className = 'live-dot on';
      $('#updated').textContent = 'updated ' + clock(Date.now());
      banner('');
    })();
    try {
      await inflight;
    } catch (e) {
      $('#live-dot').className = 'live-dot err';
      $('#updated').textContent = 'update failed ' + clock(Date.now());
      const auth = e.status === 401 || e.status === 403;
      banner('Cannot read the admin API: ' + e.message + (auth && e.code !== 'faults_disabled' ?
        ' — the admin routes need authorization (IAM in AWS). Open the dashboard where the admin API is reachable, e.g. through `cartwheel dashboard --url <ApiUrl>`, which signs the admin calls with your AWS credentials.' : ''));
    } finally {
      inflight = null;
    }
  }

  let timer = 0;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!S.paused && !document.hidden) await refresh(false);
      schedule();
    }, REFRESH_MS);
  }

  function init() {
    $('#key-form').addEventListener('submit', (ev) => { ev.preventDefault(); showKey($('#key').value.trim()); });
    $('#key-clear').addEventListener('click', () => { $('#key').value = ''; showKey(''); });
    $('#add-form').addEventListener('submit', addNode);
    $('#repair').addEventListener('click', runRepair);
    $('#plan-commit').addEventListener('click', commitPlan);
    $('#plan-cancel').addEventListener('click', cancelPlan);
    $('#pause').addEventListener('click', () => {
      S.paused = !S.paused;
      $('#pause').setAttribute('aria-pressed', String(S.paused));
      $('#pause').textContent = S.paused ? 'Resume' : 'Pause';
      if (!S.paused) refresh(true);
    });
    const m = /^#key=(.*)$/.exec(window.location.hash);
    if (m) {
      S.key = decodeURIComponent(m[1]);
      $('#key').value = S.key;
    }
    refresh(true).then(schedule);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
