"""What the task engine produces and checks: errors, log records, outputs, value checks."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from typing import Any, Protocol


class TaskError(Exception):
    """The task did something the task API does not allow (unknown state, goto in entry...)."""


class TaskFileError(TaskError):
    """The task file or a variable override is invalid (found before the run starts)."""


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    """One line of the task log.

    time_s: s since run start. type: 'state' | 'event' | 'print' | 'variable' | 'warning'
    | 'error' | 'info'. subtype: e.g. 'timer', 'user', 'api', 'publish', 'watch', 'task',
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


def is_real(x: Any) -> bool:
    """A finite real number (bools are not numbers here)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def is_private(name: str) -> bool:
    """Variables ending ``___`` are private: not logged, not parameters."""
    return name.endswith('___')


def coerce_override(default: Any, value: Any) -> tuple[bool, Any]:
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


def to_json(values: dict[str, Any]) -> str:
    """Variables as JSON; numpy scalars as numbers, anything else as text."""
    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, 'item') else str(x)
    return json.dumps(values, default=plain)
