/// The live cluster page served at /ui: one self-contained document (no outside assets), which
/// follows /api/v1/cluster's event stream.
enum ClusterPage {
    static let html: String = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raft-cache cluster</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#f4f5f7;--panel:#fff;--fg:#1c2230;--muted:#6b7487;--line:#e2e5eb;--head:#f7f8fa;--accent:#2f6fde;
--ok:#1b8f4c;--warn:#b86e00;--bad:#d1335b;--lead:#edf8f1;--learner:#7d55c7;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
@media (prefers-color-scheme:dark){:root{--bg:#101317;--panel:#181c22;--fg:#dce2ea;--muted:#8c96a6;--line:#2a3039;
--head:#1d2229;--accent:#5b9cff;--ok:#3ecf7a;--warn:#f0a53a;--bad:#ff6b8b;--lead:#15271d;--learner:#b08cff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
font-variant-numeric:tabular-nums}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 24px;padding:10px 16px;background:var(--panel);
border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:15px;white-space:nowrap}
.brand span{font-weight:400;color:var(--muted)}
.kpis{display:flex;flex-wrap:wrap;gap:6px 24px;flex:1}
.kpi{display:flex;flex-direction:column;min-width:0}
.kpi b{font-size:10.5px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.kpi span{font-size:15px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:16em}
.kpi small{font-size:11px;font-weight:600}
#conn{font-size:11px;font-weight:600;padding:2px 9px;border-radius:10px;border:1px solid currentColor;white-space:nowrap}
#conn::before{content:"\25CF\00A0"}
body[data-connection=live] #conn{color:var(--ok)}
body[data-connection=connecting] #conn{color:var(--muted)}
body[data-connection=down] #conn{color:var(--bad)}
#banner{background:var(--bad);color:#fff;padding:6px 16px;font-weight:600}
body[data-connection=down] main{opacity:.5}
main{padding:12px 16px;display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));transition:opacity .3s}
section{background:var(--panel);border:1px solid var(--line);border-radius:6px;min-width:0;overflow:hidden}
section.wide{grid-column:1/-1}
h2{margin:0;padding:7px 12px;font-size:11px;font-weight:700;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;
border-bottom:1px solid var(--line);display:flex;justify-content:space-between;gap:8px}
h2 span{font-weight:500;text-transform:none;letter-spacing:0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:5px 9px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}
th{font-size:11px;font-weight:600;color:var(--muted);background:var(--head)}
tbody tr:last-child td{border-bottom:0}
.n{text-align:right}
tr.leader{background:var(--lead)}
tr.leader td:first-child{box-shadow:inset 3px 0 var(--ok)}
tr.down td{color:var(--muted)}
.id{font-family:var(--mono);font-weight:600}
td.m{white-space:normal;overflow-wrap:anywhere;min-width:9em;max-width:16em}
.addr{font-family:var(--mono);font-size:11px;color:var(--muted)}
.star{color:var(--ok);font-size:12px;margin-left:4px}
.pill{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;font-weight:600;border:1px solid currentColor;line-height:16px}
.r-leader{color:var(--ok)}.r-follower{color:var(--accent)}.r-candidate,.r-pre_candidate{color:var(--warn)}
.r-learner{color:var(--learner)}tr.down .r-unreachable,.r-unreachable{color:var(--bad)}
.muted{color:var(--muted)}.warn{color:var(--warn);font-weight:600}.bad{color:var(--bad);font-weight:600}
.err,td.snap{white-space:normal}td.snap{min-width:12em}
.recv{font-size:11px;color:var(--accent);font-weight:600}
.bar{display:block;width:130px;height:4px;margin-top:2px;background:var(--line);border-radius:2px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--accent)}
.bar i.indet{width:30%;animation:slide 1.2s linear infinite}
@keyframes slide{from{margin-left:-30%}to{margin-left:100%}}
.chart{padding:6px 12px 8px}
.big{font-size:20px;font-weight:700}
.chart svg{display:block;width:100%;height:80px;margin-top:4px}
.grid{stroke:var(--line);stroke-dasharray:3 3}
.ylab{fill:var(--muted);font-size:10px;paint-order:stroke;stroke:var(--panel);stroke-width:3px}
.axis{display:flex;justify-content:space-between;font-size:10.5px;color:var(--muted)}
#writes-box{--c:var(--accent)}#reads-box{--c:var(--ok)}
.line{fill:none;stroke:var(--c);stroke-width:1.5;stroke-linejoin:round}
.area{fill:var(--c);opacity:.15}
#changes tr.cur td{font-weight:600}
footer{padding:0 16px 12px;color:var(--muted);font-size:11px}
@media (max-width:960px){
 #members,#members tbody{display:block}
 #members thead{display:none}
 #members tbody{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr))}
 #members tr{display:grid;grid-template-columns:1fr 1fr;align-content:start;gap:1px 14px;padding:7px 12px;
  box-shadow:1px 0 0 var(--line),0 1px 0 var(--line)}
 #members td{display:block;padding:1px 0;border:0;white-space:normal;text-align:right}
 #members td::before{content:attr(data-l);float:left;margin-right:8px;color:var(--muted);font-size:11px;line-height:19px}
 #members td.m,#members td.snap,#members td.err{grid-column:1/-1;text-align:left;max-width:none}
 #members td.m::before{content:none}
 #members td.snap::before,#members td.err::before{float:none;display:block;line-height:1.3}
 #members tr.leader{box-shadow:inset 3px 0 var(--ok),1px 0 0 var(--line),0 1px 0 var(--line)}
 #members tr.leader td:first-child{box-shadow:none}
 #members tr.down td{grid-column:1/-1}
}
@media (max-width:700px){
 header{padding:8px 12px;justify-content:space-between}main{padding:8px;gap:8px;grid-template-columns:minmax(0,1fr)}
 .kpis{order:3;flex-basis:100%;display:grid;grid-template-columns:repeat(auto-fill,minmax(105px,1fr));gap:4px 12px}
 .kpi span{max-width:none}
}
</style>
</head>
<body data-connection="connecting" data-updates="0">
<header>
 <div class="brand">raft-cache <span>cluster</span></div>
 <div class="kpis">
  <div class="kpi"><b>Leader</b><span id="leader" data-leader-id="">&mdash;</span></div>
  <div class="kpi"><b>Term</b><span id="term">&mdash;</span></div>
  <div class="kpi"><b>Members up</b><span id="up">&mdash;</span></div>
  <div class="kpi"><b>Commit index</b><span id="commit">&mdash;</span></div>
  <div class="kpi"><b>Served by</b><span id="node">&mdash;</span></div>
 </div>
 <div id="conn">connecting</div>
</header>
<div id="banner" hidden></div>
<main>
 <section class="wide"><h2>Members <span id="members-note"></span></h2>
  <div class="scroll"><table id="members">
   <thead><tr><th>Member</th><th>Role</th><th class="n">Term</th><th class="n">Commit</th><th class="n">Applied</th>
    <th class="n">Last log</th><th class="n">Lag</th><th class="n">Keys</th><th class="n">Size</th>
    <th class="n" title="Time since the member last heard from the leader">Contact</th><th>Snapshot</th></tr></thead>
   <tbody id="rows"><tr><td colspan="11" class="muted">waiting for the first update&hellip;</td></tr></tbody>
  </table></div>
 </section>
 <section id="writes-box"><h2>Writes / s <span>entries applied</span></h2>
  <div class="chart"><span class="big" id="writes-now">&mdash;</span> <span class="muted" id="writes-stats"></span>
   <div id="writes"></div><div class="axis"><span id="writes-from"></span><span>now</span></div></div>
 </section>
 <section id="reads-box"><h2>Reads / s <span id="reads-note">answered by this node</span></h2>
  <div class="chart"><span class="big" id="reads-now">&mdash;</span> <span class="muted" id="reads-stats"></span>
   <div id="reads"></div><div class="axis"><span id="reads-from"></span><span>now</span></div></div>
 </section>
 <section><h2>Leader changes <span>newest first</span></h2>
  <div class="scroll"><table><thead><tr><th>Time</th><th></th><th class="n">Term</th><th>Leader</th></tr></thead>
   <tbody id="changes"></tbody></table></div>
 </section>
</main>
<footer id="footer"></footer>
<script>
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const ESC = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'};
  const esc = (v) => String(v == null ? '' : v).replace(/[&<>"']/g, (c) => ESC[c]);
  const isNum = (v) => typeof v === 'number' && isFinite(v);
  const DASH = '<span class="muted">&mdash;</span>';
  const num = (v) => isNum(v) ? v.toLocaleString('en-US') : '\u2014';
  const rate = (v) => !isNum(v) ? '\u2014' : v < 10 && v % 1 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
  const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB', {hour12: false});
  function bytes(v) {
    if (!isNum(v)) return '\u2014';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(v < 10 ? 1 : 0) : v) + ' ' + units[i];
  }
  function age(ms) {
    if (!isNum(ms)) return '\u2014';
    if (ms < 1000) return Math.max(0, Math.round(ms)) + ' ms';
    const s = Math.round(ms / 1000);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' m';
    return Math.floor(s / 86400) + ' d ' + Math.floor(s % 86400 / 3600) + ' h';
  }
  const level = (v, warn, bad) => v > bad ? 'bad' : v > warn ? 'warn' : '';

  let last = null, updates = 0;

  function render(d) {
    last = d;
    const members = Array.isArray(d.members) ? d.members : [];
    const leaderId = typeof d.leader_id === 'string' ? d.leader_id : '';
    const leader = members.find((m) => m.id === leaderId && m.reachable);
    $('leader').textContent = leaderId || 'none';
    $('leader').dataset.leaderId = leaderId;
    $('leader').className = leaderId ? '' : 'bad';
    $('term').textContent = num(d.term);
    const voters = members.filter((m) => m.suffrage === 'voter');
    const quorum = voters.filter((m) => m.reachable).length > voters.length / 2;
    $('up').innerHTML = members.filter((m) => m.reachable).length + '/' + members.length +
      (quorum ? ' <small class="muted">quorum</small>' : ' <small class="bad">no quorum</small>');
    $('commit').textContent = leader ? num(leader.commit_index) : '\u2014';
    $('node').textContent = d.node_id || '\u2014';
    document.title = (leaderId ? leaderId + ' leads' : 'no leader') + ' \u00b7 term ' + num(d.term) + ' \u00b7 raft-cache';
    $('members-note').textContent = voters.length + ' voters, ' + (members.length - voters.length) + ' learners';
    $('rows').innerHTML = members.map((m) => row(m, d, members)).join('') ||
      '<tr><td colspan="11" class="muted">no members</td></tr>';
    drawCharts(d);
    $('changes').innerHTML = (Array.isArray(d.leader_changes) ? d.leader_changes : []).slice().reverse()
      .map((c, i) => change(c, i, d)).join('') || '<tr><td colspan="4" class="muted">none seen yet</td></tr>';
    $('reads-note').textContent = 'answered by ' + (d.node_id || 'this node');
    $('footer').textContent = 'Data from ' + (d.node_id || '?') + ' at ' + (isNum(d.time_ms) ? clock(d.time_ms) : '?') +
      ' (its clock). Every member serves this page at /ui.';
  }

  function row(m, d, members) {
    const id = esc(m.id);
    const isLeader = m.id === d.leader_id;
    const head = '<td class="m"><span class="id">' + id + '</span>' + (isLeader ? '<span class="star" title="the leader">\u2605</span>' : '') +
      '<div class="addr">' + esc(m.address) + '</div></td>';
    const suffrage = ' <span class="muted">' + esc(m.suffrage) + '</span>';
    const open = '<tr data-member-id="' + id + '" data-reachable="' + (m.reachable ? 'true' : 'false') + '" data-role="' +
      esc(m.reachable ? m.role : 'unreachable') + '" class="' + (isLeader ? 'leader' : '') + (m.reachable ? '' : ' down') + '">';
    if (!m.reachable) {
      return open + head + '<td data-l="Role"><span class="pill r-unreachable">unreachable</span>' + suffrage + '</td>' +
        '<td class="err" colspan="9" data-l="Error">' + esc(m.error || 'no answer') + '</td></tr>';
    }
    const role = String(m.role || '?');
    const applied = '<span class="' + level(m.commit_index - m.applied_index, 100, 10000) + '">' + num(m.applied_index) + '</span>';
    const lag = m.role === 'leader' ? DASH : m.lag == null ? '<span class="muted" title="no leader reachable">?</span>' :
      '<span class="' + (m.lag > 0 ? level(m.lag, 100, 10000) : 'muted') + '">' + num(m.lag) + '</span>';
    const contact = m.role === 'leader' ? DASH :
      '<span class="' + level(m.leader_contact_age_ms, 1000, 5000) + '">' + age(m.leader_contact_age_ms) + '</span>';
    return open + head +
      '<td data-l="Role"><span class="pill r-' + esc(role) + '">' + esc(role.replace('_', '-')) + '</span>' + suffrage + '</td>' +
      '<td class="n" data-l="Term"><span class="' + (m.term !== d.term ? 'warn' : '') + '">' + num(m.term) + '</span></td>' +
      '<td class="n" data-l="Commit">' + num(m.commit_index) + '</td>' +
      '<td class="n" data-l="Applied">' + applied + '</td>' +
      '<td class="n" data-l="Last log">' + num(m.last_log_index) + '</td>' +
      '<td class="n lag" data-l="Lag" data-lag="' + esc(m.lag) + '">' + lag + '</td>' +
      '<td class="n" data-l="Keys">' + num(m.keys) + '</td>' +
      '<td class="n" data-l="Size">' + bytes(m.bytes) + '</td>' +
      '<td class="n" data-l="Leader contact">' + contact + '</td>' +
      '<td class="snap" data-l="Snapshot">' + snapshot(m.snapshot, members) + '</td></tr>';
  }

  function snapshot(s, members) {
    if (!s) return DASH;
    let h = s.index > 0 ? '<span title="index ' + num(s.index) + ', term ' + num(s.term) + '">#' + num(s.index) + '</span> \u00b7 ' +
      bytes(s.size_bytes) + ' \u00b7 <span class="muted">' + age(s.age_ms) + ' ago</span>' : '<span class="muted">none yet</span>';
    if (s.receiving_index > 0) {
      // The whole size is known when a member holds that snapshot (the leader sending it, usually).
      const source = members.find((o) => o.reachable && o.snapshot && o.snapshot.index === s.receiving_index && o.snapshot.size_bytes > 0);
      const pct = source ? Math.min(100, 100 * s.received_bytes / source.snapshot.size_bytes) : null;
      h += '<div class="recv" data-receiving="' + esc(s.receiving_index) + '">\u21e3 receiving #' + num(s.receiving_index) + ': ' +
        bytes(s.received_bytes) + (source ? ' of ' + bytes(source.snapshot.size_bytes) : '') + '<span class="bar">' +
        (pct == null ? '<i class="indet"></i>' : '<i style="width:' + pct.toFixed(0) + '%"></i>') + '</span></div>';
    }
    return h;
  }

  function change(c, i, d) {
    const ago = isNum(c.time_ms) && isNum(d.time_ms) ? age(d.time_ms - c.time_ms) + ' ago' : '';
    return '<tr data-term="' + esc(c.term) + '" data-leader-id="' + esc(c.leader_id) + '" class="' + (i ? '' : 'cur') + '">' +
      '<td>' + (isNum(c.time_ms) ? clock(c.time_ms) : '\u2014') + '</td><td class="muted">' + ago + '</td>' +
      '<td class="n">' + num(c.term) + '</td><td>' +
      (c.leader_id ? '<span class="id">' + esc(c.leader_id) + '</span>' : '<span class="bad">none</span>') + '</td></tr>';
  }

  function drawCharts(d) {
    const a = d.activity || {};
    const interval = isNum(a.interval_ms) && a.interval_ms > 0 ? a.interval_ms : 1000;
    chart('writes', a.writes_per_s, interval);
    chart('reads', a.reads_per_s, interval);
  }

  // An area chart at the box's pixel size, the newest sample at the right edge; the window is what
  // the node keeps (up to 300 samples), and at least 60.
  function chart(name, values, interval) {
    const v = (Array.isArray(values) ? values : []).map((x) => isNum(x) && x > 0 ? x : 0);
    const box = $(name), W = Math.max(box.clientWidth, 100), H = 80, SLOTS = Math.max(60, v.length);
    const max = v.length ? Math.max(...v) : 0, avg = v.length ? v.reduce((s, x) => s + x, 0) / v.length : 0;
    const top = nice(max);
    const x = (i) => (W - (v.length - 1 - i) * W / (SLOTS - 1)).toFixed(1);
    const y = (val) => (H - 1 - (H - 12) * val / top).toFixed(1);
    let line = '';
    v.forEach((val, i) => { line += (i ? 'L' : 'M') + x(i) + ' ' + y(val); });
    const area = v.length > 1 ? line + 'L' + W + ' ' + (H - 1) + 'L' + x(0) + ' ' + (H - 1) + 'Z' : '';
    const mid = y(top / 2), hi = y(top);
    box.innerHTML = '<svg viewBox="0 0 ' + W + ' ' + H + '" width="' + W + '" height="' + H + '" role="img" aria-label="' + name + ' per second">' +
      '<line class="grid" x1="0" x2="' + W + '" y1="' + hi + '" y2="' + hi + '"/>' +
      '<line class="grid" x1="0" x2="' + W + '" y1="' + mid + '" y2="' + mid + '"/>' +
      '<line class="grid" x1="0" x2="' + W + '" y1="' + (H - 0.5) + '" y2="' + (H - 0.5) + '" style="stroke-dasharray:none"/>' +
      '<text class="ylab" x="2" y="' + (+hi - 2) + '">' + rate(top) + '</text>' +
      '<text class="ylab" x="2" y="' + (+mid - 2) + '">' + rate(top / 2) + '</text>' +
      (area ? '<path class="area" d="' + area + '"/>' : '') + (line ? '<path class="line" d="' + line + '"/>' : '') + '</svg>';
    $(name + '-now').textContent = v.length ? rate(v[v.length - 1]) : '\u2014';
    $(name + '-stats').textContent = v.length ? 'max ' + rate(max) + ' \u00b7 avg ' + rate(avg) + ' over ' + age(v.length * interval) : 'no samples yet';
    $(name + '-from').textContent = '\u2212' + age((SLOTS - 1) * interval).replace(' 0 s', '');
  }

  function nice(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    return [1, 2, 5, 10].map((m) => m * p).find((t) => t >= max);
  }

  // The connection: EventSource retries by itself after a network error, but gives up on an HTTP
  // error answer (a node starting up, say), and never notices a node that stopped sending.
  let source = null, lastEvent = 0, downSince = 0;
  const servedBy = () => last && last.node_id ? last.node_id : location.host;

  function setState(state, why) {
    document.body.dataset.connection = state;
    $('conn').textContent = state === 'live' ? 'live' : state === 'down' ? 'disconnected' : 'connecting';
    const banner = $('banner');
    if (state === 'down') {
      downSince = downSince || Date.now();
      banner.textContent = why + ' \u2014 disconnected since ' + clock(downSince) + ', retrying\u2026';
      banner.hidden = false;
    } else {
      downSince = 0;
      banner.hidden = true;
    }
  }

  function connect() {
    if (source) source.close();
    lastEvent = Date.now();
    source = new EventSource('/api/v1/cluster');
    source.addEventListener('cluster', (e) => {
      lastEvent = Date.now();
      let d;
      try { d = JSON.parse(e.data); } catch (_) { return; }
      setState('live');
      render(d);
      document.body.dataset.updates = String(++updates);
    });
    source.onerror = () => {
      setState('down', 'Lost the connection to ' + servedBy());
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    };
  }

  setInterval(() => {
    const silent = Date.now() - lastEvent;
    if (source && source.readyState === EventSource.OPEN && silent > 5000) {
      setState('down', 'No update from ' + servedBy() + ' for ' + Math.round(silent / 1000) + ' s');
      connect();
    }
  }, 1000);
  let resizing = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (last) drawCharts(last); }, 100);
  });
  connect();
})();
</script>
</body>
</html>
"""#
}
