#!/usr/bin/env python3
"""Simulated training days with a learning mouse.

Each day is a real simulated CLNF 1-ROI session (`clopy run clnf_1roi --sim`) whose
synthetic cortex raises its target-region activity with every water reward
(`camera.synthetic.learning_per_reward`); the next day starts from the level the
mouse reached. The sessions' reward counts are written as a sessions table in the
original's columns and analysed with `clopy analyze`, so the across-day statistics
run on simulated learning exactly as on real data.

    scripts/simulate_days.py --mice 2 --days 4 --trials 10 --out sim_days

Simulation only: every session uses the synthetic camera, WAV audio and mock pins.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path


def run_day(out: Path, mouse: str, day: int, drive: float, args) -> dict:
    sets = [
        f'camera.synthetic.initial_drive={drive}',
        f'camera.synthetic.learning_per_reward={args.learning_per_reward}',
        f'camera.synthetic.seed={1000 * day + sum(map(ord, mouse))}',
        f'camera.synthetic.target_rate_hz={args.target_rate_hz}',
        'task.v.adaptive_threshold=false',
        f'task.v.initial_rest_s={args.initial_rest_s}', f'task.v.max_trial_s={args.max_trial_s}',
        'task.v.success_rest_s=3.0', 'task.v.fail_rest_s=3.0',
    ]
    cmd = [sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--mouse', mouse,
           '--trials', str(args.trials), '--out', str(out)]
    for s in sets:
        cmd += ['--set', s]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'day {day} of {mouse} failed:\n{result.stdout}\n{result.stderr}')
    with open(out / 'sessions_summary.csv') as f:
        row = list(csv.DictReader(f))[-1]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--mice', type=int, default=2)
    parser.add_argument('--days', type=int, default=4)
    parser.add_argument('--trials', type=int, default=10)
    parser.add_argument('--learning-per-reward', type=float, default=0.5)
    parser.add_argument('--target-rate-hz', type=float, default=0.05,
                        help='extra target-region transients per s at activity level 1')
    parser.add_argument('--initial-rest-s', type=float, default=8.0)
    parser.add_argument('--max-trial-s', type=float, default=10.0)
    parser.add_argument('--out', type=Path, default=Path('sim_days'))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / 'simulated_sessions.csv'
    rows = []
    for m in range(1, args.mice + 1):
        mouse, drive = f'sim{m}', 1.0
        for day in range(1, args.days + 1):
            summary = run_day(args.out, mouse, day, drive, args)
            rewards = int(summary['rewards'])
            rows.append({'mouse_id': mouse, 'day': day, 'rewards': rewards, 'trials': summary['trials'],
                         'group': 'sim', 'initial_activity': round(drive, 3), 'data_path': summary['data_path']})
            print(f'{mouse} day {day}: activity {drive:.2f} -> {rewards}/{summary["trials"]} rewarded', flush=True)
            drive = min(10.0, drive + rewards * args.learning_per_reward)
    with open(table, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f'sessions table: {table}')
    return subprocess.call([sys.executable, '-m', 'clopy.cli', 'analyze', str(table), '--out',
                            str(args.out / 'analysis')])


if __name__ == '__main__':
    raise SystemExit(main())
