// The status page's stylesheet, served at /status.css: light and dark schemes from CSS variables,
// state badges that carry the word as well as the colour, and a table that scrolls sideways.

extension StatusAssets {
    static let css = #"""
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #57606a; --line: #d0d7de;
  --panel: #f6f8fa; --service-bg: #eaeef2; --hover: #f3f6f9; --focus: #0969da;
  --up-bg: #1a7f37; --up-fg: #ffffff;
  --drain-bg: #f0b400; --drain-fg: #1f2328;
  --down-bg: #cf222e; --down-fg: #ffffff;
  --neutral-bg: #6e7781; --neutral-fg: #ffffff;
  --good-text: #1a7f37; --bad-text: #cf222e; --warn-text: #7d4e00;
  --banner-bg: #ffebe9; --banner-fg: #82071e; --banner-line: #cf222e;
  --chart-bg: #f6f8fa; --chart-grid: #d0d7de; --chart-conn: #0969da; --chart-bytes: #8250df;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #30363d;
    --panel: #161b22; --service-bg: #1c2430; --hover: #161d27; --focus: #58a6ff;
    --up-bg: #3fb950; --up-fg: #0d1117;
    --drain-bg: #d29922; --drain-fg: #0d1117;
    --down-bg: #ff7b72; --down-fg: #0d1117;
    --neutral-bg: #8b949e; --neutral-fg: #0d1117;
    --good-text: #3fb950; --bad-text: #ff7b72; --warn-text: #d29922;
    --banner-bg: #3d1418; --banner-fg: #ffdcd7; --banner-line: #ff7b72;
    --chart-bg: #161b22; --chart-grid: #30363d; --chart-conn: #58a6ff; --chart-bytes: #bc8cff;
  }
}

[hidden] { display: none !important; }
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body {
  margin: 0; padding: 1rem 1.25rem 6rem;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  background: var(--bg); color: var(--fg);
}
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
abbr[title] { text-decoration: underline dotted; cursor: help; }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}

/* Header */
.top { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0.5rem 2rem; align-items: flex-start; }
.host { font-weight: 400; color: var(--muted); }
.sub, .facts p { margin: 0.2rem 0; }
.sub { color: var(--muted); }
.sub strong, .sub #role { color: var(--fg); }
.facts { text-align: right; }
.engine, .refreshed { color: var(--muted); }
.vrrp { list-style: none; margin: 0.2rem 0; padding: 0; display: flex; gap: 0.75rem; justify-content: flex-end; flex-wrap: wrap; }

/* Words that say good or bad */
.word-good { color: var(--good-text); font-weight: 600; }
.word-bad { color: var(--bad-text); font-weight: 600; }
.word-warn { color: var(--warn-text); font-weight: 600; }
.muted { color: var(--muted); }

/* Badges: the state word on its colour */
.badge {
  display: inline-block; min-width: 3.2em; padding: 0.05em 0.55em; border-radius: 999px;
  font-weight: 700; font-size: 0.85em; text-align: center;
  background: var(--neutral-bg); color: var(--neutral-fg);
}
.badge.is-up, .badge.is-master, .badge.is-ok { background: var(--up-bg); color: var(--up-fg); }
.badge.is-drain { background: var(--drain-bg); color: var(--drain-fg); }
.badge.is-down, .badge.is-fault, .badge.is-failed { background: var(--down-bg); color: var(--down-fg); }

/* Banner, controls, status line */
.banner {
  margin: 0.75rem 0; padding: 0.6rem 0.9rem; border-radius: 6px;
  background: var(--banner-bg); color: var(--banner-fg); border: 1px solid var(--banner-line); font-weight: 600;
}
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.25rem; margin: 0.9rem 0 0.5rem; }
.controls label { display: inline-flex; align-items: center; gap: 0.35rem; cursor: pointer; }
.action-status { margin: 0; min-height: 1.4em; flex: 1 1 20rem; }
.action-status.ok { color: var(--good-text); }
.action-status.fail { color: var(--bad-text); font-weight: 600; }
button {
  font: inherit; font-size: 0.9em; padding: 0.2em 0.65em; border-radius: 6px; cursor: pointer; white-space: nowrap;
  border: 1px solid var(--line); background: var(--panel); color: var(--fg);
}
button:hover:not(:disabled) { border-color: var(--focus); }
button:disabled { opacity: 0.55; cursor: default; }
button.danger { border-color: var(--drain-bg); }
input[type="number"] {
  font: inherit; font-size: 0.9em; width: 5.5em; padding: 0.15em 0.3em; border-radius: 6px;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg);
}

/* The services table */
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
.services { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.services th, .services td { padding: 0.35rem 0.45rem; text-align: left; vertical-align: middle; border-bottom: 1px solid var(--line); }
.services thead th { background: var(--panel); font-size: 0.85em; white-space: nowrap; }
.services th.num, .services td.num { text-align: right; white-space: nowrap; }
.services tbody:last-child tr:last-child > * { border-bottom: 0; }
tr.service td, tr.service th { background: var(--service-bg); border-top: 2px solid var(--line); }
tr.service .name { font-weight: 700; white-space: nowrap; min-width: 11rem; }
tr.service .name .detail { white-space: normal; }
tr.real:hover td, tr.real:hover th { background: var(--hover); }
tr.real .name { font-weight: 400; padding-left: 1.6rem; white-space: nowrap; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.95em; }
tr.real.is-drain .name { box-shadow: inset 4px 0 var(--drain-bg); }
tr.real.is-down .name { box-shadow: inset 4px 0 var(--down-bg); }
tr.service.is-down .name { box-shadow: inset 4px 0 var(--down-bg); }
td.state { white-space: nowrap; }
.count { display: block; margin-top: 0.15em; font-size: 0.85em; }
.detail { display: block; font-size: 0.85em; color: var(--muted); font-weight: 400; }
td.check { min-width: 13rem; }
.check-line { white-space: nowrap; }
td.change { white-space: nowrap; }
.weight.differs { font-weight: 700; color: var(--warn-text); }
.empty { color: var(--muted); margin: 0.75rem 0; }

/* Charts and their key */
canvas.chart { display: block; width: 110px; height: 32px; background: var(--chart-bg); border-radius: 3px; }
.key { font-weight: 400; margin-left: 0.4em; white-space: nowrap; }
.key::before { content: ""; display: inline-block; width: 0.9em; height: 0.3em; margin-right: 0.25em; vertical-align: middle; border-radius: 1px; }
.key-conn::before { background: var(--chart-conn); }
.key-bytes::before { background: var(--chart-bytes); }

/* Operator controls: hidden unless the page is an operator's */
body:not(.operator) .op-only { display: none; }
.act { display: grid; grid-template-columns: auto auto; gap: 0.3rem; justify-content: start; align-items: center; }

/* Recent actions */
.actions { list-style: none; margin: 0; padding: 0; }
.actions li { padding: 0.3rem 0; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 0.2rem 0.6rem; align-items: baseline; }
.actions .when { color: var(--muted); white-space: nowrap; }
.actions .who { font-weight: 700; }
.actions .msg { color: var(--muted); }

/* The drain confirmation, kept in view at the foot of the window */
.confirm {
  position: fixed; left: 50%; bottom: 1.25rem; transform: translateX(-50%); z-index: 10;
  width: min(40rem, calc(100vw - 2rem)); padding: 0.9rem 1.1rem; border-radius: 8px;
  background: var(--panel); color: var(--fg); border: 2px solid var(--drain-bg);
  box-shadow: 0 6px 24px rgba(0, 0, 0, 0.35);
}
.confirm p { margin: 0 0 0.7rem; font-weight: 600; }
.confirm-buttons { display: flex; gap: 0.6rem; justify-content: flex-end; }
.confirm-buttons button { font-size: 1em; padding: 0.3em 1em; }

@media (max-width: 720px) {
  body { padding: 0.75rem 0.6rem 6rem; }
  .facts { text-align: left; }
  .vrrp { justify-content: flex-start; }
}
"""#
}
