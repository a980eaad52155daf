"""Sync pulses in a whole simulated session: `clopy run --sim` with reward.sync_pin set
records every pulse (RewardEvent named sync, output TTL) without touching the valve
counts; `clopy align` maps an imaging
computer's TTL log of those pulses (its own clock: offset, drift, jitter, one pulse
missed) onto session time within 1 ms."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from clopy_data.align_io import session_pulses
from clopy_data.bag import read_bag, typestore_with_clopy

SYNC = ['reward.sync_pin=22', 'reward.sync_mean_interval_s=0.4',
        'reward.sync_pulse_s=0.02',
        'task.v.initial_rest_s=3.0', 'task.v.max_trial_s=3.0', 'task.v.fail_rest_s=1.0']


def test_a_simulated_session_records_sync_pulses_that_clopy_align_maps(tmp_path, ros_env):
    cmd = [sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--trials', '1', '--out', str(tmp_path)]
    for s in SYNC:
        cmd += ['--set', s]
    result = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    (d,) = [p.parent for p in tmp_path.glob('*/*/parameters.yaml')]
    events = [m.msg for m in read_bag(d / 'bag', typestore_with_clopy(), topics=['reward_event'])]
    sync = [e for e in events if e.name == 'sync']
    assert len(sync) >= 10, result.stdout
    assert all(e.output == 2 and e.delivered and e.reason == 'sync' and e.duration_s > 0 for e in sync)
    assert all(e.rewards_delivered == 0 for e in sync)
    assert not [e for e in events if e.output == 0], 'sync pulses are no valve openings'
    pulses = session_pulses(d)
    assert len(pulses.times_s) == len(sync) and pulses.t0_from == 'the first frame'

    # the imaging computer's log: its clock runs 150 ppm slow and started 1234.5 s earlier
    other = (pulses.times_s + 1234.5) * (1 - 150e-6) + np.random.default_rng(1).normal(0, 0.0002, len(sync))
    other = np.delete(other, len(other) // 2)
    log = tmp_path / 'imaging_ttl.txt'
    log.write_text(''.join(f'{x:.6f}\n' for x in other))
    align = subprocess.run([sys.executable, '-m', 'clopy.cli', 'align', str(d), str(log)], env=ros_env,
                           capture_output=True, text=True, timeout=120)
    assert align.returncode == 0, align.stdout + align.stderr
    assert f'matched {len(other)} of {len(other)} pulses ({len(sync)} sent)' in align.stdout
    fit = json.loads((d / 'align_imaging_ttl.json').read_text())
    truth = other / (1 - 150e-6) - 1234.5
    rows = (d / 'align_imaging_ttl.csv').read_text().splitlines()[1:]
    mapped = np.array([float(r.split(',')[2]) for r in rows])
    assert np.abs(mapped - truth).max() < 1e-3
    assert fit['unmatched_session'] == 1 and (d / 'align_imaging_ttl.png').is_file()
