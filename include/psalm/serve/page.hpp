// psalm/serve/page.hpp — the single page `psalm serve` shows at /: plain HTML, CSS and JS held
// in the binary (no CDN, no build step). Upload or drop an image; choose the task; type a
// sentence or a class list; click points, drag a box or draw a scribble; the overlay shows the
// masks with labels and scores, each can be toggled, and the masks download as a PNG (mask k
// in colour k) or COCO results JSON. It talks only to the JSON API (docs/serve.md), and keeps
// its last request and answer in window.psalm for tests (tests/serve/test_browser.cpp).
// Host code. Depends on: std only. Test: tests/serve/test_browser.cpp.
#pragma once

namespace psalm::serve {

inline const char* page_html() {
  return R"PSALMPAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>psalm serve</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #d0d5dd; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7f9; }
  header { padding: 10px 18px; background: #fff; border-bottom: 1px solid var(--line);
           display: flex; gap: 12px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  header span { color: var(--muted); }
  main { display: grid; grid-template-columns: 300px 1fr; gap: 16px; padding: 16px; }
  .panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
  label { display: block; font-weight: 600; margin: 10px 0 4px; }
  select, input[type=text], button { font: inherit; width: 100%; padding: 6px 8px;
           border: 1px solid var(--line); border-radius: 6px; background: #fff; }
  button { cursor: pointer; background: var(--accent); color: #fff; border: 0; margin-top: 8px; }
  button.plain { background: #eef2f8; color: var(--fg); }
  button:disabled { opacity: .5; cursor: default; }
  #drop { border: 2px dashed var(--line); border-radius: 8px; padding: 14px; text-align: center;
          color: var(--muted); cursor: pointer; }
  #drop.over { border-color: var(--accent); color: var(--accent); }
  #tools { display: flex; gap: 6px; }
  #tools label { font-weight: 400; margin: 0; display: flex; gap: 4px; align-items: center; }
  #stage { line-height: 0; }
  #canvas { width: 100%; max-width: 640px; height: auto; border-radius: 6px; cursor: crosshair;
            background: #ddd; touch-action: none; }
  #status { margin-top: 8px; color: var(--muted); min-height: 1.4em; }
  #status.error { color: #b42318; }
  #masks { list-style: none; padding: 0; margin: 8px 0 0; }
  #masks li { display: flex; gap: 8px; align-items: center; padding: 3px 0; }
  .swatch { width: 14px; height: 14px; border-radius: 3px; flex: none; }
  .score { color: var(--muted); margin-left: auto; font-variant-numeric: tabular-nums; }
  .hint { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header><h1>psalm serve</h1><span id="model"></span></header>
<main>
<section class="panel">
  <div id="drop">Drop an image here, or click to choose one
    <input id="file" type="file" accept="image/png,image/jpeg,image/bmp,image/gif" hidden></div>
  <label for="task">Task</label>
  <select id="task">
    <option value="referring">referring: a sentence</option>
    <option value="gres">generalized referring: a sentence, several targets or none</option>
    <option value="panoptic">panoptic: a class list</option>
    <option value="instance">instance: a class list</option>
    <option value="semantic">semantic: a class list</option>
    <option value="interactive">interactive: points, boxes, scribbles</option>
  </select>
  <div id="textbox">
    <label for="text" id="textlabel">Sentence</label>
    <input id="text" type="text" placeholder="the red square" autocomplete="off">
  </div>
  <div id="regionbox" hidden>
    <label>Draw on the image</label>
    <div id="tools">
      <label><input type="radio" name="tool" value="point" checked> point</label>
      <label><input type="radio" name="tool" value="box"> box</label>
      <label><input type="radio" name="tool" value="scribble"> scribble</label>
    </div>
    <div class="hint">Each click, box or scribble is one region; the masks update as you draw.</div>
    <button id="clear" class="plain">Clear regions</button>
  </div>
  <button id="segment" disabled>Segment</button>
  <div id="status"></div>
  <ul id="masks"></ul>
  <button id="dlpng" class="plain" disabled>Download masks PNG</button>
  <button id="dljson" class="plain" disabled>Download COCO JSON</button>
</section>
<section class="panel"><div id="stage"><canvas id="canvas" width="640" height="400"></canvas></div></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const COLORS = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
  [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
  [0, 128, 128], [220, 190, 255], [170, 110, 40], [128, 0, 0], [170, 255, 195], [0, 0, 128]];
const psalm = window.psalm = { id: null, image: null, name: "image", regions: [], drawing: null,
  lastRequest: null, last: null, masks: [], shown: [], busy: false, overlayPixels: 0 };
const canvas = $("canvas"), ctx = canvas.getContext("2d");

function status(text, error) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

fetch("/v1/health").then((r) => r.json()).then((h) => {
  $("model").textContent = "model " + h.model + " (" + h.image_size + " px)";
}).catch(() => {});

// COCO compressed RLE counts (pycocotools' string form) -> run lengths.
function rleCounts(s) {
  const cnts = [];
  for (let p = 0; p < s.length;) {
    let x = 0, k = 0, more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++; k++;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (cnts.length > 2) x += cnts[cnts.length - 2];
    cnts.push(x);
  }
  return cnts;
}
// RLE (column-major runs, background first) -> row-major 0/1 bytes.
function decodeRle(seg) {
  const [h, w] = seg.size, out = new Uint8Array(h * w);
  const cnts = typeof seg.counts === "string" ? rleCounts(seg.counts) : seg.counts;
  let i = 0;
  cnts.forEach((n, r) => {
    if (r % 2) for (let j = i; j < i + n; j++) out[(j % h) * w + Math.floor(j / h)] = 1;
    i += n;
  });
  return out;
}

function draw() {
  if (!psalm.image) return;
  const w = psalm.image.width, h = psalm.image.height;
  ctx.drawImage(psalm.image, 0, 0);
  const over = ctx.getImageData(0, 0, w, h), d = over.data;
  let painted = 0;
  psalm.masks.forEach((m, k) => {
    if (!psalm.shown[k]) return;
    const c = COLORS[k % COLORS.length];
    for (let i = 0; i < m.length; i++) if (m[i]) {
      d[4 * i] = (d[4 * i] + c[0]) >> 1; d[4 * i + 1] = (d[4 * i + 1] + c[1]) >> 1;
      d[4 * i + 2] = (d[4 * i + 2] + c[2]) >> 1; painted++;
    }
  });
  ctx.putImageData(over, 0, 0);
  psalm.overlayPixels = painted;
  // Labels at each shown mask's box, then the regions being drawn.
  ctx.font = "bold " + Math.max(11, Math.round(w / 40)) + "px system-ui, sans-serif";
  (psalm.last ? psalm.last.masks : []).forEach((m, k) => {
    if (!psalm.shown[k] || !m.area) return;
    const text = m.label + " " + (m.score === null ? "-" : m.score.toFixed(2));
    const x = m.bbox[0], y = Math.max(m.bbox[1], 14);
    ctx.fillStyle = "rgba(0,0,0,.6)";
    ctx.fillRect(x, y - 13, ctx.measureText(text).width + 6, 16);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x + 3, y);
  });
  ctx.lineWidth = Math.max(2, w / 200);
  ctx.strokeStyle = "#ffcc00"; ctx.fillStyle = "#ffcc00";
  const shapes = psalm.regions.concat(psalm.drawing ? [psalm.drawing] : []);
  shapes.forEach((r) => {
    if (r.point) { ctx.beginPath(); ctx.arc(r.point[0], r.point[1], ctx.lineWidth * 2, 0, 7); ctx.fill(); }
    if (r.box) ctx.strokeRect(r.box[0], r.box[1], r.box[2] - r.box[0], r.box[3] - r.box[1]);
    if (r.scribble) {
      ctx.beginPath();
      r.scribble.forEach((p, i) => (i ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1])));
      ctx.stroke();
    }
  });
}

function listMasks() {
  const ul = $("masks");
  ul.innerHTML = "";
  const answer = psalm.last;
  answer.masks.forEach((m, k) => {
    const li = document.createElement("li");
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = psalm.shown[k]; box.className = "toggle";
    box.onchange = () => { psalm.shown[k] = box.checked; draw(); };
    const sw = document.createElement("span");
    sw.className = "swatch"; sw.style.background = "rgb(" + COLORS[k % COLORS.length] + ")";
    const name = document.createElement("span"); name.textContent = m.label;
    const score = document.createElement("span"); score.className = "score";
    score.textContent = (m.score === null ? "-" : m.score.toFixed(3)) + "  " + m.area + " px";
    li.append(box, sw, name, score);
    ul.append(li);
  });
  const t = answer.timings;
  status(answer.masks.length + " mask" + (answer.masks.length === 1 ? "" : "s") +
    (answer.no_target ? " (no target)" : "") + " in " + Math.round(t.total_ms) + " ms");
  $("dlpng").disabled = $("dljson").disabled = answer.masks.length === 0;
}

async function upload(file) {
  status("uploading " + file.name + " ...");
  psalm.name = file.name.replace(/\.[^.]*$/, "") || "image";
  const bitmap = await createImageBitmap(file).catch(() => null);
  const r = await fetch("/v1/images", { method: "POST", body: file });
  const j = await r.json().catch(() => ({ error: "the server's answer is not JSON" }));
  if (!r.ok || !bitmap) { status(j.error || "cannot read this image", true); return; }
  psalm.id = j.id; psalm.image = bitmap; psalm.regions = []; psalm.masks = []; psalm.last = null;
  canvas.width = bitmap.width; canvas.height = bitmap.height;
  $("masks").innerHTML = "";
  $("segment").disabled = false;
  status(j.width + "x" + j.height + " encoded in " + Math.round(j.timings.encode_ms) + " ms");
  draw();
}

function prompt() {
  const task = $("task").value, text = $("text").value;
  if (task === "interactive") return { task, regions: psalm.regions };
  if (task === "referring" || task === "gres") return { task, text };
  return { task, classes: text };
}

async function segment() {
  if (!psalm.id || psalm.busy) return;
  const body = prompt();
  if (body.task === "interactive" && !body.regions.length) { status("draw a region first"); return; }
  psalm.busy = true; $("segment").disabled = true; status("segmenting ...");
  psalm.lastRequest = JSON.parse(JSON.stringify(body));
  try {
    const r = await fetch("/v1/images/" + psalm.id + "/segment",
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const j = await r.json().catch(() => ({ error: "the server's answer is not JSON" }));
    if (r.status === 404) { status(j.error + " - upload the image again", true); return; }
    if (!r.ok) { status(j.error || ("HTTP " + r.status), true); return; }
    psalm.last = j;
    psalm.masks = j.masks.map((m) => decodeRle(m.segmentation));
    psalm.shown = j.masks.map(() => true);
    listMasks();
    draw();
  } catch (e) {
    status("request failed: " + e, true);
  } finally {
    psalm.busy = false; $("segment").disabled = false;
  }
}

function download(name, url) {
  const a = document.createElement("a");
  a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
}
$("dlpng").onclick = () => {
  const w = psalm.image.width, h = psalm.image.height, c = document.createElement("canvas");
  c.width = w; c.height = h;
  const g = c.getContext("2d"), img = g.createImageData(w, h);
  psalm.masks.forEach((m, k) => {
    if (!psalm.shown[k]) return;
    const col = COLORS[k % COLORS.length];
    for (let i = 0; i < m.length; i++) if (m[i]) {
      img.data[4 * i] = col[0]; img.data[4 * i + 1] = col[1]; img.data[4 * i + 2] = col[2]; img.data[4 * i + 3] = 255;
    }
  });
  g.putImageData(img, 0, 0);
  download(psalm.name + "_masks.png", c.toDataURL("image/png"));
};
$("dljson").onclick = () => {
  const results = psalm.last.masks.filter((m, k) => psalm.shown[k]).map((m) => ({
    image_id: 1, category_id: m.category_id, segmentation: m.segmentation, score: m.score,
    bbox: m.bbox, area: m.area, label: m.label }));
  const blob = new Blob([JSON.stringify(results, null, 1)], { type: "application/json" });
  download(psalm.name + "_results.json", URL.createObjectURL(blob));
};

// Image pixel under a pointer event (x = column, y = row), whole pixels.
function pixel(e) {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor((e.clientX - r.left) * canvas.width / r.width);
  const y = Math.floor((e.clientY - r.top) * canvas.height / r.height);
  return [Math.min(Math.max(x, 0), canvas.width - 1), Math.min(Math.max(y, 0), canvas.height - 1)];
}
const tool = () => document.querySelector("input[name=tool]:checked").value;
canvas.addEventListener("pointerdown", (e) => {
  if (!psalm.image || $("task").value !== "interactive") return;
  const p = pixel(e);
  if (tool() === "box") psalm.drawing = { box: [p[0], p[1], p[0], p[1]] };
  else if (tool() === "scribble") psalm.drawing = { scribble: [p] };
  else psalm.drawing = { point: p };
});
canvas.addEventListener("pointermove", (e) => {
  const d = psalm.drawing;
  if (!d || d.point) return;
  const p = pixel(e);
  if (d.box) { d.box[2] = p[0]; d.box[3] = p[1]; }
  if (d.scribble) d.scribble.push(p);
  draw();
});
canvas.addEventListener("pointerup", () => {
  const d = psalm.drawing;
  psalm.drawing = null;
  if (!d) return;
  if (d.box) d.box = [Math.min(d.box[0], d.box[2]), Math.min(d.box[1], d.box[3]),
    Math.max(d.box[0], d.box[2]), Math.max(d.box[1], d.box[3])];
  if (d.box && (d.box[2] === d.box[0] || d.box[3] === d.box[1])) d.point = [d.box[0], d.box[1]], delete d.box;
  psalm.regions.push(d);
  draw();
  segment();
});

$("task").onchange = () => {
  const t = $("task").value, classes = t === "panoptic" || t === "instance" || t === "semantic";
  $("regionbox").hidden = t !== "interactive";
  $("textbox").hidden = t === "interactive";
  $("textlabel").textContent = classes ? "Classes (comma-separated)" : "Sentence";
  $("text").placeholder = classes ? "square, disc, background" : "the red square";
};
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter") segment(); });
$("segment").onclick = segment;
$("clear").onclick = () => { psalm.regions = []; psalm.masks = []; draw(); };
$("drop").onclick = () => $("file").click();
$("file").onchange = () => { if ($("file").files[0]) upload($("file").files[0]); };
["dragenter", "dragover"].forEach((n) => $("drop").addEventListener(n, (e) => {
  e.preventDefault(); $("drop").classList.add("over"); }));
["dragleave", "drop"].forEach((n) => $("drop").addEventListener(n, (e) => {
  e.preventDefault(); $("drop").classList.remove("over"); }));
$("drop").addEventListener("drop", (e) => { if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
</script>
</body>
</html>
)PSALMPAGE";
}

}  // namespace psalm::serve
