"""The CLNF protocol (tasks/clnf.py) run in the engine against synthetic signals."""

import json
from pathlib import Path

import pytest

from clopy_task.engine import RecordingOutputs, TaskEngine, TaskError
from clopy_task.tones import ToneMapper

TASK = Path(__file__).resolve().parents[1] / 'clopy_task' / 'tasks' / 'clnf.py'
FPS = 15.0
T0 = 5000.0  # frame stamps on some arbitrary clock: only differences matter
FRAME_S = 1 / FPS


def run_clnf(signal_at, variables=None, max_s=4000.0):
    """Run a session: ``signal_at(t_s)`` gives the control signal at run time t_s."""
    outputs = RecordingOutputs()
    engine = TaskEngine(TASK, variables, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    i = 0
    while not engine.stopped and i < max_s * FPS:
        t = i / FPS
        engine.process_frame(T0 + t, i, signal_at(t))
        i += 1
    return engine, outputs


def entries(engine, state):
    """Times (s since run start) at which ``state`` was entered."""
    return [r.time_s for r in engine.records if r.type == 'state' and r.content == state]


def run_times(calls):
    return [round(c[1] - T0, 9) for c in calls]


def thresholds(engine):
    return [(r.time_s, json.loads(r.content)['threshold']) for r in engine.records
            if r.type == 'variable' and r.subtype == 'task' and 'threshold' in r.content]


FIXED = {'adaptive_threshold': False}


def test_a_signal_above_threshold_is_rewarded_within_the_delay_plus_one_frame():
    engine, outputs = run_clnf(lambda t: 0.2, {**FIXED, 'total_trials': 5})
    trial_starts = entries(engine, 'trial')
    rewards = outputs.of_kind('reward')
    assert len(trial_starts) == len(rewards) == 5
    for start, reward_t in zip(trial_starts, run_times(rewards)):
        # the history was above threshold for the whole delay: rewarded on the first frame
        assert 0 <= reward_t - start <= FRAME_S + 1e-9
    assert all(c[3] == 0.3 and c[4] == 'success' for c in rewards)
    assert outputs.of_kind('fail_signal') == []
    # each success rest lasts success_rest_s (the next trial starts at the first frame after)
    rest_starts = entries(engine, 'success_rest')
    assert [b - a for a, b in zip(rest_starts, trial_starts[1:])] == pytest.approx([10.0] * 4)
    assert engine.stopped and engine.variables['successes'] == 5


def test_the_reward_test_uses_the_signal_from_reward_delay_earlier():
    # The signal jumps above threshold when the first trial starts (t = 30 s): the tone
    # follows at once, the reward comes one reward_delay_s later.
    engine, outputs = run_clnf(lambda t: 0.2 if t >= 30.0 else 0.0, {**FIXED, 'total_trials': 1})
    assert entries(engine, 'trial') == [30.0]
    assert run_times(outputs.of_kind('reward')) == [pytest.approx(31.0)]
    first_tone = outputs.of_kind('tone')[0]
    assert first_tone[1] - T0 == pytest.approx(30.0) and first_tone[3] == 19027


def test_a_flat_signal_times_out_with_fail_pulses_and_fail_rests():
    engine, outputs = run_clnf(lambda t: 0.0, {**FIXED, 'total_trials': 3})
    assert entries(engine, 'initial_rest') == [0.0]
    assert entries(engine, 'trial') == [30.0, 75.0, 120.0]
    assert entries(engine, 'fail_rest') == [60.0, 105.0, 150.0]  # max_trial_s 30, fail_rest_s 15
    assert entries(engine, 'done') == [165.0]
    fails = outputs.of_kind('fail_signal')
    assert run_times(fails) == [60.0, 105.0, 150.0]
    assert all(c[3] == 0.5 and c[4] == 'timeout' for c in fails)
    assert outputs.of_kind('reward') == []
    assert engine.stopped and engine.time_s == 165.0
    assert engine.variables['failures'] == 3 and engine.variables['trial_n'] == 3


def test_a_signal_exactly_at_threshold_is_not_a_success():
    engine, outputs = run_clnf(lambda t: 0.075, {**FIXED, 'total_trials': 2})
    assert outputs.of_kind('reward') == [] and len(outputs.of_kind('fail_signal')) == 2
    assert {c[3] for c in outputs.of_kind('tone')} == {16000, 0}  # x == thr: top inner bin


def test_invalid_and_nan_frames_give_the_baseline_tone_and_no_reward():
    outputs = RecordingOutputs()
    engine = TaskEngine(TASK, {**FIXED, 'total_trials': 1}, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    for i in range(int(80 * FPS)):  # 30 s rest + 30 s trial + 15 s fail rest
        engine.process_frame(T0 + i / FPS, i, float('nan') if i % 2 else 0.5, valid=i % 2 == 1)
    assert engine.stopped and outputs.of_kind('reward') == []
    assert {c[3] for c in outputs.of_kind('tone')} == {1189, 0}


def test_the_tone_follows_the_current_signal_in_trials_and_is_off_in_rests():
    def ramp(t):
        return (t % 7.0) / 100.0  # 0 .. 0.07 dF/F, never above the 0.075 threshold
    engine, outputs = run_clnf(ramp, {**FIXED, 'total_trials': 2})
    mapper = ToneMapper(0.075)
    trial_windows = list(zip(entries(engine, 'trial'), entries(engine, 'fail_rest')))
    tones = outputs.of_kind('tone')
    for _, t_abs, frame_index, frequency_hz in tones:
        t = t_abs - T0
        in_trial = any(start <= t < end for start, end in trial_windows)
        if in_trial:
            assert frequency_hz == mapper.frequency_hz(ramp(frame_index / FPS))
        else:
            assert frequency_hz == 0
    assert len({c[3] for c in tones}) >= 12  # the ramp walks through the table
    # every rest starts with the tone switched off at the moment of the transition
    off_times = [round(c[1] - T0, 9) for c in tones if c[3] == 0]
    assert off_times == entries(engine, 'fail_rest')


def test_the_session_stops_after_total_trials_default_60():
    engine, outputs = run_clnf(lambda t: 0.0, {})
    assert engine.stopped
    assert engine.variables['trial_n'] == 60 and len(outputs.of_kind('fail_signal')) == 60
    assert entries(engine, 'done') == [30.0 + 60 * 45.0]
    assert engine.tone_hz == 0
    assert [r.subtype for r in engine.records if r.type == 'variable'][-1] == 'run_end'
    times = [r.time_s for r in engine.records]
    assert times == sorted(times)


def test_adaptive_threshold_lowers_by_one_step_per_empty_window_down_to_the_floor():
    engine, _ = run_clnf(lambda t: 0.0, {'total_trials': 4, 'threshold': 0.016})
    steps = thresholds(engine)
    # at the floor (0.01) the threshold stops changing, so nothing more is logged
    assert steps == [(30.0, 0.014), (60.0, 0.012), (90.0, 0.01)]
    assert engine.time_s > 150.0 and engine.variables['threshold'] == 0.01


def test_adaptive_threshold_rises_after_more_than_one_success_in_a_window():
    engine, _ = run_clnf(lambda t: 1.0, {'total_trials': 8})
    # window 0-30 s: initial rest, no success -> down; the next windows hold 3 successes
    # each (a trial every 10 s + 1 frame) -> up.
    assert thresholds(engine)[:3] == [(30.0, 0.073), (60.0, 0.075), (90.0, 0.077)]


def test_each_adaptation_window_counts_only_its_own_successes():
    # successes at 30 and 40 s (window 30-60 s), then the signal falls: the trial from
    # 50 s times out, so the window 60-90 s has none and the threshold comes back down.
    engine, _ = run_clnf(lambda t: 1.0 if t < 45.0 else 0.0, {'total_trials': 3})
    assert thresholds(engine)[:3] == [(30.0, 0.073), (60.0, 0.075), (90.0, 0.073)]


def test_adaptation_can_be_switched_off():
    engine, _ = run_clnf(lambda t: 0.0, {**FIXED, 'total_trials': 3})
    assert thresholds(engine) == []
    assert engine.variables['threshold'] == 0.075


def test_no_reward_sessions_never_open_the_valve_but_log_crossings():
    engine, outputs = run_clnf(lambda t: 0.2, {'session_type': 'no_reward', 'total_trials': 4})
    assert outputs.of_kind('reward') == []
    assert engine.variables['successes'] == 4
    assert len(entries(engine, 'success_rest')) == 4
    assert sum('no reward' in r.content for r in engine.records if r.type == 'print') == 4


def test_no_audio_sessions_never_play_a_tone():
    engine, outputs = run_clnf(lambda t: (t % 3) / 20,
                               {'session_type': 'no_audio', 'total_trials': 6})
    assert engine.variables['trial_n'] == 6
    assert all(c[3] == 0 for c in outputs.of_kind('tone'))
    assert outputs.of_kind('reward')  # the threshold still rewards


def test_fixed_tone_sessions_play_only_the_fixed_tone():
    engine, outputs = run_clnf(lambda t: (t % 3) / 20,
                               {'session_type': 'fixed_tone', 'total_trials': 6})
    assert {c[3] for c in outputs.of_kind('tone')} == {1000.0, 0}
    assert outputs.of_kind('reward')


def test_random_reward_ignores_the_signal_and_reproduces_with_its_seed():
    settings = {**FIXED, 'session_type': 'random_reward', 'random_reward_p': 0.005,
                'total_trials': 20}
    first_engine, first = run_clnf(lambda t: 1.0, settings)  # far above threshold: ignored
    _, again = run_clnf(lambda t: 1.0, settings)
    _, other_seed = run_clnf(lambda t: 1.0, {**settings, 'seed': 1})
    rewards = first.of_kind('reward')
    assert first.calls == again.calls
    assert other_seed.calls != first.calls
    assert 0 < len(rewards) < 20  # p = 0.005 per frame over up to 450 frames: some, not all
    assert all(c[4] == 'random' for c in rewards)
    assert len(rewards) + len(first.of_kind('fail_signal')) == 20
    # rewards came at random times in the trial, not on its first frame
    starts = entries(first_engine, 'trial')
    delays = [t - max(s for s in starts if s <= t) for t in run_times(rewards)]
    assert max(delays) > 1.0


def test_two_roi_settings_change_only_variables():
    two_roi = {'threshold': 0.1, 'success_rest_s': 5.0, 'fail_rest_s': 10.0,
               'adaptive_threshold': False, 'total_trials': 2}
    engine, outputs = run_clnf(lambda t: 0.0, two_roi)
    assert entries(engine, 'trial') == [30.0, 70.0]
    assert entries(engine, 'done') == [110.0]
    engine, outputs = run_clnf(lambda t: 0.09 if t < 40 else 0.11, two_roi)
    # first crossing seen one delay after the jump at 40 s; the next trial starts after a
    # 5 s success rest with the history already above threshold
    assert run_times(outputs.of_kind('reward')) == [pytest.approx(41.0), pytest.approx(46.0)]


@pytest.mark.parametrize('overrides, text', [
    ({'threshold': 0.0}, 'threshold=0.0'),
    ({'threshold_step': -0.002}, 'step=-0.002'),
    ({'threshold_floor': 0.0}, 'threshold_floor=0.0'),
    ({'tone_range': 'wide'}, "tone_range='wide'"),
])
def test_bad_settings_stop_the_session_at_run_start(overrides, text):
    engine = TaskEngine(TASK, overrides, frame_rate_hz=FPS)
    with pytest.raises(TaskError, match='allowed') as info:
        engine.start(T0)
    assert text in str(info.value) and str(TASK) in str(info.value)
    assert engine.stopped and engine.state is None  # no trial ever started


def test_an_unknown_session_type_stops_at_run_start_with_a_clear_error():
    engine = TaskEngine(TASK, {'session_type': 'graded_audio'}, frame_rate_hz=FPS)
    with pytest.raises(TaskError) as info:
        engine.start(T0)
    message = str(info.value)
    assert str(TASK) in message and "session_type='graded_audio'" in message
    assert 'graded, fixed_tone, no_audio, random_reward, no_reward' in message
    assert engine.stopped
    assert any(r.type == 'error' for r in engine.records)
