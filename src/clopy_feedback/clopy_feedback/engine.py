"""A pyControl-style extended state machine engine for CLoPy task files.

A task file is plain Python executed in a namespace that already holds the task API
(no import needed): it defines ``states``, ``events``, ``initial_state``, default
variables (``v.name = value``), one function per state (``def trial(event): ...``) and
optionally ``all_states(event)``, ``run_start()`` and ``run_end()``.

Task API (times in s, frequencies in Hz):
  v.name                      variables; names ending ``___`` are private (not logged)
  goto_state(s)               exit the current state, enter s (not allowed in entry/exit)
  timed_goto_state(s, t_s)    go to s after t_s unless a transition happens first
  set_timer(e, t_s)           event e after t_s, in whatever state; several per event
  disarm_timer(e), reset_timer(e, t_s), pause_timer(e), unpause_timer(e),
  timer_remaining(e) -> s     the soonest timer of e (0 when none)
  publish_event(e)            e is delivered after the current handler returns
  print(*args), print_variables(names=None), stop_framework(), get_current_time() -> s
  signal                      .value, .valid, .frame_index, .delayed(delay_s) -> value
  tone(f_hz), tone_off(), tone_for(value) -> f_hz (ToneMapper from v.threshold ...)
  reward(duration_s=v.valve_pulse_s, reason='success')
  fail_signal(duration_s=v.fail_pulse_s, reason='timeout')
  random() -> [0, 1)          engine-owned generator seeded from v.seed (default 0)
  math, TaskError

The engine never reads a clock. Every time comes from the caller (frame stamps in s),
so a live run, a replay and an offline simulation given the same frames produce the
same records and outputs. Timers fire when the caller advances time past them (each
frame does), at their own due time and in due-time order.

Every state entered, event, variable change and print becomes a ``TaskRecord``
(pyControl's data contract: time since run start, type, subtype, content), emitted in
time order. The per-frame ``'frame'`` event is delivered but not logged.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import numbers
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from clopy_feedback.tones import ToneMapper

HISTORY_S = 60.0  # signal history kept for signal.delayed() unless a longer delay is asked
MAX_TIMER_FIRINGS = 100_000  # per advance: more means a timer re-arms itself with 0 s


class TaskError(Exception):
    """The task did something the task API does not allow (unknown state, goto in entry...)."""


class TaskFileError(TaskError):
    """The task file or a variable override is invalid (found before the run starts)."""


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One line of the task log.

    time_s: s since run start. type: 'state' | 'event' | 'print' | 'variable' | 'warning'
    | 'error' | 'info'. subtype: e.g. 'timer', 'user', 'api', 'publish', 'task',
    'run_start'. content: state/event name, text, or JSON for variables.
    frame_index: the latest frame the engine had seen (-1 before the first frame).
    """

    time_s: float
    type: str
    subtype: str
    content: str
    frame_index: int


class Outputs(Protocol):
    """What a task can drive. ``t_s`` is on the caller's clock (the stamps given to the engine).

    reward / fail_signal: a pulse of ``duration_s`` s; tone: ``frequency_hz`` Hz, 0 = off.
    """

    def reward(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        ...

    def fail_signal(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        ...

    def tone(self, t_s: float, frame_index: int, frequency_hz: float) -> None:
        ...


@dataclasses.dataclass
class RecordingOutputs:
    """Outputs that only remember the calls, as (kind, t_s, frame_index, *args) tuples."""

    calls: list[tuple] = dataclasses.field(default_factory=list)

    def reward(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.calls.append(('reward', t_s, frame_index, duration_s, reason))

    def fail_signal(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.calls.append(('fail_signal', t_s, frame_index, duration_s, reason))

    def tone(self, t_s: float, frame_index: int, frequency_hz: float) -> None:
        self.calls.append(('tone', t_s, frame_index, frequency_hz))

    def of_kind(self, kind: str) -> list[tuple]:
        """Calls of one kind: 'reward', 'fail_signal' or 'tone'."""
        return [c for c in self.calls if c[0] == kind]


class Signal:
    """The control signal as the task sees it: ``signal.value`` is the current frame's value.

    Invalid or non-finite frames read as 0.0 with ``valid`` False. The history is kept
    across states (as in the original), bounded to ``HISTORY_S`` or the longest delay asked.
    """

    def __init__(self, frame_rate_hz: float):
        self.value = 0.0
        self.valid = False
        self.frame_index = -1
        self._frame_rate_hz = frame_rate_hz
        self._history: collections.deque[tuple[int, float]] = collections.deque(
            maxlen=max(2, math.ceil(HISTORY_S * frame_rate_hz) + 1))

    def _push(self, frame_index: int, value: float, valid: bool) -> None:
        valid = bool(valid) and math.isfinite(value)
        self.value = float(value) if valid else 0.0
        self.valid = valid
        self.frame_index = frame_index
        self._history.append((frame_index, self.value))

    def delayed(self, delay_s: float) -> float:
        """Value from ``round(delay_s * frame_rate_hz)`` frames ago.

        A dropped frame reads as the latest frame seen before it; a frame older than the
        first one seen reads 0.0 (the original's delay line starts filled with zeros).
        """
        if not (_is_real(delay_s) and delay_s >= 0):
            raise TaskError(f'signal.delayed: delay_s={delay_s!r}; allowed: a number of s >= 0')
        n_frames = round(delay_s * self._frame_rate_hz)
        if n_frames + 1 > self._history.maxlen:  # n frames back needs at most n + 1 entries
            self._history = collections.deque(self._history, maxlen=n_frames + 1)
        target = self.frame_index - n_frames
        for index, value in reversed(self._history):
            if index <= target:
                return value
        return 0.0


class Variables:
    """Task variables, ``v.name``. Assignments go through the engine so they can be logged."""

    def __init__(self, on_set: Callable[[str, Any], None]):
        object.__setattr__(self, '_values', {})
        object.__setattr__(self, '_on_set', on_set)

    def __getattr__(self, name: str) -> Any:
        try:
            return object.__getattribute__(self, '_values')[name]
        except KeyError:
            raise AttributeError(f'task variable v.{name} is not defined') from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._on_set(name, value)


@dataclasses.dataclass
class _Timer:
    kind: str  # 'event' (set_timer) or 'goto' (timed_goto_state)
    name: str  # event or target state
    sequence: int  # breaks ties between equal due times: first set fires first
    due_s: float | None  # run time at which it fires; None while paused
    remaining_s: float = 0.0  # while paused


def _is_real(x: Any) -> bool:
    """A finite real number (bools are not numbers here)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _is_private(name: str) -> bool:
    return name.endswith('___')


def _coerce_override(default: Any, value: Any) -> tuple[bool, Any]:
    """Check an override against the default's type; returns (ok, converted value)."""
    if default is None:
        return True, value
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool), value
    if isinstance(default, numbers.Integral):
        if isinstance(value, numbers.Integral):
            return True, int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():  # 60.0 from YAML
            return True, int(value)
        return False, value
    if isinstance(default, numbers.Real):
        if isinstance(value, numbers.Real):
            return True, float(value)
        return False, value
    return isinstance(value, type(default)), value


def _to_json(values: dict[str, Any]) -> str:
    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, 'item') else str(x)  # numpy scalars, else text
    return json.dumps(values, default=plain)


class TaskEngine:
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
        if not (_is_real(frame_rate_hz) and frame_rate_hz > 0):
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
        self._timers: list[_Timer] = []
        self._timer_sequence = 0
        self._published: collections.deque[str] = collections.deque()
        self._tone_hz = 0.0
        self._tone_mapper: ToneMapper | None = None
        self._rng: np.random.Generator | None = None
        self._load()
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
        return {k: val for k, val in self._values.items() if not _is_private(k)}

    # --- loading -----------------------------------------------------------------------

    def _load(self) -> None:
        try:
            source = self.task_path.read_bytes()
        except OSError as exc:
            raise TaskFileError(f'{self.task_path}: cannot read the task file: {exc}') from exc
        self._task_sha256 = hashlib.sha256(source).hexdigest()
        ns = self._namespace()
        try:
            exec(compile(source, str(self.task_path), 'exec'), ns)
        except TaskError:
            raise
        except Exception as exc:
            raise TaskFileError(f'{self.task_path}: loading the task file failed: '
                                f'{type(exc).__name__}: {exc}') from exc
        states, events, initial = ns.get('states'), ns.get('events', []), ns.get('initial_state')
        for key, value in (('states', states), ('events', events)):
            if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
                raise TaskFileError(f'{self.task_path}: {key} = {value!r}; '
                                    'allowed: a list of names')
        if not states:
            raise TaskFileError(f'{self.task_path}: states is empty; '
                                'allowed: a list of state names')
        if initial not in states:
            raise TaskFileError(f'{self.task_path}: initial_state = {initial!r}; '
                                f'allowed: one of {states}')
        self._state_functions: dict[str, Callable[[str], Any]] = {}
        for state in states:
            if not callable(ns.get(state)):
                raise TaskFileError(f'{self.task_path}: state {state!r} has no function; '
                                    f'define def {state}(event): ...')
            self._state_functions[state] = ns[state]
        self._events = set(events)
        self._initial_state = initial
        self._hooks = {name: ns.get(name) for name in ('all_states', 'run_start', 'run_end')}

    def _namespace(self) -> dict[str, Any]:
        return {
            '__name__': '__task__', '__file__': str(self.task_path),
            'v': self.v, 'signal': self.signal, 'math': math, 'TaskError': TaskError,
            'goto_state': self._goto_state, 'timed_goto_state': self._timed_goto_state,
            'set_timer': self._set_timer, 'disarm_timer': self._disarm_timer,
            'reset_timer': self._reset_timer, 'pause_timer': self._pause_timer,
            'unpause_timer': self._unpause_timer, 'timer_remaining': self._timer_remaining,
            'publish_event': self._publish_event, 'print': self._print,
            'print_variables': self._print_variables, 'stop_framework': self._stop_framework,
            'get_current_time': lambda: self._now_s, 'tone': self._tone,
            'tone_off': lambda: self._tone(0.0), 'tone_for': self._tone_for,
            'reward': self._reward, 'fail_signal': self._fail_signal, 'random': self._random,
        }

    def _apply_override(self, name: str, value: Any) -> None:
        if name not in self._values or _is_private(name):
            public = sorted(self.variables)
            raise TaskFileError(f'{self.task_path}: variable override {name}={value!r}: the task '
                                f'file defines no public variable {name!r}; allowed: {public}')
        ok, converted = _coerce_override(self._values[name], value)
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
        if changed and not _is_private(name) and self._t0_s is not None:
            self._log('variable', 'task', _to_json({name: value}))

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
        self._log('info', 'task_sha256', self._task_sha256)
        self._log('info', 'start_time_s', repr(self._t0_s))
        self._log('info', 'frame_rate_hz', repr(self.frame_rate_hz))
        self._log('variable', 'run_start', _to_json(self.variables))
        if self._hooks['run_start'] is not None:
            self._call_task(self._hooks['run_start'], what='run_start()')
        self._in_transition = True
        try:
            self._state = self._initial_state
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

        Timers due at or before ``t_s`` fire first, then ``signal`` is updated and the
        event 'frame' goes to all_states() and the current state. A frame index not above
        the previous one is logged as a warning and not delivered.
        """
        if not self._running('process_frame'):
            return
        run_time = self._run_time(t_s, 'process_frame')
        if frame_index <= self._frame_index:
            self._advance(run_time)
            self._log('warning', 'frame',
                      f'frame {frame_index} after frame {self._frame_index}: ignored')
            return
        # timers that fell due since the last frame take effect with this frame:
        # their records carry this frame's index, as the ROS messages carry its stamp
        self._frame_index = int(frame_index)
        self._advance(run_time)
        if self._stopped:
            return
        self.signal._push(self._frame_index, math.nan if value is None else float(value), valid)
        self._dispatch('frame')
        self._drain()

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
        if name not in self._values or _is_private(name):
            raise TaskError(f'{self.task_path}: set_variable {name}={value!r}: no public variable '
                            f'{name!r}; allowed: {sorted(self.variables)}')
        ok, converted = _coerce_override(self._values[name], value)
        if not ok:
            raise TaskError(f'{self.task_path}: set_variable {name}={value!r}: allowed: a '
                            f'{type(self._values[name]).__name__} like {self._values[name]!r}')
        self._advance(self._run_time(t_s, 'set_variable'))
        if not self._stopped:
            self._values[name] = converted
            self._log('variable', subtype, _to_json({name: converted}))

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
        if not _is_real(t_s):
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
                self._goto_state(timer.name)
            else:
                self._log('event', 'timer', timer.name)
                self._dispatch(timer.name)
            self._drain()
        raise self._fail(TaskError(f'{self.task_path}: more than {MAX_TIMER_FIRINGS} timers fired '
                                   f'before t={t} s; a timer probably re-arms itself with 0 s'))

    def _dispatch(self, event: str) -> None:
        all_states = self._hooks['all_states']
        if all_states is not None and self._call_task(all_states, event,
                                                      what=f'all_states({event})'):
            return  # vetoed
        self._call_state(event)

    def _call_state(self, event: str) -> Any:
        return self._call_task(self._state_functions[self._state], event,
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
        error: TaskError | None = None
        if call_run_end and self._hooks['run_end'] is not None:
            try:
                self._hooks['run_end']()
            except Exception as exc:  # finish the run anyway, then report
                error = TaskError(f'{self.task_path}: run_end() raised '
                                  f'{type(exc).__name__}: {exc}')
                error.__cause__ = exc
                self._log('error', 'task', str(error))
        if self._tone_hz != 0:  # never leave a tone playing after the run
            self._tone(0.0)
        self._log('variable', 'run_end', _to_json(self.variables))
        self._log('info', 'end_time_s', repr(self._t0_s + self._now_s))
        self._stopped = True
        if error is not None:
            raise error

    def _log(self, type_: str, subtype: str, content: str) -> None:
        self._sink(TaskRecord(self._now_s, type_, subtype, content, self._frame_index))

    def _check_event(self, name: str, where: str) -> None:
        if name not in self._events:
            raise TaskError(f'{self.task_path}: {where}({name!r}): no such event; allowed: the '
                            f'events the task declares, {sorted(self._events)}')

    # --- the task API ------------------------------------------------------------------

    def _goto_state(self, state: str) -> None:
        if state not in self._state_functions:
            raise TaskError(f'{self.task_path}: goto_state({state!r}): no such state; allowed: '
                            f'{list(self._state_functions)}')
        if self._in_transition or self._state is None:
            raise TaskError(f'{self.task_path}: goto_state({state!r}) called during entry/exit of '
                            f'{self._state!r} or outside a running state; transitions cannot nest')
        self._in_transition = True
        try:
            self._call_state('exit')
            self._timers = [tm for tm in self._timers if tm.kind != 'goto']
            self._state = state
            self._log('state', '', state)
            self._call_state('entry')
        finally:
            self._in_transition = False

    def _add_timer(self, kind: str, name: str, delay_s: float) -> None:
        if not (_is_real(delay_s) and delay_s >= 0):
            raise TaskError(f'{self.task_path}: timer for {name!r}: t_s={delay_s!r}; '
                            'allowed: a number of s >= 0')
        self._timer_sequence += 1
        self._timers.append(_Timer(kind, name, self._timer_sequence, self._now_s + float(delay_s)))

    def _timed_goto_state(self, state: str, t_s: float) -> None:
        if state not in self._state_functions:
            raise TaskError(f'{self.task_path}: timed_goto_state({state!r}): no such state; '
                            f'allowed: {list(self._state_functions)}')
        self._timers = [tm for tm in self._timers if tm.kind != 'goto']  # only one at a time
        self._add_timer('goto', state, t_s)

    def _set_timer(self, event: str, t_s: float) -> None:
        self._check_event(event, 'set_timer')
        self._add_timer('event', event, t_s)

    def _event_timers(self, event: str, where: str) -> list[_Timer]:
        self._check_event(event, where)
        return [tm for tm in self._timers if tm.kind == 'event' and tm.name == event]

    def _disarm_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'disarm_timer'):
            self._timers.remove(timer)

    def _reset_timer(self, event: str, t_s: float) -> None:
        self._disarm_timer(event)
        self._set_timer(event, t_s)

    def _pause_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'pause_timer'):
            if timer.due_s is not None:
                timer.remaining_s, timer.due_s = timer.due_s - self._now_s, None

    def _unpause_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'unpause_timer'):
            if timer.due_s is None:
                timer.due_s = self._now_s + timer.remaining_s

    def _timer_remaining(self, event: str) -> float:
        """s until the event's next timer fires (paused: its frozen remainder); 0 if none."""
        left = [tm.remaining_s if tm.due_s is None else tm.due_s - self._now_s
                for tm in self._event_timers(event, 'timer_remaining')]
        return min(left, default=0.0)

    def _publish_event(self, event: str) -> None:
        self._check_event(event, 'publish_event')
        self._published.append(event)  # delivered once the current handler returns

    def _print(self, *args: Any) -> None:
        self._log('print', 'task', ' '.join(str(a) for a in args))

    def _print_variables(self, names: list[str] | None = None) -> None:
        public = self.variables
        names = list(public) if names is None else list(names)
        unknown = [n for n in names if n not in public]
        if unknown:
            raise TaskError(f'{self.task_path}: print_variables({unknown}): no such public '
                            f'variable; allowed: {sorted(public)}')
        self._log('variable', 'print', _to_json({n: public[n] for n in names}))

    def _stop_framework(self) -> None:
        self._stop_requested = True  # the run ends once the current handler returns

    def _random(self) -> float:
        if self._rng is None:
            raise TaskError(f'{self.task_path}: random() before the run started')
        return float(self._rng.random())

    def _now_abs_s(self) -> float:
        return self._t0_s + self._now_s if self._t0_s is not None else 0.0

    def _tone(self, frequency_hz: float) -> None:
        if not (_is_real(frequency_hz) and frequency_hz >= 0):
            raise TaskError(f'{self.task_path}: tone({frequency_hz!r}); '
                            'allowed: a frequency in Hz >= 0 (0 = off)')
        if frequency_hz != self._tone_hz:  # the same pitch is already playing
            self._tone_hz = frequency_hz
            self.outputs.tone(self._now_abs_s(), self._frame_index, frequency_hz)

    def _tone_for(self, value: float) -> int:
        """Tone in Hz for a signal value, from v.threshold and (defaults in brackets)
        v.n_tones (18), v.tone_mapping ('clnf'), v.tone_range ('zero_to_threshold').

        The mapper is rebuilt whenever one of them changes (e.g. adaptive threshold).
        """
        if 'threshold' not in self._values:
            raise TaskError(f'{self.task_path}: tone_for() needs v.threshold; '
                            'define it in the task file')
        key = dict(threshold=self._values['threshold'], n_tones=self._values.get('n_tones', 18),
                   mapping=self._values.get('tone_mapping', 'clnf'),
                   tone_range=self._values.get('tone_range', 'zero_to_threshold'))
        mapper = self._tone_mapper
        current = None if mapper is None else (
            mapper.threshold, mapper.n_tones, mapper.mapping, mapper.tone_range)
        if current != tuple(key.values()):
            try:
                mapper = self._tone_mapper = ToneMapper(**key)
            except ValueError as exc:
                raise TaskError(f'{self.task_path}: tone_for(): {exc}') from exc
        return mapper.frequency_hz(value)

    def _pulse_duration(self, duration_s: float | None, variable: str, where: str) -> float:
        if duration_s is None:
            if variable not in self._values:
                raise TaskError(f'{self.task_path}: {where}() without a duration needs '
                                f'v.{variable}')
            duration_s = self._values[variable]
        if not (_is_real(duration_s) and duration_s >= 0):
            raise TaskError(f'{self.task_path}: {where}(duration_s={duration_s!r}); '
                            'allowed: a number of s >= 0')
        return float(duration_s)

    def _reward(self, duration_s: float | None = None, reason: str = 'success') -> None:
        duration_s = self._pulse_duration(duration_s, 'valve_pulse_s', 'reward')
        self.outputs.reward(self._now_abs_s(), self._frame_index, duration_s, reason)

    def _fail_signal(self, duration_s: float | None = None, reason: str = 'timeout') -> None:
        duration_s = self._pulse_duration(duration_s, 'fail_pulse_s', 'fail_signal')
        self.outputs.fail_signal(self._now_abs_s(), self._frame_index, duration_s, reason)
