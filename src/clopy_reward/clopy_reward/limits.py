"""The valve's limits that no parameter file can configure away by accident. Plain
Python, no rclpy: the pre-flight check of `clopy run` and of the launch files
(clopy.config.validate) and the reward node at start apply the same functions.

The ceiling. A reward is a drop of a few µl: the rig's water valve delivers it in
well under 0.2 s. Two seconds open floods the spout (the mouse cannot drink it, the
drop runs off and wets the head-fixed mouse), so no valve opening may be longer than
``VALVE_CEILING_S`` = 2.0 s. ``reward.max_valve_open_s`` (the rig's own, lower, limit on
one opening) above the ceiling is refused unless ``reward.valve_ceiling_override_s``
is set to at least that value: a deliberate, separate key, which the reward node then
records in the session (a `warning` / `valve_ceiling_override` row of events.tsv and
the node's log).

The task's pulses. The task file names the variables holding its pulse lengths
(``pulse_variables``: 'reward' -> the valve, 'fail_signal' -> the fail output); each
must be within the reward node's limit of that output, or every reward would be
refused during the session. Variables whose name says 'pulse' and 'valve' (or
'fail') are held to the same limits, so a task reading its own pulse variable
explicitly is checked too.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from clopy_reward.errors import PinSettingError, ValveLimitError
from clopy_reward.pins import check_output_pins

__all__ = ['PinSettingError', 'ValveLimitError', 'VALVE_CEILING_S', 'check_reward_values', 'check_task_pulses',
           'output_limits_s', 'override_warning', 'task_pulse_outputs', 'valve_limit_s']

#: Longest valve opening any parameter may ask for without an explicit override (s).
VALVE_CEILING_S = 2.0
#: The most `reward.valve_ceiling_override_s` allows (s); its schema's maximum.
VALVE_OVERRIDE_MAX_S = 10.0

#: task pulse_variables key -> the reward node's output it drives
PULSE_OUTPUTS = {'reward': 'valve', 'fail_signal': 'fail'}
#: the reward parameter limiting each output
OUTPUT_LIMIT_KEYS = {'valve': 'max_valve_open_s', 'fail': 'max_fail_pulse_s'}




Where = Callable[[str], str]


def _where(where: str | Where) -> Where:
    return where if callable(where) else (lambda key, text=where: text)


def _num(value) -> str:
    return repr(float(value))


def valve_limit_s(values: Mapping, where: str | Where = 'reward') -> float:
    """The longest valve opening the session allows: reward.max_valve_open_s, after
    checking it against the ceiling (and the override). ``values``: the reward node's
    parameters (all of them, defaults filled in). ValveLimitError otherwise."""
    where = _where(where)
    max_s = float(values['max_valve_open_s'])
    override_s = float(values.get('valve_ceiling_override_s', 0.0) or 0.0)
    if max_s > VALVE_CEILING_S and override_s < max_s:
        if override_s > 0:
            raise ValveLimitError(
                f'{where("valve_ceiling_override_s")}: reward.valve_ceiling_override_s = {_num(override_s)}: '
                f'allowed: at least reward.max_valve_open_s = {_num(max_s)} to open the valve longer than '
                f'the {_num(VALVE_CEILING_S)} s ceiling')
        raise ValveLimitError(
            f'{where("max_valve_open_s")}: reward.max_valve_open_s = {_num(max_s)}: allowed: at most '
            f'{_num(VALVE_CEILING_S)} s (the valve ceiling, clopy_reward.limits.VALVE_CEILING_S: a drop needs '
            f'< 0.2 s), or set reward.valve_ceiling_override_s >= {_num(max_s)} to exceed it on purpose')
    return max_s


def output_limits_s(values: Mapping, where: str | Where = 'reward') -> dict[str, float]:
    """{'valve': s, 'fail': s}: the longest pulse of each output (the valve's checked
    against the ceiling)."""
    return {'valve': valve_limit_s(values, where), 'fail': float(values['max_fail_pulse_s'])}


def check_reward_values(values: Mapping, where: str | Where = 'reward') -> dict[str, float]:
    """The reward node's own settings: the ceiling, its default pulses within the
    limits of their outputs, and its output pins (PinSettingError). Returns
    output_limits_s; ValveLimitError otherwise."""
    limits = output_limits_s(values, where)
    where = _where(where)
    check_output_pins(values, where)
    for key, output in (('valve_pulse_s', 'valve'), ('fail_pulse_s', 'fail')):
        if float(values[key]) > limits[output]:
            raise ValveLimitError(
                f'{where(key)}: reward.{key} = {_num(values[key])}: allowed: at most '
                f'reward.{OUTPUT_LIMIT_KEYS[output]} = {_num(limits[output])}')
    return limits


def task_pulse_outputs(pulse_variables: Mapping[str, str], variable_names: Iterable[str]) -> dict[str, str]:
    """{task variable: output} of every task variable that is a pulse length: those the
    task file declares in ``pulse_variables``, and those named '*pulse*' with 'valve'
    or 'fail' in the name."""
    out = {name: PULSE_OUTPUTS[kind] for kind, name in pulse_variables.items() if kind in PULSE_OUTPUTS}
    for name in variable_names:
        if 'pulse' in name and name not in out:
            for output in ('valve', 'fail'):
                if output in name:
                    out[name] = output
                    break
    return out


def check_task_pulses(pulses: Mapping[str, tuple[float, str]], limits: Mapping[str, float],
                      where: str | Where = 'task') -> None:
    """Each task pulse variable ({name: (value s, output)}) within the reward node's
    limit of its output (``limits``: output_limits_s). ValveLimitError on the first
    one over."""
    where = _where(where)
    for name, (value, output) in pulses.items():
        if float(value) > limits[output]:
            raise ValveLimitError(
                f'{where("v." + name)}: task.v.{name} = {_num(value)}: allowed: at most '
                f'reward.{OUTPUT_LIMIT_KEYS[output]} = {_num(limits[output])} (the reward node refuses '
                f'longer {output} pulses)')


def override_warning(values: Mapping) -> str:
    """The line the reward node records when the ceiling override is set; '' when not."""
    override_s = float(values.get('valve_ceiling_override_s', 0.0) or 0.0)
    if override_s <= 0:
        return ''
    return (f'valve ceiling override: reward.valve_ceiling_override_s = {_num(override_s)} s '
            f'(ceiling {_num(VALVE_CEILING_S)} s); reward.max_valve_open_s = '
            f'{_num(values["max_valve_open_s"])} s')
