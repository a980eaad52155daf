"""The CLMF protocol (tasks/clmf.py) run in the engine against synthetic paw speeds."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from clopy_task.engine import RecordingOutputs, TaskEngine, TaskError
from clopy_signal.speed import StillnessDetector as StillnessWindow
from clopy_task.tones import ToneMapper

TASK = Path(__file__).resolve().parents[1] / 'clopy_task' / 'tasks' / 'clmf.py'
FPS = 30.0
T0 = 7000.0  # frame stamps on some arbitrary clock: only differences matter
FRAME_S = 1 / FPS
WINDOW_FRAMES = 151  # 5 s at 30 fps, both ends included


def run_clmf(speed_at, variables=None, max_s=3000.0):
    """Run a session at 30 fps.

    ``speed_at(i, engine)`` gives frame i's speed in px/frame (None = invalid pose); it
    may look at ``engine.state`` (the state before frame i). Returns the engine, the
    outputs and the speeds fed (NaN for invalid frames).
    """
    outputs = RecordingOutputs()
    engine = TaskEngine(TASK, variables, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    speeds = []
    i = 0
    while not engine.stopped and i < max_s * FPS:
        speed = speed_at(i, engine)
        speeds.append(math.nan if speed is None else speed)
        engine.process_frame(T0 + i / FPS, i, 0.0 if speed is None else speed,
                             valid=speed is not None)
        i += 1
    return engine, outputs, np.array(speeds)


def entries(engine, state):
    """Times (s since run start) at which ``state`` was entered."""
    return [round(r.time_s, 9) for r in engine.records if r.type == 'state' and r.content == state]


def entry_frames(engine, state):
    return [r.frame_index for r in engine.records if r.type == 'state' and r.content == state]


def run_times(calls):
    return [round(c[1] - T0, 9) for c in calls]


def still_at(speeds, k):
    """The stillness rule computed here independently: mean of the 151 speeds up to frame k."""
    if k + 1 < WINDOW_FRAMES:
        return False
    window = speeds[k + 1 - WINDOW_FRAMES:k + 1]
    return bool(np.nanmean(window) < 1.0)


def still_paw(i, engine):
    return 0.0


def move_in_trials(speed):
    """A paw that holds still except during trials, where it moves at ``speed``."""
    return lambda i, engine: speed if engine.state == 'trial' else 0.0


def bouts(*spans, speed=30.0):
    """Speed ``speed`` inside the given (start_s, end_s) spans, 0 elsewhere."""
    def speed_at(i, engine):
        t = i / FPS
        return speed if any(a <= t < b for a, b in spans) else 0.0
    return speed_at


def test_defaults_are_the_original_clmf_values():
    engine = TaskEngine(TASK, frame_rate_hz=FPS)
    v = engine.variables
    assert (v['threshold'], v['total_trials'], v['max_trial_s']) == (20.0, 60, 30.0)
    assert (v['success_rest_s'], v['fail_rest_s'], v['initial_rest_s']) == (10.0, 10.0, 30.0)
    assert (v['valve_pulse_s'], v['fail_pulse_s'], v['reward_delay_s']) == (0.1, 0.5, 1.0)
    assert (v['stillness_window_s'], v['stillness_level_px_per_frame']) == (5.0, 1.0)
    assert v['tone_mapping'] == 'clmf' and v['adaptive_threshold'] is False
    assert (v['threshold_step'], v['threshold_floor']) == (2.0, 2.0)
    assert v['session_type'] == 'graded' and v['fixed_tone_hz'] == 1000.0


def test_a_still_paw_times_out_with_fail_pulses_and_fail_rests():
    engine, outputs, _ = run_clmf(still_paw, {'total_trials': 3})
    assert entries(engine, 'initial_rest') == [0.0]
    # still from the start: every trial begins as soon as its rest ends
    assert entries(engine, 'trial') == [30.0, 70.0, 110.0]
    assert entries(engine, 'fail_rest') == [60.0, 100.0, 140.0]
    assert entries(engine, 'done') == [150.0]
    fails = outputs.of_kind('fail_signal')
    assert run_times(fails) == [60.0, 100.0, 140.0]
    assert all(c[3] == 0.5 and c[4] == 'timeout' for c in fails)
    assert outputs.of_kind('reward') == []
    assert engine.stopped and engine.variables['failures'] == 3


def test_a_trial_waits_until_the_mean_speed_over_5_s_is_below_1_px_per_frame():
    # 5 px/frame until 50 s (frame 1500), then still. Frame k's window holds frames
    # k-150..k; 1650 - k of them move, and 5 * (1650 - k) / 151 < 1 first at k = 1620.
    engine, _, speeds = run_clmf(lambda i, e: 5.0 if i < 1500 else 0.0, {'total_trials': 1})
    assert entries(engine, 'wait_still') == [30.0]
    assert entry_frames(engine, 'trial') == [1620]
    assert entries(engine, 'trial') == [54.0]
    assert still_at(speeds, 1620) and not still_at(speeds, 1619)
    # the mean logged at the trial start is the window's: 30 moving frames of 151
    start_print = [r.content for r in engine.records if r.type == 'print'][0]
    assert f'{150 / 151:.3f} px/frame' in start_print


def test_a_trial_never_starts_before_the_stillness_condition_holds():
    # fidgeting bouts at irregular times, in rests and trials alike
    rng = np.random.default_rng(5)
    starts = np.cumsum(rng.exponential(6.0, 200))
    spans = [(s, s + d) for s, d in zip(starts, rng.uniform(0.3, 1.5, 200))]
    engine, outputs, speeds = run_clmf(bouts(*spans, speed=30.0), {'total_trials': 12})
    trial_frames = entry_frames(engine, 'trial')
    wait_frames = entry_frames(engine, 'wait_still')
    assert len(trial_frames) == 12
    # a state entered by a timer records the frame before the one that sees the new state
    for wait_k, trial_k in zip(wait_frames, trial_frames):
        assert still_at(speeds, trial_k)
        # the first still frame after the rest, never later, never earlier
        assert not any(still_at(speeds, k) for k in range(wait_k + 1, trial_k))
    assert any(t - w > 1 for w, t in zip(wait_frames, trial_frames))  # some waits happened
    assert outputs.of_kind('reward')  # and the bouts in trials were rewarded


def test_a_bout_above_threshold_in_a_trial_is_rewarded_within_the_delay_plus_one_frame():
    spans = [(32.0, 32.5), (47.25, 47.6), (65.0, 66.0)]
    engine, outputs, _ = run_clmf(bouts(*spans, speed=25.0), {'total_trials': 3})
    trial_starts = entries(engine, 'trial')
    # rewarded at 33.0 and ~48.27 s: each success rest of 10 s, then the paw is still
    assert trial_starts[:2] == [30.0, 43.0] and trial_starts[2] == pytest.approx(58.27, abs=0.04)
    rewards = run_times(outputs.of_kind('reward'))
    assert len(rewards) == 3
    for (bout_start, _), reward_t in zip(spans, rewards):
        assert 1.0 <= reward_t - bout_start <= 1.0 + FRAME_S + 1e-9
    assert all(c[3] == 0.1 and c[4] == 'success' for c in outputs.of_kind('reward'))
    # the tone follows the current speed at once: 19027 Hz from the bout's first frame
    loud = [round(c[1] - T0, 9) for c in outputs.of_kind('tone') if c[3] == 19027]
    assert loud[0] == 32.0
    assert entries(engine, 'success_rest') == rewards


def test_a_bout_in_a_rest_is_not_rewarded_and_delays_the_next_trial():
    # the first trial is rewarded at 33 s; rest until 43 s; a bout at 40-41 s (in the
    # rest) keeps the mean above 1 px/frame for a while after the rest ends
    engine, outputs, speeds = run_clmf(bouts((32.0, 32.5), (40.0, 41.0), speed=25.0),
                                       {'total_trials': 2})
    assert run_times(outputs.of_kind('reward')) == [33.0]
    assert entries(engine, 'wait_still') == [30.0, 43.0]
    second = entry_frames(engine, 'trial')[1]
    assert second > 43 * FPS and still_at(speeds, second) and not still_at(speeds, second - 1)


def test_a_speed_exactly_at_threshold_is_not_a_success():
    engine, outputs, _ = run_clmf(move_in_trials(20.0), {'total_trials': 2})
    assert outputs.of_kind('reward') == [] and len(outputs.of_kind('fail_signal')) == 2
    # 20 px/frame == thr: top inner bin; 0 px/frame (first trial frame) gives 1000 Hz
    assert {c[3] for c in outputs.of_kind('tone')} == {16000, 1000, 0}


def test_the_tone_follows_the_current_speed_in_trials_and_is_off_elsewhere():
    def ramp(i, engine):
        return (i % 40) / 2.0 if engine.state == 'trial' else 0.0  # 0 .. 19.5 px/frame
    engine, outputs, speeds = run_clmf(ramp, {'total_trials': 2})
    mapper = ToneMapper(20.0, mapping='clmf')
    windows = list(zip(entries(engine, 'trial'), entries(engine, 'fail_rest')))
    for _, t_abs, frame_index, frequency_hz in outputs.of_kind('tone'):
        t = round(t_abs - T0, 9)
        if any(start <= t < end for start, end in windows):
            assert frequency_hz == mapper.frequency_hz(speeds[frame_index])
        else:
            assert frequency_hz == 0
    assert len({c[3] for c in outputs.of_kind('tone')}) >= 15
    assert outputs.of_kind('reward') == []


def test_invalid_poses_are_not_stillness():
    # no usable pose at all: the window never has valid speeds, no trial ever starts
    engine, outputs, _ = run_clmf(lambda i, e: None, {'total_trials': 1}, max_s=80.0)
    assert not engine.stopped and engine.state == 'wait_still'
    assert entries(engine, 'trial') == [] and outputs.of_kind('tone') == []
    # every other pose invalid, the valid ones still: half the window is enough
    engine, _, _ = run_clmf(lambda i, e: None if i % 2 else 0.0, {'total_trials': 1},
                            max_s=80.0)
    assert entries(engine, 'trial') == [30.0]


def test_fixed_tone_sessions_play_only_1_khz():
    engine, outputs, _ = run_clmf(bouts((32.0, 32.5), (47.0, 47.5), speed=25.0),
                                  {'session_type': 'fixed_tone', 'total_trials': 3})
    assert {c[3] for c in outputs.of_kind('tone')} == {1000.0, 0}
    assert len(outputs.of_kind('reward')) == 2  # the threshold still rewards
    assert len(outputs.of_kind('fail_signal')) == 1


def test_no_audio_sessions_are_silent_and_still_reward():
    engine, outputs, _ = run_clmf(bouts((32.0, 32.5), speed=25.0),
                                  {'session_type': 'no_audio', 'total_trials': 2})
    assert all(c[3] == 0 for c in outputs.of_kind('tone'))
    assert run_times(outputs.of_kind('reward')) == [33.0]


def test_no_reward_sessions_never_open_the_valve_but_log_crossings():
    engine, outputs, _ = run_clmf(move_in_trials(30.0),
                                  {'session_type': 'no_reward', 'total_trials': 3})
    assert outputs.of_kind('reward') == []
    assert engine.variables['successes'] == 3 and len(entries(engine, 'success_rest')) == 3
    assert sum('no reward' in r.content for r in engine.records if r.type == 'print') == 3


def test_random_reward_ignores_the_speed_and_reproduces_with_its_seed():
    settings = {'session_type': 'random_reward', 'random_reward_p': 0.001, 'total_trials': 10}
    first_engine, first, _ = run_clmf(still_paw, settings)
    _, again, _ = run_clmf(still_paw, settings)
    _, other_seed, _ = run_clmf(still_paw, {**settings, 'seed': 1})
    rewards = first.of_kind('reward')
    assert first.calls == again.calls and other_seed.calls != first.calls
    assert 0 < len(rewards) < 10 and all(c[4] == 'random' for c in rewards)
    assert len(rewards) + len(first.of_kind('fail_signal')) == 10


def thresholds(engine):
    return [(r.time_s, json.loads(r.content)['threshold']) for r in engine.records
            if r.type == 'variable' and r.subtype == 'task' and 'threshold' in r.content]


def test_the_threshold_is_fixed_by_default():
    engine, _, _ = run_clmf(still_paw, {'total_trials': 3})
    assert thresholds(engine) == [] and engine.variables['threshold'] == 20.0


def test_adaptive_threshold_lowers_by_2_per_empty_window_down_to_the_floor_of_2():
    engine, _, _ = run_clmf(still_paw, {'adaptive_threshold': True, 'threshold': 6.0,
                                        'total_trials': 3})
    assert thresholds(engine) == [(30.0, 4.0), (60.0, 2.0)]
    assert engine.variables['threshold'] == 2.0


def test_adaptive_threshold_rises_after_more_than_one_success_in_a_window():
    engine, _, _ = run_clmf(move_in_trials(30.0), {'adaptive_threshold': True,
                                                   'total_trials': 8})
    # 0-30 s: initial rest, no success -> 18; then a success every ~10 s -> up
    assert thresholds(engine)[:3] == [(30.0, 18.0), (60.0, 20.0), (90.0, 22.0)]


def test_the_session_stops_after_60_trials_by_default():
    engine, outputs, _ = run_clmf(still_paw)
    assert engine.stopped and engine.variables['trial_n'] == 60
    assert len(outputs.of_kind('fail_signal')) == 60
    assert entries(engine, 'done') == [30.0 + 60 * 40.0]
    assert engine.tone_hz == 0


def test_bad_settings_are_refused_at_the_start():
    for overrides, key in [({'session_type': 'graded_tone'}, 'session_type'),
                           ({'stillness_window_s': 0.0}, 'window_s'),
                           ({'threshold': -1.0}, 'threshold'),
                           ({'adaptive_threshold': True, 'threshold_floor': 0.0},
                            'threshold_floor')]:
        engine = TaskEngine(TASK, overrides, frame_rate_hz=FPS)
        with pytest.raises(TaskError, match=key):
            engine.start(T0)


def test_a_live_change_of_the_stillness_window_restarts_it():
    outputs = RecordingOutputs()
    engine = TaskEngine(TASK, {'total_trials': 1}, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    for i in range(int(29 * FPS)):
        engine.process_frame(T0 + i / FPS, i, 0.0)
    engine.set_variable('stillness_window_s', 10.0, T0 + 29.0)
    for i in range(int(29 * FPS), int(50 * FPS)):
        engine.process_frame(T0 + i / FPS, i, 0.0)
    # the new 10 s window started at 29 s: full at 39 s, after the 30 s initial rest
    assert entries(engine, 'trial') == [39.0]


def test_the_stillness_window_helper():
    window = StillnessWindow(5.0, 1.0)
    for k in range(150):
        window.update(k / FPS, 0.0)
    assert not window.still  # 150 frames cover 4.97 s
    window.update(150 / FPS, 0.0)
    assert window.full and window.still
    window.update(151 / FPS, 151.0)
    assert window.mean_speed == 1.0 and not window.still  # 151 / 151: not below 1
    with pytest.raises(ValueError, match='t_s=1.0'):
        window.update(1.0, 0.0)
    with pytest.raises(ValueError, match='level_px_per_frame'):
        StillnessWindow(5.0, 0.0)
