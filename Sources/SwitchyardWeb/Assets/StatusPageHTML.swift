// The status page's HTML: a shell with the header, view controls, services table and recent
// actions, which /status.js fills in. No inline script, style or handlers, so the strict CSP holds.

/// The status page's assets: the HTML (here), `css` (StatusPageCSS.swift) and `script`
/// (StatusPageScript.swift and StatusPageCharts.swift).
enum StatusAssets {}

extension StatusAssets {
    /// The page for one signed-in user: `csrf` is the session's token, `role` "operator" or "viewer".
    static func page(user: String, role: String, csrf: String) -> String {
        let u = escape(user), r = escape(role), c = escape(csrf)
        return #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="csrf-token" content="\#(c)">
<meta name="switchyard-user" content="\#(u)">
<meta name="switchyard-role" content="\#(r)">
<title>Switchyard status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header class="top">
  <div class="brand">
    <h1>Switchyard <span id="host" class="host"></span></h1>
    <p class="sub"><span id="version">loading&hellip;</span> &middot; signed in as <strong id="user">\#(u)</strong> (<span id="role">\#(r)</span>)</p>
  </div>
  <div class="facts">
    <p id="engine" class="engine"></p>
    <ul id="vrrp" class="vrrp" aria-label="VRRP instances" hidden></ul>
    <p class="refreshed">Last refresh: <time id="refreshed">not yet</time></p>
  </div>
</header>
<div id="error-banner" class="banner" role="alert" hidden></div>
<nav class="controls" aria-label="View">
  <label><input type="checkbox" id="auto-refresh" checked> <span>Auto-refresh every <span id="refresh-every">2</span>&nbsp;s</span></label>
  <label><input type="checkbox" id="problems-only"> Problems only</label>
  <button type="button" id="refresh-now">Refresh now</button>
  <p id="action-status" class="action-status" role="status" aria-live="polite"></p>
</nav>
<main>
  <div class="table-wrap">
    <table id="services" class="services">
      <caption class="visually-hidden">Virtual services and their real servers</caption>
      <thead>
        <tr>
          <th scope="col">Service / server</th>
          <th scope="col">State</th>
          <th scope="col" class="num"><abbr title="configured / set / effective">Weight</abbr></th>
          <th scope="col" class="num">Active</th>
          <th scope="col" class="num">Inactive</th>
          <th scope="col" class="num">Conn/s</th>
          <th scope="col" class="num">In</th>
          <th scope="col" class="num">Out</th>
          <th scope="col">Last check</th>
          <th scope="col">Last change</th>
          <th scope="col">Rates <span class="key key-conn">conn/s</span> <span class="key key-bytes">bytes/s</span></th>
          <th scope="col" class="op-only">Actions</th>
        </tr>
      </thead>
    </table>
  </div>
  <p id="empty" class="empty" hidden></p>
</main>
<section class="recent" aria-labelledby="recent-title">
  <h2 id="recent-title">Recent actions</h2>
  <ul id="actions" class="actions"></ul>
  <p id="actions-empty" class="empty">No actions yet.</p>
</section>
<div id="confirm" class="confirm" role="alertdialog" aria-labelledby="confirm-text" hidden>
  <p id="confirm-text"></p>
  <div class="confirm-buttons">
    <button type="button" id="confirm-yes" class="danger">Drain</button>
    <button type="button" id="confirm-no">Cancel</button>
  </div>
</div>
<noscript><p class="banner">This page needs JavaScript to show the balancer's state.</p></noscript>
</body>
</html>

"""#
    }

    /// `text` safe inside HTML element content and quoted attributes: & < > " ' become entities.
    /// Works on Unicode scalars, so a combining mark after `<` cannot hide it in one Character.
    static func escape(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&#39;".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}
