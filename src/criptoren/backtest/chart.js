// Criptoren backtest chart: price with channel bands and fills above, equity below.
// Self-written, no dependencies. Wheel zooms the time axis, drag pans, hover reads values.
(function () {
  "use strict";
  const D = window.BACKTEST;
  const canvas = document.getElementById("chart");
  const readout = document.getElementById("readout");
  const ctx = canvas.getContext("2d");
  const n = D.t.length;
  let lo = 0, hi = n - 1, hover = -1, drag = null;
  const SERIES = [
    ["c", "#444", "close"], ["u", "#2a7", "upper N"], ["l", "#c44", "lower N"], ["m", "#c84", "lower M"],
  ];
  function size() {
    const r = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * r; canvas.height = canvas.clientHeight * r;
    ctx.setTransform(r, 0, 0, r, 0, 0);
  }
  function index(ms) { // first candle at or after ms
    let a = 0, b = n - 1;
    while (a < b) { const m = (a + b) >> 1; if (D.t[m] < ms) a = m + 1; else b = m; }
    return a;
  }
  function range(keys, a, b) {
    let min = Infinity, max = -Infinity;
    for (const k of keys) {
      const s = D[k]; if (!s) continue;
      for (let i = a; i <= b; i++) { const v = s[i]; if (v !== null) { if (v < min) min = v; if (v > max) max = v; } }
    }
    if (min === max) { min -= 1; max += 1; }
    return [min, max];
  }
  // one vertical min-max stroke per pixel column keeps 100k candles fast
  function line(s, colour, box, x, y, a, b) {
    if (!s) return;
    ctx.strokeStyle = colour; ctx.lineWidth = 1; ctx.beginPath();
    let col = null, cmin = 0, cmax = 0, started = false;
    const flush = () => {
      if (col === null) return;
      if (!started) { ctx.moveTo(col, y(cmin)); started = true; }
      ctx.lineTo(col, y(cmin)); ctx.lineTo(col, y(cmax));
    };
    for (let i = a; i <= b; i++) {
      const v = s[i]; if (v === null) continue;
      const px = Math.round(x(i));
      if (px !== col) { flush(); col = px; cmin = v; cmax = v; }
      else { if (v < cmin) cmin = v; if (v > cmax) cmax = v; }
    }
    flush(); ctx.stroke();
  }
  function panel(box, keys, a, b) {
    const [min, max] = range(keys.map((k) => k[0]), a, b);
    const x = (i) => box.x + ((i - a) / Math.max(1, b - a)) * box.w;
    const y = (v) => box.y + box.h - ((v - min) / (max - min)) * box.h;
    ctx.strokeStyle = "#ddd"; ctx.strokeRect(box.x, box.y, box.w, box.h);
    ctx.fillStyle = "#666"; ctx.font = "11px sans-serif";
    ctx.fillText(max.toFixed(2), box.x + 4, box.y + 12); ctx.fillText(min.toFixed(2), box.x + 4, box.y + box.h - 4);
    for (const [k, colour] of keys) line(D[k], colour, box, x, y, a, b);
    return { x, y };
  }
  function marks(points, colour, up, sx, sy) {
    ctx.fillStyle = colour;
    for (const [ms, price] of points) {
      const i = index(ms); if (i < lo || i > hi) continue;
      const px = sx(i), py = sy(price), d = up ? 6 : -6;
      ctx.beginPath(); ctx.moveTo(px, py); ctx.lineTo(px - 4, py + d); ctx.lineTo(px + 4, py + d); ctx.fill();
    }
  }
  function draw() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    ctx.clearRect(0, 0, w, h);
    const top = { x: 10, y: 10, w: w - 20, h: h * 0.68 - 15 };
    const bottom = { x: 10, y: h * 0.7, w: w - 20, h: h * 0.3 - 10 };
    const p = panel(top, SERIES.filter((s) => D[s[0]]), lo, hi);
    marks(D.entries, "#080", true, p.x, p.y); marks(D.exits, "#b00", false, p.x, p.y);
    const e = panel(bottom, [["e", "#236"]], lo, hi);
    if (hover >= lo && hover <= hi) {
      ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(e.x(hover), top.y); ctx.lineTo(e.x(hover), bottom.y + bottom.h); ctx.stroke();
      const parts = [new Date(D.t[hover]).toISOString().replace(".000Z", "Z")];
      for (const [k, , name] of SERIES) if (D[k] && D[k][hover] !== null) parts.push(name + " " + D[k][hover]);
      parts.push("equity " + D.e[hover]);
      readout.textContent = parts.join("   ");
    }
  }
  function at(ev) { const r = canvas.getBoundingClientRect(); return lo + ((ev.clientX - r.left - 10) / (r.width - 20)) * (hi - lo); }
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const centre = at(ev), k = ev.deltaY > 0 ? 1.25 : 0.8;
    let a = Math.round(centre - (centre - lo) * k), b = Math.round(centre + (hi - centre) * k);
    if (b - a < 10) return;
    lo = Math.max(0, a); hi = Math.min(n - 1, b); draw();
  }, { passive: false });
  canvas.addEventListener("mousedown", (ev) => { drag = { x: at(ev), lo, hi }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      const shift = Math.round(drag.x - (drag.lo + (at(ev) - lo)));
      const span = drag.hi - drag.lo;
      lo = Math.min(Math.max(0, drag.lo + shift), n - 1 - span); hi = lo + span;
    }
    hover = Math.round(at(ev)); draw();
  });
  canvas.addEventListener("dblclick", () => { lo = 0; hi = n - 1; draw(); });
  window.addEventListener("resize", () => { size(); draw(); });
  size(); draw();
})();
