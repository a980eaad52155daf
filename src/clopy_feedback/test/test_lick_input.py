"""Licks reach the task engine as input events (clopy_feedback.lick_input): held until
a frame stamped at or after them, delivered before it in stamp order, stall time taken
out, none before the run starts or for a task that declares no 'lick'."""
from pathlib import Path

import pytest

from clopy_feedback.lick_input import LickInput
from clopy_task.engine import TaskEngine
from clopy_task.files import resolve_task_file
from clopy_task.stall import StallClock

FPS = 10.0


def lick_records(engine):
    return [(r.subtype, r.content, round(r.time_s, 6), r.frame_index) for r in engine.records
            if r.type == 'event' and r.content in ('lick', 'lick_off')]


def drive(engine, frames_s, licks):
    """The task node's order: licks arrive whenever; each frame delivers the due ones."""
    clock = StallClock(FPS)
    inp = LickInput()
    for stamp, touching in licks:
        inp.add(stamp, touching)
    for i, stamp in enumerate(frames_s):
        paused = clock.paused_s
        t = clock.task_time(stamp)
        if engine.start_time_s is None:
            engine.start(t)
        inp.deliver(engine, stamp, paused, t)
        engine.process_frame(t, i, 0.0)
    return inp


def test_licks_arrive_out_of_order_and_go_in_stamp_order_before_the_frame_after_them():
    engine = TaskEngine(resolve_task_file('clnf'), frame_rate_hz=FPS)
    frames = [1000.0 + i / FPS for i in range(10)]
    inp = drive(engine, frames, [(1000.35, True), (1000.25, True), (1000.30, False), (999.0, True),
                                 (1005.0, True)])
    assert lick_records(engine) == [('input', 'lick', 0.25, 2), ('input', 'lick', 0.35, 3)]
    assert inp.delivered == 2 and len(inp) == 1   # 5 s after the last frame: still waiting
    assert not [r for r in engine.records if r.type == 'warning']


def test_a_lick_during_a_camera_stall_is_placed_no_later_than_the_frame_after_it():
    engine = TaskEngine(resolve_task_file('clnf'), frame_rate_hz=FPS)
    frames = [1000.0, 1000.1, 1000.2, 1003.2, 1003.3]   # a 3 s stall: 2.9 s taken out of task time
    drive(engine, frames, [(1001.5, True), (1003.25, True)])
    # 1001.5 s is inside the stall: at the next frame's task time (1000.3); 1003.25 - 2.9 s = 0.35 s
    assert [(c, t) for _, c, t, _ in lick_records(engine)] == [('lick', pytest.approx(0.3)),
                                                               ('lick', pytest.approx(0.35))]


def test_a_task_without_a_lick_event_gets_none(tmp_path):
    task = tmp_path / 'task.py'
    task.write_text("from clopy_task.api import *\nstates = ['a']\nevents = []\ninitial_state = 'a'\n"
                    "def a(event):\n    pass\n")
    engine = TaskEngine(Path(task), frame_rate_hz=FPS)
    inp = drive(engine, [10.0, 10.1, 10.2], [(10.05, True)])
    assert lick_records(engine) == [] and inp.delivered == 0


def test_a_task_that_declares_lick_off_gets_releases_too(tmp_path):
    task = tmp_path / 'task.py'
    task.write_text("from clopy_task.api import *\nstates = ['a']\nevents = ['lick', 'lick_off']\n"
                    "initial_state = 'a'\nv.n = 0\ndef a(event):\n    if event == 'lick':\n        v.n += 1\n")
    engine = TaskEngine(Path(task), frame_rate_hz=FPS)
    drive(engine, [10.0, 10.1, 10.2], [(10.05, True), (10.08, False)])
    assert [c for _, c, _, _ in lick_records(engine)] == ['lick', 'lick_off']
    assert engine.variables['n'] == 1
