// The status page's script, served at /status.js: polls /status.json, fills in the table (rows
// kept and updated in place), the problems filter, and the operator's drain/ready/weight actions.

extension StatusAssets {
    /// The whole of /status.js: this part (state, polling, table, actions), then StatusPageCharts.swift.
    static let script = scriptMain + scriptCharts

    static let scriptMain = #"""
"use strict";
(() => {
  const PROBLEMS_KEY = "switchyard.problemsOnly";
  const FORWARDING = { dr: "direct routing", nat: "NAT", tun: "tunnel" };
  const LABELS = { drain: "Drain", ready: "Ready", weight: "Set weight" };

  const page = {
    csrf: "", user: "", role: "viewer",
    data: null,              // the last /status.json that arrived
    refreshSeconds: 2, timer: 0, loading: false, again: false,
    pending: null,           // { sid, rid } of a drain awaiting confirmation
    groups: new Map(),       // service id -> { body, head, rows: Map(real id -> row) }
  };
  // From the script's second part (StatusPageCharts.swift), which runs after this one.
  let F, C, D, el, badge, cls;

  const $ = (id) => document.getElementById(id);
  const meta = (name) => {
    const m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute("content") || "" : "";
  };
  const list = (x) => (Array.isArray(x) ? x : []);
  const isOperator = () => page.role === "operator";

  function start() {
    F = SwitchyardFormat;
    C = SwitchyardCharts;
    D = SwitchyardDOM;
    ({ el, badge, cls } = D);
    page.csrf = meta("csrf-token");
    page.user = meta("switchyard-user");
    page.role = meta("switchyard-role");
    document.body.classList.toggle("operator", isOperator());

    const problems = $("problems-only");
    problems.checked = loadProblemsOnly();
    problems.addEventListener("change", () => { saveProblemsOnly(problems.checked); render(); });
    $("auto-refresh").addEventListener("change", (e) => { if (e.target.checked) refresh(); else stopTimer(); });
    $("refresh-now").addEventListener("click", () => refresh());
    $("confirm-yes").addEventListener("click", confirmDrain);
    $("confirm-no").addEventListener("click", closeConfirm);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && page.pending) closeConfirm(); });
    $("services").addEventListener("click", onTableClick);
    $("services").addEventListener("keydown", onTableKey);
    if (window.matchMedia) {
      const dark = window.matchMedia("(prefers-color-scheme: dark)");
      if (dark.addEventListener) dark.addEventListener("change", drawCharts);
    }
    refresh();
  }

  function loadProblemsOnly() {
    try { return localStorage.getItem(PROBLEMS_KEY) === "1"; } catch (_) { return false; }
  }
  function saveProblemsOnly(on) {
    try { localStorage.setItem(PROBLEMS_KEY, on ? "1" : "0"); } catch (_) { /* not kept */ }
  }

  // Fetches JSON with a time limit; never rejects for an HTTP status, only for no answer.
  async function fetchJSON(path, init) {
    const ctl = new AbortController();
    const limit = setTimeout(() => ctl.abort(), 10000);
    try {
      const res = await fetch(new URL(path, location.origin), Object.assign(
        { credentials: "same-origin", cache: "no-store", signal: ctl.signal,
          headers: { Accept: "application/json" } }, init));
      const body = await res.json().catch(() => null);
      return { res, body };
    } finally {
      clearTimeout(limit);
    }
  }

  function stopTimer() {
    if (page.timer) clearTimeout(page.timer);
    page.timer = 0;
  }

  function schedule() {
    stopTimer();
    if ($("auto-refresh").checked) page.timer = setTimeout(refresh, Math.max(0.5, page.refreshSeconds) * 1000);
  }

  // One poll of /status.json. Never throws: trouble shows in the banner.
  async function refresh() {
    if (page.loading) { page.again = true; return; }
    page.loading = true;
    stopTimer();
    let problem = null;
    try {
      const { res, body } = await fetchJSON("/status.json");
      if (!res.ok || !body || typeof body !== "object") problem = "it answered HTTP " + res.status;
      else page.data = body;
    } catch (err) {
      problem = err && err.name === "AbortError" ? "no answer in 10 s" : "no connection";
    }
    try {
      if (!problem) render();
    } catch (err) {
      problem = "the page could not show its answer (" + (err && err.message) + ")";
    }
    showError(problem);
    page.loading = false;
    if (page.again) { page.again = false; refresh(); } else schedule();
  }

  function showError(problem) {
    const banner = $("error-banner");
    banner.hidden = !problem;
    if (!problem) return;
    const since = page.data ? " Showing what it said at " + $("refreshed").textContent + "." : "";
    banner.textContent = "Cannot reach the balancer: " + problem + "." + since;
  }

  function render() {
    const d = page.data;
    if (!d) return;
    renderHeader(d);
    renderServices(d);
    renderActions(d.actions);
    if (page.pending) updateConfirm();
  }

  function renderHeader(d) {
    $("host").textContent = d.host || "";
    $("version").textContent = d.version || "";
    if (d.user && typeof d.user === "object") {
      $("user").textContent = d.user.name || page.user;
      $("role").textContent = d.user.role || page.role;
      if (d.user.role && d.user.role !== page.role) setRole(d.user.role);
    }
    const rs = Number(d.refresh_seconds);
    page.refreshSeconds = rs > 0 ? rs : 2;
    $("refresh-every").textContent = F.number(page.refreshSeconds);

    $("engine").replaceChildren(...D.engineLine(d.engine || {}));
    const vrrp = $("vrrp");
    vrrp.replaceChildren(...list(d.vrrp).map(D.vrrpItem));
    vrrp.hidden = vrrp.children.length === 0;

    const now = new Date();
    const when = $("refreshed");
    when.textContent = now.toLocaleTimeString();
    when.dateTime = now.toISOString();
  }

  // The role can only change if the server says so; rebuild the rows with or without controls.
  function setRole(role) {
    page.role = role;
    document.body.classList.toggle("operator", isOperator());
    for (const g of page.groups.values()) g.body.remove();
    page.groups.clear();
    if (!isOperator()) closeConfirm();
  }

  function makeReal(sid, rid) {
    const row = D.row("real", sid, rid);
    if (isOperator()) row.controls = D.controls(row.cells.actions, rid);
    return row;
  }

  // Puts `child` at index `at` among `parent`'s children, moving it only if it is elsewhere
  // (moving a row would take the focus out of its weight input).
  function place(parent, child, at) {
    const here = parent.children[at];
    if (here !== child) parent.insertBefore(child, here || null);
  }

  function renderServices(d) {
    const table = $("services");
    const services = list(d.services);
    const problemsOnly = $("problems-only").checked;
    const t = Number(d.generated_at) || Date.now() / 1000;
    const seen = new Set(), charts = new Set();
    const first = Array.prototype.indexOf.call(table.children, table.tHead) + 1;
    let shown = 0;
    services.forEach((s, i) => {
      const sid = String(s.id);
      seen.add(sid);
      let g = page.groups.get(sid);
      if (!g) { g = D.group(sid); page.groups.set(sid, g); }
      place(table, g.body, first + i);
      const reals = list(s.real_servers), seenReal = new Set();
      // Shown or hidden first: a chart can only be drawn while its row is on screen.
      const problem = s.state !== "up" || reals.some((r) => r.state !== "up");
      g.body.hidden = problemsOnly && !problem;
      if (!g.body.hidden) shown++;
      fillService(g.head, s, t);
      charts.add(sid);
      reals.forEach((r, j) => {
        const rid = String(r.id);
        seenReal.add(rid);
        let row = g.rows.get(rid);
        if (!row) { row = makeReal(sid, rid); g.rows.set(rid, row); }
        place(g.body, row.tr, j + 1);
        row.tr.hidden = problemsOnly && r.state === "up";
        fillReal(row, sid, r, t);
        charts.add(sid + "\n" + rid);
      });
      for (const [rid, row] of g.rows) if (!seenReal.has(rid)) { row.tr.remove(); g.rows.delete(rid); }
    });
    for (const [sid, g] of page.groups) if (!seen.has(sid)) { g.body.remove(); page.groups.delete(sid); }
    C.keep(charts);

    const empty = $("empty");
    empty.textContent = services.length === 0 ? "No virtual services are configured."
      : "No problems: every real server is up.";
    empty.hidden = shown > 0;
  }

  function fillRates(row, rates, key, t) {
    const r = rates || {};
    const inB = Number(r.incoming_bytes_per_second) || 0, outB = Number(r.outgoing_bytes_per_second) || 0;
    row.cells.cps.textContent = F.perSecond(r.connections_per_second);
    row.cells.in.textContent = F.bytesRate(r.incoming_bytes_per_second);
    row.cells.out.textContent = F.bytesRate(r.outgoing_bytes_per_second);
    C.record(key, t, Number(r.connections_per_second) || 0, inB + outB);
    C.draw(row.canvas, key);
  }

  function fillService(row, s, t) {
    const sid = String(s.id);
    row.tr.className = "service is-" + cls(s.state);
    const fwd = FORWARDING[s.forwarding] || s.forwarding || "?";
    const sorry = s.sorry_server
      ? " \u00b7 sorry server " + s.sorry_server.id + (s.sorry_server.serving ? " answering (quorum lost)" : " standing by")
      : "";
    row.cells.name.replaceChildren(sid, el("span", "detail",
      "scheduler " + (s.scheduler || "?") + " \u00b7 " + fwd + " \u00b7 " + F.int(s.connections_total) + " connections" + sorry));
    const up = Number(s.servers_up) || 0, total = Number(s.servers_total) || 0;
    row.cells.state.replaceChildren(badge(s.state),
      el("span", "count " + (up < total ? "word-warn" : "muted"), up + " of " + total + " up"));
    row.cells.active.textContent = F.int(s.active);
    row.cells.inactive.textContent = F.int(s.inactive);
    fillRates(row, s.rates, sid, t);
  }

  function fillReal(row, sid, r, t) {
    row.tr.className = "real is-" + cls(r.state);
    row.cells.name.textContent = String(r.id);
    row.cells.state.replaceChildren(badge(r.state));

    D.weightCell(row.cells.weight, r);
    row.cells.active.textContent = F.int(r.active);
    row.cells.inactive.textContent = F.int(r.inactive);
    D.checkCell(row.cells.check, r.last_check, t);
    D.changeCell(row.cells.change, r.last_change, t);
    fillRates(row, r.rates, sid + "\n" + row.tr.dataset.real, t);

    const input = row.controls[2];
    if (input && document.activeElement !== input) input.placeholder = F.int(r.weight);
  }

  function renderActions(actions) {
    const items = list(actions).slice().sort((a, b) => (Number(b.at) || 0) - (Number(a.at) || 0));
    $("actions").replaceChildren(...items.map(D.actionItem));
    $("actions-empty").hidden = items.length > 0;
  }

  function findReal(sid, rid) {
    const s = page.data && list(page.data.services).find((x) => String(x.id) === sid);
    return s ? list(s.real_servers).find((x) => String(x.id) === rid) : undefined;
  }

  function rowOf(target) {
    const tr = target.closest("tr.real");
    return tr ? { sid: tr.dataset.service, rid: tr.dataset.real, tr } : null;
  }

  function onTableClick(e) {
    const button = e.target.closest("button");
    const at = button && rowOf(button);
    if (!at || !isOperator()) return;
    if (button.classList.contains("drain")) askDrain(at.sid, at.rid);
    else if (button.classList.contains("ready")) act("ready", at.sid, at.rid);
    else if (button.classList.contains("set-weight")) setWeight(at);
  }

  function onTableKey(e) {
    if (e.key !== "Enter" || !e.target.classList.contains("weight-input")) return;
    const at = rowOf(e.target);
    if (at) { e.preventDefault(); setWeight(at); }
  }

  function setWeight(at) {
    const input = at.tr.querySelector(".weight-input");
    const text = input ? input.value.trim() : "";
    if (!/^\d+$/.test(text) || Number(text) > 65535) {
      setStatus("Set weight of " + at.rid + ": enter a whole number from 0 to 65535.", "fail");
      if (input) input.focus();
      return;
    }
    act("weight", at.sid, at.rid, String(Number(text))).then(() => { if (input) input.value = ""; });
  }

  function askDrain(sid, rid) {
    page.pending = { sid, rid };
    updateConfirm();
    $("confirm").hidden = false;
    $("confirm-no").focus();
  }

  // The panel's text follows the latest data, so the preview stays true while it is open.
  function updateConfirm() {
    const { sid, rid } = page.pending;
    const r = findReal(sid, rid);
    if (!r) {
      closeConfirm();
      setStatus(rid + " is no longer in " + sid + "; nothing drained.", "fail");
      return;
    }
    $("confirm-text").textContent = "Drain " + rid + "? " + (r.drain_preview || "It leaves " + sid + ".");
  }

  function closeConfirm() {
    const was = page.pending;
    page.pending = null;
    $("confirm").hidden = true;
    const g = was && page.groups.get(was.sid), row = g && g.rows.get(was.rid);
    if (row && row.controls[0]) row.controls[0].focus();
  }

  function confirmDrain() {
    const was = page.pending;
    if (!was) return;
    closeConfirm();
    act("drain", was.sid, was.rid);
  }

  function setStatus(text, kind) {
    const s = $("action-status");
    s.textContent = text;
    s.className = "action-status " + (kind || "");
  }

  function setBusy(sid, rid, busy) {
    const g = page.groups.get(sid), row = g && g.rows.get(rid);
    if (row) for (const c of row.controls) c.disabled = busy;
  }

  // POSTs one action; shows the answer in the status line, then refreshes at once. Never throws.
  async function act(action, sid, rid, weight) {
    const what = LABELS[action] + " " + (action === "weight" ? weight + " on " : "") + rid + " in " + sid;
    setStatus(what + "\u2026", "");
    setBusy(sid, rid, true);
    let ok = false, message;
    try {
      const body = new URLSearchParams({ action, service: sid, real: rid });
      if (weight !== undefined) body.set("weight", weight);
      const { res, body: answer } = await fetchJSON("/action", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": page.csrf,
                   Accept: "application/json" },
        body,
      });
      if (answer && typeof answer.ok === "boolean") {
        ok = answer.ok;
        message = answer.message || (ok ? "done" : "refused");
      } else {
        message = "the balancer answered HTTP " + res.status;
      }
    } catch (_) {
      message = "cannot reach the balancer; the action may not have been applied";
    }
    setStatus(what + ": " + (ok ? "" : "failed: ") + message, ok ? "ok" : "fail");
    setBusy(sid, rid, false);
    refresh();
  }

  function drawCharts() {
    for (const g of page.groups.values()) {
      C.draw(g.head.canvas, g.head.tr.dataset.service);
      for (const row of g.rows.values()) C.draw(row.canvas, row.tr.dataset.service + "\n" + row.tr.dataset.real);
    }
  }

  // /status.js is loaded with defer, so this runs after the whole script, charts included.
  document.addEventListener("DOMContentLoaded", start);
})();
"""#
}
