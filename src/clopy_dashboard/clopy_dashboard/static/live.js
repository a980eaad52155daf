// The live page: one websocket brings JSON updates (new points only) and JPEG frames.
'use strict';
const WINDOW_S = 30;
const live = {signal: [], tone: [], marks: [], events: [], outcomes: [], status: {}, info: {overlay: {}},
              counts: {}, frames: 0, signalPoints: 0, lastFrameAt: 0};
window.clopyLive = live;   // read by the browser tests
const $ = id => document.getElementById(id);
// text set only when it changes: an unchanged value costs the browser no layout or paint
function setText(id, text) { const el = $(id); if (el.textContent !== String(text)) el.textContent = text; }

function keepWindow(arr, tMin) { while (arr.length && arr[0][0] < tMin) arr.shift(); }

function fmtClock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function drawOverlay() {
  const canvas = $('overlay');
  const [ctx, w, h] = fitCanvas(canvas);
  ctx.clearRect(0, 0, w, h);
  const ov = live.info.overlay || {};
  const size = live.frameSize || ov.frame;
  if (!size) return;
  const sy = h / size[0], sx = w / size[1];
  if (ov.seeds) {
    ctx.fillStyle = 'rgba(255,255,255,0.55)';
    for (const s of ov.seeds) { ctx.beginPath(); ctx.arc(s.col * sx, s.row * sy, 1.6, 0, 7); ctx.fill(); }
  }
  if (ov.bregma) {
    const [r, c] = ov.bregma; ctx.strokeStyle = '#ffb74d'; ctx.lineWidth = 1.5; ctx.beginPath();
    ctx.moveTo(c * sx - 6, r * sy); ctx.lineTo(c * sx + 6, r * sy); ctx.moveTo(c * sx, r * sy - 6); ctx.lineTo(c * sx, r * sy + 6);
    ctx.stroke();
  }
  ctx.font = '11px system-ui';
  for (const roi of ov.rois || []) {
    ctx.strokeStyle = 'rgba(0,0,0,0.8)'; ctx.lineWidth = 4;
    ctx.strokeRect(roi.col * sx, roi.row * sy, roi.width * sx, roi.height * sy);
    ctx.strokeStyle = '#4fc3f7'; ctx.lineWidth = 2;
    ctx.strokeRect(roi.col * sx, roi.row * sy, roi.width * sx, roi.height * sy);
    ctx.fillStyle = '#4fc3f7'; ctx.fillText(roi.name, roi.col * sx, roi.row * sy - 3);
  }
  const pose = live.pose;
  if (pose && pose.parts) {
    pose.parts.forEach((p, i) => {
      const control = p === ov.control_part;
      ctx.fillStyle = control ? '#ffb74d' : 'rgba(79,195,247,0.9)';
      ctx.beginPath(); ctx.arc(pose.x[i] * sx, pose.y[i] * sy, control ? 5 : 3, 0, 7); ctx.fill();
      ctx.fillText(p, pose.x[i] * sx + 6, pose.y[i] * sy - 4);
    });
  }
}

function render() {
  const st = live.status;
  const t1 = Math.max(WINDOW_S, live.t || 0), t0 = t1 - WINDOW_S;
  plotLines($('signal'), [{points: live.signal.map(p => [p[0], p[1]]), color: '#4fc3f7'},
                          {points: live.signal.map(p => [p[0], p[2]]), color: '#ffb74d', step: true}], t0, t1);
  plotLines($('tone'), [{points: live.tone, color: '#ce93d8', step: true}], t0, t1, {ymin: 0});
  plotMarks($('marks'), live.marks, t0, t1);
  const rasterKey = `${live.outcomes.length}/${st.total_trials}/${$('raster').clientWidth}`;
  if (rasterKey !== live.rasterKey) {   // redrawn when a trial ends, not at every update
    plotOutcomes($('raster'), live.outcomes, st.total_trials);
    live.rasterKey = rasterKey;
  }
  setText('state', st.stalled ? 'STALLED' : (st.state || '-'));
  const stateClass = 'state' + (st.stalled ? ' stalled' : '');
  if ($('state').className !== stateClass) $('state').className = stateClass;
  setText('trial', `${st.trial || 0}/${st.total_trials || 0}`);
  setText('outcomes', `${st.successes || 0} / ${st.failures || 0}`);
  setText('elapsed', fmtClock(st.elapsed_s || 0));
  setText('rewards', live.counts.rewards || 0);
  setText('fails', live.counts.fails || 0);
  setText('licks', live.counts.licks || 0);
  setText('refused', st.rewards_refused || live.counts.refused || 0);
  setText('fps', st.frame_rate_hz ? st.frame_rate_hz.toFixed(1) + ' fps' : '-');
  setText('dropped', `${st.dropped_frames || 0} / ${(st.stalled_s || 0).toFixed(1)} s`);
  const lat = live.latency || {};
  setText('latency', lat.p50 == null ? '-' : `${lat.p50.toFixed(1)} / ${lat.p99.toFixed(1)} ms`);
  setText('threshold', st.threshold == null ? '-' : Number(st.threshold).toPrecision(4));
  setText('warning', st.warning || '');
  const overlayKey = JSON.stringify([live.frameSize, live.info.overlay, live.pose, $('overlay').clientWidth]);
  if (overlayKey !== live.overlayKey) {   // ROIs stay put: drawn again only when something moved
    drawOverlay();
    live.overlayKey = overlayKey;
  }
}

function onUpdate(u) {
  if (u.info) {
    live.info = u.info;
    $('mouse').textContent = u.info.mouse || '-'; $('paradigm').textContent = u.info.paradigm || '-';
    if (u.info.paradigm === 'clmf') {
      $('image-title').textContent = 'Behaviour camera and tracked body parts';
      $('signal-title').textContent = `Speed of ${u.info.overlay.control_part || 'the control point'} and threshold (last ${WINDOW_S} s)`;
    }
  }
  live.status = u.status || {}; live.counts = u.counts || {}; live.latency = u.latency_ms; live.pose = u.pose;
  live.camera = u.camera || {};
  if (u.frame_size && u.frame_size.length) {
    live.frameSize = u.frame_size;
    $('frame').parentElement.style.aspectRatio = `${u.frame_size[1]} / ${u.frame_size[0]}`;   // as the camera sees
  }
  live.t = u.t_s;
  live.signal.push(...u.signal); live.signalPoints += u.signal.length;
  live.tone.push(...u.tone); live.marks.push(...u.marks); live.outcomes.push(...u.outcomes);
  const tMin = (u.t_s || 0) - WINDOW_S - 5;
  keepWindow(live.signal, tMin); keepWindow(live.tone, tMin); keepWindow(live.marks, tMin);
  if (u.events.length) {
    live.events.push(...u.events); live.events = live.events.slice(-40);
    $('events').textContent = live.events.slice().reverse()
      .map(e => `${e[0].toFixed(2).padStart(8)}  ${e[1].padEnd(8)} ${e[2].padEnd(12)} ${e[3]}`).join('\n');
  }
  setText('clock', fmtClock(u.clock_s));
  render();
}

function onFrame(blob) {
  const img = $('frame'), old = img.src;
  img.src = URL.createObjectURL(blob);
  if (old) URL.revokeObjectURL(old);
  live.frames += 1;
  const cam = live.camera || {};
  setText('image-note', `camera frame ${cam.frame_index ?? '-'}; ${live.frames} shown here (a few per second, downscaled)`);
}

function connect() {
  const q = clopyToken ? '?token=' + encodeURIComponent(clopyToken) : '';
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${q}`);
  ws.binaryType = 'blob';
  ws.onmessage = ev => (typeof ev.data === 'string' ? onUpdate(JSON.parse(ev.data)) : onFrame(ev.data));
  ws.onclose = () => { say('connection closed (the session ended or the token is missing); retrying', 'bad');
                       setTimeout(connect, 2000); };
  ws.onopen = () => say('connected');
}

$('set-var').onclick = async () => {
  const name = $('var-name').value.trim(), value = $('var-value').value.trim();
  try { say((await clopyPost('/api/variable', {name, value})).message, 'ok'); }
  catch (e) { say(`${name}: ${e.message}`, 'bad'); }
};
$('reward').onclick = async () => {
  try { say('valve: ' + (await clopyPost('/api/reward', {duration_s: Number($('reward-s').value) || 0})).message, 'ok'); }
  catch (e) { say('manual reward: ' + e.message, 'bad'); }
};
$('stop').onclick = async () => {
  if (!window.confirm('Stop the session now?')) return;
  try { say((await clopyPost('/api/stop', {})).message, 'ok'); } catch (e) { say('stop: ' + e.message, 'bad'); }
};
window.addEventListener('resize', render);
connect();
