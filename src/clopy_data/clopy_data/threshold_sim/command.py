"""The ``threshold`` command (``clopy threshold``, ``python -m clopy_data threshold``)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from clopy_data.threshold_sim.inputs import (DEFAULT_BASELINE_N, DEFAULT_THRESHOLDS, OUT_NAME, ThresholdSimError,
                                             load_recording)
from clopy_data.threshold_sim.report import (baseline_threshold, format_table, parse_grid, recommend,
                                             supra_per_min, write_csv, write_plot)
from clopy_data.threshold_sim.simulation import _probe, simulate

DESCRIPTION = ('What a recorded session would have given at other thresholds: the control signal replayed '
               'through the session\'s task file once per threshold (docs/threshold.md).')


def add_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser('threshold', help='offline threshold simulation over a recorded signal',
                              description=DESCRIPTION)
    p.add_argument('input', type=Path, metavar='SESSION_OR_BAG_OR_TABLE')
    p.add_argument('--thresholds', default=DEFAULT_THRESHOLDS, metavar='LO:HI:STEP',
                   help=f'starting thresholds, HI included (default {DEFAULT_THRESHOLDS})')
    p.add_argument('--target-rate', type=float, metavar='R', help='recommend the threshold closest to R rewards/min')
    p.add_argument('--adaptive', choices=('on', 'off'), help='adaptive threshold rule (default: as in the session)')
    p.add_argument('--baseline-n', type=float, default=DEFAULT_BASELINE_N, metavar='N',
                   help='baseline rule: at most N supra-threshold frames per minute (default 2)')
    p.add_argument('--out', type=Path, help='output folder (default: SESSION/threshold_sim/)')
    p.add_argument('--exact', action='store_true', help='run the task engine for every threshold')
    p.add_argument('--jobs', type=int, help='worker processes for the engine (default: CPU count)')
    p.add_argument('--column', help='frame-table column holding the control signal')
    p.add_argument('--frame-rate', type=float, metavar='HZ', help='nominal frame rate (default: parameters.yaml)')
    p.add_argument('--set', dest='sets', action='append', default=[], metavar='NAME=VALUE',
                   help='task variable override, e.g. max_trial_s=20 (repeatable)')
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ThresholdSimError as exc:
        print(f'clopy threshold: {exc}', file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.baseline_n < 0 or not math.isfinite(args.baseline_n):
        raise ThresholdSimError(f'--baseline-n {args.baseline_n}: allowed: a number >= 0 (frames/min)')
    if args.target_rate is not None and not (math.isfinite(args.target_rate) and args.target_rate >= 0):
        raise ThresholdSimError(f'--target-rate {args.target_rate}: allowed: a number >= 0 (rewards/min)')
    if args.jobs is not None and args.jobs < 1:
        raise ThresholdSimError(f'--jobs {args.jobs}: allowed: an integer >= 1')
    thresholds = parse_grid(args.thresholds)
    rec = load_recording(args.input, column=args.column, frame_rate_hz=args.frame_rate, sets=args.sets)
    adaptive = None if args.adaptive is None else args.adaptive == 'on'
    results, mode = simulate(rec, thresholds, adaptive=adaptive, exact=args.exact, jobs=args.jobs)
    supra = supra_per_min(rec, thresholds)
    base = baseline_threshold(thresholds, supra, args.baseline_n)
    best = recommend(results, args.target_rate) if args.target_rate is not None else None
    out = args.out
    if out is None:
        out = (rec.session_dir if rec.session_dir is not None else Path(args.input).resolve().parent) / OUT_NAME
    out.mkdir(parents=True, exist_ok=True)
    probe = _probe(rec, thresholds[0], adaptive)
    print(f'{rec.source}: {rec.stamps_s.size} frames of {rec.column}, {rec.minutes:.2f} min at '
          f'{rec.frame_rate_hz:g} Hz; task {rec.task_path} ({mode})')
    keys = ('session_type', 'initial_rest_s', 'max_trial_s', 'success_rest_s', 'fail_rest_s', 'total_trials',
            'reward_delay_s', 'adaptive_threshold', 'threshold_step', 'threshold_floor', 'adapt_window_s')
    print('task variables: ' + ', '.join(f'{k}={probe[k]}' for k in keys if k in probe))
    for note in rec.notes:
        print(f'note: {note}')
    if probe.get('session_type') == 'no_reward':
        print('note: no_reward session: no valve pulses, so rewards are 0; '
              '--set session_type=graded simulates rewarded sessions')
    marks: dict[float, str] = {}
    if base is not None:
        marks[base] = f'baseline (<= {args.baseline_n:g} supra-threshold frames/min)'
    if best is not None:
        marks[best.threshold] = (marks.get(best.threshold, '') + ('; ' if best.threshold in marks else '')
                                 + f'recommended for {args.target_rate:g} rewards/min')
    print(format_table(results, supra, marks))
    if base is None:
        print(f'baseline: no threshold up to {thresholds[-1]:g} has <= {args.baseline_n:g} '
              'supra-threshold frames/min')
    else:
        print(f'baseline threshold: {base:g} (first with <= {args.baseline_n:g} supra-threshold frames/min)')
    if best is not None:
        print(f'recommended threshold: {best.threshold:g} ({best.rewards_per_min:.3f} rewards/min, '
              f'success rate {best.success_rate:.3f}; target {args.target_rate:g}/min)')
    csv_path, png_path = out / f'{OUT_NAME}.csv', out / f'{OUT_NAME}.png'
    write_csv(csv_path, results, supra)
    title = f'{rec.source} ({rec.column}); {mode.split(":")[0]} simulation of {len(thresholds)} thresholds'
    write_plot(png_path, results, title, baseline=base, recommended=best, target=args.target_rate)
    print(f'wrote {csv_path} and {png_path} in {time.perf_counter() - started:.2f} s')
    return 0


def main(argv: list[str] | None = None) -> int:
    """``threshold ARGS``: parse ``argv`` (default: sys.argv[1:]) and run; returns the exit code."""
    parser = argparse.ArgumentParser(prog='clopy')
    add_command(parser.add_subparsers(dest='command', required=True))
    args = parser.parse_args(['threshold', *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)
