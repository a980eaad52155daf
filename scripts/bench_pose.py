#!/usr/bin/env python3
"""Cost of pose models through DeepLabCut-Live, per frame, in one process (no ROS):
what the pose node spends on each frame before it publishes. It prints figures;
it is not a test.

    source scripts/env.sh            # after ./clopy.sh setup --dlc
    scripts/bench_pose.py [--models synthetic resnet10t resnet50] [--frames 100]
                          [--device cpu] [--size 640x320] [--resize 1.0]
                          [--out results.json]

Each model is written with clopy_sim.marker_model / clopy_signal.dlc_models (as `clopy pose-model`
does) and loaded through clopy_signal.dlc_backend:
`synthetic` is the synthetic-marker tracker; any other name is DeepLabCut's
bottom-up ResNet with that timm backbone, untrained (DeepLabCut's default is
resnet50). Frames come from the synthetic behaviour camera (640x320 BGR, or
--size), rendered before timing. For each model: dlclive load time, the first
frame (init_inference: builds and warms the network), then --frames calls of
get_pose timed with perf_counter (dlclive's preprocessing, the network, the
heatmap predictor), as p50/p95/p99/max ms and the frame rate that p50 allows;
the peak RSS of the process. Each model runs in a fresh process of this script
(--one), so its memory figure is its own. torch's intra-op threads default to
the cores of the machine (shown); the pose node runs with the same default.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def percentiles(values_ms):
    import numpy as np
    a = np.asarray(values_ms)
    return {'n': int(a.size), 'p50_ms': float(np.percentile(a, 50)), 'p95_ms': float(np.percentile(a, 95)),
            'p99_ms': float(np.percentile(a, 99)), 'max_ms': float(a.max())}


def measure(name: str, folder: Path, frames, device: str, resize: float) -> dict:
    from clopy_signal import dlc_models
    from clopy_signal.dlc_backend import load_dlclive
    from clopy_signal.speed import BODY_PARTS
    from clopy_sim.marker_model import build_synthetic_marker_model
    dlclive_class, _ = load_dlclive('pytorch')
    path = folder / f'{name}.pt'
    if name == 'synthetic':
        build_synthetic_marker_model(path)
    else:
        dlc_models.build_resnet_model(path, list(BODY_PARTS), name)
    t0 = time.perf_counter()
    live = dlclive_class(str(path), model_type='pytorch', device=device, resize=resize)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    live.init_inference(frames[0])
    first_s = time.perf_counter() - t0
    times_ms = []
    for frame in frames[1:]:
        t0 = time.perf_counter()
        pose = live.get_pose(frame)
        times_ms.append((time.perf_counter() - t0) * 1e3)
    stats = percentiles(times_ms)
    return {'model': name, 'resize': resize, 'file_mb': round(path.stat().st_size / 2**20, 1), 'load_s': round(load_s, 3),
            'first_frame_s': round(first_s, 3), 'get_pose': stats,
            'max_fps_at_p50': round(1000.0 / stats['p50_ms'], 1), 'pose_shape': list(pose.shape),
            'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=['synthetic', 'resnet10t', 'resnet50'])
    parser.add_argument('--frames', type=int, default=100, help='timed frames per model (after the first)')
    parser.add_argument('--device', default='cpu', help='torch device: cpu | cuda')
    parser.add_argument('--size', default='640x320', help='frame size WxH (the original CLMF crop: 640x320)')
    parser.add_argument('--resize', type=float, default=1.0,
                        help="dlclive's resize factor (pose.resize), (0, 1]")
    parser.add_argument('--one', metavar='MODEL', help=argparse.SUPPRESS)   # one model, in this process
    parser.add_argument('--out', type=Path, help='also write the figures to this JSON file')
    args = parser.parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        parser.error(f'--size {args.size!r}: allowed is WIDTHxHEIGHT, e.g. 640x320')
    if not 0 < args.resize <= 1:
        parser.error('--resize must be in (0, 1]')
    if args.frames < 10:
        parser.error('--frames must be >= 10')
    import torch
    if args.one:
        from clopy_sim.synthetic_behaviour import SyntheticBehaviourSource
        source = SyntheticBehaviourSource(seed=1, width_px=width, height_px=height, bout_rate_hz=0.5)
        frames = [source.frame_at(i) for i in range(args.frames + 1)]
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(args.one, Path(tmp), frames, args.device, args.resize)
        args.out.write_text(json.dumps(r) + '\n')
        return 0
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('model name')), platform.processor())
    results = {'date': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds'),
               'machine': {'cpu': cpu, 'cores': os.cpu_count(), 'torch': torch.__version__,
                           'torch_threads': torch.get_num_threads(), 'device': args.device,
                           'python': platform.python_version()},
               'frame_size_px': [width, height], 'runs': []}
    print(f"{results['date']}  {cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), device {args.device}, frames {width}x{height}, resize {args.resize:g}")
    print(f"{'model':<12}{'file MB':>8}{'load s':>8}{'1st s':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
          f"{'max ms':>8}{'fps@p50':>8}{'RSS MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            one = Path(tmp) / f'{name}.json'
            cmd = [sys.executable, __file__, '--one', name, '--frames', str(args.frames), '--device', args.device,
                   '--size', args.size, '--resize', str(args.resize), '--out', str(one)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f'{name:<12}failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}',
                      file=sys.stderr)
                continue
            r = json.loads(one.read_text())
            results['runs'].append(r)
            g = r['get_pose']
            print(f"{name:<12}{r['file_mb']:>8.1f}{r['load_s']:>8.2f}{r['first_frame_s']:>7.2f}{g['p50_ms']:>8.1f}"
                  f"{g['p95_ms']:>8.1f}{g['p99_ms']:>8.1f}{g['max_ms']:>8.1f}{r['max_fps_at_p50']:>8.1f}"
                  f"{r['peak_rss_mb']:>8.0f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + '\n')
        print(f'results: {args.out}')
    return 0 if results['runs'] else 1


if __name__ == '__main__':
    sys.exit(main())
