#!/usr/bin/env python3
"""The plain-rclpy floor of the CLNF closed loop: the same hops as the project's
frame -> tone chain with nothing but rclpy in them. It prints figures; it is not a
test (it never fails on a figure).

    source scripts/env.sh
    scripts/bench_floor.py [--modes separate-default separate-events composed-events]
                           [--fps 30] [--duration-s 60] [--width-px 256 --height-px 256]
                           [--rt-priority N] [--taskset CPUS] [--out DIR]

The chain (five nodes, four hops, the project's topic QoS from clopy_common.qos):

    floor_camera --Image WxH bgr8 (IMAGE_QOS)--> floor_roi
      --ControlSignal (STREAM_QOS)--> floor_task --ToneCommand (COMMAND_QOS)--> floor_tone
      --ToneEvent (EVENT_QOS)--> floor_sink

floor_camera is a capture thread like the project's camera: it waits for the frame's
slot, takes the stamp (ROS clock), builds the Image (array.array('B', frame.tobytes()),
as the camera node does) and publishes it. Every other node copies the header and
frame index into its own message and publishes it from its subscription callback; no
computation. Each node records, for every message it receives, now - header.stamp:
the figure after hop 1 (image at roi), hop 2 (control signal at task), hop 3 (tone
command at tone: the project's "frame -> tone/valve" chain has these three hops plus
the output write) and hop 4 (tone event at the sink: the chain the issue's floor
figures were measured on, "a 256x256 Image hop then three small-message hops").

Modes:
- separate-default: one process per node, rclpy's default executor (SingleThreadedExecutor);
- separate-events: one process per node, rclpy.experimental.EventsExecutor;
- composed-events: the five nodes in ONE process on one EventsExecutor.

The processes start in a ROS domain leased for the run (clopy.rosenv.DomainLease) with
topic names unique to the run. The measured window starts 1 s after every publisher
has matched its subscriber; latencies are counted for frames stamped in the window.
CPU (utime + stime over the window, % of one core) and RSS are read from /proc.
`--rt-priority N` asks SCHED_FIFO priority N for every floor process (said per
process when not permitted); `--taskset CPUS` confines them to those cores.

bench_clnf.py imports run_floor() and runs the floor in the same invocation as the
project's graph, under the same conditions (hogs, taskset, priority).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench_analysis import pct
from bench_sampling import proc_cpu_rss

ROLES = ('camera', 'roi', 'task', 'tone', 'sink')
HOPS = {'roi': 'hop1_image_at_roi', 'task': 'hop2_control_signal_at_task',
        'tone': 'hop3_tone_command_at_tone', 'sink': 'hop4_tone_event_at_sink'}
MODES = ('separate-default', 'separate-events', 'composed-events')
READY_TIMEOUT_S = 90.0


# ----------------------------------------------------------------------- child side


def set_rt_priority(priority: int) -> str:
    """SCHED_FIFO `priority` for this process (threads made later inherit it); the
    policy it runs under, in words."""
    if priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        except (PermissionError, OSError) as exc:
            return f'SCHED_OTHER (SCHED_FIFO {priority} not permitted: {exc})'
    return policy_name(os.sched_getscheduler(0)) + (
        f' {os.sched_getparam(0).sched_priority}' if priority > 0 else '')


def policy_name(policy: int) -> str:
    return {os.SCHED_OTHER: 'SCHED_OTHER', os.SCHED_FIFO: 'SCHED_FIFO', os.SCHED_RR: 'SCHED_RR',
            getattr(os, 'SCHED_BATCH', 3): 'SCHED_BATCH', getattr(os, 'SCHED_IDLE', 5): 'SCHED_IDLE'}.get(
        policy, f'policy {policy}')


def child_main(args: argparse.Namespace) -> int:
    """One floor process: the nodes of `args.roles` on one executor."""
    policy = set_rt_priority(args.rt_priority)
    import array

    import numpy as np
    import rclpy
    from clopy_common import qos
    from clopy_interfaces.msg import ControlSignal, ToneCommand, ToneEvent
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    rclpy.init()
    if args.executor == 'events':
        from rclpy.experimental import EventsExecutor
        executor = EventsExecutor()
    else:
        from rclpy.executors import SingleThreadedExecutor
        executor = SingleThreadedExecutor()
    p = args.prefix
    records: dict[str, list[tuple[int, int]]] = {}   # role -> [(stamp ns, latency ns)]
    published: list[int] = []                          # camera: stamp ns of every frame
    publishers = []

    def now_ns(node: Node) -> int:
        return node.get_clock().now().nanoseconds

    def stamp_ns(header) -> int:
        return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec

    def relay(role: str, in_type, in_topic: str, in_qos, out_type, out_topic: str | None, out_qos, fill):
        node = Node(f'floor_{role}')
        rec = records.setdefault(role, [])
        pub = node.create_publisher(out_type, out_topic, out_qos) if out_type is not None else None
        if pub is not None:
            publishers.append(pub)

        def callback(msg) -> None:
            t = now_ns(node)
            s = stamp_ns(msg.header)
            rec.append((s, t - s))
            if pub is not None:
                out = out_type()
                out.header = msg.header
                fill(out, msg)
                pub.publish(out)
        node.create_subscription(in_type, in_topic, callback, in_qos)
        return node

    nodes = []
    camera_node = None
    for role in args.roles:
        if role == 'camera':
            camera_node = Node('floor_camera')
            image_pub = camera_node.create_publisher(Image, f'{p}image_raw', qos.IMAGE_QOS)
            publishers.append(image_pub)
            nodes.append(camera_node)
        elif role == 'roi':
            def fill_roi(out, msg):
                out.frame_index = int(msg.header.frame_id or 0)
                out.value = 0.0
                out.units = 'dff'
                out.valid = True
            nodes.append(relay('roi', Image, f'{p}image_raw', qos.IMAGE_QOS,
                               ControlSignal, f'{p}control_signal', qos.STREAM_QOS, fill_roi))
        elif role == 'task':
            def fill_task(out, msg):
                out.frame_index = msg.frame_index
                out.frequency_hz = 4000.0
                out.amplitude = 0.5
            nodes.append(relay('task', ControlSignal, f'{p}control_signal', qos.STREAM_QOS,
                               ToneCommand, f'{p}tone', qos.COMMAND_QOS, fill_task))
        elif role == 'tone':
            def fill_tone(out, msg):
                out.frame_index = msg.frame_index
                out.frequency_hz = msg.frequency_hz
            nodes.append(relay('tone', ToneCommand, f'{p}tone', qos.COMMAND_QOS,
                               ToneEvent, f'{p}tone_event', qos.EVENT_QOS, fill_tone))
        elif role == 'sink':
            nodes.append(relay('sink', ToneEvent, f'{p}tone_event', qos.EVENT_QOS, None, None, None, None))
    for node in nodes:
        executor.add_node(node)
    stop = threading.Event()
    out_dir = Path(args.run_dir)

    def capture() -> None:
        """The camera's loop: wait for the slot, stamp, build, publish."""
        frame = np.zeros((args.height_px, args.width_px, 3), dtype=np.uint8)
        period_ns = int(1e9 / args.fps[0])
        next_ns = time.monotonic_ns()
        index = 0
        while not stop.is_set():
            next_ns += period_ns
            delay = (next_ns - time.monotonic_ns()) / 1e9
            if delay > 0 and stop.wait(delay):
                break
            frame[0, 0, 0] = index & 0xFF
            stamp = camera_node.get_clock().now()
            msg = Image()
            msg.header.stamp = stamp.to_msg()
            msg.header.frame_id = str(index)
            msg.height, msg.width, msg.encoding = args.height_px, args.width_px, 'bgr8'
            msg.step = args.width_px * 3
            msg.data = array.array('B', frame.tobytes())
            image_pub.publish(msg)
            published.append(stamp.nanoseconds)
            index += 1

    def watch() -> None:
        """Ready file once every publisher has a subscriber; results and exit at the stop file."""
        ready = False
        while True:
            if not ready and all(pub.get_subscription_count() > 0 for pub in publishers):
                (out_dir / f'ready.{os.getpid()}').write_text('')
                ready = True
            if (out_dir / 'stop').exists():
                break
            time.sleep(0.1)
        stop.set()
        time.sleep(0.5)   # frames in flight reach the end of the chain
        result = {'pid': os.getpid(), 'roles': list(args.roles), 'executor': args.executor, 'policy': policy,
                  'records': {r: list(v) for r, v in records.items()}, 'published': list(published)}
        tmp = out_dir / f'result.{os.getpid()}.json.tmp'
        tmp.write_text(json.dumps(result))
        tmp.rename(out_dir / f'result.{os.getpid()}.json')
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    if camera_node is not None:
        threading.Thread(target=capture, daemon=True).start()
    # spin_once in a loop, not spin(): with rclpy 9.1 (Kilted) EventsExecutor.spin()
    # keeps the GIL busy and the capture and watcher threads never run
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.1)
    time.sleep(5)     # the watcher writes the results and ends the process
    return 0


# ----------------------------------------------------------------------- parent side


def run_floor(mode: str, fps: float, duration_s: float, out: Path, *, width_px: int = 256,
              height_px: int = 256, rt_priority: int = 0, taskset: str | None = None) -> dict:
    """One measured floor run of `mode`; its figures (per hop latency, lost frames,
    CPU % of one core and RSS per process, the scheduling policy of each)."""
    if mode not in MODES:
        raise ValueError(f'floor mode {mode!r}; allowed: {", ".join(MODES)}')
    from clopy.rosenv import DomainLease
    run_dir = out / f'floor_{mode}_{fps:g}fps_{uuid.uuid4().hex[:6]}'
    run_dir.mkdir(parents=True)
    lease = DomainLease(label='bench_floor')
    domain_id = lease.acquire()
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    prefix = f'floor_{uuid.uuid4().hex[:8]}/'
    executor = 'default' if mode == 'separate-default' else 'events'
    groups = [list(ROLES)] if mode.startswith('composed') else [[r] for r in ROLES]
    base = [sys.executable, str(Path(__file__).resolve()), '--child', '--executor', executor,
            '--prefix', prefix, '--fps', str(fps), '--width-px', str(width_px), '--height-px', str(height_px),
            '--rt-priority', str(rt_priority), '--run-dir', str(run_dir)]
    wrap = ['taskset', '-c', taskset] if taskset else []
    procs = []
    # the camera last, like clopy run: every subscriber is up when frames start
    for roles in sorted(groups, key=lambda g: 'camera' in g):
        log = open(run_dir / f'{"_".join(roles)}.log', 'w')
        procs.append(subprocess.Popen(wrap + base + ['--roles', *roles], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    info: dict = {'mode': mode, 'fps': fps, 'duration_s': duration_s, 'width_px': width_px,
                  'height_px': height_px, 'rt_priority': rt_priority, 'taskset': taskset,
                  'domain_id': domain_id, 'run_dir': str(run_dir)}
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while len(list(run_dir.glob('ready.*'))) < len(procs) and time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            time.sleep(0.2)
        info['ready'] = len(list(run_dir.glob('ready.*'))) == len(procs)
        time.sleep(1.0)
        before = {p.pid: proc_cpu_rss(p.pid) for p in procs}
        t0_mono, t0_ns = time.monotonic(), time.time_ns()
        time.sleep(duration_s)
        after = {p.pid: proc_cpu_rss(p.pid) for p in procs}
        wall_s = time.monotonic() - t0_mono
        t1_ns = time.time_ns()
        (run_dir / 'stop').write_text('')
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        lease.release()
    clk = os.sysconf('SC_CLK_TCK')
    results = []
    for f in sorted(run_dir.glob('result.*.json')):
        results.append(json.loads(f.read_text()))
    in_window = lambda s: t0_ns <= s < t1_ns   # noqa: E731
    published = [s for r in results for s in r['published'] if in_window(s)]
    info['frames_published'] = len(published)
    info['latency'] = {}
    info['lost'] = {}
    for role, key in HOPS.items():
        recs = [(s, lat) for r in results for s, lat in r['records'].get(role, []) if in_window(s)]
        info['latency'][key] = pct([lat / 1e6 for _, lat in recs])
        info['lost'][key] = len(published) - len({s for s, _ in recs})
    info['processes'] = {}
    total = 0.0
    for r in results:
        pid = r['pid']
        b, a = before.get(pid), after.get(pid)
        cpu = round(100.0 * (a[0] - b[0]) / clk / wall_s, 1) if a and b else None
        total += cpu or 0.0
        info['processes'][','.join(r['roles'])] = {'pid': pid, 'cpu_pct': cpu,
                                                    'rss_mb': round(a[1] / 2**20, 1) if a else None,
                                                    'policy': r['policy']}
    info['cpu_all_pct'] = round(total, 1)
    info['rss_all_mb'] = round(sum(p['rss_mb'] or 0 for p in info['processes'].values()), 1)
    info['complete'] = len(results) == len(procs)
    return info


def print_floor(r: dict) -> None:
    print(f"\n--- floor {r['mode']}, {r['fps']:g} fps, {r['width_px']}x{r['height_px']}, {r['duration_s']:g} s"
          f"{', taskset ' + r['taskset'] if r.get('taskset') else ''}"
          f"{'' if r.get('complete') else '  (INCOMPLETE: a process left no result; see ' + r['run_dir'] + ')'}")
    print(f"{'latency (frame stamp ->)':<34}{'n':>6}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'lost':>6}")
    for key, s in r['latency'].items():
        print(f"{key:<34}{s['n']:>6}{_f(s['p50_ms']):>8}{_f(s['p99_ms']):>8}{_f(s['max_ms']):>8}"
              f"{r['lost'][key]:>6}")
    print(f"frames published in the window {r['frames_published']}; CPU all {r['cpu_all_pct']} % of one core, "
          f"RSS {r['rss_all_mb']} MB")
    for name, p in r['processes'].items():
        print(f"  {name:<28} CPU {_f(p['cpu_pct'], 1):>6} %  RSS {_f(p['rss_mb'], 1):>7} MB  {p['policy']}")


def _f(x, digits=2) -> str:
    return '-' if x is None else f'{x:.{digits}f}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--fps', type=float, nargs='+', default=[30.0])
    parser.add_argument('--duration-s', type=float, default=60.0, help='measured time per mode and rate (s)')
    parser.add_argument('--width-px', type=int, default=256)
    parser.add_argument('--height-px', type=int, default=256)
    parser.add_argument('--rt-priority', type=int, default=0, metavar='N',
                        help='SCHED_FIFO priority N (1-99) for every floor process, where permitted')
    parser.add_argument('--taskset', metavar='CPUS', help='confine the floor processes to these cores (taskset -c)')
    parser.add_argument('--out', type=Path, default=Path('/tmp/clopy-bench-floor'))
    # the child side (started by run_floor)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--roles', nargs='+', choices=ROLES, help=argparse.SUPPRESS)
    parser.add_argument('--executor', choices=['default', 'events'], help=argparse.SUPPRESS)
    parser.add_argument('--prefix', help=argparse.SUPPRESS)
    parser.add_argument('--run-dir', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args)
    if args.taskset and shutil.which('taskset') is None:
        parser.error('--taskset needs the taskset command (util-linux)')
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for fps in args.fps:
        for mode in args.modes:
            r = run_floor(mode, fps, args.duration_s, args.out, width_px=args.width_px, height_px=args.height_px,
                          rt_priority=args.rt_priority, taskset=args.taskset)
            print_floor(r)
            runs.append(r)
    out_json = args.out / 'floor_results.json'
    out_json.write_text(json.dumps({'argv': sys.argv, 'runs': runs}, indent=2) + '\n')
    print(f'\nresults: {out_json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
