"""Whole-graph CLMF test: synthetic behaviour camera -> pose (synthetic ground
truth) -> speed -> task -> tone / reward, started by `clopy run clmf --sim`."""
from __future__ import annotations

import math

import numpy as np
import pytest

from clopy_data.tables import read_frame_table
from test_clnf_graph import bag_messages, clopy_run, session_dir, stamp_s

FPS = 30.0
THRESHOLD = 20.0
STILL_WINDOW_S = 5.0


@pytest.fixture(scope='module')
def clmf_session(tmp_path_factory):
    from clopy.rosenv import DomainLease, loopback_env
    out = tmp_path_factory.mktemp('clmf')
    with DomainLease() as lease:
        result = clopy_run(out, 'clmf', '--sim', '--trials', '3', env=loopback_env(lease.domain_id), timeout=300,
                           sets=['task.v.initial_rest_s=2.0', 'task.v.max_trial_s=10.0', 'task.v.success_rest_s=2.0',
                                 'task.v.fail_rest_s=2.0', '/**.synthetic_behaviour.bout_rate_hz=0.25',
                                 '/**.synthetic_behaviour.seed=4'])
    assert result.returncode == 0, result.stdout + result.stderr
    return session_dir(out)


def test_measured_speed_matches_the_synthetic_ground_truth(clmf_session):
    from clopy_sim.synthetic_behaviour import SyntheticBehaviourSource
    truth = SyntheticBehaviourSource(seed=4, bout_rate_hz=0.25)
    signals = [m for m in bag_messages(clmf_session, 'control_signal') if m.valid]
    assert len(signals) > FPS * 10
    previous = {}
    checked = 0
    for m in signals:
        x, y = truth.ground_truth(m.frame_index)['fl_l']
        if m.frame_index - 1 in previous:
            px, py = previous[m.frame_index - 1]
            # stated tolerance: 1e-3 px/frame (the synthetic pose is the ground truth, sent as float32)
            assert m.value == pytest.approx(math.hypot(x - px, y - py), abs=1e-3)
            checked += 1
        previous[m.frame_index] = (x, y)
    assert checked > 0.9 * len(signals)


def test_rewards_follow_bouts_that_start_after_the_paw_was_still(clmf_session):
    signals = {m.frame_index: m for m in bag_messages(clmf_session, 'control_signal')}
    states = [(m.content, m.frame_index) for m in bag_messages(clmf_session, 'task_event') if m.type == 'state']
    trial_starts = [f for s, f in states if s == 'trial']
    assert len(trial_starts) == 3
    window = int(STILL_WINDOW_S * FPS)
    for start in trial_starts:
        t_start = stamp_s(signals[start].header)
        # the task's window: the valid speeds stamped within the last 5 s
        before = [signals[i].value for i in range(start - window - 2, start + 1)
                  if i in signals and signals[i].valid and stamp_s(signals[i].header) >= t_start - STILL_WINDOW_S]
        assert len(before) > window * 0.5 and np.mean(before) < 1.0, 'a trial starts only after stillness'
    valves = [m for m in bag_messages(clmf_session, 'reward') if m.output == 0]
    assert valves, 'the synthetic mouse moved: some trial was rewarded'
    delay = int(FPS * 1.0)
    for cmd in valves:
        start = max(f for f in trial_starts if f <= cmd.frame_index)
        assert cmd.frame_index > start, 'never rewarded before the trial (and its stillness) began'
        crossing = signals[cmd.frame_index - delay]
        assert crossing.value > THRESHOLD, 'the rewarded speed, one reward delay earlier, is above threshold'
        earlier = [signals[i].value for i in range(start + 1, cmd.frame_index - delay) if i in signals]
        assert all(v <= THRESHOLD for v in earlier), 'rewarded at the first crossing'
    events = [m for m in bag_messages(clmf_session, 'reward_event') if m.output == 0 and m.delivered and not m.opened]
    assert len(events) == len(valves)
    for e in events:
        assert stamp_s(e.off_time) - stamp_s(e.on_time) == pytest.approx(0.1, abs=0.03)


def test_clmf_table_has_the_original_columns(clmf_session):
    table = read_frame_table(clmf_session / 'VideoTimestamp.txt')
    parts = ['snout_front', 'fl_l_front', 'fl_r_front', 'snout_top', 'snout_bottom', 'fl_l', 'fl_r', 'hl_l',
             'hl_r', 'tailbase_bottom', 'tailbase_top']
    expected = ['frame', 'time', 'cj_speed', 'freq', 'reward', 'trial', 'audio', 'lick'] + \
        [f'{p}_{c}' for p in parts for c in ('x', 'y', 'likelihood')]
    assert list(table.columns) == expected
    assert (table.fl_l_likelihood == 1.0).all()
    assert (table.reward == 1).sum() == len([m for m in bag_messages(clmf_session, 'reward') if m.output == 0])
