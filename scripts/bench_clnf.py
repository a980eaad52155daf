#!/usr/bin/env python3
"""Benchmark of the simulated CLNF 1-ROI graph: closed-loop latencies, dropped
frames, CPU and memory per node. It prints figures; it is not a test (it never
fails on a figure).

    source scripts/env.sh
    scripts/bench_clnf.py [--fps 15 30] [--duration-s 120] [--out DIR]

For each frame rate it runs `clopy run clnf_1roi --sim` (synthetic camera at
256x256 bgr8, WAV-file tone output, gpiozero mock pins, every topic recorded,
images included) as a subprocess, as a random_reward session (p = 0.05 per
trial frame, 5 s trials, 1 s rests, adaptive threshold off) so that rewards and
tone changes come often. The duration is counted from 1 s after the camera
node logged its start-up line (the graph is connected by then, frames are
flowing; start-up CPU is not in the figures); after it, the script
sends SIGINT to `clopy run` (the Ctrl-C path: camera stopped first, pipeline
drained, recorder closed last) and waits for it to exit.

While the session runs, once per second it samples from /proc every node
process, found as the processes whose /proc/<pid>/cmdline contains the
session's parameters.yaml path and named by their `__node:=NAME` argument:
CPU % = (utime + stime) ticks / CLK_TCK over the wall time between samples
(100 % = one core fully busy; all threads of the process; 1 % resolution),
and RSS (statm resident pages). `clopy run` itself ("clopy-run": progress
monitor, not a node) and this script ("bench") are sampled too. Other work on
the machine competes for the same cores, so the script also records the load
average (/proc/loadavg) at start and end, the host CPU busy % (/proc/stat, all
cores) and, per second, "others": the host CPU time not used by the session,
clopy-run or this script, in % of one core. Each latency is then also given
for the frames stamped in "quiet" seconds (others < --quiet-others-pct,
default 35 % of one core) -- a way to see how much of a tail is contention.

Then it reads the session bag (clopy_data.bag.read_bag) and computes:

- frame stamp -> tone output: ToneEvent.output_time - header.stamp. The header
  is the camera frame's stamp, taken by the camera node with the ROS clock
  (ROS system time) right after the synthetic frame was rendered and before
  the Image / FrameInfo messages are built and published: rendering is not
  included, message building and serialisation are. The path is camera
  publish -> roi_dff (pair image + frame_info, dF/F, rule) -> task (state
  machine) -> tone node -> WAV sink; output_time is the wall time just after
  the tone node wrote the samples up to the new frequency to the WAV file (in
  simulation that file is the audio output; a sound card's buffer -- 128
  samples = 2.9 ms at 44.1 kHz plus driver latency -- is not in the figure).
  Tone events exist only for frequency changes.
- frame stamp -> valve: RewardEvent.on_time - header.stamp for valve events
  (output 0) that were delivered. Path: camera publish -> roi_dff -> task ->
  reward node -> gpiozero pin write (mock pin); on_time is time.time() right
  after the pin was driven high. Valve solenoid delay is not included.
- frame stamp -> control_signal at the recorder: bag log time (the recorder's
  clock at the raw callback) - header.stamp, a transport/processing figure for
  camera -> roi_dff -> recorder.
- camera stamp lateness: stamp - (index / fps), relative to the least late
  frame of each 10 s block, over the frames stamped before the stop: how late the capture thread stamped frames against
  the nominal slot grid (render time jitter, thread wake-up, GIL). It is the
  part of a frame's age that the latencies above do not contain.
- frames: frames published (camera log), frame_info / image_raw /
  control_signal messages in the bag, dropped frames (max
  FrameInfo.dropped_total, and gaps in frame_index), frames in frame_info
  with no control_signal (published, but never reached the task: lost between
  camera and roi_dff, which the camera's count cannot see), duplicate frame indices
  (would mean a second camera on the same ROS domain), frame interval p50 /
  p99 / max from consecutive frame_info stamps (before the stop).

All stamps are on the same host clock (ROS system time = time.time(); one
machine, no clock sync involved). Tone / valve events that came out later than
the camera's last frame stamp + 0.5 s (the pause `clopy run` leaves between
stopping the camera and stopping roi_dff) were made by the shutdown, not by a
frame, and are left out of the latency figures and listed as
`excluded_at_shutdown`: the task node's final tone-off on stop carries the last
frame's header but goes out about a second after that frame.

Percentiles are numpy's linear interpolation; with n events, p99 is close to
the maximum when n is small (a 120 s run at 30 fps gives ~70 valve events).

The results are printed as one table per frame rate and written to
OUT/results.json; nothing is appended to docs/ automatically. Each session
folder (bag with images: ~6 MB/s at 30 fps) stays under OUT.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE = os.sysconf('SC_PAGE_SIZE')
NODE_RE = re.compile(r'__node:=(\S+)')
STARTUP_TIMEOUT_S = 120.0
QUIET_OTHERS_PCT = 35.0    # 'quiet' second: other processes used < 35 % of one core (--quiet-others-pct)
DRAIN_S = 0.5              # clopy run: pause between stopping the camera and roi_dff
EXIT_TIMEOUT_S = 600.0      # clopy run makes the tables from the bag after the stop


PARADIGM = 'clnf_1roi'      # --paradigm
POSE_MODEL = None           # --pose-model (CLMF through DeepLabCut-Live)
EXTRA_SETS: list[str] = []  # --set


def base_sets(fps: float) -> list[str]:
    """The --set options of the benchmark session at `fps`."""
    if PARADIGM == 'clmf':
        # synthetic behaviour camera 640x320 with its ground-truth pose (no model cost:
        # the pose model's own cost is measured apart), random rewards after stillness
        model = [] if POSE_MODEL is None else ['pose.backend=dlclive', f'pose.model_path={POSE_MODEL}']
        return model + [
            f'camera.frame_rate_hz={fps}', f'task.frame_rate_hz={fps}', f'/**.synthetic_behaviour.fps={fps}',
            'task.v.session_type=random_reward', 'task.v.random_reward_p=0.05',
            'task.v.initial_rest_s=7.0', 'task.v.success_rest_s=1.0', 'task.v.fail_rest_s=1.0',
            'task.v.max_trial_s=5.0', 'task.v.stillness_window_s=0.5',
        ]
    return [
        f'camera.frame_rate_hz={fps}', f'roi_dff.frame_rate_hz={fps}', f'task.frame_rate_hz={fps}',
        'camera.width_px=256', 'camera.height_px=256',
        'roi_dff.frame_width_px=256', 'roi_dff.frame_height_px=256',
        'task.v.session_type=random_reward', 'task.v.random_reward_p=0.05',
        'task.v.initial_rest_s=7.0', 'task.v.success_rest_s=1.0', 'task.v.fail_rest_s=1.0',
        'task.v.max_trial_s=5.0', 'task.v.adaptive_threshold=false',
    ]


def clopy_command() -> list[str]:
    exe = shutil.which('clopy')
    if exe:
        return [exe]
    try:
        import clopy.cli  # noqa: F401
    except ImportError:
        sys.exit('bench_clnf: no `clopy` command and no clopy package: run `source scripts/env.sh` first')
    return [sys.executable, '-m', 'clopy.cli']


# ----------------------------------------------------------------------- /proc


def loadavg() -> list[float]:
    return [float(x) for x in Path('/proc/loadavg').read_text().split()[:3]]


def host_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    fields = [int(x) for x in Path('/proc/stat').read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    total = sum(fields[:8])                                     # guest time is inside user
    return total - idle, total


def proc_cmdline(pid: int) -> list[str]:
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().decode(errors='replace').split('\0')
    except OSError:
        return []


def proc_cpu_rss(pid: int) -> tuple[int, int] | None:
    """(utime + stime ticks, RSS bytes) of a process, None once it is gone."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
        statm = Path(f'/proc/{pid}/statm').read_text()
    except OSError:
        return None
    fields = stat.rsplit(')', 1)[1].split()    # after "pid (comm)"
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    rss = int(statm.split()[1]) * PAGE
    return ticks, rss


def find_nodes(params_path: str) -> dict[str, int]:
    """node name -> pid of the processes started with this parameter file."""
    found = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        args = proc_cmdline(int(entry))
        if not any(params_path == a or params_path in a for a in args):
            continue
        name = None
        for a in args:
            m = NODE_RE.search(a)
            if m:
                name = m.group(1)
        if name:
            found[name] = int(entry)
    return found


class Sampler(threading.Thread):
    """Once per second: CPU % and RSS of each node process, of `clopy run` and of
    this script, and the host's CPU use; keeps a timeline of the CPU used by
    everything else on the machine ("others")."""

    def __init__(self, params_path: str, runner_pid: int, period_s: float = 1.0) -> None:
        super().__init__(name='sampler', daemon=True)
        self.params_path = params_path
        self.extra = {'clopy-run': runner_pid, 'bench': os.getpid()}
        self.period_s = period_s
        self.stop_event = threading.Event()
        self.pids: dict[str, int] = {}
        self.cpu: dict[str, list[float]] = {}
        self.rss: dict[str, list[int]] = {}
        self.host_busy: list[float] = []
        # (wall time s at the end of the sample, CPU % of one core used by processes
        #  that are neither the session nor this script)
        self.timeline: list[tuple[float, float]] = []
        self.expected = 6
        # figures are kept only once this is set (camera up): start-up (imports,
        # discovery) is not steady state
        self.measuring = threading.Event()

    def run(self) -> None:
        last: dict[str, tuple[float, int]] = {}
        host_last = host_cpu_ticks()
        ncpu = os.cpu_count() or 1
        while not self.stop_event.wait(self.period_s):
            if len(self.pids) < self.expected:
                for name, pid in find_nodes(self.params_path).items():
                    self.pids.setdefault(name, pid)
            now = time.monotonic()
            ours = 0.0
            for name, pid in list(self.pids.items()) + list(self.extra.items()):
                sample = proc_cpu_rss(pid)
                if sample is None:
                    continue
                ticks, rss = sample
                if self.measuring.is_set():
                    self.rss.setdefault(name, []).append(rss)
                if name in last and now > last[name][0]:
                    t0, ticks0 = last[name]
                    pct_ = 100.0 * (ticks - ticks0) / CLK_TCK / (now - t0)
                    ours += pct_
                    if self.measuring.is_set():
                        self.cpu.setdefault(name, []).append(pct_)
                last[name] = (now, ticks)
            busy, total = host_cpu_ticks()
            if total > host_last[1] and self.measuring.is_set():
                host_pct = 100.0 * (busy - host_last[0]) / (total - host_last[1])
                self.host_busy.append(host_pct)
                self.timeline.append((time.time(), max(0.0, host_pct * ncpu - ours)))
            host_last = (busy, total)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)

    def summary(self) -> dict:
        out = {}
        order = ['camera', 'roi_dff', 'pose', 'speed', 'task', 'tone', 'reward', 'recorder', 'clopy-run', 'bench']
        for name in sorted(self.rss, key=lambda n: order.index(n) if n in order else len(order)):
            cpu = self.cpu.get(name, [])
            out[name] = {
                'pid': self.pids.get(name, self.extra.get(name)),
                'cpu_mean_pct': round(sum(cpu) / len(cpu), 1) if cpu else None,
                'cpu_max_pct': round(max(cpu), 1) if cpu else None,
                'rss_max_mb': round(max(self.rss[name]) / 2**20, 1),
                'samples': len(cpu),
            }
        nodes = [n for n in out if n not in self.extra]
        means = [out[n]['cpu_mean_pct'] for n in nodes if out[n]['cpu_mean_pct'] is not None]
        out['all nodes'] = {'pid': None, 'cpu_mean_pct': round(sum(means), 1) if means else None,
                            'cpu_max_pct': None,
                            'rss_max_mb': round(sum(out[n]['rss_max_mb'] for n in nodes), 1),
                            'samples': None}
        return out


# ----------------------------------------------------------------------- session


class Run:
    """`clopy run` as a subprocess; its output goes to a log file and is scanned
    for the session folder."""

    def __init__(self, cmd: list[str], log_path: Path) -> None:
        self.log = open(log_path, 'w')
        self.session_dir: Path | None = None
        self.lines: list[str] = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        self.seen_session = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.append(line.rstrip('\n'))
            if self.session_dir is None and not line.startswith('session ended'):
                m = re.match(r'session (\S+)\s', line) or re.match(r'session folder: (.+)$', line.strip())
                if m:
                    self.session_dir = Path(m.group(1))
                    self.seen_session.set()
        self.seen_session.set()

    def close(self) -> None:
        self.reader.join(timeout=5)
        self.log.close()


def run_session(fps: float, duration_s: float, out: Path, clopy: list[str]) -> dict:
    trials = max(1000, int(duration_s * 2))
    sets = base_sets(fps) + EXTRA_SETS
    cmd = clopy + ['run', PARADIGM, '--sim', '--trials', str(trials), '--out', str(out)]
    for s in sets:
        cmd += ['--set', s]
    tag = f'{fps:g}fps'
    print(f'\n=== {tag}: {duration_s:g} s ===\n$ {" ".join(cmd)}', flush=True)
    info: dict = {'paradigm': PARADIGM, 'pose_model': str(POSE_MODEL or ''), 'fps': fps,
                  'duration_s': duration_s, 'command': cmd,
                  'started': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds'),
                  'loadavg_start': loadavg()}
    run = Run(cmd, out / f'clopy_run_{tag}.log')
    run.seen_session.wait(STARTUP_TIMEOUT_S)
    if run.session_dir is None:
        run.proc.send_signal(signal.SIGINT)
        run.proc.wait(60)
        run.close()
        raise SystemExit('bench_clnf: clopy run printed no session folder:\n' + '\n'.join(run.lines[-20:]))
    session_dir = run.session_dir
    params_path = str(session_dir / 'parameters.yaml')
    sampler = Sampler(params_path, run.proc.pid)
    sampler.start()
    # the duration starts when the camera process exists (every subscription matched)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while 'camera' not in sampler.pids and run.proc.poll() is None and time.monotonic() < deadline:
        extra = find_nodes(params_path)
        if 'camera' in extra:
            sampler.pids.setdefault('camera', extra['camera'])
            break
        time.sleep(0.2)
    # ... and its capture loop is running (its start-up line is in its log)
    camera_log = session_dir / 'logs' / 'camera.log'
    while run.proc.poll() is None and time.monotonic() < deadline:
        try:
            if re.search(r' at [0-9.]+ fps', camera_log.read_text(errors='replace')):
                break
        except OSError:
            pass
        time.sleep(0.2)
    time.sleep(1.0)   # first frames out; the camera's own start-up CPU is over
    t_start = time.time()
    sampler.measuring.set()
    print(f'session {session_dir}; camera up, measuring for {duration_s:g} s', flush=True)
    end = time.monotonic() + duration_s
    while run.proc.poll() is None and time.monotonic() < end:
        time.sleep(0.5)
    ended_early = run.proc.poll() is not None
    stop_wall_s = time.time()
    sampler.stop()
    info['loadavg_end'] = loadavg()
    if not ended_early:
        run.proc.send_signal(signal.SIGINT)
    try:
        code = run.proc.wait(EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        run.proc.send_signal(signal.SIGINT)    # second Ctrl-C: force
        code = run.proc.wait(60)
    run.close()
    info.update(session_dir=str(session_dir), measured_s=round(stop_wall_s - t_start, 1),
                measure_start_wall_s=round(t_start, 3), stop_wall_s=round(stop_wall_s, 3),
                exit_code=code, ended_before_stop=ended_early,
                clopy_run_tail=[l for l in run.lines if l.startswith(('session ended', 'clnf', 'clopy:'))],
                host_cpu_busy_mean_pct=(round(sum(sampler.host_busy) / len(sampler.host_busy), 1)
                                        if sampler.host_busy else None),
                host_cpu_busy_max_pct=round(max(sampler.host_busy), 1) if sampler.host_busy else None,
                nodes=sampler.summary())
    others = [o for _, o in sampler.timeline]
    info['others_cpu_mean_pct'] = round(sum(others) / len(others), 1) if others else None
    info['others_cpu_max_pct'] = round(max(others), 1) if others else None
    info['others_timeline'] = [[round(t, 3), round(o, 1)] for t, o in sampler.timeline]
    info.update(analyse(session_dir, stop_wall_s, sampler.timeline, fps))
    return info


# ----------------------------------------------------------------------- bag


def pct(values_ms: list[float]) -> dict:
    import numpy as np
    if not values_ms:
        return {'n': 0, 'p50_ms': None, 'p99_ms': None, 'max_ms': None, 'min_ms': None}
    a = np.asarray(values_ms, dtype=float)
    return {'n': int(a.size), 'p50_ms': round(float(np.percentile(a, 50)), 3),
            'p99_ms': round(float(np.percentile(a, 99)), 3), 'max_ms': round(float(a.max()), 3),
            'min_ms': round(float(a.min()), 3)}


def analyse(session_dir: Path, stop_wall_s: float, timeline: list[tuple[float, float]], fps: float) -> dict:
    import numpy as np
    from clopy_data.bag import read_bag, topic_counts, typestore_with_clopy

    def ns(t) -> int:
        return int(t.sec) * 1_000_000_000 + int(t.nanosec)

    bag = session_dir / 'bag'
    stop_ns = int(stop_wall_s * 1e9)
    tone, valve, control, pose = [], [], [], []   # (frame stamp ns, latency ms)
    inference_ms, pose_indices = [], set()
    tone_all, valve_all = [], []            # (frame stamp ns, output time ns)
    frame_stamps, frame_indices = [], []
    control_indices: set[int] = set()
    dropped_total = 0
    topics = ['tone_event', 'reward_event', 'control_signal', 'frame_info', 'pose']
    for m in read_bag(bag, typestore_with_clopy(), topics=topics):
        msg = m.msg
        stamp = ns(msg.header.stamp)
        if m.topic == 'tone_event':
            if msg.header.frame_id == 'session_end':    # the stop's tone-off: no frame caused it
                continue
            tone_all.append((stamp, ns(msg.output_time)))
        elif m.topic == 'reward_event':
            if msg.output == 0 and msg.delivered:
                valve_all.append((stamp, ns(msg.on_time)))
        elif m.topic == 'control_signal':
            control.append((stamp, (m.timestamp_ns - stamp) / 1e6))
            control_indices.add(int(msg.frame_index))
        elif m.topic == 'pose':
            pose.append((stamp, (m.timestamp_ns - stamp) / 1e6))
            inference_ms.append(msg.inference_s * 1e3)
            pose_indices.add(int(msg.frame_index))
        elif m.topic == 'frame_info':
            frame_stamps.append(stamp)
            frame_indices.append(int(msg.frame_index))
            dropped_total = max(dropped_total, int(msg.dropped_total))
    # Shutdown outputs are not closed-loop reactions: what came out after the
    # camera's last frame plus the runner's drain time was made by the stop itself
    # (the task's final tone-off carries the last frame's header).
    cut_ns = (max(frame_stamps) if frame_stamps else stop_ns) + int(DRAIN_S * 1e9)
    tone_late, valve_late = [], []
    for events, kept, late in ((tone_all, tone, tone_late), (valve_all, valve, valve_late)):
        for stamp, out_ns in events:
            (kept if out_ns <= cut_ns else late).append((stamp, (out_ns - stamp) / 1e6))
    counts = topic_counts(bag)
    order = np.argsort(frame_indices, kind='stable')
    idx = np.asarray(frame_indices)[order]
    stamps = np.asarray(frame_stamps, dtype=np.int64)[order]
    gaps = int(np.sum(np.maximum(np.diff(idx) - 1, 0))) if idx.size > 1 else 0
    # frames the camera published (and the recorder got) but roi_dff turned into
    # no control_signal: the task never saw them
    unprocessed = sorted(set(frame_indices) - control_indices)
    # a second camera on the same ROS domain (e.g. an orphaned graph) shows up here
    duplicates = int(np.sum(np.diff(idx) == 0)) if idx.size > 1 else 0
    # pacing figures over the frames stamped before the stop: the camera publishes
    # its last frame early when the stop interrupts its pacing wait
    before = stamps < stop_ns
    intervals = (np.diff(stamps[before]) / 1e6).tolist() if before.sum() > 1 else []
    iv = pct(intervals)
    published = dropped_logged = None
    try:
        text = (session_dir / 'logs' / 'camera.log').read_text(errors='replace')
        m = re.findall(r'(\d+) frames published, (\d+) dropped', text)
        if m:
            published, dropped_logged = int(m[-1][0]), int(m[-1][1])
    except OSError:
        pass
    # Other work on the machine: the CPU that processes outside the session used
    # during the second each frame was stamped in (see Sampler.timeline).
    times = [t for t, _ in timeline]

    def others_at(stamp_ns: int) -> float | None:
        i = bisect.bisect_left(times, stamp_ns / 1e9)
        return timeline[i][1] if i < len(timeline) else None

    def split(events: list[tuple[int, float]]) -> dict:
        quiet = [lat for st, lat in events if (o := others_at(st)) is not None and o < QUIET_OTHERS_PCT]
        busy = [lat for st, lat in events if (o := others_at(st)) is not None and o >= QUIET_OTHERS_PCT]
        return {**pct([lat for _, lat in events]),
                'quiet': pct(quiet), 'busy': pct(busy)}

    # Camera pacing: how late each stamp is against the nominal slot grid
    # (index / fps), relative to the least late frame of each 10 s. The latency
    # figures start at the stamp, so this part is not in them.
    late = []
    if before.any():
        offset = stamps[before] / 1e6 - idx[before] * (1000.0 / fps)
        block = max(1, int(10 * fps))
        for i in range(0, offset.size, block):
            part = offset[i:i + block]
            late.extend((part - part.min()).tolist())
    return {
        'latency': {
            'frame_to_tone': {**split(tone), 'excluded_at_shutdown': [round(x, 1) for _, x in tone_late]},
            'frame_to_valve': {**split(valve), 'excluded_at_shutdown': [round(x, 1) for _, x in valve_late]},
            'frame_to_control_signal_at_recorder': split(control),
            'frame_to_pose_at_recorder': split(pose),
            'pose_inference': pct(inference_ms),
            'camera_stamp_lateness': pct(late),
        },
        'frames': {
            'published': published,
            'dropped_camera_log': dropped_logged,
            'frame_info_in_bag': counts.get('frame_info', 0),
            'image_raw_in_bag': counts.get('image_raw', 0),
            'control_signal_in_bag': counts.get('control_signal', 0),
            'dropped_total_max': dropped_total,
            'frame_index_gaps': gaps,
            'duplicate_frame_indices': duplicates,
            'frames_without_control_signal': len(unprocessed),
            'frames_without_control_signal_first': unprocessed[:20],
            'frames_without_pose': len(set(frame_indices) - pose_indices) if pose else None,
            'first_index': int(idx[0]) if idx.size else None,
            'last_index': int(idx[-1]) if idx.size else None,
            'interval_p50_ms': iv['p50_ms'], 'interval_p99_ms': iv['p99_ms'],
            'interval_max_ms': iv['max_ms'], 'interval_min_ms': iv['min_ms'],
        },
        'bag_topic_counts': counts,
        'bag_size_mb': round(sum(f.stat().st_size for f in bag.iterdir()) / 2**20, 1),
    }


# ----------------------------------------------------------------------- report


def machine() -> dict:
    model = ''
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemTotal:'):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {'hostname': platform.node(), 'nproc': os.cpu_count(), 'cpu_model': model, 'mem_total_gib': mem_gb,
            'python': platform.python_version(), 'kernel': platform.release(),
            'ros_distro': os.environ.get('ROS_DISTRO', '')}


def fmt(x, digits=1) -> str:
    return '-' if x is None else f'{x:.{digits}f}'


def print_report(r: dict) -> None:
    if r.get('paradigm') == 'clmf':
        label = f"CLMF, simulated, 640x320, {r.get('pose_model') or 'synthetic pose'}"
    else:
        label = 'CLNF 1-ROI, simulated, 256x256'
    print(f"\n--- {label}, {r['fps']:g} fps, {r['measured_s']:g} s measured")
    print(f"session {r['session_dir']}  (clopy run exit {r['exit_code']})")
    print(f"load average {r['loadavg_start']} -> {r['loadavg_end']}; host CPU busy mean "
          f"{fmt(r['host_cpu_busy_mean_pct'])} %, max {fmt(r['host_cpu_busy_max_pct'])} % of all cores; "
          f"other processes mean {fmt(r['others_cpu_mean_pct'])} %, max {fmt(r['others_cpu_max_pct'])} % of one core")
    q = f'quiet s (others < {QUIET_OTHERS_PCT:g} %)'
    print(f"{'latency (frame stamp ->)':<30}{'n':>6}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
          f"  | {q:<26}{'n':>6}{'p50':>7}{'p99':>7}{'max':>7}")
    names = {'frame_to_tone': 'tone written (WAV sink)', 'frame_to_valve': 'valve pin high (mock)',
             'frame_to_control_signal_at_recorder': 'control_signal at recorder',
             'frame_to_pose_at_recorder': 'pose at recorder'}
    for key, label in names.items():
        s = r['latency'].get(key)
        if s is None or (key == 'frame_to_pose_at_recorder' and not s['n']):
            continue
        qs = s['quiet']
        print(f"{label:<30}{s['n']:>6}{fmt(s['p50_ms'], 2):>8}{fmt(s['p99_ms'], 2):>8}{fmt(s['max_ms'], 2):>8}"
              f"  | {'':<26}{qs['n']:>6}{fmt(qs['p50_ms'], 2):>7}{fmt(qs['p99_ms'], 2):>7}{fmt(qs['max_ms'], 2):>7}")
        late = s.get('excluded_at_shutdown')
        if late:
            print(f"{'':<4}(left out: {len(late)} emitted by the shutdown, {late} ms)")
    inf = r['latency'].get('pose_inference')
    if inf and inf['n']:
        print(f"pose model per frame (Pose.inference_s): p50 {fmt(inf['p50_ms'], 2)}, p99 {fmt(inf['p99_ms'], 2)}, "
              f"max {fmt(inf['max_ms'], 2)} ms; frames with no pose: {r['frames'].get('frames_without_pose')}")
    c = r['latency']['camera_stamp_lateness']
    print(f"camera stamp lateness vs slot grid (not in the figures above): p50 {fmt(c['p50_ms'], 2)}, "
          f"p99 {fmt(c['p99_ms'], 2)}, max {fmt(c['max_ms'], 2)} ms")
    f = r['frames']
    print(f"frames: published {f['published']}, frame_info in bag {f['frame_info_in_bag']}, "
          f"image_raw in bag {f['image_raw_in_bag']}, control_signal in bag {f['control_signal_in_bag']}")
    print(f"dropped: max dropped_total {f['dropped_total_max']}, frame_index gaps {f['frame_index_gaps']} "
          f"(camera log: {f['dropped_camera_log']}); frames with no control_signal (lost before the task): "
          f"{f['frames_without_control_signal']} {f['frames_without_control_signal_first'][:5] or ''}")
    if f['duplicate_frame_indices'] or (f['published'] is not None and f['frame_info_in_bag'] > f['published']):
        print(f"WARNING: {f['duplicate_frame_indices']} duplicate frame indices / more frame_info than published: "
              "another graph publishes on this ROS domain; the figures of this run are not valid")
    print(f"frame interval: p50 {fmt(f['interval_p50_ms'], 2)} ms, p99 {fmt(f['interval_p99_ms'], 2)} ms, "
          f"max {fmt(f['interval_max_ms'], 2)} ms; bag {r['bag_size_mb']:.0f} MB")
    print(f"{'process':<12}{'CPU mean %':>11}{'CPU max %':>11}{'RSS max MB':>12}")
    for name, s in r['nodes'].items():
        print(f"{name:<12}{fmt(s['cpu_mean_pct']):>11}{fmt(s['cpu_max_pct']):>11}{fmt(s['rss_max_mb']):>12}")
    for line in r['clopy_run_tail']:
        print(f'  | {line}')


def reanalyse(path: Path) -> int:
    results = json.loads(path.read_text())
    results['reanalysed'] = datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')
    results['quiet_others_pct'] = QUIET_OTHERS_PCT
    for r in results['runs']:
        timeline = [(t, o) for t, o in r['others_timeline']]
        r.update(analyse(Path(r['session_dir']), r['stop_wall_s'], timeline, r['fps']))
        print_report(r)
    path.write_text(json.dumps(results, indent=2) + '\n')
    print(f'\nresults: {path}')
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--fps', type=float, nargs='+', default=[15.0, 30.0], help='frame rates to run')
    parser.add_argument('--paradigm', choices=['clnf_1roi', 'clmf'], default='clnf_1roi',
                        help='clnf_1roi (256x256 cortex) or clmf (640x320 behaviour camera, synthetic pose)')
    parser.add_argument('--pose-model', type=Path, metavar='MODEL_PT',
                        help='clmf: run the pose node through DeepLabCut-Live with this export (see '
                             '`clopy pose-model`) instead of the synthetic ground truth')
    parser.add_argument('--set', dest='sets', action='append', default=[], metavar='NODE.PARAM=VALUE',
                        help='one more `clopy run --set` for the sessions, e.g. pose.resize=0.5 (repeatable)')
    parser.add_argument('--duration-s', type=float, default=120.0, help='measured time per frame rate (s)')
    parser.add_argument('--out', type=Path, default=Path('/tmp/clopy-bench'),
                        help='folder for the session folders, clopy run logs and results.json')
    parser.add_argument('--quiet-others-pct', type=float, default=QUIET_OTHERS_PCT,
                        help='a second is "quiet" when processes outside the session used less than this '
                             '%% of one core (default %(default)s); latencies are also given for quiet seconds')
    parser.add_argument('--reanalyse', type=Path, metavar='RESULTS_JSON',
                        help='run nothing: compute the bag figures again for the sessions of an earlier '
                             'results.json (e.g. after changing this script) and rewrite it')
    args = parser.parse_args()
    globals()['QUIET_OTHERS_PCT'] = args.quiet_others_pct
    globals()['PARADIGM'] = args.paradigm
    globals()['EXTRA_SETS'] = list(args.sets)
    if args.pose_model is not None:
        if args.paradigm != 'clmf' or not args.pose_model.is_file():
            parser.error('--pose-model needs --paradigm clmf and an existing .pt file')
        globals()['POSE_MODEL'] = args.pose_model.resolve()
    if args.reanalyse:
        return reanalyse(args.reanalyse)
    if args.duration_s <= 0 or any(f <= 0 for f in args.fps):
        parser.error('--fps and --duration-s must be > 0')
    args.out.mkdir(parents=True, exist_ok=True)
    clopy = clopy_command()
    results = {'date': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds'),
               'machine': machine(), 'argv': sys.argv, 'quiet_others_pct': QUIET_OTHERS_PCT,
               'loadavg_start': loadavg(), 'runs': []}
    out_json = args.out / 'results.json'
    for fps in args.fps:
        r = run_session(fps, args.duration_s, args.out, clopy)
        results['runs'].append(r)
        print_report(r)
        results['loadavg_end'] = loadavg()
        out_json.write_text(json.dumps(results, indent=2) + '\n')   # after every run: partial results survive
    print(f'\nresults: {out_json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
