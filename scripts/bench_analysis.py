"""Analysis of a recorded session for scripts/bench_clnf.py: latency
percentiles, dropped frames and camera pacing from the session bag.

It reads the session bag (clopy_data.bag.read_bag) and computes:

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
"""
from __future__ import annotations

import bisect
import re
from pathlib import Path

DRAIN_S = 0.5              # clopy run: pause between stopping the camera and roi_dff


def camera_log_text(session_dir: Path) -> str:
    """The camera node's log: logs/camera.log when the camera ran in its own process,
    else the log of the composed process that hosted it (every logs/*.log holding a
    '[camera]' line; composed mode)."""
    logs = session_dir / 'logs'
    try:
        return (logs / 'camera.log').read_text(errors='replace')
    except OSError:
        pass
    parts = []
    for path in sorted(logs.glob('*.log')) if logs.is_dir() else []:
        try:
            text = path.read_text(errors='replace')
        except OSError:
            continue
        if '[camera]' in text:
            parts.append(text)
    return '\n'.join(parts)


def pct(values_ms: list[float]) -> dict:
    import numpy as np
    if not values_ms:
        return {'n': 0, 'p50_ms': None, 'p99_ms': None, 'max_ms': None, 'min_ms': None}
    a = np.asarray(values_ms, dtype=float)
    return {'n': int(a.size), 'p50_ms': round(float(np.percentile(a, 50)), 3),
            'p99_ms': round(float(np.percentile(a, 99)), 3), 'max_ms': round(float(a.max()), 3),
            'min_ms': round(float(a.min()), 3)}


def analyse(session_dir: Path, stop_wall_s: float, timeline: list[tuple[float, float]], fps: float,
            quiet_others_pct: float) -> dict:
    """The bag figures of one session; `timeline` is Sampler.timeline and a
    latency counts as 'quiet' when its frame was stamped in a second in which
    processes outside the session used less than `quiet_others_pct` % of one core."""
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
    m = re.findall(r'(\d+) frames published, (\d+) dropped', camera_log_text(session_dir))
    if m:
        published, dropped_logged = int(m[-1][0]), int(m[-1][1])
    # Other work on the machine: the CPU that processes outside the session used
    # during the second each frame was stamped in (see Sampler.timeline).
    times = [t for t, _ in timeline]

    def others_at(stamp_ns: int) -> float | None:
        i = bisect.bisect_left(times, stamp_ns / 1e9)
        return timeline[i][1] if i < len(timeline) else None

    def split(events: list[tuple[int, float]]) -> dict:
        quiet = [lat for st, lat in events if (o := others_at(st)) is not None and o < quiet_others_pct]
        busy = [lat for st, lat in events if (o := others_at(st)) is not None and o >= quiet_others_pct]
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
