"""Licks as task input (the event 'lick'): the packaged tasks count them per trial and in
the consumption window after a reward, and add no record to a session without licks."""
import json
from pathlib import Path

import pytest

from clopy_task.engine import RecordingOutputs, TaskEngine

TASKS = Path(__file__).resolve().parents[1] / 'clopy_task' / 'tasks'
FPS = 15.0
T0 = 100.0
FAST = {'adaptive_threshold': False, 'initial_rest_s': 1.0, 'max_trial_s': 2.0, 'success_rest_s': 3.0,
        'fail_rest_s': 1.0, 'total_trials': 3, 'reward_delay_s': 0.0}


def run(signal_at, licks_at=(), variables=FAST, task='clnf.py'):
    """Frames at FPS; each lick (run time, s) triggered before the first frame after it."""
    engine = TaskEngine(TASKS / task, dict(variables), frame_rate_hz=FPS, outputs=RecordingOutputs())
    engine.start(T0)
    licks = sorted(licks_at)
    i = 0
    while not engine.stopped and i < 60 * FPS:
        t = i / FPS
        while licks and licks[0] <= t:
            engine.trigger_event('lick', T0 + licks.pop(0), subtype='input')
        engine.process_frame(T0 + t, i, signal_at(t))
        i += 1
    return engine


def changes(engine, name):
    return [(round(r.time_s, 6), json.loads(r.content)[name]) for r in engine.records
            if r.type == 'variable' and r.subtype == 'task' and name in json.loads(r.content)]


def state_times(engine, state):
    return [r.time_s for r in engine.records if r.type == 'state' and r.content == state]


def test_licks_are_input_events_at_their_time():
    engine = run(lambda t: 0.0, licks_at=[0.5, 1.52])
    licks = [r for r in engine.records if r.type == 'event' and r.content == 'lick']
    assert [(r.subtype, round(r.time_s, 6)) for r in licks] == [('input', 0.5), ('input', 1.52)]


def test_trial_licks_and_reward_licks_are_counted():
    # rewarded at every trial's first frame (signal high); the trial ends at once, so licks
    # after the reward fall in the success rest: reward_licks, not trial_licks
    engine = run(lambda t: 0.2, licks_at=[0.2, 1.3, 1.5, 1.7, 2.5, 4.2])
    trials = state_times(engine, 'trial')
    assert trials[:2] == pytest.approx([1.0, 4.0], abs=1 / FPS)
    # published at the next trial's start: 1.3, 1.5, 1.7 and 2.5 s fall in the 2 s window of the
    # reward at about 1.07 s (0.2 s was in the initial rest); 4.2 s in the window of the second one
    # (the third reward's window, without licks, is published when the session is done)
    done = state_times(engine, 'done')[0]
    assert changes(engine, 'reward_licks') == [(pytest.approx(trials[1], abs=1e-6), 4),
                                               (pytest.approx(trials[2], abs=1e-6), 1),
                                               (pytest.approx(done, abs=1e-6), 0)]
    assert all(value == 0 for _, value in changes(engine, 'trial_licks'))


def test_licks_during_a_trial_are_its_trial_licks():
    # never rewarded: each 2 s trial times out; licks inside trial 1 (1.0-3.0 s) and trial 2
    engine = run(lambda t: 0.0, licks_at=[0.5, 1.2, 1.4, 2.9, 3.5, 4.5])
    trials = state_times(engine, 'trial')
    assert trials[:2] == pytest.approx([1.0, 4.0], abs=1 / FPS)
    got = changes(engine, 'trial_licks')
    assert got[0] == (pytest.approx(3.0, abs=1 / FPS), 3)   # 1.2, 1.4, 2.9; 0.5 was in the initial rest
    assert got[1] == (pytest.approx(6.0, abs=1 / FPS), 1)   # 4.5; 3.5 was in the fail rest
    assert changes(engine, 'reward_licks') == []             # no reward, no consumption


@pytest.mark.parametrize('task', ['clnf.py', 'clmf.py'])
def test_a_session_without_licks_has_no_lick_records(task):
    variables = FAST if task == 'clnf.py' else dict(FAST, stillness_window_s=0.2)
    engine = run(lambda t: 0.0 if task == 'clmf.py' else 0.2, variables=variables, task=task)
    assert not [r for r in engine.records if r.type == 'variable' and r.subtype == 'task'
                and ('licks' in r.content)]
    assert not [r for r in engine.records if r.type == 'event' and r.content == 'lick']
    start = json.loads(next(r.content for r in engine.records if r.subtype == 'run_start'))
    assert start['trial_licks'] == start['reward_licks'] == 0 and start['consumption_window_s'] == 2.0
