"""A pyControl-style extended state machine engine for CLoPy task files.

A task file is a Python module that imports the task API (``from clopy_task.api
import *``, see clopy_task.api) and defines ``states``, ``events``, ``initial_state``,
default variables (``v.name = value``), one function per state (``def trial(event):
...``) and optionally ``all_states(event)``, ``run_start()`` and ``run_end()``.

The engine never reads a clock. Every time comes from the caller (frame stamps in s),
so a live run, a replay and an offline simulation given the same frames produce the
same records and outputs. Timers fire when the caller advances time past them (each
frame does), at their own due time and in due-time order.

One frame (process_frame): timers due at or before its stamp fire; the signal is
updated; 'frame' goes to all_states() and the current state (every state, or with
``frame_events = 'requested'`` only where asked); armed signal watches are tested and
deliver their event; the state's feedback tone is set. ``run_signal`` gives the same
records for a whole recording while skipping frames where nothing can happen.

Every state entered, event, variable change and print becomes a ``TaskRecord``
(pyControl's data contract: time since run start, type, subtype, content), emitted in
time order. The per-frame ``'frame'`` event is delivered but not logged.
"""

from __future__ import annotations

import collections
import math
import numbers
from pathlib import Path
from typing import Any, Callable

import numpy as np

from clopy_task import api
from clopy_task.engine_api import TaskApi, Timer, Watch
from clopy_task.fast import FastRun
from clopy_task.loader import load_task
from clopy_task.records import (Outputs, RecordingOutputs, TaskError, TaskFileError, TaskRecord,
                                coerce_override, is_private, is_real, to_json)
from clopy_task.signal import HISTORY_S, Signal, Variables

__all__ = ['HISTORY_S', 'MAX_TIMER_FIRINGS', 'Outputs', 'RecordingOutputs', 'TaskEngine',
           'TaskError', 'TaskFileError', 'TaskRecord']

MAX_TIMER_FIRINGS = 100_000  # per advance: more means a timer re-arms itself with 0 s


class TaskEngine(TaskApi, FastRun):
    """Runs one task file.

    Args:
        task_path: the task file.
        variables: overrides applied after the file's defaults (e.g. from a parameter file).
        frame_rate_hz: nominal camera frame rate, used to turn delays in s into frames.
        outputs: where reward / fail_signal / tone go (default: ``RecordingOutputs``).
        sink: receives every ``TaskRecord`` as it is made (default: ``self.records``).

    Not thread-safe: call it from one thread (a node's single-threaded executor).
    """

    def __init__(self, task_path: str | Path, variables: dict[str, Any] | None = None, *,
                 frame_rate_hz: float, outputs: Outputs | None = None,
                 sink: Callable[[TaskRecord], None] | None = None):
        self.task_path = Path(task_path)
        if not (is_real(frame_rate_hz) and frame_rate_hz > 0):
            raise ValueError(f'TaskEngine: frame_rate_hz={frame_rate_hz!r}; '
                             'allowed: a number > 0 (Hz)')
        self.frame_rate_hz = float(frame_rate_hz)
        self.outputs: Outputs = outputs if outputs is not None else RecordingOutputs()
        self.records: list[TaskRecord] = []
        self._sink = sink if sink is not None else self.records.append
        self.signal = Signal(self.frame_rate_hz)
        self.v = Variables(self._assign_variable)
        self._values: dict[str, Any] = object.__getattribute__(self.v, '_values')
        self._t0_s: float | None = None
        self._now_s = 0.0
        self._frame_index = -1
        self._state: str | None = None
        self._in_transition = False
        self._loading = True
        self._stop_requested = False
        self._stopped = False
        self._timers: list[Timer] = []
        self._timer_sequence = 0
        self._published: collections.deque[str] = collections.deque()
        self._watches: list[Watch] = []
        self._feedback: Any = None  # None: no per-frame tone in this state
        self._frames_in_state = False
        self._frames_in_run = False
        self._tone_hz = 0.0
        self._tone_mapper: Any = None
        self._rng: np.random.Generator | None = None
        self.task = load_task(self.task_path, self)
        self._loading = False
        for name, value in (variables or {}).items():
            self._apply_override(name, value)

    # --- properties --------------------------------------------------------------------

    @property
    def state(self) -> str | None:
        return self._state

    @property
    def started(self) -> bool:
        return self._t0_s is not None

    @property
    def start_time_s(self) -> float | None:
        """The ``t_s`` given to start() (caller's clock); None before the start."""
        return self._t0_s

    @property
    def stopped(self) -> bool:
        """True once the run has ended (stop(), stop_framework() or a task error)."""
        return self._stopped

    @property
    def time_s(self) -> float:
        """Task time in s since run start (caller's clock: start_time_s + time_s)."""
        return self._now_s

    @property
    def tone_hz(self) -> float:
        """Frequency of the tone currently commanded, in Hz (0 = silent)."""
        return self._tone_hz

    @property
    def variables(self) -> dict[str, Any]:
        """Copy of the public variables (names ending in ``___`` are private)."""
        return {k: val for k, val in self._values.items() if not is_private(k)}

    def status(self) -> dict[str, Any]:
        """The task's ``status_variables``: status field -> current value of its variable
        (fields whose variable the task does not define are left out)."""
        return {field: self._values[name] for field, name in self.task.status_variables.items()
                if name in self._values}

    # --- variables ---------------------------------------------------------------------

    def _apply_override(self, name: str, value: Any) -> None:
        if name not in self._values or is_private(name):
            public = sorted(self.variables)
            raise TaskFileError(f'{self.task_path}: variable override {name}={value!r}: the task '
                                f'file defines no public variable {name!r}; allowed: {public}')
        ok, converted = coerce_override(self._values[name], value)
        if not ok:
            default = self._values[name]
            kind = type(default).__name__
            raise TaskFileError(f'{self.task_path}: variable override {name}={value!r}: '
                                f'allowed: a {kind} like the default {default!r}')
        self._values[name] = converted

    def _assign_variable(self, name: str, value: Any) -> None:
        if self._loading:
            self._values[name] = value
            return
        if name not in self._values:
            raise TaskError(f'{self.task_path}: v.{name} = {value!r}: no such variable; define '
                            f'its default at the top of the task file (v.{name} = ...)')
        old = self._values[name]
        self._values[name] = value
        try:
            changed = bool(old != value)
        except Exception:  # e.g. arrays: log rather than miss a change
            changed = True
        if changed and not is_private(name) and self._t0_s is not None:
            self._log('variable', 'task', to_json({name: value}))

    # --- running -----------------------------------------------------------------------

    def start(self, t_s: float) -> None:
        """Start the run at time ``t_s`` (s, caller's clock): log, run_start(), initial state."""
        if self._t0_s is not None:
            raise RuntimeError(f'{self.task_path}: start() called twice')
        t0_s = self._check_time(t_s, 'start')
        seed = self._values.get('seed', 0)  # tasks without v.seed still reproduce
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise TaskFileError(f'{self.task_path}: seed={seed!r}; allowed: an integer >= 0')
        self._rng = np.random.default_rng(int(seed))
        self._t0_s = t0_s
        self._log('info', 'task_file', str(self.task_path))
        self._log('info', 'task_sha256', self.task.sha256)
        self._log('info', 'start_time_s', repr(self._t0_s))
        self._log('info', 'frame_rate_hz', repr(self.frame_rate_hz))
        self._log('variable', 'run_start', to_json(self.variables))
        self._in_transition = True  # watches and frame requests made here last the whole run
        try:
            if self.task.hooks['run_start'] is not None:
                self._call_task(self.task.hooks['run_start'], what='run_start()')
            self._state = self.task.initial_state
            self._log('state', '', self._state)
            self._call_state('entry')
        finally:
            self._in_transition = False
        self._drain()

    def advance(self, t_s: float) -> None:
        """Fire every timer and timed transition due at or before ``t_s``, in due-time order."""
        if self._running('advance'):
            self._advance(self._run_time(t_s, 'advance'))

    def process_frame(self, t_s: float, frame_index: int, value: float,
                      valid: bool = True) -> None:
        """Deliver one frame of the control signal (stamp ``t_s`` in s).

        Timers due at or before ``t_s`` fire first, then ``signal`` is updated, 'frame'
        is delivered, watches are tested and the feedback tone is set (module docstring).
        A frame index not above the previous one is logged as a warning and not delivered.
        """
        if not self._running('process_frame'):
            return
        run_time = self._run_time(t_s, 'process_frame')
        if frame_index <= self._frame_index:
            self._advance(run_time)
            self._log('warning', 'frame',
                      f'frame {frame_index} after frame {self._frame_index}: ignored')
            return
        self._deliver_frame(run_time, int(frame_index),
                            math.nan if value is None else float(value), valid, tones=True)

    def _deliver_frame(self, run_time: float, frame_index: int, value: float, valid: bool,
                       tones: bool) -> None:
        # timers that fell due since the last frame take effect with this frame:
        # their records carry this frame's index, as the ROS messages carry its stamp
        self._frame_index = frame_index
        self._advance(run_time)
        if self._stopped:
            return
        self.signal._push(frame_index, value, valid)
        if self._wants_frames():
            self._dispatch('frame')
            self._drain()
        if self._watches and not self._stopped:
            self._test_watches()
        if tones and self._feedback is not None and not self._stopped:
            self._call_task(self._play_feedback, what=f'{self._state}(feedback)')

    def trigger_event(self, name: str, t_s: float, subtype: str = 'user') -> None:
        """Deliver a named event from outside the task (GUI, service call) at ``t_s``."""
        self._running('trigger_event', raise_if_stopped=True)
        self._check_event(name, 'trigger_event')
        self._advance(self._run_time(t_s, 'trigger_event'))
        if not self._stopped:
            self._log('event', subtype, name)
            self._dispatch(name)
            self._drain()

    def set_variable(self, name: str, value: Any, t_s: float, subtype: str = 'api') -> None:
        """Set a public variable from outside the task at ``t_s``; logged with ``subtype``."""
        self._running('set_variable', raise_if_stopped=True)
        if name not in self._values or is_private(name):
            raise TaskError(f'{self.task_path}: set_variable {name}={value!r}: no public variable '
                            f'{name!r}; allowed: {sorted(self.variables)}')
        ok, converted = coerce_override(self._values[name], value)
        if not ok:
            raise TaskError(f'{self.task_path}: set_variable {name}={value!r}: allowed: a '
                            f'{type(self._values[name]).__name__} like {self._values[name]!r}')
        self._advance(self._run_time(t_s, 'set_variable'))
        if not self._stopped:
            self._values[name] = converted
            self._log('variable', subtype, to_json({name: converted}))

    def stop(self, t_s: float) -> None:
        """End the run at ``t_s``: due timers fire, then run_end(), a final snapshot.

        Idempotent: after the run has ended (by stop_framework() too) it does nothing.
        """
        if self._running('stop'):
            self._advance(self._run_time(t_s, 'stop'))
            if not self._stopped:
                self._finish(call_run_end=True)

    # --- internals: time, dispatch, logging --------------------------------------------

    def _running(self, where: str, raise_if_stopped: bool = False) -> bool:
        if self._t0_s is None:
            raise RuntimeError(f'{self.task_path}: {where}() before start()')
        if self._stopped and raise_if_stopped:
            raise RuntimeError(f'{self.task_path}: {where}() after the run ended')
        return not self._stopped

    def _check_time(self, t_s: float, where: str) -> float:
        if not is_real(t_s):
            raise ValueError(f'{self.task_path}: {where}(t_s={t_s!r}); '
                             'allowed: a finite time in s')
        return float(t_s)

    def _run_time(self, t_s: float, where: str) -> float:
        t = self._check_time(t_s, where) - self._t0_s
        if t < self._now_s:  # keep the log in time order: late stamps count as now
            self._log('warning', 'time',
                      f'{where} stamped {self._now_s - t:.6f} s before task time; used task time')
            t = self._now_s
        return t

    def _next_due_s(self) -> float:
        """Due time of the next running timer (inf when none)."""
        return min((tm.due_s for tm in self._timers if tm.due_s is not None), default=math.inf)

    def _advance(self, t: float) -> None:
        for _ in range(MAX_TIMER_FIRINGS):
            if self._stopped:  # the run ended at a timer's time: time stops there
                return
            due = [tm for tm in self._timers if tm.due_s is not None and tm.due_s <= t]
            if not due:
                self._now_s = max(self._now_s, t)
                return
            timer = min(due, key=lambda tm: (tm.due_s, tm.sequence))
            self._timers.remove(timer)
            self._now_s = max(self._now_s, timer.due_s)
            if timer.kind == 'goto':
                self._api_goto_state(timer.name)
            else:
                self._log('event', 'timer', timer.name)
                self._dispatch(timer.name)
            self._drain()
        raise self._fail(TaskError(f'{self.task_path}: more than {MAX_TIMER_FIRINGS} timers fired '
                                   f'before t={t} s; a timer probably re-arms itself with 0 s'))

    def _dispatch(self, event: str) -> None:
        all_states = self.task.hooks['all_states']
        if all_states is not None and self._call_task(all_states, event,
                                                      what=f'all_states({event})'):
            return  # vetoed
        self._call_state(event)

    def _call_state(self, event: str) -> Any:
        return self._call_task(self.task.states[self._state], event,
                               what=f'{self._state}({event})')

    def _drain(self) -> None:
        """Deliver published events, then end the run if the task asked to."""
        while self._published and not self._stop_requested:
            event = self._published.popleft()
            self._log('event', 'publish', event)
            self._dispatch(event)
        if self._stop_requested and not self._stopped:
            self._finish(call_run_end=True)

    def _call_task(self, function: Callable[..., Any], *args: Any, what: str) -> Any:
        api._enter(self)
        try:
            return function(*args)
        except TaskError as exc:
            if str(exc).startswith(str(self.task_path)):
                self._fail(exc)
                raise
            # raised by the task's own code: say where
            raise self._fail(TaskError(f'{self.task_path}: {what}: {exc}')) from exc
        except Exception as exc:
            error = TaskError(f'{self.task_path}: {what} raised {type(exc).__name__}: {exc}')
            raise self._fail(error) from exc
        finally:
            api._leave()

    def _fail(self, error: TaskError) -> TaskError:
        """Log a task error and end the run (without run_end, the task is broken)."""
        if not self._stopped and self._t0_s is not None:
            self._log('error', 'task', str(error))
            self._finish(call_run_end=False)
        return error

    def _finish(self, call_run_end: bool) -> None:
        if self._stopped:
            return
        self._stop_requested = True
        self._timers.clear()
        self._watches.clear()
        self._feedback = None
        error: TaskError | None = None
        if call_run_end and self.task.hooks['run_end'] is not None:
            api._enter(self)
            try:
                self.task.hooks['run_end']()
            except Exception as exc:  # finish the run anyway, then report
                error = TaskError(f'{self.task_path}: run_end() raised '
                                  f'{type(exc).__name__}: {exc}')
                error.__cause__ = exc
                self._log('error', 'task', str(error))
            finally:
                api._leave()
        if self._tone_hz != 0:  # never leave a tone playing after the run
            self._api_tone(0.0)
        self._log('variable', 'run_end', to_json(self.variables))
        self._log('info', 'end_time_s', repr(self._t0_s + self._now_s))
        self._stopped = True
        if error is not None:
            raise error

    def _log(self, type_: str, subtype: str, content: str) -> None:
        self._sink(TaskRecord(self._now_s, type_, subtype, content, self._frame_index))

    def _check_event(self, name: str, where: str) -> None:
        if name not in self.task.events:
            raise TaskError(f'{self.task_path}: {where}({name!r}): no such event; allowed: the '
                            f'events the task declares, {sorted(self.task.events)}')
