"""The stall rule: camera stalls are taken out of task time, so trial timers freeze."""

import textwrap

import numpy as np
import pytest

from clopy_task.engine import TaskEngine
from clopy_task.stall import StallClock, stalls_in, task_stamps

FPS = 10.0


def test_gaps_up_to_the_limit_are_not_stalls():
    clock = StallClock(FPS, stall_after_frames=5)
    stamps = [0.0, 0.1, 0.2, 0.7, 0.8]   # 0.5 s = exactly 5 periods: a dropped-frame gap, kept
    assert [clock.task_time(t) for t in stamps] == stamps
    assert clock.paused_s == 0.0 and clock.stalls == 0


def test_a_stall_is_taken_out_of_task_time_minus_one_period():
    clock = StallClock(FPS, stall_after_frames=5)
    out = [clock.task_time(t) for t in (0.0, 0.1, 3.1, 3.2)]
    assert out == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert clock.paused_s == pytest.approx(2.9)
    assert clock.stalls == 1
    assert clock.last_pause_s == 0.0   # the frame after the resume paused nothing


def test_last_pause_is_what_the_resuming_frame_took_out():
    clock = StallClock(FPS, stall_after_frames=3)
    clock.task_time(1.0)
    clock.task_time(2.0)
    assert clock.last_pause_s == pytest.approx(0.9)
    assert clock.last_stamp_s == 2.0


def test_whole_recording_gives_the_same_numbers_as_frame_by_frame():
    rng = np.random.default_rng(3)
    gaps = np.where(rng.random(2000) < 0.01, rng.uniform(0.6, 5.0, 2000), 0.1 + rng.normal(0, 0.005, 2000))
    stamps = 1000.0 + np.cumsum(gaps)
    clock = StallClock(FPS, 5)
    live = np.array([clock.task_time(t) for t in stamps])
    offline = task_stamps(stamps, FPS, 5)
    assert np.array_equal(live, offline)   # bit for bit: the same records live and offline
    assert len(stalls_in(stamps, FPS, 5)) == clock.stalls > 0


def test_stalls_in_names_the_resuming_frame_and_the_pause():
    assert stalls_in([0.0, 0.1, 2.1, 2.2], FPS, 5) == [(2, pytest.approx(1.9))]


@pytest.mark.parametrize('rate, frames', [(0.0, 5), (float('nan'), 5), (10.0, 0), (10.0, 2.5), (10.0, True)])
def test_bad_settings_are_refused_with_the_key(rate, frames):
    with pytest.raises(ValueError, match='stall rule'):
        StallClock(rate, frames)


TIMED_TRIAL = """
from clopy_task.api import *
states = ['trial', 'done']
events = ['timeout']
initial_state = 'trial'
def trial(event):
    if event == 'entry':
        set_timer('timeout', 2.0)
    elif event == 'timeout':
        goto_state('done')
def done(event):
    pass
"""


def _run(tmp_path, stamps, clock):
    path = tmp_path / 'trial.py'
    path.write_text(textwrap.dedent(TIMED_TRIAL))
    engine = TaskEngine(path, frame_rate_hz=FPS)
    engine.start(clock.task_time(stamps[0]) if clock else stamps[0])
    for i, t in enumerate(stamps[1:], start=1):
        engine.process_frame(clock.task_time(t) if clock else t, i, 0.0)
    return engine


def test_a_trial_timer_is_frozen_during_a_stall_and_the_trial_resumes(tmp_path):
    # 1.0 s into a 2 s trial the camera stalls for 12 s; then frames resume
    stamps = [round(0.1 * i, 6) for i in range(11)] + [round(13.0 + 0.1 * i, 6) for i in range(15)]
    without = _run(tmp_path, stamps, None)
    timed_out = [r.frame_index for r in without.records if r.type == 'event' and r.content == 'timeout']
    assert timed_out == [11]   # without the rule: the first frame after the stall times the trial out
    engine = _run(tmp_path, stamps, StallClock(FPS, 5))
    fired = [(r.frame_index, r.time_s) for r in engine.records if r.type == 'event' and r.content == 'timeout']
    # with it: the trial resumed and timed out after its remaining 1.0 s of frames (10 frames later)
    assert [f for f, _ in fired] == [20]
    assert fired[0][1] == pytest.approx(2.0)
    assert engine.state == 'done'
