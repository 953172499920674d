// The live view's page: one self-contained document (the board has no internet, so no CDN).
// Frames come from /stream.mjpeg read with fetch(): each part's X-Frame header names the frame,
// and the page draws that frame's boxes, keypoints, label and probabilities from its /events
// object, so the overlay always belongs to the picture under it. Plots keep the last minutes
// (?minutes=N, default 5). `window.facecam` exposes what was drawn, for tools/browser-test.

let previewPage = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>facecam live</title>
<style>
  :root { --bg:#101418; --panel:#1a2027; --text:#e6edf3; --dim:#8b98a5; --box:#00e676; --kp:#ffd600; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, sans-serif; }
  header { display:flex; gap:16px; align-items:baseline; padding:10px 16px; background:var(--panel); flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; }
  .badge { padding:1px 8px; border-radius:8px; background:#394450; }
  .badge.running { background:#1b5e20; } .badge.lost, .badge.ended, .badge.offline { background:#8e2424; }
  main { display:grid; grid-template-columns: minmax(320px, 2fr) minmax(280px, 1fr); gap:12px; padding:12px; }
  section { background:var(--panel); border-radius:8px; padding:10px; }
  h2 { font-size:14px; margin:0 0 6px; color:var(--dim); font-weight:600; }
  #view { position:relative; width:100%; }
  #view canvas { width:100%; display:block; }
  #overlay { position:absolute; left:0; top:0; }
  table { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
  td { padding:1px 4px; } td.num { text-align:right; }
  .bar { height:8px; background:#2e7d32; border-radius:2px; }
  .face { margin-bottom:8px; } .face b { font-size:15px; }
  .plots { grid-column: 1 / -1; display:grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap:12px; }
  .plots canvas { width:100%; height:180px; display:block; }
  .legend span { margin-right:10px; white-space:nowrap; } .legend i { display:inline-block; width:10px; height:3px; vertical-align:middle; margin-right:3px; }
  #message { color:#ff8a80; }
</style></head>
<body>
<header><h1>facecam live</h1><span id="state" class="badge">connecting</span>
  <span><b id="fps">–</b> fps</span><span>frames <b id="frames">0</b></span><span>dropped <b id="dropped">0</b></span>
  <span>corrupt <b id="corrupt">0</b></span><span>reconnects <b id="reconnects">0</b></span><span id="message"></span></header>
<main>
  <section><div id="view"><canvas id="video" width="640" height="480"></canvas><canvas id="overlay" width="640" height="480"></canvas></div></section>
  <section><h2>Latency of the latest frame (ms)</h2><table id="latency"></table>
    <h2 style="margin-top:12px">Faces</h2><div id="faces">none</div></section>
  <div class="plots">
    <section><h2>Latency per stage (ms)</h2><canvas id="plotLatency"></canvas><div class="legend" id="legendLatency"></div></section>
    <section><h2>Faces per frame</h2><canvas id="plotFaces"></canvas></section>
    <section><h2>Adaptation</h2><canvas id="plotAdapt"></canvas><div class="legend" id="legendAdapt"></div></section>
  </div>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const withToken = path => token ? path + "?token=" + encodeURIComponent(token) : path;
const windowMs = (Number(params.get("minutes")) || 5) * 60000;
const stages = ["capture", "decode", "convert", "detect", "verify", "classify", "total"];
const stageColors = ["#90caf9", "#ce93d8", "#80cbc4", "#ffb74d", "#f48fb1", "#aed581", "#ffffff"];
const $ = id => document.getElementById(id);

// What was drawn, for people with devtools and for tools/browser-test.
const facecam = window.facecam = { events: 0, telemetry: 0, framesShown: 0, lastFrame: -1, boxesDrawn: 0,
  lastOverlay: null, points: { latency: 0, faces: 0, adaptation: 0 }, boxColor: [0, 230, 118] };

const byFrame = new Map();          // frame index -> its /events object (recent ones)
const series = { latency: stages.map(() => []), faces: [], adapt: {} };
let pendingOverlay = -1;            // a shown frame whose event has not arrived yet

function prune(points, now) { let i = 0; while (i < points.length && points[i][0] < now - windowMs) i++; if (i) points.splice(0, i); }

// --- events: one JSON object per frame, and telemetry twice a second ---
function connectEvents() {
  const es = new EventSource(withToken("/events"));
  es.onmessage = m => {
    const f = JSON.parse(m.data), now = Date.now();
    facecam.events++;
    byFrame.set(f.frame, f);
    if (byFrame.size > 300) byFrame.delete(byFrame.keys().next().value);
    stages.forEach((s, i) => { series.latency[i].push([now, f.latency_ms[s]]); prune(series.latency[i], now); });
    series.faces.push([now, f.faces.length]); prune(series.faces, now);
    facecam.points.latency += 1; facecam.points.faces += 1;
    $("latency").innerHTML = stages.map((s, i) =>
      `<tr><td><i style="display:inline-block;width:8px;height:8px;background:${stageColors[i]}"></i> ${s}</td><td class="num">${f.latency_ms[s].toFixed(1)}</td></tr>`).join("");
    if (f.frame === pendingOverlay) drawOverlay(f);
  };
  es.addEventListener("telemetry", m => {
    const t = JSON.parse(m.data), now = Date.now();
    facecam.telemetry++;
    $("state").textContent = t.state; $("state").className = "badge " + t.state;
    $("fps").textContent = t.fps.toFixed(1);
    for (const k of ["frames", "dropped", "corrupt", "reconnects"]) $(k).textContent = t[k];
    for (const [head, h] of Object.entries(t.adaptation)) {
      const s = series.adapt[head] || (series.adapt[head] = { threshold: [], selected: [], entropy: [], resets: [] });
      s.threshold.push([now, h.threshold]); s.selected.push([now, h.selected_fraction]);
      s.entropy.push([now, h.entropy]); s.resets.push([now, h.resets]);
      for (const p of Object.values(s)) prune(p, now);
      facecam.points.adaptation++;
    }
    $("message").textContent = "";
  });
  es.onerror = () => { $("state").textContent = "offline"; $("state").className = "badge offline"; };
}

// --- frames: multipart/x-mixed-replace read with fetch, so each part's X-Frame is known ---
const CRLF2 = [13, 10, 13, 10];
function find(buf, pat, from) {
  outer: for (let i = from; i + pat.length <= buf.length; i++) { for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer; return i; }
  return -1;
}
function concat(a, b) { const c = new Uint8Array(a.length + b.length); c.set(a); c.set(b, a.length); return c; }

async function readFrames() {
  for (;;) {
    try {
      const response = await fetch(withToken("/stream.mjpeg"), { cache: "no-store" });
      if (!response.ok) throw new Error("/stream.mjpeg: HTTP " + response.status);
      const reader = response.body.getReader();
      let buf = new Uint8Array(0);
      const more = async () => { const r = await reader.read(); if (r.done) throw new Error("stream ended"); buf = concat(buf, r.value); };
      for (;;) {
        let end;
        while ((end = find(buf, CRLF2, 0)) < 0) await more();
        const head = new TextDecoder().decode(buf.subarray(0, end));
        const length = /content-length:\s*(\d+)/i.exec(head), frame = /x-frame:\s*(\d+)/i.exec(head);
        if (!length) throw new Error("a part without Content-Length");
        const start = end + 4, n = Number(length[1]);
        while (buf.length < start + n) await more();
        const jpeg = buf.slice(start, start + n);
        buf = buf.slice(start + n);
        const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
        show(bitmap, frame ? Number(frame[1]) : -1);
      }
    } catch (e) {
      $("message").textContent = e.message;
      await new Promise(r => setTimeout(r, 1000));
    }
  }
}

function show(bitmap, index) {
  const video = $("video"), overlay = $("overlay");
  for (const c of [video, overlay]) if (c.width !== bitmap.width || c.height !== bitmap.height) { c.width = bitmap.width; c.height = bitmap.height; }
  video.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  facecam.framesShown++; facecam.lastFrame = index;
  const f = byFrame.get(index);
  if (f) drawOverlay(f); else { pendingOverlay = index; overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height); }
}

function drawOverlay(f) {
  pendingOverlay = -1;
  const overlay = $("overlay"), g = overlay.getContext("2d");
  g.clearRect(0, 0, overlay.width, overlay.height);
  const line = Math.max(2, Math.round(overlay.width / 320));
  g.lineWidth = line; g.font = `${Math.max(12, Math.round(overlay.width / 40))}px system-ui, sans-serif`; g.textBaseline = "bottom";
  for (const face of f.faces) {
    const [x, y, w, h] = face.box;
    g.strokeStyle = "rgb(" + facecam.boxColor.join(",") + ")";
    g.strokeRect(x, y, w, h);
    g.fillStyle = "#ffd600";
    for (const [kx, ky] of face.keypoints) { g.beginPath(); g.arc(kx, ky, line * 1.5, 0, 2 * Math.PI); g.fill(); }
    const label = labelOf(face);
    const tw = g.measureText(label).width + 8, th = parseInt(g.font) + 4, ty = Math.max(th, y - line);
    g.fillStyle = "rgba(0,0,0,0.65)"; g.fillRect(x, ty - th, tw, th);
    g.fillStyle = "#fff"; g.fillText(label, x + 4, ty - 2);
  }
  facecam.boxesDrawn += f.faces.length;
  facecam.lastOverlay = { frame: f.frame, boxes: f.faces.map(face => face.box), line };
  $("faces").innerHTML = f.faces.length ? f.faces.map((face, i) => {
    const probs = Object.entries(face.probabilities || {}).sort((a, b) => b[1] - a[1]);
    return `<div class="face"><b>${i + 1}. ${labelOf(face)}</b> <span style="color:var(--dim)">track ${face.track}, score ${face.score.toFixed(2)}</span>
      <table>${probs.map(([k, v]) => `<tr><td style="width:30%">${k}</td><td><div class="bar" style="width:${(v * 100).toFixed(0)}%"></div></td><td class="num" style="width:15%">${v.toFixed(2)}</td></tr>`).join("")}</table></div>`;
  }).join("") : "none";
}

function labelOf(face) {
  const p = face.probabilities && face.expression ? face.probabilities[face.expression] : null;
  const verified = face.face_probability != null ? ` (face ${face.face_probability.toFixed(2)})` : "";
  return (face.expression ? `${face.expression} ${(p * 100).toFixed(0)}%` : "face") + verified;
}

// --- plots: time on x (the last minutes), one line per series ---
function plot(canvas, lines, opts = {}) {
  const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth, H = canvas.clientHeight;
  if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
  const g = canvas.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
  const now = Date.now(), left = 40, right = W - 8, top = 8, bottom = H - 18;
  let max = opts.max || 0;
  if (!opts.max) for (const l of lines) for (const p of l.points) max = Math.max(max, p[1]);
  max = max > 0 ? niceCeil(max) : 1;
  g.strokeStyle = "#394450"; g.fillStyle = "#8b98a5"; g.font = "11px system-ui, sans-serif"; g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const y = bottom - (bottom - top) * k / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(String(+(max * k / 4).toPrecision(3)), 2, y + 4);
  }
  // The x axis spans the data seen so far, up to the window (a fresh page is not one dot).
  let earliest = now;
  for (const l of lines) if (l.points.length) earliest = Math.min(earliest, l.points[0][0]);
  const span = Math.max(10000, Math.min(windowMs, now - earliest));
  g.fillText(span >= 120000 ? `−${Math.round(span / 60000)} min` : `−${Math.round(span / 1000)} s`, left, H - 4);
  g.fillText("now", right - 22, H - 4);
  const xOf = t => left + (right - left) * (1 - (now - t) / span), yOf = v => bottom - (bottom - top) * Math.min(v, max) / max;
  for (const l of lines) {
    if (!l.points.length) continue;
    // One averaged point per pixel column keeps long windows cheap to draw.
    g.strokeStyle = l.color; g.lineWidth = 1.5; g.setLineDash(l.dash ? [6, 4] : []); g.beginPath();
    let col = -1, sum = 0, n = 0, first = true;
    const flush = () => { if (n) { const y = yOf(sum / n); if (first) { g.moveTo(col, y); first = false; } else g.lineTo(col, y); } };
    for (const [t, v] of l.points) { const c = Math.round(xOf(t)); if (c !== col) { flush(); col = c; sum = 0; n = 0; } sum += v; n++; }
    flush(); g.stroke();
  }
  g.setLineDash([]);
  if (opts.empty && lines.every(l => !l.points.length)) { g.fillStyle = "#8b98a5"; g.fillText(opts.empty, left + 10, top + 20); }
}
function niceCeil(v) { const e = Math.pow(10, Math.floor(Math.log10(v))); for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e; return 10 * e; }

function legend(id, items) { $(id).innerHTML = items.map(([n, c]) => `<span><i style="background:${c}"></i>${n}</span>`).join(""); }

function redraw() {
  plot($("plotLatency"), stages.map((s, i) => ({ color: stageColors[i], points: series.latency[i] })));
  plot($("plotFaces"), [{ color: "#00e676", points: series.faces }]);
  const adaptLines = [], items = [], palette = { threshold: "#ffb74d", selected: "#4fc3f7", entropy: "#e57373", resets: "#ba68c8" };
  Object.entries(series.adapt).forEach(([head, s], h) => {  // the second head's lines are dashed
    for (const [k, c] of Object.entries(palette)) {
      adaptLines.push({ color: c, points: s[k], dash: h > 0 });
      items.push([`${head} ${k === "selected" ? "selected fraction" : k}${h > 0 ? " (dashed)" : ""}`, c]);
    }
  });
  plot($("plotAdapt"), adaptLines, { empty: "adaptation is off (facecam run --adapt ...)" });
  legend("legendAdapt", items);
}
legend("legendLatency", stages.map((s, i) => [s, stageColors[i]]));
connectEvents();
readFrames();
setInterval(redraw, 500);
</script>
</body></html>
"""#
