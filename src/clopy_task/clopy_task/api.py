"""The task API: what a task file imports, pyControl-style.

A task file starts with ``from clopy_task.api import *``. Every name here is a thin
proxy: it forwards to the task engine that is running the task's code at that moment
(the engine marks itself current while it loads the file and while it calls a state
function or hook). Each engine loads the file into a namespace of its own, so two
engines in one process (tests, the threshold simulation's workers) share no state.
Called outside a running engine, a proxy raises ``TaskError``.

Times in s, frequencies in Hz.

  v.name                      variables; names ending ``___`` are private (not logged)
  signal                      .value, .valid, .frame_index, .delayed(delay_s) -> value
  goto_state(s)               exit the current state, enter s (not allowed in entry/exit)
  timed_goto_state(s, t_s)    go to s after t_s unless a transition happens first
  set_timer(e, t_s)           event e after t_s, in whatever state; several per event
  disarm_timer(e), reset_timer(e, t_s), pause_timer(e), unpause_timer(e),
  timer_remaining(e) -> s     the soonest timer of e (0 when none)
  publish_event(e)            e is delivered after the current handler returns
  watch_signal(e, above=, below=, delay_s=)
                              event e on the first frame whose (delayed) signal is above /
                              below a level; levels and delay are numbers or variable names
                              (read on every frame); armed until the state exits
  request_frames()            this state (or, from run_start, the whole run) gets 'frame'
                              events; only matters with ``frame_events = 'requested'``
  feedback_tone(kind)         per-frame tone until the state exits: 'graded' (tone_for of
                              the signal), a frequency in Hz, or 'off'
  tone(f_hz), tone_off(), tone_for(value) -> f_hz
  reward(duration_s=None, reason='success'), fail_signal(duration_s=None, reason='timeout')
  print(*args), print_variables(names=None), stop_framework(), get_current_time() -> s
  random() -> [0, 1)          engine-owned generator seeded from v.seed (default 0)
  math, TaskError

Module-level declarations a task file may make (see docs/tasks.md):
  states, events, initial_state (required); frame_events = 'every_state' | 'requested';
  status_variables, tone_variables, pulse_variables (dicts naming task variables).
"""

from __future__ import annotations

import math
from typing import Any

from clopy_task.records import TaskError

__all__ = [
    'v', 'signal', 'goto_state', 'timed_goto_state', 'set_timer', 'disarm_timer', 'reset_timer',
    'pause_timer', 'unpause_timer', 'timer_remaining', 'publish_event', 'watch_signal',
    'unwatch_signal', 'request_frames', 'feedback_tone', 'print', 'print_variables',
    'stop_framework', 'get_current_time', 'tone', 'tone_off', 'tone_for', 'reward',
    'fail_signal', 'random', 'math', 'TaskError',
]

_running: list[Any] = []  # engines running task code, innermost last (one thread)


def _enter(engine: Any) -> None:
    _running.append(engine)


def _leave() -> None:
    _running.pop()


def current_engine() -> Any:
    """The engine running task code now; TaskError when there is none."""
    if not _running:
        raise TaskError('a task API function was called outside a running task engine; task '
                        'code runs inside TaskEngine (state functions, run_start, run_end)')
    return _running[-1]


class _EngineAttribute:
    """``v`` and ``signal``: attribute access goes to the current engine's object."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, '_name', name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(getattr(current_engine(), object.__getattribute__(self, '_name')), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(getattr(current_engine(), object.__getattribute__(self, '_name')), attr, value)

    def __repr__(self) -> str:
        return f'<task API {object.__getattribute__(self, "_name")}>'


v = _EngineAttribute('v')
signal = _EngineAttribute('signal')


def _forward(name: str, doc: str):
    method = f'_api_{name}'

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(current_engine(), method)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    return call


goto_state = _forward('goto_state', 'Exit the current state and enter ``state``.')
timed_goto_state = _forward('timed_goto_state', 'Go to ``state`` after ``t_s`` s unless a '
                            'transition happens first.')
set_timer = _forward('set_timer', 'Deliver ``event`` after ``t_s`` s, in whatever state.')
disarm_timer = _forward('disarm_timer', 'Remove every timer of ``event``.')
reset_timer = _forward('reset_timer', 'Disarm the timers of ``event`` and set one of ``t_s`` s.')
pause_timer = _forward('pause_timer', 'Freeze the timers of ``event``.')
unpause_timer = _forward('unpause_timer', 'Resume the frozen timers of ``event``.')
timer_remaining = _forward('timer_remaining', 's until the soonest timer of ``event``; 0 if none.')
publish_event = _forward('publish_event', 'Deliver ``event`` once the current handler returns.')
watch_signal = _forward('watch_signal', 'Deliver ``event`` on the first frame whose signal from '
                        '``delay_s`` ago is above / below a level; armed until the state exits.')
unwatch_signal = _forward('unwatch_signal', 'Disarm the watches of ``event``.')
request_frames = _forward('request_frames', "Ask for 'frame' events in this state (from "
                          "run_start: in every state).")
feedback_tone = _forward('feedback_tone', "Per-frame tone until the state exits: 'graded', a "
                         "frequency in Hz, or 'off'.")
print = _forward('print', 'Log a print record.')  # noqa: A001 - the pyControl spelling
print_variables = _forward('print_variables', 'Log the public variables (or those named).')
stop_framework = _forward('stop_framework', 'End the run once the current handler returns.')
get_current_time = _forward('get_current_time', 'Task time in s since the run start.')
tone = _forward('tone', 'Play ``frequency_hz`` (0 = off).')
tone_off = _forward('tone_off', 'Silence the tone.')
tone_for = _forward('tone_for', 'Tone in Hz for a signal value (from the tone_variables).')
reward = _forward('reward', 'Open the valve for ``duration_s`` s (default: the pulse_variables).')
fail_signal = _forward('fail_signal', 'Pulse the fail output for ``duration_s`` s.')
random = _forward('random', 'A number in [0, 1) from the run-seeded generator.')
