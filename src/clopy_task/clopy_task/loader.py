"""Loading a task file: a fresh namespace per engine, checked declarations.

The file is executed like a module of its own (``__name__`` '__task__'), so its
module-level names belong to one engine. It imports the task API itself
(``from clopy_task.api import *``); nothing is injected.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import hashlib
import types
from pathlib import Path
from typing import Any, Callable

from clopy_task import api
from clopy_task.records import TaskError, TaskFileError

FRAME_EVENTS = ('every_state', 'requested')
DECLARATIONS = ('status_variables', 'tone_variables', 'pulse_variables')
TONE_KEYS = ('threshold', 'n_tones', 'mapping', 'tone_range', 'base_hz')
PULSE_KEYS = ('reward', 'fail_signal')


@dataclasses.dataclass
class LoadedTask:
    """What the engine needs from a task file (namespace: the file's own globals)."""

    namespace: dict[str, Any]
    sha256: str
    states: dict[str, Callable[[str], Any]]
    events: set[str]
    initial_state: str
    hooks: dict[str, Callable[..., Any] | None]
    frame_events: str
    status_variables: dict[str, str]
    tone_variables: dict[str, str]
    pulse_variables: dict[str, str]
    variable_limits: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@functools.lru_cache(maxsize=32)
def _compile(path: str, source: bytes) -> types.CodeType:
    return compile(source, path, 'exec')


def _names_used(code: types.CodeType) -> set[str]:
    """Global names the code (and the functions it defines) reads."""
    names = {ins.argval for ins in dis.get_instructions(code)
             if ins.opname in ('LOAD_GLOBAL', 'LOAD_NAME')}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def _missing_api_import(path: Path, code: types.CodeType, ns: dict[str, Any]) -> str | None:
    used = sorted((_names_used(code) & set(api.__all__)) - set(ns) - {'print', 'math'})
    if used:
        return (f'{path}: the task uses {", ".join(used)} without importing the task API; '
                'add `from clopy_task.api import *` at the top of the task file')
    return None


def _name_map(path: Path, ns: dict[str, Any], key: str, allowed: tuple[str, ...] | None
              ) -> dict[str, str]:
    value = ns.get(key, {})
    ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(n, str)
                                         for k, n in value.items())
    if not ok:
        raise TaskFileError(f'{path}: {key} = {value!r}; allowed: a dict of name -> task '
                            'variable name')
    unknown = sorted(set(value) - set(allowed)) if allowed is not None else []
    if unknown:
        raise TaskFileError(f'{path}: {key} has {unknown}; allowed keys: {list(allowed)}')
    return dict(value)


LIMIT_KEYS = ('min', 'max', 'gt', 'choices', 'unit')


def _limits(path: Path, ns: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The file's ``variable_limits``: variable name -> {min, max, gt, choices, unit}."""
    value = ns.get('variable_limits', {})
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(lim, dict) and set(lim) <= set(LIMIT_KEYS) for k, lim in value.items())
    if not ok:
        raise TaskFileError(f'{path}: variable_limits = {value!r}; allowed: a dict of task variable name -> '
                            f'{{key: value}} with keys {", ".join(LIMIT_KEYS)}')
    return {k: dict(lim) for k, lim in value.items()}


def load_task(path: Path, engine: Any) -> LoadedTask:
    """Execute the task file with ``engine`` current; check what it declares."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise TaskFileError(f'{path}: cannot read the task file: {exc}') from exc
    ns: dict[str, Any] = {'__name__': '__task__', '__file__': str(path), '__builtins__': __builtins__}
    try:
        code = _compile(str(path), source)
    except SyntaxError as exc:
        raise TaskFileError(f'{path}: loading the task file failed: SyntaxError: {exc}') from exc
    api._enter(engine)
    try:
        exec(code, ns)
    except TaskError:
        raise
    except NameError as exc:
        message = _missing_api_import(path, code, ns)
        raise TaskFileError(message or f'{path}: loading the task file failed: NameError: {exc}'
                            ) from exc
    except Exception as exc:
        raise TaskFileError(f'{path}: loading the task file failed: '
                            f'{type(exc).__name__}: {exc}') from exc
    finally:
        api._leave()
    message = _missing_api_import(path, code, ns)
    if message:
        raise TaskFileError(message)
    states, events, initial = ns.get('states'), ns.get('events', []), ns.get('initial_state')
    for key, value in (('states', states), ('events', events)):
        if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) for s in value):
            raise TaskFileError(f'{path}: {key} = {value!r}; allowed: a list of names')
    if not states:
        raise TaskFileError(f'{path}: states is empty; allowed: a list of state names')
    if initial not in states:
        raise TaskFileError(f'{path}: initial_state = {initial!r}; allowed: one of {states}')
    functions: dict[str, Callable[[str], Any]] = {}
    for state in states:
        if not callable(ns.get(state)):
            raise TaskFileError(f'{path}: state {state!r} has no function; '
                                f'define def {state}(event): ...')
        functions[state] = ns[state]
    frame_events = ns.get('frame_events', 'every_state')
    if frame_events not in FRAME_EVENTS:
        raise TaskFileError(f'{path}: frame_events = {frame_events!r}; allowed: '
                            f'{", ".join(FRAME_EVENTS)}')
    return LoadedTask(ns, hashlib.sha256(source).hexdigest(), functions, set(events), initial,
                      {name: ns.get(name) for name in ('all_states', 'run_start', 'run_end')},
                      frame_events, _name_map(path, ns, 'status_variables', None),
                      _name_map(path, ns, 'tone_variables', TONE_KEYS),
                      _name_map(path, ns, 'pulse_variables', PULSE_KEYS), _limits(path, ns))
