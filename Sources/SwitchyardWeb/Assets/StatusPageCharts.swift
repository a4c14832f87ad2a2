// The second part of /status.js, how values look: number and time formats, element builders,
// and the live rate charts (each server's last 60 samples of connections/s and bytes/s).

extension StatusAssets {
    static let scriptCharts = #"""

// Numbers and times in words: "1.5 kB/s", "1.8 ms", "3 min ago".
const SwitchyardFormat = (() => {
  const finite = (x) => typeof x === "number" && Number.isFinite(x);
  const dash = "\u2014";
  const fixed = (x) => (x === 0 ? "0" : x < 10 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US"));
  const date = (t) => (finite(t) ? new Date(t * 1000) : null);

  return {
    int: (x) => (finite(x) ? Math.round(x).toLocaleString("en-US") : dash),
    number: (x) => (finite(x) ? String(Math.round(x * 100) / 100) : dash),
    perSecond: (x) => (finite(x) ? fixed(x) : dash),
    ms: (x) => (finite(x) ? fixed(x) + " ms" : dash),
    bytesRate(x) {
      if (!finite(x)) return dash;
      const units = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
      let i = 0;
      while (x >= 1000 && i < units.length - 1) { x /= 1000; i++; }
      return (i === 0 ? String(Math.round(x)) : fixed(x)) + " " + units[i];
    },
    // How long before `now` (both Unix seconds) `at` was: "3 min ago".
    ago(now, at) {
      if (!finite(now) || !finite(at)) return dash;
      const seconds = now - at;
      if (seconds < 1) return "just now";
      if (seconds < 60) return Math.floor(seconds) + " s ago";
      if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
      if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min ago";
      return Math.floor(seconds / 86400) + " d ago";
    },
    // A clock time for today's events, a date and time for older ones.
    clock(t) {
      const d = date(t);
      if (!d) return dash;
      return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
    },
    when: (t) => { const d = date(t); return d ? d.toLocaleString() : "unknown"; },
  };
})();

// Element builders (text only, never HTML from the data) for the header, the cells and the
// recent actions.
const SwitchyardDOM = (() => {
  const F = SwitchyardFormat;
  const cls = (word) => String(word == null ? "" : word).toLowerCase().replace(/[^a-z]/g, "");

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // Classed "is-up", not "up": the buttons own the plain names (.drain, .ready).
  const badge = (word) => el("span", "badge is-" + cls(word), word == null ? "unknown" : word);

  function button(className, text, label) {
    const b = el("button", className, text);
    b.type = "button";
    b.setAttribute("aria-label", label);
    return b;
  }

  // One table row: a cell per column (the first a row header), a chart in the rates cell.
  const COLUMNS = ["name", "state", "weight num", "active num", "inactive num", "cps num",
                   "in num", "out num", "check", "change", "rates", "actions op-only"];
  function row(className, sid, rid) {
    const tr = el("tr", className);
    tr.dataset.service = sid;
    if (rid !== undefined) tr.dataset.real = rid;
    const cells = {};
    for (const c of COLUMNS) {
      const td = el(c === "name" ? "th" : "td", c);
      cells[c.split(" ")[0]] = td;
      tr.append(td);
    }
    cells.name.scope = "row";
    const canvas = el("canvas", "chart");
    canvas.setAttribute("role", "img");
    cells.rates.append(canvas);
    return { tr, cells, canvas, controls: [] };
  }

  // A service's tbody: its own row, then its real servers' rows.
  function group(sid) {
    const body = el("tbody", "service-group");
    body.dataset.service = sid;
    const head = row("service", sid);
    body.append(head.tr);
    return { body, head, rows: new Map() };
  }

  // An operator's controls for one real server, put in `td`: [drain, ready, weight input, set].
  function controls(td, rid) {
    const input = el("input", "weight-input");
    input.type = "number";
    input.min = "0";
    input.max = "65535";
    input.step = "1";
    input.inputMode = "numeric";
    input.setAttribute("aria-label", "New weight for " + rid);
    const all = [button("drain", "Drain", "Drain " + rid), button("ready", "Ready", "Ready " + rid),
                 input, button("set-weight", "Set weight", "Set weight of " + rid)];
    const box = el("div", "act");
    box.append(...all);
    td.append(box);
    return all;
  }

  function engineLine(e) {
    const ok = e.config_last_reload_successful;
    return ["Flow table " + F.int(e.flow_table_entries) + " of " + F.int(e.flow_table_capacity) +
      " entries \u00b7 " + F.int(e.packets_dropped_total) + " packets dropped \u00b7 last reload ",
      el("span", ok === false ? "word-bad" : ok === true ? "word-good" : "muted",
        ok === false ? "failed" : ok === true ? "ok" : "unknown")];
  }

  function vrrpItem(v) {
    const li = el("li");
    li.append("VRRP " + (v.instance || "?") + " ", badge(v.state), " priority " + F.int(v.priority));
    return li;
  }

  // "1 / 1 / 1": configured, set, effective; bold amber when they differ.
  function weightCell(td, r) {
    td.textContent = F.int(r.weight_configured) + " / " + F.int(r.weight) + " / " + F.int(r.weight_effective);
    td.title = "configured " + F.int(r.weight_configured) + ", set " + F.int(r.weight) +
      ", effective " + F.int(r.weight_effective);
    td.classList.toggle("differs", r.weight !== r.weight_configured || r.weight_effective !== r.weight);
  }

  // Result, duration and age of the last check on one line, its reason under it. `now` is the
  // snapshot's time, so ages do not depend on this browser's clock.
  function checkCell(td, c, now) {
    if (c && typeof c === "object") {
      const line = el("span", "check-line");
      line.append(el("span", c.result === "success" ? "word-good" : "word-bad", c.result || "?"),
        " " + F.ms(c.duration_ms) + " \u00b7 " + F.ago(now, c.at));
      td.replaceChildren(line, el("span", "detail", c.reason || ""));
      td.title = "checked " + F.when(c.at);
    } else {
      td.replaceChildren(el("span", "muted", "no checker"));
      td.title = "";
    }
  }

  function changeCell(td, at, now) {
    if (at == null) {
      td.replaceChildren(el("span", "muted", "\u2014"));
      td.title = "no change since start";
    } else {
      td.textContent = F.ago(now, at);
      td.title = F.when(at);
    }
  }

  function actionItem(a) {
    const li = el("li", a.ok ? "ok" : "failed");
    const when = el("time", "when", F.clock(a.at));
    when.title = F.when(a.at);
    li.append(when, el("span", "who", a.user), el("span", "what", a.action),
      badge(a.ok ? "ok" : "failed"), el("span", "msg", a.message || ""));
    return li;
  }

  return { cls, el, badge, button, row, group, controls, engineLine, vrrpItem, weightCell, checkCell, changeCell, actionItem };
})();

// Rate history per key ("service" or "service\nreal") and its small chart: bytes/s as a filled
// area, connections/s as a line, each scaled to its own peak; the newest sample is on the right.
const SwitchyardCharts = (() => {
  const KEEP = 60;
  const series = new Map();   // key -> { t: [], cps: [], bps: [] }
  const F = SwitchyardFormat;

  // One sample per snapshot: a refresh that returns the same generated_at adds nothing.
  function record(key, t, cps, bps) {
    let s = series.get(key);
    if (!s) { s = { t: [], cps: [], bps: [] }; series.set(key, s); }
    if (s.t.length && s.t[s.t.length - 1] === t) return;
    s.t.push(t);
    s.cps.push(Number.isFinite(cps) ? Math.max(0, cps) : 0);
    s.bps.push(Number.isFinite(bps) ? Math.max(0, bps) : 0);
    if (s.t.length > KEEP) { s.t.shift(); s.cps.shift(); s.bps.shift(); }
  }

  // Forgets the history of servers no longer in the table.
  function keep(keys) {
    for (const key of series.keys()) if (!keys.has(key)) series.delete(key);
  }

  function describe(s) {
    if (!s || s.t.length === 0) return "No samples yet";
    const last = s.t.length - 1;
    return "Last " + s.t.length + " samples: " +
      F.perSecond(s.cps[last]) + " conn/s now, peak " + F.perSecond(Math.max(...s.cps)) + "; " +
      F.bytesRate(s.bps[last]) + " now, peak " + F.bytesRate(Math.max(...s.bps));
  }

  function draw(canvas, key) {
    const s = series.get(key);
    const n = s ? s.t.length : 0;
    const text = describe(s);
    canvas.dataset.samples = String(n);
    canvas.title = text;
    canvas.setAttribute("aria-label", "Rates chart. " + text);
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;                      // hidden by the filter: drawn when shown again
    const ratio = window.devicePixelRatio || 1;
    const pw = Math.round(w * ratio), ph = Math.round(h * ratio);
    if (canvas.width !== pw || canvas.height !== ph) { canvas.width = pw; canvas.height = ph; }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);

    const style = getComputedStyle(canvas);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const base = h - 1.5, top = 3;
    ctx.lineWidth = 1;
    ctx.strokeStyle = colour("--chart-grid", "#888888");
    ctx.beginPath();
    ctx.moveTo(0, base + 0.5);
    ctx.lineTo(w, base + 0.5);
    ctx.stroke();
    if (n === 0) return;

    const x = (i) => (n === 1 ? w - 2 : 1 + i * (w - 3) / (n - 1));   // the samples so far span the width
    const y = (v, peak) => base - (peak > 0 ? v / peak : 0) * (base - top);

    const bytes = colour("--chart-bytes", "#8250df");
    const bpeak = Math.max(...s.bps);
    ctx.beginPath();
    ctx.moveTo(x(0), base);
    for (let i = 0; i < n; i++) ctx.lineTo(x(i), y(s.bps[i], bpeak));
    ctx.lineTo(x(n - 1), base);
    ctx.closePath();
    ctx.globalAlpha = 0.3;
    ctx.fillStyle = bytes;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = bytes;
    ctx.beginPath();
    for (let i = 0; i < n; i++) ctx.lineTo(x(i), y(s.bps[i], bpeak));
    ctx.stroke();

    const cpeak = Math.max(...s.cps);
    ctx.strokeStyle = colour("--chart-conn", "#0969da");
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 1.75;
    ctx.lineJoin = "round";
    ctx.beginPath();
    for (let i = 0; i < n; i++) ctx.lineTo(x(i), y(s.cps[i], cpeak));
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(x(n - 1), y(s.cps[n - 1], cpeak), 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  return { record, keep, draw };
})();
"""#
}
