#!/usr/bin/env python3
"""Benchmark of the simulated CLNF 1-ROI graph: closed-loop latencies, dropped
frames, CPU and memory per node. It prints figures; it is not a test (it never
fails on a figure).

    source scripts/env.sh
    scripts/bench_clnf.py [--fps 15 30] [--duration-s 120] [--out DIR]
                          [--modes separate composed | --composed] [--hogs N]
                          [--rt-priority N] [--taskset CPUS] [--paradigm clmf]
                          [--floor-modes ... | --no-floor] [--floor-duration-s S] [--dashboard]

Conditions: --modes runs the graph one process per node (separate, the default)
and/or composed (`clopy run --composed`: the hot path in one process on an
EventsExecutor, the recorder in its own), each in turn at each rate;
--hogs N starts N busy-loop processes (`python -c 'while True: pass'`, no
affinity) for the whole invocation and stops them at the end; --rt-priority N is
passed to `clopy run` (and asked for the floor processes); the per-process table
says the policy each process ran under (how many of its threads were SCHED_FIFO)
and its cores; --dashboard runs `clopy run --dashboard` with the live page open in a headless
chromium (bench_dashboard.py) for the whole session, to compare with the figures without
it (the page must not slow the loop); --taskset CPUS runs `clopy run` under `taskset -c CPUS` (every
node inherits the affinity) and the floor too: a stand-in for a slow rig.

The floor: after the graph at each rate, bench_floor.py's plain-rclpy chain (an
Image hop of the same frame size, then three small-message hops, the project's
QoS) runs under the same conditions in each --floor-modes mode (separate
processes on the default executor, separate on EventsExecutor, one process on
an EventsExecutor); the script prints project / floor for frame -> tone and
frame -> valve, then rows ready to paste into docs/benchmarks.md (date,
machine, run, figures, command).

For each frame rate it runs `clopy run clnf_1roi --sim` (synthetic camera at
256x256 bgr8, WAV-file tone output, gpiozero mock pins, every topic recorded,
images included) as a subprocess, as a random_reward session (p = 0.05 per
trial frame, 5 s trials, 1 s rests, adaptive threshold off) so that rewards and
tone changes come often. The duration is counted from 1 s after the camera
node logged its start-up line (the graph is connected by then, frames are
flowing; start-up CPU is not in the figures); after it, the script
sends SIGINT to `clopy run` (the Ctrl-C path: camera stopped first, pipeline
drained, recorder closed last) and waits for it to exit.

The node processes, `clopy run` and the rest of the machine are sampled from
/proc while the session runs (bench_sampling.py says how); the latency, frame
and pacing figures come from the session bag afterwards (bench_analysis.py says
which and how they are computed).

The results are printed as one table per run and written to
OUT/results.json (project runs under 'runs', floor runs under 'floor'); nothing is appended to docs/ automatically. Each session
folder (bag with images: ~6 MB/s at 30 fps) stays under OUT.
"""
from __future__ import annotations

import argparse
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

from bench_analysis import analyse, camera_log_text
from bench_dashboard import DashboardPage, chromium
from bench_floor import MODES as FLOOR_MODES
from bench_floor import print_floor, run_floor
from bench_sampling import Sampler, describe_policy, find_nodes, loadavg

STARTUP_TIMEOUT_S = 120.0
QUIET_OTHERS_PCT = 35.0    # 'quiet' second: other processes used < 35 % of one core (--quiet-others-pct)
EXIT_TIMEOUT_S = 600.0      # clopy run makes the tables from the bag after the stop


def base_sets(fps: float, paradigm: str, pose_model: Path | None) -> list[str]:
    """The --set options of the benchmark session of `paradigm` at `fps`; `pose_model`
    (clmf only) runs the pose node through DeepLabCut-Live with that export."""
    if paradigm == 'clmf':
        # synthetic behaviour camera 640x320 with its ground-truth pose (no model cost:
        # the pose model's own cost is measured apart), random rewards after stillness
        model = [] if pose_model is None else ['pose.backend=dlclive', f'pose.model_path={pose_model}']
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
        self.dashboard_url: str | None = None   # `clopy run --dashboard` says where
        self.seen_dashboard = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.append(line.rstrip('\n'))
            m = re.match(r'dashboard (http://\S+)$', line.strip())
            if m and self.dashboard_url is None:
                self.dashboard_url = m.group(1)
                self.seen_dashboard.set()
            if self.session_dir is None and not line.startswith('session ended'):
                m = re.match(r'session (\S+)\s', line) or re.match(r'session folder: (.+)$', line.strip())
                if m:
                    self.session_dir = Path(m.group(1))
                    self.seen_session.set()
        self.seen_session.set()
        self.seen_dashboard.set()

    def close(self) -> None:
        self.reader.join(timeout=5)
        self.log.close()


def expected_nodes(paradigm: str) -> set[str]:
    signal_nodes = {'pose', 'speed'} if paradigm == 'clmf' else {'roi_dff'}
    return {'camera', 'task', 'tone', 'reward', 'recorder'} | signal_nodes


def run_session(fps: float, duration_s: float, out: Path, clopy: list[str], *, paradigm: str,
                pose_model: Path | None, extra_sets: list[str], quiet_others_pct: float,
                mode: str = 'separate', rt_priority: int = 0, taskset: str | None = None,
                hogs: int = 0, dashboard: bool = False) -> dict:
    """One measured session of `paradigm` at `fps`, with `extra_sets` after the
    benchmark's own --set options; returns its figures (see analyse for
    `quiet_others_pct`). `mode` 'composed' runs `clopy run --composed`; `rt_priority`
    > 0 passes `--rt-priority N`; `taskset` runs `clopy run` (and so every node, which
    inherits the affinity) under `taskset -c CPUS`; `hogs` is only recorded here; `dashboard`
    runs `clopy run --dashboard` with its page open in a headless chromium."""
    trials = max(1000, int(duration_s * 2))
    # the camera ends the session after the measured time plus start-up: the free-space
    # check plans for these frames, not for all the trials
    max_frames = int(fps * (duration_s + STARTUP_TIMEOUT_S))
    sets = base_sets(fps, paradigm, pose_model) + [f'camera.max_frames={max_frames}'] + extra_sets
    cmd = clopy + ['run', paradigm, '--sim', '--trials', str(trials), '--out', str(out)]
    if mode == 'composed':
        cmd.append('--composed')
    if rt_priority > 0:
        cmd += ['--rt-priority', str(rt_priority)]
    if dashboard:
        cmd += ['--dashboard', '--dashboard-port', '0']
    for s in sets:
        cmd += ['--set', s]
    if taskset:
        cmd = ['taskset', '-c', taskset] + cmd
    tag = condition_tag(fps, mode, rt_priority, taskset, hogs) + (' dashboard' if dashboard else '')
    print(f'\n=== {tag}: {duration_s:g} s ===\n$ {" ".join(cmd)}', flush=True)
    info: dict = {'paradigm': paradigm, 'pose_model': str(pose_model or ''), 'fps': fps,
                  'mode': mode, 'rt_priority': rt_priority, 'taskset': taskset, 'hogs': hogs, 'dashboard': dashboard, 'tag': tag,
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
    sampler.expected = expected_nodes(paradigm)
    sampler.start()
    # the duration starts when the process hosting the camera exists (every
    # subscription matched; in composed mode the hot-path process)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while sampler.host_of('camera') is None and run.proc.poll() is None and time.monotonic() < deadline:
        sampler.add(find_nodes(params_path))
        time.sleep(0.2)
    # ... and its capture loop is running (its start-up line is in its log)
    while run.proc.poll() is None and time.monotonic() < deadline:
        if re.search(r' at [0-9.]+ fps', camera_log_text(session_dir)):
            break
        time.sleep(0.2)
    page = None
    if dashboard:   # the page is open before the measured time starts
        run.seen_dashboard.wait(STARTUP_TIMEOUT_S)
        if run.dashboard_url is None:
            print('bench_clnf: clopy run printed no dashboard address', flush=True)
        else:
            page = DashboardPage(run.dashboard_url)
            page.opened.wait(60)
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
    if page is not None:
        info['dashboard_page'] = page.close()
        print(f"dashboard page: {info['dashboard_page']}", flush=True)
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
                nodes=sampler.summary(), processes_found=dict(sampler.hosts),
                rt_log_lines=[l for l in run.lines if re.search(r'rt.priority|SCHED_|real.time', l, re.I)],
                composed_log_lines=[l for l in run.lines if re.search(r'compos|EventsExecutor|executor', l, re.I)])
    others = [o for _, o in sampler.timeline]
    info['others_cpu_mean_pct'] = round(sum(others) / len(others), 1) if others else None
    info['others_cpu_max_pct'] = round(max(others), 1) if others else None
    info['others_timeline'] = [[round(t, 3), round(o, 1)] for t, o in sampler.timeline]
    info.update(analyse(session_dir, stop_wall_s, sampler.timeline, fps, quiet_others_pct))
    info['rt_session_log_lines'] = session_log_lines(session_dir, r'rt.priority|SCHED_FIFO|sched_setscheduler|real.time')
    return info


def session_log_lines(session_dir: Path, pattern: str, limit: int = 20) -> list[str]:
    """The lines of the session's node logs that match `pattern` (e.g. what the
    runner or a node said about real-time priority)."""
    found = []
    for path in sorted((session_dir / 'logs').glob('*.log')):
        try:
            for line in path.read_text(errors='replace').splitlines():
                if re.search(pattern, line, re.I):
                    found.append(f'{path.name}: {line.strip()}')
        except OSError:
            continue
    return found[:limit]


def condition_tag(fps: float, mode: str, rt_priority: int, taskset: str | None, hogs: int) -> str:
    tag = f'{mode} {fps:g}fps'
    if hogs:
        tag += f' {hogs} hogs'
    if rt_priority:
        tag += f' rt{rt_priority}'
    if taskset:
        tag += f' taskset {taskset}'
    return tag


# ----------------------------------------------------------------------- CPU hogs


class Hogs:
    """N busy-loop processes (one Python `while True: pass` each, normal priority, no
    affinity) for the whole benchmark; stopped, by their pids, at the end."""

    def __init__(self, n: int) -> None:
        self.procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass'], stdin=subprocess.DEVNULL)
                      for _ in range(n)]
        if self.procs:
            print(f'{n} CPU hog process(es) started: pids {[p.pid for p in self.procs]}', flush=True)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()



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


def print_report(r: dict, quiet_others_pct: float) -> None:
    if r.get('paradigm') == 'clmf':
        label = f"CLMF, simulated, 640x320, {r.get('pose_model') or 'synthetic pose'}"
    else:
        label = 'CLNF 1-ROI, simulated, 256x256'
    print(f"\n--- {label}, {r.get('tag', str(r['fps']) + ' fps')}, {r['measured_s']:g} s measured")
    print(f"session {r['session_dir']}  (clopy run exit {r['exit_code']})")
    print(f"load average {r['loadavg_start']} -> {r['loadavg_end']}; host CPU busy mean "
          f"{fmt(r['host_cpu_busy_mean_pct'])} %, max {fmt(r['host_cpu_busy_max_pct'])} % of all cores; "
          f"other processes mean {fmt(r['others_cpu_mean_pct'])} %, max {fmt(r['others_cpu_max_pct'])} % of one core")
    q = f'quiet s (others < {quiet_others_pct:g} %)'
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
    print(f"{'process':<12}{'CPU mean %':>11}{'CPU max %':>11}{'RSS max MB':>12}  {'scheduling':<34}nodes")
    for name, s in r['nodes'].items():
        nodes = ','.join(s.get('nodes') or []) if s.get('nodes') and s['nodes'] != [name] else ''
        print(f"{name:<12}{fmt(s['cpu_mean_pct']):>11}{fmt(s['cpu_max_pct']):>11}{fmt(s['rss_max_mb']):>12}  "
              f"{describe_policy(s.get('sched')) if s.get('pid') else '':<34}{nodes}")
    if r.get('rt_priority'):
        for line in (r.get('rt_log_lines') or []) + (r.get('rt_session_log_lines') or []):
            print(f'  rt | {line}')
    for line in r['clopy_run_tail']:
        print(f'  | {line}')


def lat(r: dict, key: str) -> tuple[float | None, float | None]:
    s = r['latency'].get(key) or {}
    return s.get('p50_ms'), s.get('p99_ms')


def ratio(a, b) -> str:
    return '-' if a is None or not b else f'{a / b:.1f}x'


def floor_for(floor: list[dict], fps: float) -> list[dict]:
    return [f for f in floor if f['fps'] == fps]


def print_ratios(runs: list[dict], floor: list[dict]) -> None:
    """project / floor for frame -> tone and frame -> valve (p50 / p99) at the same rate,
    against the floor's four hops (the issue's floor: Image hop + three small hops; the
    CLMF chain to the tone node has these four) and its first three (the CLNF chain to
    the tone or reward node has these three)."""
    if not floor:
        return
    print('\n=== project / plain-rclpy floor at the same rate (p50 / p99); floor hop4 = frame stamp -> '
          'tone event at the sink, hop3 = -> tone command at the tone node')
    print(f"{'project run':<32}{'floor mode':<18}{'hop4 ms':>13}{'tone/hop4':>13}{'valve/hop4':>13}"
          f"{'hop3 ms':>13}{'tone/hop3':>13}{'valve/hop3':>13}")
    for r in runs:
        t50, t99 = lat(r, 'frame_to_tone')
        v50, v99 = lat(r, 'frame_to_valve')
        for f in floor_for(floor, r['fps']):
            row = f"{r['tag']:<32}{f['mode']:<18}"
            for hop in ('hop4_tone_event_at_sink', 'hop3_tone_command_at_tone'):
                h = f['latency'][hop]
                row += (f"{fmt(h['p50_ms'], 2) + '/' + fmt(h['p99_ms'], 2):>13}"
                        f"{ratio(t50, h['p50_ms']) + '/' + ratio(t99, h['p99_ms']):>13}"
                        f"{ratio(v50, h['p50_ms']) + '/' + ratio(v99, h['p99_ms']):>13}")
            print(row)


def pair(a: tuple) -> str:
    return f'{fmt(a[0], 2)} / {fmt(a[1], 2)}'


def markdown_rows(results: dict) -> list[str]:
    """Ready-to-paste rows for docs/benchmarks.md: one per project run, one per floor run."""
    m = results['machine']
    day = results['date'][:10]
    where = f"{m['cpu_model'] or 'CPU'}, {m['nproc']} cores"
    command = ' '.join(['scripts/bench_clnf.py'] + results['argv'][1:])
    lines = ['| date | machine | run | measured s | frame -> tone p50 / p99 ms | frame -> valve p50 / p99 ms '
             '| frame -> control_signal at recorder p50 / p99 ms | dropped / published | CPU % of one core, '
             'all nodes (per process) | RSS MB | scheduling | command |',
             '|---|---|---|--:|--:|--:|--:|--:|---|--:|---|---|']
    for r in results['runs']:
        f = r['frames']
        dropped = (f['dropped_total_max'] or 0) + (f['frames_without_control_signal'] or 0)
        nodes = {k: v for k, v in r['nodes'].items() if k not in ('clopy-run', 'bench', 'all nodes')}
        per = ', '.join(f"{k} {fmt(v['cpu_mean_pct'])}" for k, v in nodes.items())
        sched = '; '.join(f"{k} {describe_policy(v.get('sched'))}" for k, v in nodes.items()
                          if v.get('sched') and (r.get('rt_priority') or v['sched'].get('main') != 'SCHED_OTHER'))
        label = f"{r['paradigm']} {r['tag']}" + (' (ended early)' if r.get('ended_before_stop') else '')
        lines.append(
            f"| {day} | {where} | {label} | {r['measured_s']:g} | {pair(lat(r, 'frame_to_tone'))} "
            f"| {pair(lat(r, 'frame_to_valve'))} | {pair(lat(r, 'frame_to_control_signal_at_recorder'))} "
            f"| {dropped} / {f['published']} | {fmt(r['nodes']['all nodes']['cpu_mean_pct'])} ({per}) "
            f"| {fmt(r['nodes']['all nodes']['rss_max_mb'], 0)} | {sched or 'SCHED_OTHER'} | `{command}` |")
    for fl in results.get('floor', []):
        h3 = fl['latency']['hop3_tone_command_at_tone']
        h4 = fl['latency']['hop4_tone_event_at_sink']
        cond = f"floor {fl['mode']} {fl['fps']:g}fps {fl['width_px']}x{fl['height_px']}"
        if results.get('hogs'):
            cond += f" {results['hogs']} hogs"
        if fl.get('rt_priority'):
            cond += f" rt{fl['rt_priority']}"
        if fl.get('taskset'):
            cond += f" taskset {fl['taskset']}"
        policies = sorted({p['policy'] for p in fl['processes'].values()})
        lines.append(
            f"| {day} | {where} | {cond} (4 hops; 3 hops: {pair((h3['p50_ms'], h3['p99_ms']))}) "
            f"| {fl['duration_s']:g} | {pair((h4['p50_ms'], h4['p99_ms']))} (hop 4) | - | - "
            f"| {fl['lost']['hop4_tone_event_at_sink']} / {fl['frames_published']} | {fmt(fl['cpu_all_pct'])} "
            f"| {fmt(fl['rss_all_mb'], 0)} | {'; '.join(policies)} | `{command}` |")
    return lines


def reanalyse(path: Path, quiet_others_pct: float) -> int:
    """The bag figures again for the sessions of an earlier results.json, which is rewritten."""
    results = json.loads(path.read_text())
    results['reanalysed'] = datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')
    results['quiet_others_pct'] = quiet_others_pct
    for r in results['runs']:
        timeline = [(t, o) for t, o in r['others_timeline']]
        r.update(analyse(Path(r['session_dir']), r['stop_wall_s'], timeline, r['fps'], quiet_others_pct))
        r.setdefault('tag', condition_tag(r['fps'], r.get('mode', 'separate'), r.get('rt_priority', 0),
                                          r.get('taskset'), r.get('hogs', 0)))
        print_report(r, quiet_others_pct)
    for f in results.get('floor', []):
        print_floor(f)
    print_ratios(results['runs'], results.get('floor', []))
    print('\n' + '\n'.join(markdown_rows(results)))
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
    parser.add_argument('--modes', nargs='+', choices=['separate', 'composed'],
                        help='how to run the graph, each in turn at each rate: separate (one process per '
                             'node, the default) and/or composed (`clopy run --composed`)')
    parser.add_argument('--composed', action='store_true', help='the same as --modes composed')
    parser.add_argument('--hogs', type=int, default=0, metavar='N',
                        help='start N busy-loop CPU hog processes for the whole run (graph and floor), '
                             'stopped at the end')
    parser.add_argument('--rt-priority', type=int, default=0, metavar='N',
                        help='pass `--rt-priority N` to clopy run (SCHED_FIFO N for the hot path where '
                             'permitted) and ask the same for the floor processes; the table shows the policy '
                             'each process actually ran under')
    parser.add_argument('--taskset', metavar='CPUS',
                        help='run `clopy run` (every node inherits it) and the floor under `taskset -c CPUS`, '
                             'e.g. 0: a stand-in for a slow rig')
    parser.add_argument('--floor-modes', nargs='+', choices=FLOOR_MODES, default=list(FLOOR_MODES),
                        help='plain-rclpy floor runs after the graph at each rate (default: all three)')
    parser.add_argument('--no-floor', action='store_true', help='no floor runs')
    parser.add_argument('--dashboard', action='store_true',
                        help='clopy run --dashboard with its page open in a headless chromium (Playwright)')
    parser.add_argument('--floor-duration-s', type=float,
                        help='measured time of each floor run (default: --duration-s, at most 120 s)')
    args = parser.parse_args()
    pose_model = None
    if args.pose_model is not None:
        if args.paradigm != 'clmf' or not args.pose_model.is_file():
            parser.error('--pose-model needs --paradigm clmf and an existing .pt file')
        pose_model = args.pose_model.resolve()
    if args.reanalyse:
        return reanalyse(args.reanalyse, args.quiet_others_pct)
    if args.duration_s <= 0 or any(f <= 0 for f in args.fps):
        parser.error('--fps and --duration-s must be > 0')
    if args.hogs < 0 or not 0 <= args.rt_priority <= 99:
        parser.error('--hogs must be >= 0 and --rt-priority 1-99 (0: off)')
    if args.taskset and shutil.which('taskset') is None:
        parser.error('--taskset needs the taskset command (util-linux)')
    modes = args.modes or (['composed'] if args.composed else ['separate'])
    if args.dashboard:
        chromium()   # says what is missing before anything runs
    floor_modes = [] if args.no_floor else args.floor_modes
    floor_s = args.floor_duration_s or min(args.duration_s, 120.0)
    width, height = (640, 320) if args.paradigm == 'clmf' else (256, 256)
    args.out.mkdir(parents=True, exist_ok=True)
    clopy = clopy_command()
    results = {'date': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds'),
               'machine': machine(), 'argv': sys.argv, 'quiet_others_pct': args.quiet_others_pct,
               'modes': modes, 'hogs': args.hogs, 'dashboard': args.dashboard, 'rt_priority': args.rt_priority, 'taskset': args.taskset,
               'loadavg_start': loadavg(), 'runs': [], 'floor': []}
    out_json = args.out / 'results.json'
    hogs = Hogs(args.hogs)
    try:
        for fps in args.fps:
            for mode in modes:
                r = run_session(fps, args.duration_s, args.out, clopy, paradigm=args.paradigm,
                                pose_model=pose_model, extra_sets=list(args.sets),
                                quiet_others_pct=args.quiet_others_pct, mode=mode, rt_priority=args.rt_priority,
                                taskset=args.taskset, hogs=args.hogs, dashboard=args.dashboard)
                results['runs'].append(r)
                print_report(r, args.quiet_others_pct)
                results['loadavg_end'] = loadavg()
                out_json.write_text(json.dumps(results, indent=2) + '\n')   # partial results survive
            for floor_mode in floor_modes:
                print(f'\n=== floor {floor_mode} {fps:g}fps {width}x{height}: {floor_s:g} s', flush=True)
                f = run_floor(floor_mode, fps, floor_s, args.out, width_px=width, height_px=height,
                              rt_priority=args.rt_priority, taskset=args.taskset)
                results['floor'].append(f)
                print_floor(f)
                out_json.write_text(json.dumps(results, indent=2) + '\n')
    finally:
        hogs.stop()
    results['loadavg_end'] = loadavg()
    out_json.write_text(json.dumps(results, indent=2) + '\n')
    print_ratios(results['runs'], results['floor'])
    print('\n=== rows for docs/benchmarks.md')
    print('\n'.join(markdown_rows(results)))
    print(f'\nresults: {out_json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
