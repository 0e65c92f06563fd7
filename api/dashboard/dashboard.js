// The ranker dashboard: polls GET /v1/model once a second, keeps a short
// client-side history of the progressive metrics and throughput, draws them
// with Chart.js (embedded, served from /assets/chart.js), and sends the
// "Try a ranking" form to POST /v1/rank.
//
// For tests and people alike: <body data-live="1"> once a model report has
// been rendered, data-polls counts rendered reports, and script errors
// (including blocked resources) are listed in #errors and counted in
// data-errors. "?try=1" in the URL submits the ranking form once, after the
// first report (for screenshots).
'use strict';

(function () {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 5000;
  const MAX_POINTS = 300;  // five minutes of history at one report a second
  const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2',
                   '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

  // ---- Errors: listed on the page so that they are seen, not only logged.

  let errorCount = 0;
  function reportError(message) {
    errorCount += 1;
    const box = document.getElementById('errors');
    if (document.body) document.body.dataset.errors = String(errorCount);
    if (!box) return;
    box.hidden = false;
    box.textContent += 'error: ' + message + '\n';
  }
  window.addEventListener('error', (e) => {
    const target = e.target;
    if (target && target !== window && (target.src || target.href)) {
      reportError('failed to load ' + (target.src || target.href));
    } else {
      reportError((e.message || 'script error') + (e.lineno ? ' (line ' + e.lineno + ')' : ''));
    }
  }, true);
  window.addEventListener('unhandledrejection', (e) => {
    reportError('unhandled rejection: ' + (e.reason && e.reason.message || e.reason));
  });
  document.addEventListener('securitypolicyviolation', (e) => {
    reportError('blocked by content security policy: ' + e.blockedURI + ' (' +
                e.violatedDirective + ')');
  });

  // ---- Formatting.

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmt(v, digits) { return isNum(v) ? v.toFixed(digits) : '\u2014'; }
  function fmtInt(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '\u2014'; }
  function fmtAge(ms) {
    if (!isNum(ms)) return '\u2014';
    const s = Math.max(0, ms) / 1000;
    if (s < 1) return 'just now';
    if (s < 60) return s.toFixed(0) + ' s ago';
    if (s < 3600) return (s / 60).toFixed(1) + ' min ago';
    return (s / 3600).toFixed(1) + ' h ago';
  }
  function clock(date) { return date.toTimeString().slice(0, 8); }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setText(id, text) { document.getElementById(id).textContent = text; }

  // ---- History: named series aligned on one list of time labels.

  class History {
    constructor(max) { this.max = max; this.labels = []; this.series = new Map(); }
    // Appends one point; `values` maps series name -> number or null.
    add(label, values) {
      this.labels.push(label);
      for (const name of values.keys()) {
        if (!this.series.has(name)) {
          this.series.set(name, new Array(this.labels.length - 1).fill(null));
        }
      }
      for (const [name, points] of this.series) {
        const v = values.get(name);
        points.push(isNum(v) ? v : null);
      }
      if (this.labels.length > this.max) {
        this.labels.shift();
        for (const points of this.series.values()) points.shift();
      }
    }
  }

  // ---- Charts.

  const colors = new Map();  // series key -> color, stable across charts
  function colorFor(key) {
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    return colors.get(key);
  }

  function baseOptions(yTitle) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'index', intersect: false },
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 2 } } },
      scales: {
        x: { ticks: { maxTicksLimit: 6, maxRotation: 0 }, grid: { display: false } },
        y: { title: { display: !!yTitle, text: yTitle }, grace: '5%' },
      },
    };
  }

  function makeChart(id, type, yTitle) {
    const canvas = document.getElementById(id);
    return new Chart(canvas, { type, data: { labels: [], datasets: [] },
                               options: baseOptions(yTitle) });
  }

  // The dataset labelled `label` in `chart`, created with `style` if new.
  function dataset(chart, label, style) {
    let ds = chart.data.datasets.find((d) => d.label === label);
    if (!ds) {
      ds = Object.assign({ label, data: [], pointRadius: 0, borderWidth: 2, spanGaps: true,
                           tension: 0.25 }, style);
      chart.data.datasets.push(ds);
    }
    return ds;
  }

  // Draws a History; `styleOf(name)` gives each series' color and dash.
  function drawHistory(chart, history, styleOf) {
    chart.data.labels = history.labels.slice();
    for (const [name, points] of history.series) {
      dataset(chart, name, styleOf(name)).data = points.slice();
    }
    chart.update('none');
  }

  // Series "click window" / "click all": one color per task, dashed for all.
  function taskStyle(name) {
    const [task, which] = name.split(' ');
    const color = colorFor('task:' + task);
    return { borderColor: color, backgroundColor: color,
             borderDash: which === 'all' ? [5, 4] : [], borderWidth: which === 'all' ? 1.5 : 2 };
  }

  // ---- Rendering one model report.

  const state = {
    charts: null,
    auc: new History(MAX_POINTS),
    logloss: new History(MAX_POINTS),
    rmse: new History(MAX_POINTS),
    rate: new History(MAX_POINTS),
    prev: null,  // {t, events, examples} of the previous report
    polls: 0,
    devicesShown: '',
  };

  function createCharts() {
    state.charts = {
      auc: makeChart('chart-auc', 'line', 'AUC'),
      logloss: makeChart('chart-logloss', 'line', 'log loss'),
      rmse: makeChart('chart-rmse', 'line', 'RMSE'),
      rate: makeChart('chart-rate', 'line', ''),
      bias: makeChart('chart-bias', 'line', 'relative examination'),
      gates: makeChart('chart-gates', 'bar', 'gate weight'),
    };
    const { bias, gates, rate } = state.charts;
    bias.options.scales.x.title = { display: true, text: 'position' };
    bias.options.scales.y.min = 0;
    bias.options.scales.y.suggestedMax = 1;
    bias.options.interaction = { mode: 'nearest', intersect: false };
    gates.options.scales.y.min = 0;
    rate.options.scales.y.beginAtZero = true;
  }

  function renderFacts(m, now) {
    setText('f-version', fmtInt(m.model_version));
    setText('f-age', isNum(m.published_at_ms) ? fmtAge(now - m.published_at_ms) : '\u2014');
    setText('f-arch', m.architecture || '\u2014');
    setText('f-events', fmtInt(m.events_consumed));
    setText('f-examples', fmtInt(m.examples_trained));
    setText('f-rejected', fmtInt(m.events_rejected));
    const sum = String(m.param_checksum || '\u2014');
    setText('f-checksum', sum.length > 16 ? sum.slice(0, 16) + '\u2026' : sum);
    document.title = 'ranker \u00b7 v' + fmtInt(m.model_version);
  }

  function renderProgressive(m, label) {
    const auc = new Map(), logloss = new Map(), rmse = new Map();
    for (const [task, t] of Object.entries(m.progressive || {})) {
      if ('auc' in t || 'logloss' in t) {
        auc.set(task + ' window', t.window_auc);
        auc.set(task + ' all', t.auc);
        logloss.set(task + ' window', t.window_logloss);
        logloss.set(task + ' all', t.logloss);
      } else if ('rmse' in t) {
        rmse.set(task + ' window', t.window_rmse);
        rmse.set(task + ' all', t.rmse);
      }
    }
    state.auc.add(label, auc);
    state.logloss.add(label, logloss);
    state.rmse.add(label, rmse);
    drawHistory(state.charts.auc, state.auc, taskStyle);
    drawHistory(state.charts.logloss, state.logloss, taskStyle);
    drawHistory(state.charts.rmse, state.rmse, taskStyle);
  }

  // Events/s and examples/s from the counts of two successive reports; a
  // count that went down (a restore) gives no point.
  function renderRates(m, label, now) {
    const cur = { t: now, events: m.events_consumed, examples: m.examples_trained };
    const rates = new Map([['events/s', null], ['examples/s', null]]);
    const prev = state.prev;
    if (prev && cur.t > prev.t) {
      const dt = (cur.t - prev.t) / 1000;
      const rate = (a, b) => (isNum(a) && isNum(b) && a >= b ? (a - b) / dt : null);
      rates.set('events/s', rate(cur.events, prev.events));
      rates.set('examples/s', rate(cur.examples, prev.examples));
    }
    state.prev = cur;
    state.rate.add(label, rates);
    drawHistory(state.charts.rate, state.rate, (name) => {
      const color = colorFor('rate:' + name);
      return { borderColor: color, backgroundColor: color };
    });
  }

  function renderBias(m) {
    const bias = m.position_bias || {};
    const positions = bias.positions || [];
    const chart = state.charts.bias;
    const has = positions.length > 0 && Array.isArray(bias.click_logit_offset);
    document.getElementById('bias-note').hidden = has;
    chart.canvas.parentNode.hidden = !has;
    if (!has) return;
    const curves = [['all devices', bias.click_logit_offset]];
    for (const [device, offsets] of Object.entries(bias.by_device || {})) {
      curves.push([device, offsets]);
    }
    chart.data.labels = positions.slice();
    chart.data.datasets = curves.map(([name, offsets]) => {
      const color = name === 'all devices' ? '#111827' : colorFor('device:' + name);
      return { label: name, data: offsets.map((o) => (isNum(o) ? Math.exp(o) : null)),
               borderColor: color, backgroundColor: color, pointRadius: 2, tension: 0.2,
               borderWidth: name === 'all devices' ? 2.5 : 1.5, spanGaps: true };
    });
    chart.update('none');
    renderDeviceList(Object.keys(bias.by_device || {}));
  }

  // Offers the devices the model knows in the ranking form.
  function renderDeviceList(devices) {
    const key = devices.join('\u0000');
    if (key === state.devicesShown) return;
    state.devicesShown = key;
    const list = document.getElementById('devices');
    list.replaceChildren(...devices.filter((d) => d !== '(none)').map((d) => el('option', { value: d })));
  }

  function renderGates(m) {
    const gates = Object.entries(m.gates || {}).filter(([, w]) => Array.isArray(w) && w.length);
    const chart = state.charts.gates;
    document.getElementById('gates-note').hidden = gates.length > 0;
    chart.canvas.parentNode.hidden = gates.length === 0;
    if (!gates.length) return;
    const experts = Math.max(...gates.map(([, w]) => w.length));
    chart.data.labels = Array.from({ length: experts }, (_, i) => 'expert ' + i);
    chart.data.datasets = gates.map(([task, weights]) => {
      const color = colorFor('task:' + task);
      return { label: task, data: weights.map((w) => (isNum(w) ? w : null)),
               backgroundColor: color, borderColor: color, borderRadius: 2 };
    });
    chart.update('none');
  }

  function fillTable(id, obj) {
    const body = document.getElementById(id);
    const rows = Object.entries(obj || {}).map(([k, v]) => {
      const tr = el('tr');
      tr.append(el('td', {}, k.replace(/_/g, ' ')), el('td', { class: 'num' }, fmtInt(v)));
      return tr;
    });
    if (!rows.length) {
      const tr = el('tr');
      tr.append(el('td', { class: 'none' }, 'none'));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function render(m) {
    const now = Date.now();
    const label = clock(new Date(now));
    renderFacts(m, now);
    renderProgressive(m, label);
    renderRates(m, label, now);
    renderBias(m);
    renderGates(m);
    fillTable('t-join', m.join);
    fillTable('t-rejected', m.rejected);
  }

  // ---- Champion and challengers: one row per model, its metrics per task
  // and its gates (mean weight per expert, and the normalised entropy).

  function modelCells(m, tasks) {
    const cells = [m.name + (m.champion ? ' \u2605' : ''), m.architecture || '\u2013',
                   fmtInt(m.examples_trained), fmtInt(m.lag_examples || 0)];
    for (const t of tasks) {
      const p = (m.progressive || {})[t] || {};
      const loss = isNum(p.rmse) ? p.rmse : isNum(p.logloss) ? p.logloss : p.list_cross_entropy;
      cells.push(isNum(p.auc) ? fmt(p.auc, 4) : '\u2013', isNum(loss) ? fmt(loss, 4) : '\u2013');
      const g = (m.gates || {})[t];
      const h = (m.gate_health || {})[t];
      cells.push(Array.isArray(g) ? g.map((w) => fmt(w, 2)).join(' ') +
                 (h && isNum(h.entropy) ? ' (H ' + fmt(h.entropy, 2) + ')' : '') : '\u2013');
    }
    return cells;
  }

  function renderModels(body) {
    const models = Array.isArray(body.models) ? body.models : [];
    const card = document.getElementById('models-card');
    card.hidden = models.length < 2;  // one model: the page above says it all
    const tasks = [...new Set(models.flatMap((m) => Object.keys(m.progressive || {})))];
    const head = el('tr');
    for (const c of ['model', 'architecture', 'examples', 'lag']) head.append(el('th', {}, c));
    for (const t of tasks) {
      head.append(el('th', {}, t + ' auc'), el('th', {}, t + ' loss'), el('th', {}, t + ' gates'));
    }
    document.getElementById('t-models-head').replaceChildren(head);
    document.getElementById('t-models').replaceChildren(...models.map((m) => {
      const tr = el('tr', m.champion ? { class: 'champion' } : {});
      for (const c of modelCells(m, tasks)) tr.append(el('td', {}, c));
      return tr;
    }));
    document.body.dataset.models = String(models.length);
  }

  // GET /v1/models: a server without it (older) leaves the card hidden.
  async function pollModels() {
    let r;
    try {
      r = await fetchJson('/v1/models');
    } catch (_) {
      return;
    }
    if (!r.ok || !r.body) return;
    try {
      renderModels(r.body);
    } catch (e) {
      reportError('rendering the models: ' + e.message);
    }
  }

  // ---- Polling.

  function setStatus(ok, text) {
    const pill = document.getElementById('status');
    pill.textContent = text;
    pill.className = 'pill ' + (ok ? 'ok' : 'bad');
  }

  // fetch() with a deadline; resolves to {ok, status, body} with body parsed
  // JSON (or null).
  async function fetchJson(url, init) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const resp = await fetch(url, Object.assign({ signal: abort.signal, cache: 'no-store' }, init));
      const text = await resp.text();
      let body = null;
      try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
      return { ok: resp.ok, status: resp.status, body, text };
    } finally {
      clearTimeout(timer);
    }
  }

  function errorMessage(r) {
    if (r.body && r.body.error && r.body.error.message) {
      return r.body.error.message + (r.body.error.code ? ' (' + r.body.error.code + ')' : '');
    }
    return 'HTTP ' + r.status + (r.text ? ': ' + r.text.slice(0, 200) : '');
  }

  // One report: fetch failures show in the status pill (the server may be
  // restarting); a failure to render it is a script error.
  async function pollOnce() {
    let r;
    try {
      r = await fetchJson('/v1/model');
    } catch (e) {
      setStatus(false, 'no data: ' + (e.name === 'AbortError' ? 'timed out' : e.message));
      return;
    }
    if (!r.ok || !r.body) {
      setStatus(false, 'no data: ' + errorMessage(r));
      return;
    }
    try {
      render(r.body);
    } catch (e) {
      reportError('rendering the model report: ' + e.message);
      return;
    }
    state.polls += 1;
    document.body.dataset.polls = String(state.polls);
    document.body.dataset.live = '1';
    setStatus(true, 'live');
    if (state.polls === 1) maybeAutoRank();
  }

  async function poll() {
    await pollOnce();
    await pollModels();
    setTimeout(poll, POLL_MS);
  }

  // ---- The ranking form.

  function rankRequest(form) {
    const data = new FormData(form);
    const candidates = String(data.get('candidates') || '').split(/[\s,]+/).filter(Boolean);
    const req = { user_id: String(data.get('user_id') || ''),
                  candidates: candidates.map((id) => ({ item_id: id })) };
    const device = String(data.get('device') || '').trim();
    if (device) req.context = { device };
    const k = String(data.get('k') || '').trim();
    if (k) req.k = Number(k);
    return req;
  }

  // One row per ranked item: position, item, score, then each task's field.
  function renderRanking(box, answer, ms) {
    const items = Array.isArray(answer.items) ? answer.items : [];
    const fixed = ['position', 'item_id', 'score', 'p_click', 'watch_seconds'];
    const extra = [...new Set(items.flatMap((it) => Object.keys(it)))]
      .filter((k) => !fixed.includes(k) && items.every((it) => isNum(it[k]) || it[k] == null));
    const columns = fixed.concat(extra);
    const table = el('table');
    const head = el('tr');
    for (const c of columns) head.append(el('th', {}, c === 'position' ? '#' : c.replace(/_/g, ' ')));
    table.append(head);
    for (const it of items) {
      const tr = el('tr');
      for (const c of columns) {
        const v = it[c];
        const text = c === 'item_id' ? String(v) : c === 'position' ? fmtInt(v) : fmt(v, 4);
        tr.append(el('td', {}, text));
      }
      table.append(tr);
    }
    const meta = el('div', { class: 'meta' },
                    items.length + ' items \u00b7 model version ' + fmtInt(answer.model_version) +
                    ' \u00b7 ' + ms.toFixed(0) + ' ms' +
                    (answer.request_id ? ' \u00b7 request ' + answer.request_id : ''));
    box.replaceChildren(meta, table);
  }

  async function submitRank(event) {
    if (event) event.preventDefault();
    const form = document.getElementById('rank-form');
    const box = document.getElementById('rank-result');
    const button = form.querySelector('button');
    button.disabled = true;
    const started = performance.now();
    try {
      const r = await fetchJson('/v1/rank', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(rankRequest(form)),
      });
      if (!r.ok || !r.body) throw new Error(errorMessage(r));
      renderRanking(box, r.body, performance.now() - started);
      document.body.dataset.ranked = '1';
    } catch (e) {
      box.replaceChildren(el('div', { class: 'error' },
                             e.name === 'AbortError' ? 'timed out' : e.message));
    } finally {
      button.disabled = false;
    }
  }

  function maybeAutoRank() {
    if (new URLSearchParams(window.location.search).get('try') === '1') submitRank(null);
  }

  // ---- Start.

  function start() {
    document.getElementById('rank-form').addEventListener('submit', submitRank);
    if (typeof Chart === 'undefined') {
      reportError('Chart.js did not load: charts are unavailable');
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.color = '#4b5563';
    createCharts();
    poll();
  }

  // Deferred scripts run while readyState is already "interactive", before
  // the later ones (chart.js): wait for the whole page.
  if (document.readyState === 'complete') {
    start();
  } else {
    window.addEventListener('load', start);
  }
})();
