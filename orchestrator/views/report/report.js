// The report page: the runs table drives every chart (selection, filter, colour), and the
// controls smooth, rescale and switch what the charts show. The data and the figures come from
// the JSON block written by orch; nothing is fetched (the page works offline from any folder).
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const RUNS = DATA.rows.map((row) => row.run);
  const STORE = "orch-report:" + location.pathname;
  const state = Object.assign(
    {
      deselected: [],
      filter: "",
      sortKey: null,
      sortDir: 1,
      colourBy: "run",
      smooth: DATA.smooth,
      lossScale: "log",
      stat: DATA.region_stat,
      grouped: false,
      classOrder: "name",
      runA: null,
      runB: null,
    },
    loadState()
  );
  // Milliseconds from navigation until the first chart answered and until every chart was drawn
  // (read by the benchmark).
  const TIMING = (window.orchReportTiming = { interactive: 0, ready: 0 });
  const RAW = {}; // chart id -> y of each trace as built (smoothing starts from these)
  const GROUPED_RUNS = new Set(DATA.groups.flatMap((g) => g.members));

  function loadState() {
    try {
      return JSON.parse(sessionStorage.getItem(STORE) || "{}");
    } catch (e) {
      return {};
    }
  }
  function saveState() {
    try {
      sessionStorage.setItem(STORE, JSON.stringify(state));
    } catch (e) {
      /* storage refused (private mode): the page still works, it just forgets */
    }
  }

  // -- plotly's base64 arrays ("bdata") to typed arrays ---------------------------------------
  const TYPES = { f4: Float32Array, f8: Float64Array, i4: Int32Array, i2: Int16Array, i1: Int8Array,
    u1: Uint8Array, u2: Uint16Array, u4: Uint32Array };
  function decode(value) {
    if (!value || typeof value !== "object" || !value.bdata) return value;
    const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
    return new TYPES[value.dtype](bytes.buffer);
  }

  // -- which runs are shown --------------------------------------------------------------------
  function rowText(row) {
    return Object.values(row).map((v) => (v === null ? "" : String(v))).join(" ").toLowerCase();
  }
  function matchesFilter(row) {
    const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
    const text = rowText(row);
    return words.every((w) => text.includes(w));
  }
  function shownRuns() {
    const off = new Set(state.deselected);
    return new Set(DATA.rows.filter((r) => !off.has(r.run) && matchesFilter(r)).map((r) => r.run));
  }

  // -- colours: by run, or hue families by a parameter -----------------------------------------
  const STRONG = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf"];
  const FAMILIES = [212, 28, 135, 355, 275, 48, 185, 320, 95, 250];
  function colours() {
    const result = {};
    if (state.colourBy === "run") {
      RUNS.forEach((run, i) => {
        result[run] = RUNS.length <= STRONG.length ? STRONG[i]
          : `hsl(${Math.round((i * 137.508) % 360)}, ${i % 2 ? 55 : 70}%, ${i % 3 === 2 ? 62 : 42}%)`;
      });
      return { byRun: result, legend: [] };
    }
    const key = state.colourBy;
    const values = [...new Set(DATA.rows.map((r) => label(r[key])))].sort(compareText);
    const legend = [];
    values.forEach((value, k) => {
      const hue = FAMILIES[k % FAMILIES.length];
      const members = DATA.rows.filter((r) => label(r[key]) === value);
      members.forEach((row, j) => {
        const light = members.length === 1 ? 45 : 30 + (38 * j) / (members.length - 1);
        result[row.run] = `hsl(${hue}, 70%, ${Math.round(light)}%)`;
      });
      legend.push([value, `hsl(${hue}, 70%, 45%)`]);
    });
    return { byRun: result, legend: legend };
  }
  function label(value) {
    return value === null || value === undefined ? "(none)" : String(value);
  }
  function compareText(a, b) {
    const x = Number(a), y = Number(b);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
    return a.localeCompare(b);
  }

  // -- the runs table --------------------------------------------------------------------------
  // Columns nobody has are left out; parameters every run shares are said once, above the
  // table, so the columns left are those that tell runs apart.
  const present = (c) => DATA.rows.some((r) => r[c.key] !== null && r[c.key] !== undefined);
  const shared = (c) => DATA.rows.length > 1 && c.param && DATA.rows.every((r) => r[c.key] === DATA.rows[0][c.key]);
  const COLUMNS = DATA.columns.filter((c) => present(c) && !shared(c));
  const SHARED = DATA.columns.filter((c) => present(c) && shared(c));
  function format(value, column) {
    if (value === null || value === undefined) return "";
    if (column.kind === "duration") return duration(value);
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return String(value);
    if (Math.abs(value) !== 0 && Math.abs(value) < 0.001) return value.toExponential(2);
    return String(parseFloat(value.toPrecision(4)));
  }
  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.round((seconds % 3600) / 60);
    return h ? `${h} h ${m} min` : `${m} min`;
  }
  function compareValues(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    if (typeof a === "number" && typeof b === "number") return (a - b) * state.sortDir;
    return String(a).localeCompare(String(b), undefined, { numeric: true }) * state.sortDir;
  }
  function buildHeader() {
    const tr = document.createElement("tr");
    const sel = document.createElement("th");
    sel.className = "sel";
    sel.textContent = "show";
    tr.appendChild(sel);
    COLUMNS.forEach((column) => {
      const th = document.createElement("th");
      th.textContent = column.label;
      th.title = `sort by ${column.label} (click again to reverse)` + (column.best ? `; best: ${column.best}` : "");
      th.dataset.key = column.key;
      th.addEventListener("click", () => {
        state.sortDir = state.sortKey === column.key ? -state.sortDir : 1;
        state.sortKey = column.key;
        renderTable();
        saveState();
      });
      tr.appendChild(th);
    });
    document.querySelector("#runs-table thead").appendChild(tr);
  }
  function renderTable(palette) {
    palette = palette || colours();
    const off = new Set(state.deselected);
    const rows = DATA.rows.filter(matchesFilter);
    if (state.sortKey) rows.sort((a, b) => compareValues(a[state.sortKey], b[state.sortKey]));
    const best = {};
    COLUMNS.filter((c) => c.best).forEach((c) => {
      const values = rows.filter((r) => !off.has(r.run)).map((r) => r[c.key]).filter((v) => typeof v === "number");
      if (values.length > 1) best[c.key] = c.best === "max" ? Math.max(...values) : Math.min(...values);
    });
    const body = document.querySelector("#runs-table tbody");
    body.replaceChildren();
    rows.forEach((row) => {
      const tr = document.createElement("tr");
      tr.dataset.run = row.run;
      if (off.has(row.run)) tr.className = "deselected";
      const sel = document.createElement("td");
      sel.className = "sel";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !off.has(row.run);
      box.setAttribute("aria-label", `show ${row.run}`);
      box.addEventListener("change", () => toggleRun(row.run, box.checked));
      sel.appendChild(box);
      tr.appendChild(sel);
      COLUMNS.forEach((column) => {
        const td = document.createElement("td");
        const value = row[column.key];
        td.dataset.key = column.key;
        if (column.key === "run") {
          const swatch = document.createElement("span");
          swatch.className = "swatch";
          swatch.style.background = palette.byRun[row.run];
          td.appendChild(swatch);
          td.appendChild(document.createTextNode(row.run));
          if (DATA.folders[row.run]) {
            td.appendChild(document.createTextNode(" "));
            const link = document.createElement("a");
            link.href = DATA.folders[row.run] + "/results.csv";
            link.textContent = "csv";
            link.title = "every evaluated checkpoint of this run (per-class AP: per_class.csv next to it)";
            td.appendChild(link);
          }
        } else if (column.kind === "path" && value) {
          td.textContent = String(value).split("/").pop();
          td.title = value;
        } else {
          td.textContent = format(value, column);
        }
        if (typeof value === "number") td.classList.add("number");
        if (column.key in best && value === best[column.key]) td.classList.add("best");
        if (column.key === "state" && value === "crashed") {
          td.classList.add("state-crashed");
          const crash = DATA.crashed.find((c) => c.run === row.run);
          if (crash) td.title = crash.error;
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    document.querySelectorAll("#runs-table th").forEach((th) => {
      th.classList.remove("sorted-1", "sorted--1");
      if (th.dataset.key && th.dataset.key === state.sortKey) th.classList.add(`sorted-${state.sortDir}`);
    });
    const shown = shownRuns().size;
    document.getElementById("selected-count").textContent = `${shown} of ${RUNS.length} runs shown in the charts`;
  }
  function toggleRun(run, on) {
    const off = new Set(state.deselected);
    if (on) off.delete(run);
    else off.add(run);
    state.deselected = [...off];
    update();
  }

  // -- charts ----------------------------------------------------------------------------------
  function movingAverage(values, window) {
    if (window <= 1) return values;
    const out = new Float32Array(values.length);
    let sum = 0, count = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (Number.isFinite(v)) { sum += v; count++; }
      if (i >= window) {
        const old = values[i - window];
        if (Number.isFinite(old)) { sum -= old; count--; }
      }
      out[i] = count ? sum / count : NaN;
    }
    return out;
  }
  const CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  function prepare(id) {
    const figure = DATA.figures[id];
    figure.data.forEach((trace) => {
      if (trace.x !== undefined) trace.x = decode(trace.x);
      trace.y = decode(trace.y);
    });
    RAW[id] = figure.data.map((trace) => trace.y);
    if (figure.data.length === 0 && id !== "chart-per-class") {
      figure.layout.height = 140;
      figure.layout.showlegend = false;
      figure.layout.annotations = [{ text: "nothing to show: no run has this series", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#777" } }];
      figure.layout.xaxis = Object.assign(figure.layout.xaxis || {}, { visible: false });
      figure.layout.yaxis = Object.assign(figure.layout.yaxis || {}, { visible: false });
    }
  }
  function traceVisible(meta, shown) {
    if (meta.stat !== undefined && meta.stat !== state.stat) return false;
    if (meta.group !== undefined) return state.grouped && meta.members.some((m) => shown.has(m));
    if (meta.run === undefined) return true;
    return shown.has(meta.run) && !(state.grouped && GROUPED_RUNS.has(meta.run));
  }
  // Draw a chart for the runs shown: its traces as built, with visibility, colour and smoothing
  // applied; Plotly.react redraws only what changed and keeps the user's zoom (uirevision).
  function draw(id, shown, palette) {
    const figure = DATA.figures[id];
    const data = figure.data.map((trace, i) => {
      const meta = trace.meta || {};
      const run = meta.run !== undefined ? meta.run : (meta.members || [])[0];
      const colour = palette.byRun[run] || "#555";
      return Object.assign({}, trace, {
        visible: traceVisible(meta, shown),
        line: Object.assign({}, trace.line, { color: colour }),
        marker: Object.assign({}, trace.marker, { color: colour }),
        fillcolor: trace.fill ? colour : undefined,
        y: meta.smooth ? movingAverage(RAW[id][i], state.smooth) : RAW[id][i],
      });
    });
    const layout = Object.assign({}, figure.layout);
    if (layout.shapes) {
      layout.shapes = layout.shapes.map((shape) => Object.assign({}, shape, {
        visible: shown.has(shape.name) && !state.grouped }));
    }
    if (id === "chart-loss") layout.yaxis = Object.assign({}, layout.yaxis, { type: state.lossScale });
    return Plotly.react(id, data, layout, CONFIG);
  }

  // -- the per-class heatmap -------------------------------------------------------------------
  function heatmapTools() {
    const div = document.createElement("div");
    div.className = "heatmap-tools";
    div.innerHTML = '<label>order classes by <select id="class-order">' +
      '<option value="name">class name</option><option value="mean">mean AP of the runs shown</option>' +
      '<option value="difference">difference between two runs</option></select></label>' +
      '<label>run A <select id="run-a"></select></label> <label>minus run B <select id="run-b"></select></label>';
    const chart = document.getElementById("chart-per-class");
    chart.parentNode.insertBefore(div, chart);
  }
  function classValue(metric, run, index) {
    const row = DATA.per_class.values[metric][run];
    return row ? row[index] : null;
  }
  function drawHeatmap(shown) {
    const gd = document.getElementById("chart-per-class");
    const table = DATA.per_class;
    const metrics = DATA.metrics.map((m) => m.id);
    const runs = RUNS.filter((r) => shown.has(r) && metrics.some((m) => table.values[m] && table.values[m][r]));
    ["run-a", "run-b"].forEach((id, k) => {
      const select = document.getElementById(id);
      const current = k === 0 ? state.runA : state.runB;
      select.replaceChildren(...runs.map((r) => new Option(r, r)));
      select.value = runs.includes(current) ? current : runs[Math.min(k, runs.length - 1)] || "";
    });
    state.runA = document.getElementById("run-a").value;
    state.runB = document.getElementById("run-b").value;
    const first = metrics[0];
    let order = table.classes.map((c, i) => i);
    const key = (i) => {
      if (state.classOrder === "mean") {
        const values = runs.map((r) => classValue(first, r, i)).filter((v) => v !== null);
        return values.length ? -values.reduce((a, b) => a + b, 0) / values.length : Infinity;
      }
      const a = classValue(first, state.runA, i), b = classValue(first, state.runB, i);
      return a === null || b === null ? Infinity : -(a - b);
    };
    if (state.classOrder !== "name") order.sort((i, j) => key(i) - key(j));
    const classes = order.map((i) => table.classes[i]);
    let low = Infinity, high = -Infinity;
    const figure = DATA.figures["chart-per-class"];
    const data = figure.data.map((trace) => {
      const metric = trace.meta.metric;
      const z = order.map((i) => runs.map((r) => {
        const v = table.values[metric] ? classValue(metric, r, i) : null;
        if (v !== null) { low = Math.min(low, v); high = Math.max(high, v); }
        return v;
      }));
      return Object.assign({}, trace, { x: runs, y: classes, z: z });
    });
    if (!(low < high)) { low = Number.isFinite(low) ? low - 0.01 : 0; high = low + 0.02; }
    const layout = Object.assign({}, figure.layout, {
      height: Math.max(360, 16 * classes.length + 180),
      coloraxis: Object.assign({}, figure.layout.coloraxis, { cmin: low, cmax: high }),
    });
    document.querySelector(".heatmap-tools").hidden = !runs.length;
    if (!runs.length || !classes.length) {
      layout.xaxis = { visible: false };
      layout.xaxis2 = { visible: false };
      layout.yaxis = { visible: false };
      layout.yaxis2 = { visible: false };
      layout.coloraxis = Object.assign({}, layout.coloraxis, { showscale: false });
      layout.annotations = [{ text: "nothing to show: no run shown has a per-class evaluation", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: "#777" } }];
      layout.height = 160;
    }
    return Plotly.react(gd, data, layout, CONFIG);
  }

  // -- controls --------------------------------------------------------------------------------
  function setUpControls() {
    const colourBy = document.getElementById("colour-by");
    colourBy.appendChild(new Option("run", "run"));
    COLUMNS.filter((c) => c.key !== "run" && c.kind !== "path" && !c.best &&
      new Set(DATA.rows.map((r) => label(r[c.key]))).size > 1)
      .forEach((c) => colourBy.appendChild(new Option(c.label, c.key)));
    if (![...colourBy.options].some((o) => o.value === state.colourBy)) state.colourBy = "run";
    colourBy.value = state.colourBy;
    colourBy.addEventListener("change", () => { state.colourBy = colourBy.value; update(); });

    const smooth = document.getElementById("smooth");
    smooth.value = state.smooth;
    const showSmooth = () => {
      document.getElementById("smooth-value").textContent = state.smooth > 1 ? `mean of ${state.smooth} points` : "off";
    };
    showSmooth();
    smooth.addEventListener("input", () => { state.smooth = Number(smooth.value); showSmooth(); update(); });

    const scale = document.getElementById("loss-scale");
    scale.value = state.lossScale;
    scale.addEventListener("change", () => { state.lossScale = scale.value; update(); });

    const stat = document.getElementById("region-stat");
    DATA.stats.forEach((s) => stat.appendChild(new Option(s.label, s.id)));
    if (!DATA.stats.some((s) => s.id === state.stat)) state.stat = DATA.region_stat;
    stat.value = state.stat;
    stat.disabled = !DATA.stats.length;
    stat.addEventListener("change", () => { state.stat = stat.value; update(); });

    const grouped = document.getElementById("group-repeats");
    grouped.checked = state.grouped;
    document.getElementById("group-label").hidden = !DATA.groups.length;
    grouped.addEventListener("change", () => { state.grouped = grouped.checked; update(); });

    const filter = document.getElementById("filter");
    filter.value = state.filter;
    filter.addEventListener("input", () => { state.filter = filter.value; update(); });
    document.getElementById("select-all").addEventListener("click", () => { state.deselected = []; update(); });
    document.getElementById("select-none").addEventListener("click", () => { state.deselected = RUNS.slice(); update(); });

    heatmapTools();
    const order = document.getElementById("class-order");
    order.value = state.classOrder;
    order.addEventListener("change", () => { state.classOrder = order.value; update(); });
    ["run-a", "run-b"].forEach((id) => document.getElementById(id).addEventListener("change", (e) => {
      if (id === "run-a") state.runA = e.target.value; else state.runB = e.target.value;
      state.classOrder = "difference";
      order.value = "difference";
      update();
    }));

    document.getElementById("shared").textContent = SHARED.length
      ? "Parameters every run shares: " + SHARED.map((c) => `${c.label} ${format(DATA.rows[0][c.key], c)}`).join(" · ") : "";
    const crashed = document.getElementById("crashed");
    DATA.crashed.forEach((c) => {
      const p = document.createElement("p");
      p.append(`${c.run} crashed; darknet's last error line: `);
      const code = document.createElement("code");
      code.textContent = c.error;
      p.appendChild(code);
      crashed.appendChild(p);
    });

    const note = document.getElementById("reload-note");
    if (DATA.active) {
      note.textContent = `Runs are active: this page reloads itself every ${DATA.reload_seconds} s.`;
      setTimeout(() => { saveState(); location.reload(); }, DATA.reload_seconds * 1000);
    }
  }
  function colourLegend(palette) {
    const legend = document.getElementById("colour-legend");
    legend.replaceChildren(...palette.legend.map(([value, colour]) => {
      const span = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour;
      span.append(swatch, value);
      return span;
    }));
  }

  // Charts are drawn one per task, in page order: the table and the first chart answer at once,
  // the others follow without freezing the page. A newer update abandons an older one.
  let generation = 0;
  async function update() {
    const mine = ++generation;
    document.body.dataset.ready = "false";
    const shown = shownRuns();
    const palette = colours();
    renderTable(palette);
    colourLegend(palette);
    saveState();
    for (const id of CHARTS) {
      if (mine !== generation) return;
      await (id === "chart-per-class" ? drawHeatmap(shown) : draw(id, shown, palette));
      if (!TIMING.interactive) TIMING.interactive = Math.round(performance.now());
      document.body.dataset.interactive = "true";
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (mine !== generation) return;
    if (!TIMING.ready) TIMING.ready = Math.round(performance.now());
    document.body.dataset.ready = "true";
  }

  const CHARTS = Object.keys(DATA.figures);
  CHARTS.forEach(prepare);
  buildHeader();
  setUpControls();
  update();
})();
