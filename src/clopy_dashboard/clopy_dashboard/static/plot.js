// Small canvas plots of the dashboard (time series, rasters); no library.
'use strict';
function fitCanvas(canvas) {
  const r = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * r)), h = Math.max(1, Math.round(canvas.clientHeight * r));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(r, 0, 0, r, 0, 0);
  return [ctx, canvas.clientWidth, canvas.clientHeight];
}

// series: [{points: [[t, y], ...], color, step}] ; x range [x0, x1]; y range auto with pad
function plotLines(canvas, series, x0, x1, opts = {}) {
  const [ctx, w, h] = fitCanvas(canvas);
  const left = 46, right = 8, top = 6, bottom = 18;
  ctx.clearRect(0, 0, w, h);
  let lo = Infinity, hi = -Infinity;
  for (const s of series) for (const p of s.points) if (p[0] >= x0 && p[1] !== null && isFinite(p[1])) {
    lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]);
  }
  if (opts.ymin !== undefined) lo = Math.min(lo, opts.ymin);
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { hi = lo + 1; }
  const pad = (hi - lo) * 0.08;
  lo = opts.ymin !== undefined && lo >= opts.ymin ? lo : lo - pad; hi += pad;
  const X = t => left + (t - x0) / (x1 - x0) * (w - left - right);
  const Y = v => top + (hi - v) / (hi - lo) * (h - top - bottom);
  ctx.strokeStyle = '#2b343e'; ctx.fillStyle = '#8b98a5'; ctx.font = '10px system-ui'; ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4, y = Y(v);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
    ctx.fillText(Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3), 2, y + 3);
  }
  const step = Math.max(1, Math.ceil((x1 - x0) / 6));
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) {
    ctx.fillText(t.toFixed(0) + ' s', X(t) - 8, h - 4);
  }
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = s.width || 1.5; ctx.beginPath();
    let started = false, last = null;
    for (const p of s.points) {
      if (p[0] < x0 || p[1] === null || !isFinite(p[1])) { started = false; continue; }
      const x = X(p[0]), y = Y(p[1]);
      if (!started) { ctx.moveTo(x, y); started = true; }
      else if (s.step) { ctx.lineTo(x, Y(last)); ctx.lineTo(x, y); }
      else ctx.lineTo(x, y);
      last = p[1];
    }
    if (s.step && started && last !== null) ctx.lineTo(X(x1), Y(last));
    ctx.stroke();
  }
}

// marks: [[t, kind]]; kinds: 0 reward, 1 fail, 2 lick, 3 refused -> rows
function plotMarks(canvas, marks, x0, x1) {
  const [ctx, w, h] = fitCanvas(canvas);
  const left = 46, right = 8, rows = ['reward', 'fail', 'lick', 'refused'];
  const colors = ['#66bb6a', '#ef5350', '#90a4ae', '#ffb74d'];
  ctx.clearRect(0, 0, w, h);
  const rh = h / rows.length;
  ctx.font = '10px system-ui';
  rows.forEach((r, i) => { ctx.fillStyle = '#8b98a5'; ctx.fillText(r, 2, rh * i + rh * 0.75); });
  for (const [t, k] of marks) {
    if (t < x0) continue;
    const x = left + (t - x0) / (x1 - x0) * (w - left - right);
    ctx.fillStyle = colors[k]; ctx.fillRect(x - 1, rh * k + 1, 2.5, rh - 2);
  }
}

// outcomes: [{trial, outcome}] -> a row of squares, one per trial
function plotOutcomes(canvas, outcomes, total) {
  const [ctx, w, h] = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  const n = Math.max(total || 0, outcomes.length, 1);
  const size = Math.min(h - 4, (w - 4) / n - 2);
  const byTrial = new Map(outcomes.map(o => [o.trial, o.outcome]));
  for (let i = 1; i <= n; i++) {
    const o = byTrial.get(i);
    ctx.fillStyle = o === 'success' ? '#66bb6a' : o === 'fail' ? '#ef5350' : '#2b343e';
    ctx.fillRect(2 + (i - 1) * (size + 2), (h - size) / 2, size, size);
  }
}
