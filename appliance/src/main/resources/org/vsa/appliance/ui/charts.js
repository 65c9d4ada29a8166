// The live charts: uPlot (served from its WebJar in the appliance's jar), one chart each for
// IOPS, throughput and latency of the chosen vDisk or vPool, with a history of POINTS_MAX
// samples kept per object so that switching objects shows their past too. The uPlot instances
// are on window.vsaCharts for the browser test.
const POINTS_MAX = 300;
const WINDOW_SECONDS = 60;

const history = new Map();   // key ("vdisk:vm1", "vpool:default") -> arrays of samples
let charts = null;
let shown = null;

function series(label, stroke) {
  return {label, stroke, width: 2, value: (u, v) => (v == null ? '-' : v.toFixed(1))};
}

function make(el, title, unit, labels) {
  const width = Math.max(300, el.clientWidth || 400);
  return new uPlot({
    title, width, height: 180,
    // the last WINDOW_SECONDS, also while there are only one or two samples
    scales: {x: {time: true, range: (u, min, max) => (max == null ? [min, max] : [max - WINDOW_SECONDS, max])}},
    axes: [{}, {label: unit}],
    series: [{}, series(labels[0], '#1f77b4'), series(labels[1], '#d62728')],
  }, [[], [], []], el);
}

export function init() {
  if (charts) return;
  charts = {
    iops: make(document.getElementById('chart-iops'), 'IOPS', 'ops/s', ['read', 'write']),
    throughput: make(document.getElementById('chart-throughput'), 'Throughput', 'MB/s', ['read', 'write']),
    latency: make(document.getElementById('chart-latency'), 'Latency', 'ms', ['read', 'write']),
  };
  window.vsaCharts = charts;
  window.addEventListener('resize', () => {
    for (const [name, c] of Object.entries(charts)) {
      const el = document.getElementById('chart-' + name);
      c.setSize({width: Math.max(300, el.clientWidth), height: 180});
    }
  });
}

/** Appends one sample (seconds since the epoch, rates) to an object's history. */
export function add(key, t, r) {
  let h = history.get(key);
  if (!h) {
    h = {t: [], readIops: [], writeIops: [], readMBps: [], writeMBps: [], readLatencyMs: [], writeLatencyMs: []};
    history.set(key, h);
  }
  for (const k of Object.keys(h)) {
    h[k].push(k === 't' ? t : r[k]);
    if (h[k].length > POINTS_MAX) h[k].shift();
  }
}

/** Shows an object's history (key as in add) and redraws. */
export function show(key) {
  shown = key;
  redraw();
}

export function shownKey() {
  return shown;
}

export function redraw() {
  if (!charts) return;
  const h = history.get(shown) || {t: [], readIops: [], writeIops: [], readMBps: [], writeMBps: [],
    readLatencyMs: [], writeLatencyMs: []};
  charts.iops.setData([h.t, h.readIops, h.writeIops]);
  charts.throughput.setData([h.t, h.readMBps, h.writeMBps]);
  charts.latency.setData([h.t, h.readLatencyMs, h.writeLatencyMs]);
}

/** Drops the history of objects that are gone. */
export function keep(keys) {
  for (const k of [...history.keys()]) {
    if (!keys.has(k)) history.delete(k);
  }
}
