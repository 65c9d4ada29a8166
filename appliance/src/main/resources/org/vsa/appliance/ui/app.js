// The dashboard: login, inventory (vPools, vDisks: refreshed every INVENTORY_MS and after each
// action), statistics (GET /api/v1/stats every STATS_MS; rates from the deltas of its
// cumulative counters) and the vDisk actions, each calling the management API and showing its
// error text when it refuses.
import * as api from './api.js';
import {rates} from './rates.js';
import * as charts from './charts.js';

const STATS_MS = 1000;
const INVENTORY_MS = 5000;

const $ = (id) => document.getElementById(id);
let timers = [];
let vdisks = [];            // GET /vdisks, with each online vDisk's details
let vpoolNames = [];
let selected = null;        // the vDisk of the actions panel
let previous = null;        // the previous stats sample
let currentIops = new Map(); // "vdisk:x" / "vpool:x" -> IOPS of the last interval
let lastStats = null;
let node = {version: null};

// ------------------------------------------------------------------ formatting

function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(1)) + ' ' + units[i];
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + Math.floor(s % 60) + 's';
}

function num(v, digits) {
  return v === null || v === undefined ? '-' : v.toFixed(digits);
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function message(el, text, ok) {
  el.textContent = text;
  el.className = ok ? 'ok' : 'error';
}

// ------------------------------------------------------------------ login

function showLogin(error) {
  for (const t of timers) clearInterval(t);
  timers = [];
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = error || '';
  $('header-node').textContent = '';
}

async function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  charts.init();
  await inventory();
  await stats();
  timers.push(setInterval(stats, STATS_MS));
  timers.push(setInterval(inventory, INVENTORY_MS));
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  try {
    await api.login($('login-user').value, $('login-password').value);
    $('login-password').value = '';
    await showApp();
  } catch (err) {
    $('login-error').textContent = err.status === 401 ? 'Wrong user or password.' : err.message;
  }
});

$('logout').addEventListener('click', () => {
  api.forget();
  location.reload();
});

/** A refused call: 401 (credential changed) logs out; any other shows its text. */
function failed(err, where) {
  if (err.status === 401) {
    api.forget();
    showLogin('The credential is no longer accepted: log in again.');
    return;
  }
  message(where || $('app-error'), err.message, false);
}

// ------------------------------------------------------------------ inventory

async function optional(path) {
  try {
    return await api.call('GET', path);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

async function inventory() {
  try {
    const list = await api.call('GET', '/vdisks');
    const detailed = await Promise.all(list.map(async (v) => {
      if (v.state !== 'online') return v;
      try {
        return await api.call('GET', '/vdisks/' + encodeURIComponent(v.name));
      } catch (err) {
        return v;   // deleted or gone offline meanwhile: the summary will do
      }
    }));
    vdisks = detailed;
    const pools = await optional('/vpools');
    const names = new Set(pools ? pools.map((p) => p.name) : []);
    for (const v of vdisks) if (v.vpool) names.add(v.vpool);
    if (lastStats && lastStats.vpools) for (const p of lastStats.vpools) names.add(p.name);
    vpoolNames = [...names].sort();
    const nodes = await optional('/nodes');
    if (node.version === null) {
      const self = nodes ? nodes.find((n) => n.self) : null;
      node.version = self && self.version ? self.version : '';
      $('node-version').textContent = node.version || '-';
    }
    renderNodes(nodes || []);
    $('app-error').textContent = '';
    render();
  } catch (err) {
    failed(err);
  }
}

// the cluster overview: every member (up), recorded addresses no node answers on (down), or this node alone
function renderNodes(nodes) {
  const body = $('nodes').querySelector('tbody');
  body.replaceChildren();
  for (const n of nodes) {
    const tr = document.createElement('tr');
    tr.dataset.node = n.name;
    cell(tr, n.name + (n.self ? ' (this node)' : ''));
    cell(tr, n.state, n.state === 'up' ? 'ok' : 'bad');
    cell(tr, n.memberAddress || '-');
    cell(tr, n.faultDomain || '-');
    cell(tr, n.vdiskCount === undefined ? '-' : String(n.vdiskCount));
    body.appendChild(tr);
  }
}

function exportsOf(v) {
  const out = (v.iscsi || []).map((l) => 'LUN ' + l.lun + ' of ' + l.target);
  if (v.nfs) out.push('file ' + v.nfs);
  return out.length ? out.join(', ') : 'not exported';
}

function dtlOf(name) {
  const d = lastStats && lastStats.dtl ? lastStats.dtl.find((x) => x.vdisk === name) : null;
  return d || null;
}

function render() {
  const body = $('vdisks').querySelector('tbody');
  body.replaceChildren();
  for (const v of vdisks) {
    const tr = document.createElement('tr');
    tr.dataset.vdisk = v.name;
    if (v.name === selected) tr.className = 'selected';
    cell(tr, v.name);
    cell(tr, v.state + (v.reason ? ': ' + v.reason : ''), v.state === 'online' ? '' : 'bad');
    cell(tr, v.size || '-');
    cell(tr, v.vpool || '-');
    // the vDisk's own record first (the engine's DTL state), the statistics' DTL list otherwise
    const d = dtlOf(v.name);
    cell(tr, v.settings ? v.settings.dtlMode : (d ? d.mode : '-'));
    cell(tr, v.dtlState || (d ? d.state : '-'));
    cell(tr, exportsOf(v));
    cell(tr, v.snapshots ? String(v.snapshots.length) : '-', 'num');
    const iops = cell(tr, num(currentIops.get('vdisk:' + v.name), 0), 'num iops');
    iops.dataset.vdisk = v.name;
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.textContent = 'Select';
    b.className = 'select-vdisk';
    b.dataset.vdisk = v.name;
    b.addEventListener('click', () => select(v.name));
    td.appendChild(b);
    tr.appendChild(td);
    body.appendChild(tr);
  }

  const pools = $('vpools').querySelector('tbody');
  pools.replaceChildren();
  for (const p of vpoolNames) {
    const tr = document.createElement('tr');
    tr.dataset.vpool = p;
    cell(tr, p);
    cell(tr, String(vdisks.filter((v) => v.vpool === p).length), 'num');
    cell(tr, num(currentIops.get('vpool:' + p), 0), 'num iops');
    cell(tr, num(currentIops.get('vpool-mbps:' + p), 2), 'num');
    pools.appendChild(tr);
  }

  const create = $('create-vpool');
  const chosen = create.value;
  create.replaceChildren(...vpoolNames.map((p) => new Option(p, p)));
  if (vpoolNames.includes(chosen)) create.value = chosen;

  const target = $('chart-target');
  const keys = [...vdisks.map((v) => 'vdisk:' + v.name), ...vpoolNames.map((p) => 'vpool:' + p)];
  const current = charts.shownKey();
  target.replaceChildren(...keys.map((k) => new Option(k.replace(':', ' '), k)));
  if (keys.includes(current)) {
    target.value = current;
  } else if (keys.length) {
    target.value = keys[0];
    charts.show(keys[0]);
  }
  charts.keep(new Set(keys));

  if (selected && !vdisks.some((v) => v.name === selected)) selected = null;
  renderActions();
}

$('chart-target').addEventListener('change', (e) => charts.show(e.target.value));

// ------------------------------------------------------------------ statistics

async function stats() {
  let s;
  try {
    s = await api.call('GET', '/stats');
  } catch (err) {
    if (err.status === 404) {
      $('stats-status').textContent = 'Statistics unavailable: this appliance has no /api/v1/stats.';
      $('stats-status').hidden = false;
      return;
    }
    if (err.status === 401) return failed(err);
    $('stats-status').textContent = 'Statistics unavailable: ' + err.message;
    $('stats-status').hidden = false;
    return;
  }
  $('stats-status').hidden = true;
  lastStats = s;
  overview(s);
  if (previous && s.time > previous.time) {
    const seconds = (s.time - previous.time) / 1000;
    const t = s.time / 1000;
    const before = (list, name) => (list || []).find((x) => x.name === name);
    for (const v of s.vdisks || []) {
      const p = before(previous.vdisks, v.name);
      if (!p) continue;
      const r = rates(p, v, seconds);
      currentIops.set('vdisk:' + v.name, sum(r.readIops, r.writeIops));
      charts.add('vdisk:' + v.name, t, r);
    }
    for (const v of s.vpools || []) {
      const p = before(previous.vpools, v.name);
      if (!p) continue;
      const r = rates(p, v, seconds);
      currentIops.set('vpool:' + v.name, sum(r.readIops, r.writeIops));
      currentIops.set('vpool-mbps:' + v.name, sum(r.readMBps, r.writeMBps));
      charts.add('vpool:' + v.name, t, r);
    }
    charts.redraw();
    for (const td of document.querySelectorAll('#vdisks td.iops')) {
      td.textContent = num(currentIops.get('vdisk:' + td.parentElement.dataset.vdisk), 0);
    }
    for (const tr of document.querySelectorAll('#vpools tbody tr')) {
      tr.children[2].textContent = num(currentIops.get('vpool:' + tr.dataset.vpool), 0);
      tr.children[3].textContent = num(currentIops.get('vpool-mbps:' + tr.dataset.vpool), 2);
    }
  }
  previous = s;
}

function sum(a, b) {
  return a === null && b === null ? null : (a || 0) + (b || 0);
}

function overview(s) {
  if (s.node) {
    $('node-name').textContent = s.node.name;
    $('node-uptime').textContent = duration(s.node.uptimeSeconds);
    $('header-node').textContent = s.node.name;
  }
  const wb = s.writeBuffer;
  if (wb) {
    $('wb-meter').value = wb.capacityBytes ? wb.usedBytes / wb.capacityBytes : 0;
    $('wb-fill').textContent = bytes(wb.usedBytes) + ' of ' + bytes(wb.capacityBytes)
      + (wb.capacityBytes ? ' (' + (100 * wb.usedBytes / wb.capacityBytes).toFixed(1) + '%)' : '');
    $('wb-throttling').textContent = wb.throttling ? 'yes' : 'no';
    $('wb-throttling').className = wb.throttling ? 'bad' : 'ok';
    $('wb-throttled').textContent = String(wb.throttledWrites);
  }
  const rc = s.readCache;
  if (rc) {
    $('rc-used').textContent = bytes(rc.usedBytes) + ' of ' + bytes(rc.capacityBytes);
    const total = rc.hits + rc.misses;
    $('rc-hit-ratio').textContent = total ? (100 * rc.hits / total).toFixed(1) + '% (' + rc.hits + ' of ' + total + ')' : '-';
  }
  const be = s.backend;
  if (be) {
    $('backend-kind').textContent = be.kind;
    $('backend-health').textContent = be.healthy ? 'healthy' : 'UNHEALTHY';
    $('backend-health').className = be.healthy ? 'ok' : 'bad';
    $('backend-counts').textContent = be.puts + ' / ' + be.gets + ' / ' + be.errors;
  }
  const dtl = $('dtl').querySelector('tbody');
  dtl.replaceChildren();
  for (const d of s.dtl || []) {
    const tr = document.createElement('tr');
    cell(tr, d.vdisk);
    cell(tr, d.mode);
    cell(tr, d.state, d.state.startsWith('ok') ? 'ok' : 'bad');
    dtl.appendChild(tr);
  }
}

// ------------------------------------------------------------------ actions

function select(name) {
  selected = name;
  $('action-message').textContent = '';
  render();
}

function renderActions() {
  const v = vdisks.find((x) => x.name === selected);
  $('vdisk-actions').hidden = !v;
  if (!v) return;
  $('selected-vdisk').textContent = v.name;
  const snaps = $('clone-snapshot');
  const chosen = snaps.value;
  snaps.replaceChildren(...(v.snapshots || []).map((s) => new Option(s, s)));
  if ((v.snapshots || []).includes(chosen)) snaps.value = chosen;
  for (const tr of document.querySelectorAll('#vdisks tbody tr')) {
    tr.classList.toggle('selected', tr.dataset.vdisk === selected);
  }
}

async function act(where, what, call) {
  try {
    await call();
    message(where, what, true);
  } catch (err) {
    failed(err, where);
  }
  await inventory();
}

$('create-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('create-name').value;
  act($('create-message'), 'vDisk ' + name + ' created.', async () => {
    await api.call('POST', '/vdisks', {name, size: $('create-size').value, vpool: $('create-vpool').value});
    $('create-name').value = '';
  });
});

$('snapshot-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const v = selected;
  const name = $('snapshot-name').value;
  act($('action-message'), 'Snapshot ' + name + ' of ' + v + ' taken.', async () => {
    await api.call('POST', '/vdisks/' + encodeURIComponent(v) + '/snapshots', {name});
    $('snapshot-name').value = '';
  });
});

$('clone-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const v = selected;
  const name = $('clone-name').value;
  const snapshot = $('clone-snapshot').value;
  act($('action-message'), 'Clone ' + name + ' of ' + v + '@' + snapshot + ' created.', async () => {
    await api.call('POST', '/vdisks/' + encodeURIComponent(v) + '/clones', snapshot ? {name, snapshot} : {name});
    $('clone-name').value = '';
  });
});

$('delete-submit').addEventListener('click', () => {
  const v = selected;
  if (!v || !confirm('Delete vDisk ' + v + ' and all its data?')) return;
  act($('action-message'), 'vDisk ' + v + ' deleted.', async () => {
    await api.call('DELETE', '/vdisks/' + encodeURIComponent(v));
  });
});

// ------------------------------------------------------------------ start

if (api.loggedIn()) {
  showApp().catch((err) => failed(err));
} else {
  showLogin();
}
