"""The task API as engine methods (``_api_<name>``; clopy_task.api forwards to them).

Part of TaskEngine (a mixin): it uses the engine's state, timers and outputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from clopy_task.records import TaskError, is_real, to_json
from clopy_task.tones import ToneMapper


@dataclasses.dataclass
class Timer:
    kind: str  # 'event' (set_timer) or 'goto' (timed_goto_state)
    name: str  # event or target state
    sequence: int  # breaks ties between equal due times: first set fires first
    due_s: float | None  # run time at which it fires; None while paused
    remaining_s: float = 0.0  # while paused


@dataclasses.dataclass
class Watch:
    """watch_signal(): ``event`` on the first frame pushed after ``armed_after`` whose
    signal from ``delay`` ago is strictly above ``above`` / strictly below ``below``.
    Levels and delay: numbers, or names of task variables read on every frame."""

    event: str
    above: float | str | None
    below: float | str | None
    delay: float | str
    armed_after: int  # the last frame pushed when it was armed
    run_wide: bool  # armed in run_start: survives state changes


class TaskApi:
    """Task API methods of TaskEngine."""

    _transitions = 0  # state changes so far (watches stop testing after one)

    # --- states and timers -------------------------------------------------------------

    def _api_goto_state(self, state: str) -> None:
        if state not in self.task.states:
            raise TaskError(f'{self.task_path}: goto_state({state!r}): no such state; allowed: '
                            f'{list(self.task.states)}')
        if self._in_transition or self._state is None:
            raise TaskError(f'{self.task_path}: goto_state({state!r}) called during entry/exit of '
                            f'{self._state!r} or outside a running state; transitions cannot nest')
        self._in_transition = True
        try:
            self._call_state('exit')
            self._timers = [tm for tm in self._timers if tm.kind != 'goto']
            self._watches = [w for w in self._watches if w.run_wide]
            self._feedback = None
            self._frames_in_state = False
            self._transitions += 1
            self._state = state
            self._log('state', '', state)
            self._call_state('entry')
        finally:
            self._in_transition = False

    def _add_timer(self, kind: str, name: str, delay_s: float) -> None:
        if not (is_real(delay_s) and delay_s >= 0):
            raise TaskError(f'{self.task_path}: timer for {name!r}: t_s={delay_s!r}; '
                            'allowed: a number of s >= 0')
        self._timer_sequence += 1
        self._timers.append(Timer(kind, name, self._timer_sequence, self._now_s + float(delay_s)))

    def _api_timed_goto_state(self, state: str, t_s: float) -> None:
        if state not in self.task.states:
            raise TaskError(f'{self.task_path}: timed_goto_state({state!r}): no such state; '
                            f'allowed: {list(self.task.states)}')
        self._timers = [tm for tm in self._timers if tm.kind != 'goto']  # only one at a time
        self._add_timer('goto', state, t_s)

    def _api_set_timer(self, event: str, t_s: float) -> None:
        self._check_event(event, 'set_timer')
        self._add_timer('event', event, t_s)

    def _event_timers(self, event: str, where: str) -> list[Timer]:
        self._check_event(event, where)
        return [tm for tm in self._timers if tm.kind == 'event' and tm.name == event]

    def _api_disarm_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'disarm_timer'):
            self._timers.remove(timer)

    def _api_reset_timer(self, event: str, t_s: float) -> None:
        self._api_disarm_timer(event)
        self._api_set_timer(event, t_s)

    def _api_pause_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'pause_timer'):
            if timer.due_s is not None:
                timer.remaining_s, timer.due_s = timer.due_s - self._now_s, None

    def _api_unpause_timer(self, event: str) -> None:
        for timer in self._event_timers(event, 'unpause_timer'):
            if timer.due_s is None:
                timer.due_s = self._now_s + timer.remaining_s

    def _api_timer_remaining(self, event: str) -> float:
        """s until the event's next timer fires (paused: its frozen remainder); 0 if none."""
        left = [tm.remaining_s if tm.due_s is None else tm.due_s - self._now_s
                for tm in self._event_timers(event, 'timer_remaining')]
        return min(left, default=0.0)

    def _api_publish_event(self, event: str) -> None:
        self._check_event(event, 'publish_event')
        self._published.append(event)  # delivered once the current handler returns

    # --- frames, watches, feedback -----------------------------------------------------

    def _api_request_frames(self) -> None:
        if self._state is None:
            self._frames_in_run = True
        else:
            self._frames_in_state = True

    def _wants_frames(self) -> bool:
        return (self.task.frame_events == 'every_state' or self._frames_in_run
                or self._frames_in_state)

    def _check_level(self, where: str, key: str, level: Any) -> None:
        if level is None or is_real(level):
            return
        if isinstance(level, str) and level in self._values:
            return
        raise TaskError(f'{self.task_path}: {where}: {key}={level!r}; allowed: a number or the '
                        f'name of a task variable ({sorted(self._values)})')

    def _api_watch_signal(self, event: str, above: float | str | None = None,
                          below: float | str | None = None, delay_s: float | str = 0.0) -> None:
        where = f'watch_signal({event!r})'
        self._check_event(event, 'watch_signal')
        if (above is None) == (below is None):
            raise TaskError(f'{self.task_path}: {where}: give exactly one of above= or below=')
        for key, level in (('above', above), ('below', below), ('delay_s', delay_s)):
            self._check_level(where, key, level)
        self.signal.delay_frames(self._level(delay_s))  # checks the delay now
        self._watches.append(Watch(event, above, below, delay_s, self.signal.frame_index,
                                   run_wide=self._state is None))

    def _api_unwatch_signal(self, event: str) -> None:
        self._check_event(event, 'unwatch_signal')
        self._watches = [w for w in self._watches if w.event != event]

    def _level(self, level: float | str) -> float:
        value = self._values[level] if isinstance(level, str) else level
        if not is_real(value):
            raise TaskError(f'{self.task_path}: watch_signal: v.{level} = {value!r}; '
                            'allowed: a number')
        return value

    def _watch_fires(self, watch: Watch, delayed_value: float) -> bool:
        if watch.above is not None:
            return delayed_value > self._level(watch.above)
        return delayed_value < self._level(watch.below)

    def _test_watches(self) -> None:
        """Deliver the event of each armed watch true on this frame (each fires once)."""
        transitions = self._transitions
        for watch in list(self._watches):
            if self._stopped or self._transitions != transitions:
                return
            if watch not in self._watches or self.signal.frame_index <= watch.armed_after:
                continue
            value = self.signal.delayed(self._call_task(self._level, watch.delay,
                                                        what='watch_signal'))
            if self._call_task(self._watch_fires, watch, value, what='watch_signal'):
                self._watches.remove(watch)
                self._log('event', 'watch', watch.event)
                self._dispatch(watch.event)
                self._drain()

    def _api_feedback_tone(self, kind: str | float) -> None:
        ok = kind in ('graded', 'off') or (is_real(kind) and kind >= 0)
        if not ok:
            raise TaskError(f"{self.task_path}: feedback_tone({kind!r}); allowed: 'graded', "
                            "'off' or a frequency in Hz >= 0")
        if kind == 'graded':
            self._api_tone_for(0.0)  # checks the tone variables now
        self._feedback = kind

    def _play_feedback(self) -> None:
        kind = self._feedback
        if kind == 'graded':
            self._api_tone(self._api_tone_for(self.signal.value))
        else:
            self._api_tone(0.0 if kind == 'off' else kind)

    # --- logging, time, randomness -----------------------------------------------------

    def _api_print(self, *args: Any) -> None:
        self._log('print', 'task', ' '.join(str(a) for a in args))

    def _api_print_variables(self, names: list[str] | None = None) -> None:
        public = self.variables
        names = list(public) if names is None else list(names)
        unknown = [n for n in names if n not in public]
        if unknown:
            raise TaskError(f'{self.task_path}: print_variables({unknown}): no such public '
                            f'variable; allowed: {sorted(public)}')
        self._log('variable', 'print', to_json({n: public[n] for n in names}))

    def _api_stop_framework(self) -> None:
        self._stop_requested = True  # the run ends once the current handler returns

    def _api_get_current_time(self) -> float:
        return self._now_s

    def _api_random(self) -> float:
        if self._rng is None:
            raise TaskError(f'{self.task_path}: random() before the run started')
        return float(self._rng.random())

    # --- outputs -----------------------------------------------------------------------

    def _now_abs_s(self) -> float:
        return self._t0_s + self._now_s if self._t0_s is not None else 0.0

    def _api_tone(self, frequency_hz: float) -> None:
        if not (is_real(frequency_hz) and frequency_hz >= 0):
            raise TaskError(f'{self.task_path}: tone({frequency_hz!r}); '
                            'allowed: a frequency in Hz >= 0 (0 = off)')
        if frequency_hz != self._tone_hz:  # the same pitch is already playing
            self._tone_hz = frequency_hz
            self.outputs.tone(self._now_abs_s(), self._frame_index, frequency_hz)

    def _api_tone_off(self) -> None:
        self._api_tone(0.0)

    def _api_tone_for(self, value: float) -> int:
        """Tone in Hz for a signal value: a ToneMapper built from the variables the task
        names in ``tone_variables`` (ToneMapper field -> variable name; 'threshold' is
        needed, the other fields default). Rebuilt whenever one of them changes."""
        names = self.task.tone_variables
        if 'threshold' not in names:
            raise TaskError(f"{self.task_path}: tone_for() needs tone_variables = "
                            "{'threshold': '<variable name>', ...} in the task file")
        missing = sorted(n for n in names.values() if n not in self._values)
        if missing:
            raise TaskError(f'{self.task_path}: tone_variables names {missing}, which the task '
                            'file does not define')
        key = {field: self._values[name] for field, name in names.items()}
        mapper = self._tone_mapper
        if mapper is None or self._tone_key != key:
            try:
                mapper = self._tone_mapper = ToneMapper(**key)
            except ValueError as exc:
                raise TaskError(f'{self.task_path}: tone_for(): {exc}') from exc
            self._tone_key = key
        return mapper.frequency_hz(value)

    def _pulse_duration(self, duration_s: float | None, kind: str) -> float:
        if duration_s is None:
            name = self.task.pulse_variables.get(kind)
            if name is None or name not in self._values:
                raise TaskError(f"{self.task_path}: {kind}() without a duration needs "
                                f"pulse_variables = {{'{kind}': '<variable name>'}} in the task "
                                "file, naming a variable it defines")
            duration_s = self._values[name]
        if not (is_real(duration_s) and duration_s >= 0):
            raise TaskError(f'{self.task_path}: {kind}(duration_s={duration_s!r}); '
                            'allowed: a number of s >= 0')
        return float(duration_s)

    def _api_reward(self, duration_s: float | None = None, reason: str = 'success') -> None:
        duration_s = self._pulse_duration(duration_s, 'reward')
        self.outputs.reward(self._now_abs_s(), self._frame_index, duration_s, reason)

    def _api_fail_signal(self, duration_s: float | None = None, reason: str = 'timeout') -> None:
        duration_s = self._pulse_duration(duration_s, 'fail_signal')
        self.outputs.fail_signal(self._now_abs_s(), self._frame_index, duration_s, reason)
