#!/usr/bin/env python3
"""Benchmark of the offline threshold simulation: 100 starting thresholds over a
45-minute, 15 fps synthetic dF/F recording (40,500 frames) with the packaged CLNF
task (graded session, adaptive threshold on, the task's defaults). It prints
figures; it is not a test (it never fails on a figure).

    source scripts/env.sh
    scripts/bench_threshold.py [--minutes 45] [--fps 15] [--jobs N] [--compare 5]

The recording: AR(1) noise (rho 0.95, sd 0.006 dF/F per frame) plus calcium-like
transients (about 4 per minute, amplitude 0.03-0.15 dF/F, rise 0.2 s, decay 1 s), a
few invalid frames and two dropped frame indices per minute. The grid is the
default 0.002:0.2:0.002 (100 thresholds).

It prints the wall time of `simulate` for the whole grid (the fast run: the task
engine's run_signal, frames where nothing can happen skipped; worker processes = CPU
count unless --jobs), the time per threshold, the CPU count, and then runs
--compare thresholds frame by frame (every frame through process_frame) and checks
the results are identical (trials, outcomes, threshold changes, rewards, duration).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from clopy_data.threshold_sim import parse_grid, simulate, simulate_engine, synthetic_recording

DEFAULT_GRID = '0.002:0.2:0.002'


def synthetic_dff(minutes: float, fps: float, seed: int = 1):
    """(values, stamps_s, frame_index) of a realistic-looking dF/F trace."""
    rng = np.random.default_rng(seed)
    n = int(round(minutes * 60 * fps))
    noise = rng.normal(0.0, 0.006, n)
    x = np.empty(n)
    x[0] = 0.0
    rho = 0.95
    for k in range(1, n):
        x[k] = rho * x[k - 1] + noise[k]
    t = np.arange(n) / fps
    n_events = rng.poisson(4 * minutes)
    kernel_t = np.arange(int(8 * fps)) / fps
    kernel = (1 - np.exp(-kernel_t / 0.2)) * np.exp(-kernel_t / 1.0)
    kernel /= kernel.max()
    for start in rng.integers(0, n, n_events):
        amp = rng.uniform(0.03, 0.15)
        end = min(n, start + kernel.size)
        x[start:end] += amp * kernel[:end - start]
    x[rng.integers(0, n, int(minutes))] = np.nan  # a few invalid frames
    stamps = t + rng.normal(0.0, 0.002, n)
    keep = np.ones(n, bool)
    keep[rng.integers(1, n, int(2 * minutes))] = False  # dropped frames
    return x[keep], np.sort(stamps[keep]), np.arange(n)[keep]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--minutes', type=float, default=45.0)
    p.add_argument('--fps', type=float, default=15.0)
    p.add_argument('--jobs', type=int, default=None, help='worker processes (default: CPU count)')
    p.add_argument('--compare', type=int, default=5, help='thresholds also run frame by frame')
    args = p.parse_args(argv)
    values, stamps, index = synthetic_dff(args.minutes, args.fps)
    rec = synthetic_recording(values, args.fps, stamps_s=stamps, frame_index=index,
                              variables={'total_trials': 1000})
    grid = parse_grid(DEFAULT_GRID)
    print(f'python {platform.python_version()}, {os.cpu_count()} CPUs '
          f'(usable: {len(os.sched_getaffinity(0))}), jobs={args.jobs or os.cpu_count()}')
    print(f'recording: {values.size} frames, {args.minutes:g} min at {args.fps:g} fps; '
          f'{len(grid)} thresholds {DEFAULT_GRID}; task {rec.task_path.name} (adaptive on)')
    started = time.perf_counter()
    results, mode = simulate(rec, grid, jobs=args.jobs)
    wall_s = time.perf_counter() - started
    print(f'fast run ({mode}):')
    print(f'  wall {wall_s:.2f} s for {len(grid)} thresholds, {1000 * wall_s / len(grid):.1f} ms '
          f'per threshold')
    trials = [r.trials for r in results]
    print(f'  trials per threshold {min(trials)}-{max(trials)}, successes '
          f'{min(r.successes for r in results)}-{max(r.successes for r in results)}')
    picks = np.linspace(0, len(grid) - 1, max(1, args.compare)).round().astype(int)
    identical = True
    slow_s = 0.0
    for k in sorted(set(picks.tolist())):
        t0 = time.perf_counter()
        exact = simulate_engine(rec, grid[k], exact=True)
        slow_s += time.perf_counter() - t0
        fast = results[k]
        same = (fast.outcomes, fast.threshold_changes, fast.rewards, fast.duration_s,
                fast.final_threshold) == (exact.outcomes, exact.threshold_changes, exact.rewards,
                                          exact.duration_s, exact.final_threshold)
        identical &= same
        print(f'  threshold {grid[k]:g}: {exact.trials} trials, {exact.successes} successes, '
              f'{len(exact.threshold_changes)} threshold changes; frame by frame '
              f'{"identical" if same else "DIFFERENT"}')
    n = len(set(picks.tolist()))
    print(f'frame by frame: {slow_s / n:.2f} s per threshold (one process); '
          f'results {"identical" if identical else "NOT identical"}')
    return 0 if identical else 1


if __name__ == '__main__':
    sys.exit(main())
