#!/usr/bin/env python3
"""Cost of pose models through DeepLabCut-Live, per frame, in one process (no ROS):
what the pose node spends on each frame before it publishes. It prints figures;
it is not a test.

    source scripts/env.sh            # after ./clopy.sh setup --dlc
    scripts/bench_pose.py [--models synthetic resnet10t resnet50] [--frames 100]
                          [--device cpu] [--size 640x320] [--resize 1.0 0.5]
                          [--runtime torch onnxruntime] [--out results.json]

Each model is written with clopy_sim.marker_model / clopy_signal.dlc_models (as `clopy pose-model`
does) and loaded through clopy_signal.dlc_backend as the pose node loads it:
`synthetic` is the synthetic-marker tracker; any other name is DeepLabCut's
bottom-up ResNet with that timm backbone, untrained (DeepLabCut's default is
resnet50). Frames come from the synthetic behaviour camera (640x320 BGR, or
--size), rendered before timing. For each model, resize factor and runtime
(pose.runtime; torch: dlclive as it is, onnxruntime: clopy_signal.dlc_onnx): the
load time (for onnxruntime it includes the one-off ONNX export, into a fresh cache),
the first frame, then --frames frames timed with perf_counter (dlclive's
preprocessing, the network, the heatmap predictor; the runtimes take turns frame by
frame, so a busy machine slows them alike), as p50/p99 ms, the frame rate
that p50 allows, the speed-up of p50 over torch's, and the largest difference of
the poses from torch's on the same frames (px, likelihood, and how many frames
differ by more than 0.5 px). The load average is printed before and after (the
figures are only as quiet as the machine). Each model runs in a fresh process of
this script (--one); its peak RSS is in the JSON. torch's and onnxruntime's
intra-op threads default to the cores of the machine; the pose node runs with the
same defaults.
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


class _Log:
    """The backend's logger: its lines go to stderr (the export time among them)."""

    def info(self, text) -> None:
        print(text, file=sys.stderr)

    warning = info


def measure(name: str, folder: Path, frames, device: str, resizes, runtimes) -> list[dict]:
    """Each resize, each runtime: the model loaded through clopy_signal.dlc_backend as the
    pose node loads it (with pose.runtime), then the timed frames; poses kept to compare
    the runtimes against torch."""
    import numpy as np

    from clopy_signal import dlc_models
    from clopy_signal.dlc_backend import DlcLiveBackend, load_dlclive
    from clopy_signal.speed import BODY_PARTS
    from clopy_sim.marker_model import build_synthetic_marker_model
    load_dlclive('pytorch')   # dlclive imports through clopy_signal.dlc_import (torchvision's step)
    path = folder / f'{name}.pt'
    if name == 'synthetic':
        build_synthetic_marker_model(path)
    else:
        dlc_models.build_resnet_model(path, list(BODY_PARTS), name)
    os.environ['CLOPY_ONNX_CACHE'] = str(folder / 'onnx')   # a fresh cache: the export is measured
    runs = []
    for resize in resizes:
        backends, loaded = {}, {}
        for runtime in runtimes:
            t0 = time.perf_counter()
            backends[runtime] = DlcLiveBackend(str(path), 'pytorch', device, resize, list(BODY_PARTS), _Log(),
                                               runtime=runtime)
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            first = backends[runtime](frames[0], 0)
            loaded[runtime] = (load_s, time.perf_counter() - t0, first)
        # the runtimes take turns frame by frame, so each sees the same load from the rest of the machine
        times_ms = {runtime: [] for runtime in runtimes}
        poses = {runtime: [loaded[runtime][2]] for runtime in runtimes}
        for k, frame in enumerate(frames[1:], 1):
            for runtime in runtimes:
                t0 = time.perf_counter()
                poses[runtime].append(backends[runtime](frame, k))
                times_ms[runtime].append((time.perf_counter() - t0) * 1e3)
        for runtime in runtimes:
            stats = percentiles(times_ms[runtime])
            load_s, first_s, first = loaded[runtime]
            run = {'model': name, 'resize': resize, 'runtime': runtime,
                   'file_mb': round(path.stat().st_size / 2**20, 1),
                   'load_s': round(load_s, 3), 'first_frame_s': round(first_s, 3), 'get_pose': stats,
                   'max_fps_at_p50': round(1000.0 / stats['p50_ms'], 1), 'pose_shape': list(first.shape)}
            if 'torch' in poses and runtime != 'torch':
                diff = np.abs(np.stack(poses[runtime]) - np.stack(poses['torch']))
                run['max_diff_px'] = float(diff[..., :2].max())
                run['max_diff_likelihood'] = float(diff[..., 2].max())
                run['frames_over_0_5_px'] = int((diff[..., :2].max(axis=(1, 2)) > 0.5).sum())
            runs.append(run)
        del backends
    for run in runs:
        run['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    return runs


def print_row(r: dict) -> None:
    g = r['get_pose']
    ratio = f"{r['speedup']:.2f}x" if 'speedup' in r else ''
    diff = (f"{r['max_diff_px']:.2g} / {r['max_diff_likelihood']:.1g} ({r['frames_over_0_5_px']})"
            if 'max_diff_px' in r else '')
    print(f"{r['model']:<11}{r['resize']:>7g}  {r['runtime']:<12}{r['load_s']:>7.2f}{r['first_frame_s']:>7.2f}"
          f"{g['p50_ms']:>8.1f}{g['p99_ms']:>8.1f}{r['max_fps_at_p50']:>8.1f}{ratio:>9}  {diff}", flush=True)


def main() -> int:
    from clopy_signal.dlc_backend import RUNTIMES
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=['synthetic', 'resnet10t', 'resnet50'])
    parser.add_argument('--frames', type=int, default=100, help='timed frames per model (after the first)')
    parser.add_argument('--device', default='cpu', help='torch device: cpu | cuda')
    parser.add_argument('--size', default='640x320', help='frame size WxH (the original CLMF crop: 640x320)')
    parser.add_argument('--resize', type=float, nargs='+', default=[1.0],
                        help="dlclive's resize factors (pose.resize), each in (0, 1]")
    parser.add_argument('--runtime', nargs='+', default=['torch'], choices=RUNTIMES,
                        help='pose.runtime values, side by side (torch first: the others are compared with it)')
    parser.add_argument('--one', metavar='MODEL', help=argparse.SUPPRESS)   # one model, in this process
    parser.add_argument('--out', type=Path, help='also write the figures to this JSON file')
    args = parser.parse_args()
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        parser.error(f'--size {args.size!r}: allowed is WIDTHxHEIGHT, e.g. 640x320')
    if not all(0 < r <= 1 for r in args.resize):
        parser.error(f'--resize {args.resize}: each must be in (0, 1]')
    if args.frames < 10:
        parser.error('--frames must be >= 10')
    runtimes = sorted(set(args.runtime), key=lambda r: (r != 'torch', args.runtime.index(r)))
    import torch
    if args.one:
        from clopy_sim.synthetic_behaviour import SyntheticBehaviourSource
        source = SyntheticBehaviourSource(seed=1, width_px=width, height_px=height, bout_rate_hz=0.5)
        frames = [source.frame_at(i) for i in range(args.frames + 1)]
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(args.one, Path(tmp), frames, args.device, args.resize, runtimes)
        args.out.write_text(json.dumps(r) + '\n')
        return 0
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('model name')), platform.processor())
    versions = {'torch': torch.__version__}
    if 'onnxruntime' in runtimes:
        import onnxruntime
        versions['onnxruntime'] = onnxruntime.__version__
    load_before = os.getloadavg()
    results = {'date': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds'),
               'machine': {'cpu': cpu, 'cores': os.cpu_count(), **versions,
                           'torch_threads': torch.get_num_threads(), 'device': args.device,
                           'python': platform.python_version()},
               'frame_size_px': [width, height], 'load_average_before': load_before, 'runs': []}
    print(f"{results['date']}  {cpu}, {os.cpu_count()} cores, "
          + ', '.join(f'{k} {v}' for k, v in versions.items())
          + f" ({torch.get_num_threads()} torch threads), device {args.device}, frames {width}x{height}, "
          f"{args.frames} timed frames each")
    print('load average (1, 5, 15 min) before: ' + ' '.join(f'{v:.2f}' for v in load_before))
    print(f"{'model':<11}{'resize':>7}  {'runtime':<12}{'load s':>7}{'1st s':>7}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'fps@p50':>8}{'speed-up':>9}  max diff vs torch: px / likelihood (frames > 0.5 px)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            one = Path(tmp) / f'{name}.json'
            cmd = [sys.executable, __file__, '--one', name, '--frames', str(args.frames), '--device', args.device,
                   '--size', args.size, '--resize', *map(str, args.resize), '--runtime', *runtimes,
                   '--out', str(one)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f'{name:<11}failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}',
                      file=sys.stderr)
                continue
            for r in json.loads(one.read_text()):
                base = next((b for b in results['runs'] + [r] if b['model'] == r['model']
                             and b['resize'] == r['resize'] and b['runtime'] == 'torch'), None)
                if base is not None and r['runtime'] != 'torch':
                    r['speedup'] = base['get_pose']['p50_ms'] / r['get_pose']['p50_ms']
                results['runs'].append(r)
                print_row(r)
    results['load_average_after'] = os.getloadavg()
    print('load average (1, 5, 15 min) after: ' + ' '.join(f'{v:.2f}' for v in results['load_average_after']))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + '\n')
        print(f'results: {args.out}')
    return 0 if results['runs'] else 1


if __name__ == '__main__':
    sys.exit(main())
