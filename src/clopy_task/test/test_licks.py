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


DOCS = Path(__file__).resolve().parents[3] / 'docs' / 'tasks.md'


@pytest.mark.skipif(not DOCS.is_file(), reason='docs/tasks.md is not beside this checkout')
def test_the_lick_contingent_example_of_docs_tasks_md_rewards_licks_in_the_window(tmp_path):
    text = DOCS.read_text(encoding='utf-8').split('A lick-contingent reward')[1]
    code = text.split('```python\n')[1].split('```')[0]
    task = tmp_path / 'lick_task.py'
    task.write_text(code)
    outputs = RecordingOutputs()
    engine = TaskEngine(task, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    # cue at 5 s: a lick at 5.5 s is rewarded; cue again at 13.5 s (3 s consume + 5 s wait): no lick,
    # the window ends at 15.5 s; a lick at 16 s (waiting) is not rewarded
    licks = [5.5, 6.0, 16.0]
    for i in range(int(20 * FPS)):
        t = i / FPS
        while licks and licks[0] <= t:
            engine.trigger_event('lick', T0 + licks.pop(0), subtype='input')
        engine.process_frame(T0 + t, i, 0.0)
    rewards = outputs.of_kind('reward')
    assert [round(c[1] - T0, 6) for c in rewards] == [5.5] and rewards[0][4] == 'lick'
    entered = [(r.content, round(r.time_s, 1)) for r in engine.records if r.type == 'state']
    assert entered[:5] == [('wait', 0.0), ('respond', 5.0), ('consume', 5.5), ('wait', 8.5), ('respond', 13.5)]
    assert ('wait', 15.5) in entered
