"""Tests of clopy_data.threshold_sim: hand-counted answers, fast run == every frame, the command."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from clopy_data.tables import FrameTableWriter
from clopy_data.threshold_sim import (
    ThresholdSimError,
    TrialOutcome,
    baseline_threshold,
    load_recording,
    main,
    packaged_task,
    parse_grid,
    recommend,
    simulate,
    simulate_engine,
    simulate_engine_many,
    supra_per_min,
    synthetic_recording,
)

# A session at 10 fps whose outcomes can be counted by hand: 1 s initial rest, trials of at
# most 4 s, 1 s rests after either outcome, 1 s reward delay (10 frames), no adaptation.
HAND_VARIABLES = dict(initial_rest_s=1.0, max_trial_s=4.0, success_rest_s=1.0, fail_rest_s=1.0,
                      total_trials=1000, adaptive_threshold=False)
GRID = '0.02:0.2:0.02'


def two_level_signal() -> np.ndarray:
    """60 s at 10 fps: 0.05 for 30 s (frames 0-299), then 0.13 (frames 300-599)."""
    return np.r_[np.full(300, 0.05), np.full(300, 0.13)]


def totals(r):
    return (r.trials, r.successes, r.failures, r.rewards)


# Counted by hand. Trials start at whole seconds and the data ends at 59.9 s.
# thr < 0.05: the delayed signal is above threshold everywhere, so every trial succeeds on
#   its first frame: trials at 1, 2, ..., 59 s -> 59 successes (the rest after the last one
#   ends at 60 s, after the data).
# 0.05 <= thr < 0.13: above only from frame 310 (31.0 s). Trials at 1, 6, 11, 16, 21, 26 s time
#   out 4 s later (6 failures); the trial at 31 s succeeds at once, and so do those at 32..59 s
#   (29 successes), 35 trials.
# thr >= 0.13: never above. Trials at 1, 6, ..., 56 s (12); 11 time out, the one at 56 s would
#   time out at 60 s, after the data.
HAND_EXPECTED = {0.02: (59, 59, 0), 0.04: (59, 59, 0), 0.06: (35, 29, 6), 0.08: (35, 29, 6),
                 0.1: (35, 29, 6), 0.12: (35, 29, 6), 0.14: (12, 0, 11), 0.16: (12, 0, 11),
                 0.18: (12, 0, 11), 0.2: (12, 0, 11)}


@pytest.mark.parametrize('exact', [False, True], ids=['fast', 'engine'])
def test_hand_counted_rewards(exact):
    rec = synthetic_recording(two_level_signal(), 10.0, variables=HAND_VARIABLES)
    results, mode = simulate(rec, parse_grid(GRID), exact=exact, jobs=1)
    assert mode.startswith('engine' if exact else 'fast')
    got = {r.threshold: (r.trials, r.successes, r.failures) for r in results}
    assert got == HAND_EXPECTED
    for r in results:
        assert r.rewards == r.successes
        assert r.duration_s == pytest.approx(59.9)
        assert r.rewards_per_min == pytest.approx(r.successes / (59.9 / 60))
        expected_rate = HAND_EXPECTED[r.threshold][1] / sum(HAND_EXPECTED[r.threshold][1:])
        assert r.success_rate == pytest.approx(expected_rate)
    mid = next(r for r in results if r.threshold == 0.06)
    assert [o.outcome for o in mid.outcomes] == ['timeout'] * 6 + ['success'] * 29
    assert mid.outcomes[6] == TrialOutcome(7, 31.0, 31.0, 'success', 310)
    high = next(r for r in results if r.threshold == 0.2)
    assert high.outcomes[-1] == TrialOutcome(12, 56.0, 59.9, 'incomplete', -1)


def test_baseline_and_recommendation_by_hand():
    rec = synthetic_recording(two_level_signal(), 10.0, variables=HAND_VARIABLES)
    grid = parse_grid(GRID)
    # 600 frames over (59.9 - 0 + 0.1) s = 1 min: 600 frames above 0.02-0.04, 300 above
    # 0.06-0.12, none above 0.14 and up
    per_min = supra_per_min(rec, grid)
    assert per_min.tolist() == [600, 600, 300, 300, 300, 300, 0, 0, 0, 0]
    assert baseline_threshold(grid, per_min, 2.0) == 0.14
    assert baseline_threshold(grid, per_min, 300.0) == 0.06
    assert baseline_threshold(grid[:6], per_min[:6], 2.0) is None
    results, _ = simulate(rec, grid)
    # rates: 59.1 (0.02, 0.04), 29.05 (0.06-0.12), 0 (0.14-0.2); 30/min is closest to 29.05,
    # a tie of four thresholds that goes to the highest
    assert recommend(results, 30.0).threshold == 0.12
    assert recommend(results, 59.0).threshold == 0.04
    assert recommend(results, 0.0).threshold == 0.2


@pytest.mark.parametrize('exact', [False, True], ids=['fast', 'engine'])
def test_short_pulse_is_seen_one_reward_delay_later(exact):
    x = np.zeros(200)
    x[50:53] = 0.2  # 5.0-5.2 s
    variables = dict(HAND_VARIABLES, max_trial_s=10.0, total_trials=1)
    rec = synthetic_recording(x, 10.0, variables=variables)
    (r,), _ = simulate(rec, [0.1], exact=exact, jobs=1)
    assert r.outcomes == [TrialOutcome(1, 1.0, 6.0, 'success', 60)]
    assert (r.trials, r.successes, r.failures, r.rewards) == (1, 1, 0, 1)
    assert r.duration_s == 7.0  # the 1 s rest, then 'done' ends the run


def ar_signal(seed: int, n: int, rho: float = 0.97, sd: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sd, n)
    x = np.empty(n)
    x[0] = 0.0
    for k in range(1, n):
        x[k] = rho * x[k - 1] + noise[k]
    return x


def jittered(seed: int, n: int, fps: float):
    """Jittered stamps, a few NaN frames, 30 dropped frame indices."""
    rng = np.random.default_rng(seed)
    x = ar_signal(seed, n)
    x[rng.integers(0, n, 20)] = np.nan
    stamps = np.arange(n) / fps + rng.normal(0.0, 0.003, n)
    keep = np.ones(n, bool)
    keep[rng.integers(0, n, 30)] = False
    return x[keep], stamps[keep], np.arange(n)[keep]


EQUIVALENCE_CASES = {
    # variables, signal: jittered 15 fps (dropped frames, NaN) or exact 10 fps stamps (timer ties)
    'jitter': (dict(initial_rest_s=5.0, max_trial_s=6.0, success_rest_s=2.0, fail_rest_s=3.0,
                    adapt_window_s=7.0, threshold_step=0.005), 'jitter'),
    'jitter-60-trials': (dict(initial_rest_s=5.0, max_trial_s=6.0, success_rest_s=2.0, fail_rest_s=3.0,
                              total_trials=12, adapt_window_s=7.0, threshold_step=0.005), 'jitter'),
    'ties': (dict(initial_rest_s=3.0, max_trial_s=3.0, success_rest_s=3.0, fail_rest_s=3.0,
                  total_trials=7, adapt_window_s=3.0, threshold_step=0.004), 'exact'),
    'clnf-defaults': ({}, 'exact'),
}


@pytest.mark.parametrize('adaptive', [True, False], ids=['adaptive', 'fixed'])
@pytest.mark.parametrize('case', sorted(EQUIVALENCE_CASES))
def test_fast_path_gives_the_engines_trials(case, adaptive):
    variables, kind = EQUIVALENCE_CASES[case]
    variables = dict(variables, adaptive_threshold=adaptive)
    if kind == 'jitter':
        x, stamps, index = jittered(3, 15 * 240, 15.0)
        rec = synthetic_recording(x, 15.0, stamps_s=stamps, frame_index=index, variables=variables)
    else:
        n = 10 * (600 if case == 'clnf-defaults' else 300)
        rec = synthetic_recording(ar_signal(4, n, sd=0.012), 10.0, variables=variables)
    thresholds = [0.01, 0.02, 0.035, 0.05, 0.08]
    fast, mode = simulate(rec, thresholds)
    assert mode.startswith('fast')
    for f, t in zip(fast, thresholds):
        e = simulate_engine(rec, t)
        assert f.outcomes == e.outcomes, f'threshold {t}'
        assert f.threshold_changes == e.threshold_changes, f'threshold {t}'
        assert (totals(f), f.duration_s, f.final_threshold) == (totals(e), e.duration_s, e.final_threshold)
        assert f.outcomes, 'the signal should give trials'
        if adaptive and case != 'ties':
            assert e.threshold_changes, 'the adaptive rule should have moved the threshold'
    outcomes = {o.outcome for r in fast for o in r.outcomes}
    assert {'success', 'timeout'} <= outcomes


def test_any_task_file_runs_through_the_same_engine(tmp_path):
    task = tmp_path / 'clnf_edited.py'
    task.write_text(packaged_task('clnf').read_text() + '\n# edited\n')
    rec = synthetic_recording(two_level_signal(), 10.0, variables=HAND_VARIABLES, task_path=task)
    results, mode = simulate(rec, [0.06, 0.14])
    assert mode.startswith('fast') and 'clnf_edited.py' in mode
    assert [(r.trials, r.successes, r.failures) for r in results] == [HAND_EXPECTED[0.06], HAND_EXPECTED[0.14]]
    assert all(r.mode == 'fast' for r in results)
    rec = synthetic_recording(ar_signal(6, 10 * 300), 10.0,
                              variables=dict(HAND_VARIABLES, session_type='random_reward', random_reward_p=0.05))
    (fast,), _ = simulate(rec, [0.06], jobs=1)
    (exact,), mode = simulate(rec, [0.06], exact=True, jobs=1)
    assert mode.startswith('engine')
    assert fast.outcomes == exact.outcomes and totals(fast) == totals(exact)
    assert fast.successes > 0  # random rewards happened


def test_no_reward_sessions_count_successes_without_rewards():
    rec = synthetic_recording(two_level_signal(), 10.0, variables=dict(HAND_VARIABLES, session_type='no_reward'))
    for exact in (False, True):
        (r,), _ = simulate(rec, [0.06], exact=exact, jobs=1)
        assert (r.successes, r.rewards) == (29, 0)


def test_engine_workers_give_the_same_results():
    rec = synthetic_recording(ar_signal(5, 10 * 120), 10.0, variables=dict(HAND_VARIABLES, adaptive_threshold=True,
                                                                            adapt_window_s=10.0))
    thresholds = [0.01, 0.03, 0.05]
    serial = simulate_engine_many(rec, thresholds, jobs=1)
    parallel = simulate_engine_many(rec, thresholds, jobs=2)
    assert [(r.outcomes, r.threshold_changes, totals(r)) for r in serial] == \
        [(r.outcomes, r.threshold_changes, totals(r)) for r in parallel]


def test_adaptive_switch_overrides_the_session():
    rec = synthetic_recording(two_level_signal(), 10.0, variables=dict(HAND_VARIABLES, adapt_window_s=10.0,
                                                                       threshold_step=0.01))
    (off,), _ = simulate(rec, [0.1], adaptive=False)
    (on,), _ = simulate(rec, [0.1], adaptive=True)
    assert off.threshold_changes == [] and off.final_threshold == 0.1
    # first window (0-10 s): two timeouts, no success -> 0.09 at 10 s
    assert on.threshold_changes[0] == (10.0, 0.09)


def write_session(folder: Path, values: np.ndarray, fps: float, task: dict, roi: str = 'M1_L') -> Path:
    folder.mkdir()
    with FrameTableWriter(folder / 'VideoTimestamp.txt', [roi]) as w:
        for i, x in enumerate(values):
            w.add_row(frame=i, time_s=i / fps, dff={roi: float(x)}, rule_value=None, freq_hz=0,
                      threshold=0.075, reward=0, trial=0, audio=0, lick=0)
    params = {'task': {'ros__parameters': {'task_file': 'clnf', 'frame_rate_hz': fps,
                                           **{f'v.{k}': v for k, v in task.items()}}},
              'roi_dff': {'ros__parameters': {'rule': roi}}}
    (folder / 'parameters.yaml').write_text(yaml.safe_dump(params))
    return folder


def test_command_on_a_session_folder(tmp_path, capsys):
    session = write_session(tmp_path / 'M1_20261121-100000', two_level_signal(), 10.0, HAND_VARIABLES)
    code = main([str(session), '--thresholds', GRID, '--target-rate', '30'])
    out = capsys.readouterr().out
    assert code == 0
    assert 'fast: clnf.py in the task engine' in out
    assert 'baseline threshold: 0.14' in out
    assert 'recommended threshold: 0.12' in out
    folder = session / 'threshold_sim'
    with (folder / 'threshold_sim.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r['threshold']) for r in rows] == parse_grid(GRID)
    assert {float(r['threshold']): (int(r['trials']), int(r['successes']), int(r['failures'])) for r in rows} \
        == HAND_EXPECTED
    assert (folder / 'threshold_sim.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_command_exact_mode_and_out(tmp_path, capsys):
    session = write_session(tmp_path / 's', two_level_signal(), 10.0, HAND_VARIABLES)
    out_dir = tmp_path / 'out'
    code = main([str(session / 'VideoTimestamp.txt'), '--thresholds', '0.06:0.14:0.08',
                     '--exact', '--jobs', '2', '--out', str(out_dir)])
    assert code == 0
    assert 'engine: asked for (--exact)' in capsys.readouterr().out
    with (out_dir / 'threshold_sim.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert [(r['threshold'], r['successes'], r['mode']) for r in rows] == [('0.06', '29', 'engine'),
                                                                            ('0.14', '0', 'engine')]


def test_original_table_and_column_choice(tmp_path):
    table = tmp_path / 'VideoTimestamp.txt'
    x = two_level_signal()
    lines = ['frame\ttime\tBC_Ldff\tBC_Rdff\tBC_L-BC_Rdff\tfreq\trew_threshold\treward\ttrial\taudio\tlick']
    lines += [f'{i}\t{i / 10:.6f}\t0.5\t0.4\t{v}\t0\t0.1\t0\t0\t0\t0' for i, v in enumerate(x)]
    table.write_text('\n'.join(lines) + '\n')
    rec = load_recording(table, sets=[f'{k}={v}' for k, v in HAND_VARIABLES.items()])
    assert rec.column == 'BC_L-BC_Rdff' and rec.frame_rate_hz == 10.0
    assert any('no parameters.yaml' in n for n in rec.notes)
    (r,), _ = simulate(rec, [0.06])
    assert (r.trials, r.successes, r.failures) == HAND_EXPECTED[0.06]
    table.write_text('frame\ttime\tBC_Ldff\tBC_Rdff\n0\t0.0\t0.1\t0.2\n1\t0.1\t0.1\t0.2\n')
    with pytest.raises(ThresholdSimError, match='--column'):
        load_recording(table)
    assert load_recording(table, column='BC_Rdff').values.tolist() == [0.2, 0.2]


def test_grid_and_option_errors(tmp_path, capsys):
    assert parse_grid('0.01:0.05:0.01') == [0.01, 0.02, 0.03, 0.04, 0.05]
    for bad in ('0.1:0.05:0.01', '0:1', 'a:b:c', '0:1:0'):
        with pytest.raises(ThresholdSimError, match='--thresholds'):
            parse_grid(bad)
    assert main([str(tmp_path / 'missing')]) == 2
    assert 'no such session folder' in capsys.readouterr().err
    session = write_session(tmp_path / 's', two_level_signal(), 10.0, HAND_VARIABLES)
    assert main([str(session), '--thresholds', '0:0.1:0.05']) == 2
    assert 'threshold 0.0' in capsys.readouterr().err  # the task refuses a threshold of 0
    assert main([str(session), '--set', 'max_trial_s']) == 2
    assert 'NAME=VALUE' in capsys.readouterr().err


def test_rates_are_per_simulated_minute():
    rec = synthetic_recording(two_level_signal(), 10.0, variables=dict(HAND_VARIABLES, total_trials=10))
    (r,), _ = simulate(rec, [0.02])
    # 10 successes at 1..10 s, then a 1 s rest: the task ends at 11 s
    assert (r.successes, r.duration_s) == (10, 11.0)
    assert math.isclose(r.rewards_per_min, 10 / (11.0 / 60))


@pytest.mark.parametrize('exact', [False, True], ids=['fast', 'engine'])
def test_signal_equal_to_the_threshold_is_not_above_it(exact):
    rec = synthetic_recording(two_level_signal(), 10.0, variables=HAND_VARIABLES)
    (r,), _ = simulate(rec, [0.05], exact=exact, jobs=1)  # the first 30 s are exactly 0.05
    assert (r.trials, r.successes, r.failures) == HAND_EXPECTED[0.06]


@pytest.mark.parametrize('exact', [False, True], ids=['fast', 'engine'])
def test_timers_due_together_fire_in_the_order_they_were_set(exact):
    # Nothing is ever above 1.0: every 3 s trial times out, rests are 3 s, and the 3 s
    # adaptation window lowers the threshold by 0.004 each time. Trials at 3, 9, ..., 39 s;
    # the 7th times out at 42 s and 'done' is due at 45 s together with the 15th adaptation.
    # The adaptation timer was set first (at 42 s, before the rest's timer), so it fires
    # first: 15 steps down.
    variables = dict(initial_rest_s=3.0, max_trial_s=3.0, success_rest_s=3.0, fail_rest_s=3.0,
                     total_trials=7, adaptive_threshold=True, adapt_window_s=3.0, threshold_step=0.004)
    rec = synthetic_recording(np.zeros(10 * 60), 10.0, variables=variables)
    (r,), _ = simulate(rec, [1.0], exact=exact, jobs=1)
    assert (r.trials, r.successes, r.failures, r.duration_s) == (7, 0, 7, 45.0)
    assert len(r.threshold_changes) == 15 and r.threshold_changes[-1][0] == 45.0
    assert r.final_threshold == pytest.approx(1.0 - 15 * 0.004)


def test_session_bag_is_read_from_control_signal(tmp_path):
    from clopy_data.bag import McapBagWriter, typestore_with_clopy
    store = typestore_with_clopy()
    t = store.types
    sig = t['clopy_interfaces/msg/ControlSignal']
    session = write_session(tmp_path / 's', np.zeros(3), 10.0, HAND_VARIABLES)
    (session / 'VideoTimestamp.txt').unlink()  # only the bag: it must be what is read
    t0_ns = 1_795_000_000 * 10**9
    with McapBagWriter(session / 'bag', store) as writer:
        conn = writer.add_topic('control_signal', sig.__msgtype__)
        for i, x in enumerate(two_level_signal()):
            ns = t0_ns + i * 100_000_000
            stamp = t['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9)
            msg = sig(header=t['std_msgs/msg/Header'](stamp=stamp, frame_id='cam'), frame_index=i,
                      value=float(x), units='dff', valid=True, invalid_reason='')
            writer.write_raw(conn, ns, bytes(store.serialize_cdr(msg, sig.__msgtype__)))
    rec = load_recording(session)
    assert rec.column == 'control_signal' and rec.stamps_s.size == 600
    assert rec.stamps_s[0] == 1_795_000_000.0 and rec.frame_rate_hz == 10.0
    results, _ = simulate(rec, [0.02, 0.06, 0.14])
    assert [(r.trials, r.successes, r.failures) for r in results] == \
        [HAND_EXPECTED[0.02], HAND_EXPECTED[0.06], HAND_EXPECTED[0.14]]


@pytest.mark.parametrize('exact', [False, True], ids=['fast', 'engine'])
def test_a_camera_stall_is_taken_out_of_task_time_as_live(exact):
    """The stall rule (clopy_task.stall): a 12 s gap in the stamps inside a trial freezes its
    timer; the trial resumes and the results equal those of the same frames without the gap."""
    import dataclasses
    values = np.zeros(600)
    steady = synthetic_recording(values, 10.0, variables=HAND_VARIABLES)
    stamps = np.arange(600) / 10.0
    stamps[20:] += 12.0                      # frames 0-19 at 0-1.9 s, then nothing for 12 s
    stalled = synthetic_recording(values, 10.0, stamps_s=stamps, variables=HAND_VARIABLES)
    a = simulate_engine(steady, 0.2, exact=exact)
    b = simulate_engine(stalled, 0.2, exact=exact)
    first = b.outcomes[0]   # not timed out by the resuming frame: 4 s of frames later
    assert (first.trial, first.outcome, first.frame_index) == (1, 'timeout', 50)
    assert (first.start_s, first.end_s) == (pytest.approx(1.0), pytest.approx(5.0))
    assert (b.trials, b.failures) == (a.trials, a.failures)
    assert [(o.trial, o.outcome, o.frame_index) for o in b.outcomes] == [(o.trial, o.outcome, o.frame_index)
                                                                        for o in a.outcomes]
    assert b.duration_s == pytest.approx(a.duration_s)
    off = simulate_engine(dataclasses.replace(stalled, stall_after_frames=1000), 0.2, exact=exact)
    assert off.outcomes[0].frame_index == 20       # without the rule the stall ends the trial


def test_the_session_stall_setting_is_read_and_checked(tmp_path):
    session = write_session(tmp_path / 's', two_level_signal(), 10.0, HAND_VARIABLES)
    params = yaml.safe_load((session / 'parameters.yaml').read_text())
    params['task']['ros__parameters']['stall_after_frames'] = 7
    (session / 'parameters.yaml').write_text(yaml.safe_dump(params))
    assert load_recording(session).stall_after_frames == 7
    params['task']['ros__parameters']['stall_after_frames'] = 0
    (session / 'parameters.yaml').write_text(yaml.safe_dump(params))
    with pytest.raises(ThresholdSimError, match='task.stall_after_frames = 0'):
        load_recording(session)
