"""run_signal (frames where nothing can happen skipped) == process_frame on every frame."""

import textwrap
from pathlib import Path

import numpy as np
import pytest

from clopy_task.engine import RecordingOutputs, TaskEngine
from clopy_task.files import packaged_task

FPS = 15.0
T0 = 1024.0


def noisy_signal(seed, n, sd=0.012, rho=0.96):
    """AR(1) noise with NaN frames, jittered stamps and dropped frame indices."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = 0.0
    noise = rng.normal(0.0, sd, n)
    for k in range(1, n):
        x[k] = rho * x[k - 1] + noise[k]
    x[rng.integers(0, n, 15)] = np.nan
    stamps = T0 + np.arange(n) / FPS + rng.normal(0.0, 0.002, n)
    keep = np.ones(n, bool)
    keep[rng.integers(1, n, 25)] = False
    return np.sort(stamps[keep]), x[keep], np.arange(n)[keep]


def exact_signal(seed, n):
    """Stamps exactly 1/16 s apart (timers fall due exactly on frames) and values rounded
    to 0.01 (the signal sits exactly at the thresholds tested)."""
    _, x, _ = noisy_signal(seed, n)
    x = np.round(x[:n] * 100) / 100
    return T0 + np.arange(x.size) / 16, x, np.arange(x.size)


def run(task, variables, signal, *, fast, tones):
    """(records, outputs) of a run over the whole signal, stopped at its last stamp."""
    stamps, values, index = signal
    outputs = RecordingOutputs()
    engine = TaskEngine(task, variables, frame_rate_hz=FPS, outputs=outputs)
    engine.start(T0)
    engine.run_signal(stamps, values, None, index, fast=fast, tones=tones)
    engine.stop(float(stamps[-1]))
    return engine.records, outputs.calls


def pulses(calls):
    return [c for c in calls if c[0] != 'tone']


SHORT = dict(initial_rest_s=5.0, max_trial_s=6.0, success_rest_s=2.0, fail_rest_s=3.0,
             total_trials=40, adapt_window_s=7.0, threshold_step=0.004)

CLNF_CASES = {
    'graded-adaptive': dict(SHORT, adaptive_threshold=True),
    'graded-fixed': dict(SHORT, adaptive_threshold=False),
    'no_reward': dict(SHORT, session_type='no_reward'),
    'fixed_tone': dict(SHORT, session_type='fixed_tone', adaptive_threshold=False),
    'no_audio': dict(SHORT, session_type='no_audio'),
    'random_reward': dict(SHORT, session_type='random_reward', random_reward_p=0.02),
    'defaults': {},
}


@pytest.mark.parametrize('kind', ['jitter', 'exact'])
@pytest.mark.parametrize('case', sorted(CLNF_CASES))
@pytest.mark.parametrize('threshold', [0.01, 0.03, 0.06])
def test_clnf_fast_run_gives_the_records_and_pulses_of_every_frame(case, threshold, kind):
    variables = dict(CLNF_CASES[case], threshold=threshold)
    n = int(15 * FPS * 60)
    signal = noisy_signal(7, n) if kind == 'jitter' else exact_signal(7, n)
    slow_records, slow_calls = run(packaged_task('clnf'), variables, signal, fast=False, tones=True)
    fast_records, fast_calls = run(packaged_task('clnf'), variables, signal, fast=True, tones=False)
    assert fast_records == slow_records
    assert pulses(fast_calls) == pulses(slow_calls)
    kinds = {r.content for r in slow_records if r.type == 'state'}
    assert {'trial', 'success_rest'} <= kinds, 'the signal should give successes'
    # with tones wanted the fast run gives every output, tones included
    _, toned_calls = run(packaged_task('clnf'), variables, signal, fast=True, tones=True)
    assert toned_calls == slow_calls


@pytest.mark.parametrize('variables', [
    {}, {'session_type': 'fixed_tone'}, {'adaptive_threshold': True, 'adapt_window_s': 20.0},
    {'session_type': 'no_reward', 'threshold': 3.0},
], ids=['defaults', 'fixed_tone', 'adaptive', 'no_reward'])
def test_clmf_fast_run_gives_the_records_and_pulses_of_every_frame(variables):
    variables = dict({'initial_rest_s': 5.0, 'stillness_window_s': 1.0, 'threshold': 5.0,
                      'max_trial_s': 8.0, 'success_rest_s': 2.0, 'fail_rest_s': 2.0}, **variables)
    rng = np.random.default_rng(3)
    n = int(8 * 60 * FPS)
    speed = np.abs(rng.normal(0.0, 0.5, n))
    for start in rng.integers(0, n, 60):  # movement bouts
        speed[start:start + 20] += rng.uniform(2.0, 30.0)
    signal = (T0 + np.arange(n) / FPS, speed, np.arange(n))
    task = packaged_task('clmf')
    slow_records, slow_calls = run(task, variables, signal, fast=False, tones=True)
    fast_records, fast_calls = run(task, variables, signal, fast=True, tones=False)
    assert fast_records == slow_records and pulses(fast_calls) == pulses(slow_calls)
    assert sum(r.content == 'trial' for r in slow_records if r.type == 'state') >= 3


CUSTOM_TASK = """
    from clopy_task.api import *

    states = ['wait', 'high', 'low']
    events = ['up', 'down', 'tick']
    initial_state = 'wait'
    frame_events = 'requested'
    v.level = 0.02
    v.lag_s = 0.5
    v.ups = 0
    v.ticks = 0

    def run_start():
        set_timer('tick', 4.0)

    def all_states(event):
        if event == 'tick':
            v.ticks += 1
            set_timer('tick', 4.0)
            return True

    def wait(event):
        if event == 'entry':
            watch_signal('up', above='level', delay_s='lag_s')
            timed_goto_state('low', 9.0)
        elif event == 'up':
            v.ups += 1
            reward(0.05)
            goto_state('high')

    def high(event):
        if event == 'entry':
            watch_signal('down', below=-0.01)
        elif event == 'down':
            goto_state('wait')

    def low(event):
        if event == 'entry':
            fail_signal(0.2)
            timed_goto_state('wait', 1.5)
"""


def test_a_custom_task_file_runs_the_same_fast_and_frame_by_frame(tmp_path):
    task = tmp_path / 'custom.py'
    task.write_text(textwrap.dedent(CUSTOM_TASK))
    signal = noisy_signal(11, int(6 * FPS * 60))
    slow_records, slow_calls = run(task, {}, signal, fast=False, tones=True)
    fast_records, fast_calls = run(task, {}, signal, fast=True, tones=False)
    assert fast_records == slow_records and fast_calls == slow_calls
    contents = [r.content for r in slow_records if r.type == 'state']
    assert {'high', 'low'} <= set(contents) and contents.count('wait') > 5


def test_two_engines_in_one_process_share_no_state(tmp_path):
    task = tmp_path / 'custom.py'
    task.write_text(textwrap.dedent(CUSTOM_TASK))
    a = TaskEngine(task, {'level': 0.5}, frame_rate_hz=FPS)
    b = TaskEngine(task, {'level': -1.0}, frame_rate_hz=FPS)
    a.start(0.0)
    b.start(0.0)
    for i in range(60):  # interleaved frames
        a.process_frame(i / FPS, i, 0.0)
        b.process_frame(i / FPS, i, 0.0)
    assert a.state == 'wait' and a.variables['ups'] == 0
    assert b.state == 'high' and b.variables['ups'] == 1
    assert a.task.namespace is not b.task.namespace


def test_an_old_style_task_without_the_api_import_is_told_to_add_it(tmp_path):
    from clopy_task.engine import TaskFileError
    task = tmp_path / 'old.py'
    task.write_text("states = ['s']\nevents = []\ninitial_state = 's'\nv.x = 1\n"
                    "def s(event):\n    pass\n")
    with pytest.raises(TaskFileError, match=r'from clopy_task.api import \*') as info:
        TaskEngine(task, frame_rate_hz=FPS)
    assert str(task) in str(info.value) and 'v' in str(info.value)
    lazy = tmp_path / 'lazy.py'  # API used only inside a state function
    lazy.write_text("states = ['s']\nevents = []\ninitial_state = 's'\n"
                    "def s(event):\n    goto_state('s')\n")
    with pytest.raises(TaskFileError, match='goto_state without importing the task API'):
        TaskEngine(lazy, frame_rate_hz=FPS)


def test_status_declaration_names_the_variables(tmp_path):
    engine = TaskEngine(packaged_task('clnf'), {'threshold': 0.05}, frame_rate_hz=FPS)
    assert engine.status() == {'trial': 0, 'total_trials': 60, 'successes': 0, 'failures': 0,
                               'threshold': 0.05, 'session_type': 'graded'}
    assert packaged_task('clnf') == Path(packaged_task('clnf.py'))
