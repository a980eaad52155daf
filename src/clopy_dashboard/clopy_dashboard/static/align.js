// The alignment page: bregma by a click, ROIs by dragging; the server computes where the
// atlas ROIs and seeds fall (the same code as roi_dff), and saves into the mouse's profile.
'use strict';
const $ = id => document.getElementById(id);
const params = new URLSearchParams(location.search);
const align = {geometry: null, saved: null, moved: {}, drag: null};
window.clopyAlign = align;   // read by the browser tests

function scale() {
  const c = $('overlay'), g = align.geometry;
  return [c.clientHeight / g.frame[0], c.clientWidth / g.frame[1]];
}

function specs() {
  return align.geometry.rois.map(r => align.moved[r.name] ? `${r.name}=${r.row},${r.col},${r.height},${r.width}` : r.spec);
}

function draw() {
  const g = align.geometry; if (!g) return;
  const [ctx, w, h] = fitCanvas($('overlay'));
  const [sy, sx] = scale();
  ctx.clearRect(0, 0, w, h);
  ctx.font = '10px system-ui';
  if ($('atlas').checked) {
    const at = new Map();   // a midline seed (ANT, LAMBDA) is one point for both sides: one label
    for (const s of g.seeds) { const k = `${s.row},${s.col}`; at.set(k, (at.get(k) || []).concat(s.name)); }
    for (const [k, names] of at) {
      const [row, col] = k.split(',').map(Number);
      const seeds = [...new Set(names.map(n => n.replace(/_[LR]$/, '')))];
      ctx.fillStyle = 'rgba(255,255,255,0.7)'; ctx.beginPath(); ctx.arc(col * sx, row * sy, 2, 0, 7); ctx.fill();
      ctx.fillStyle = 'rgba(255,255,255,0.45)';
      ctx.fillText(names.length > 1 && seeds.length === 1 ? seeds[0] : names.join(' '), col * sx + 3, row * sy - 2);
    }
  }
  const [br, bc] = g.bregma;
  ctx.strokeStyle = '#ffb74d'; ctx.lineWidth = 2; ctx.beginPath();
  ctx.moveTo(bc * sx - 9, br * sy); ctx.lineTo(bc * sx + 9, br * sy); ctx.moveTo(bc * sx, br * sy - 9); ctx.lineTo(bc * sx, br * sy + 9);
  ctx.stroke();
  ctx.font = '12px system-ui';
  for (const r of g.rois) {
    ctx.strokeStyle = 'rgba(0,0,0,0.8)'; ctx.lineWidth = 4;   // a dark edge: visible on a bright cortex
    ctx.strokeRect(r.col * sx, r.row * sy, r.width * sx, r.height * sy);
    ctx.strokeStyle = align.moved[r.name] ? '#ff6ec7' : '#4fc3f7'; ctx.lineWidth = 2;
    ctx.strokeRect(r.col * sx, r.row * sy, r.width * sx, r.height * sy);
    ctx.fillStyle = ctx.strokeStyle; ctx.fillText(r.name, r.col * sx, r.row * sy - 4);
  }
  $('b-row').textContent = br.toFixed(1); $('b-col').textContent = bc.toFixed(1);
  $('rois').textContent = g.rois.map(r => `${r.name.padEnd(8)} rows ${r.row}..${r.row + r.height - 1}  cols ${r.col}..${r.col + r.width - 1}${align.moved[r.name] ? '  (moved)' : ''}`).join('\n');
}

function who() { return `mouse=${encodeURIComponent($('mouse').value)}&paradigm=${encodeURIComponent($('paradigm').value)}`; }

async function load() {
  let data;
  try { data = await clopyGet('/api/align?' + who()); } catch (e) { say(e.message, 'bad'); return; }
  $('frame').parentElement.style.aspectRatio = `${data.geometry.frame[1]} / ${data.geometry.frame[0]}`;
  align.geometry = data.geometry; align.saved = JSON.parse(JSON.stringify(data.geometry)); align.moved = {};
  $('source').textContent = `${data.image_source}; data folder ${data.data_root}`;
  align.imageLoaded = false;
  $('frame').onload = () => { align.imageLoaded = true; draw(); };
  $('frame').src = clopyUrl('/api/align/image.jpg?' + who() + '&t=' + Date.now());
  say('');
}

async function placeBregma(row, col) {
  const q = new URLSearchParams({bregma_row_px: row.toFixed(1), bregma_col_px: col.toFixed(1),
                                 mouse: $('mouse').value, paradigm: $('paradigm').value});
  for (const s of specs()) q.append('rois', s);
  let data;
  try { data = await clopyGet('/api/align/geometry?' + q); } catch (e) { say(e.message, 'bad'); return; }
  align.geometry = data; draw(); say('bregma placed (not saved yet)');
}

function framePoint(ev) {
  const rect = $('overlay').getBoundingClientRect(), [sy, sx] = scale();
  return [(ev.clientY - rect.top) / sy, (ev.clientX - rect.left) / sx];
}

function roiAt(row, col) {
  return align.geometry.rois.find(r => row >= r.row - 2 && row <= r.row + r.height + 2 && col >= r.col - 2 && col <= r.col + r.width + 2);
}

$('overlay').addEventListener('mousedown', ev => {
  if (!align.geometry) return;
  const [row, col] = framePoint(ev), roi = roiAt(row, col);
  align.drag = roi ? {roi, row0: row, col0: col, r0: roi.row, c0: roi.col, moved: false} : {click: [row, col]};
});
$('overlay').addEventListener('mousemove', ev => {
  const d = align.drag; if (!d || !d.roi) return;
  const [row, col] = framePoint(ev), g = align.geometry;
  d.roi.row = Math.max(0, Math.min(g.frame[0] - d.roi.height, Math.round(d.r0 + row - d.row0)));
  d.roi.col = Math.max(0, Math.min(g.frame[1] - d.roi.width, Math.round(d.c0 + col - d.col0)));
  d.moved = d.moved || d.roi.row !== d.r0 || d.roi.col !== d.c0;
  if (d.moved) align.moved[d.roi.name] = true;
  draw();
});
window.addEventListener('mouseup', ev => {
  const d = align.drag; align.drag = null;
  if (!d) return;
  if (d.click) placeBregma(...framePoint(ev));
  else if (d.moved) say(`${d.roi.name} moved (not saved yet)`);
});
$('atlas').onchange = draw;
$('load').onclick = load;
$('reset').onclick = () => { align.geometry = JSON.parse(JSON.stringify(align.saved)); align.moved = {}; draw(); say(''); };
$('save').onclick = async () => {
  const g = align.geometry;
  const body = {mouse: $('mouse').value, paradigm: $('paradigm').value, bregma_row_px: g.bregma[0], bregma_col_px: g.bregma[1],
                rois: Object.keys(align.moved).length ? specs() : null};
  try {
    const data = await clopyPost('/api/align', body);
    $('frame').parentElement.style.aspectRatio = `${data.geometry.frame[1]} / ${data.geometry.frame[0]}`;
  align.geometry = data.geometry; align.saved = JSON.parse(JSON.stringify(data.geometry)); align.moved = {};
    draw(); say(data.message, 'ok');
  } catch (e) { say('not saved: ' + e.message, 'bad'); }
};
window.addEventListener('resize', draw);
$('mouse').value = params.get('mouse') || document.body.dataset.mouse || 'mouse';
if (params.get('paradigm')) $('paradigm').value = params.get('paradigm');
(async () => {
  let d;
  try { d = await clopyGet('/api/align/defaults'); }
  catch (e) { say(e.message, 'bad'); return; }
  if (!params.get('mouse')) $('mouse').value = d.mouse;
  if (!params.get('paradigm')) $('paradigm').value = d.paradigm;
  load();
})();
