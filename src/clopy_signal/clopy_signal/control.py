"""The seam from a pose to the control value: one method, ``process(pose)``, as
DeepLabCut-Live's ``Processor.process``.

The speed node hands every pose to the processor that ``speed.processor`` names and
publishes what it returns as the paradigm-independent ``control_signal``:

* ``speed`` (default): the control part's speed (``SpeedProcessor``, clopy_signal.speed);
* ``paw_distance``: the control part's distance from a target point
  (``PawDistanceProcessor``);
* ``package.module:ClassName``: a lab's own class, or the name of an entry point in
  the group ``clopy.control_processors``.

A processor class is constructed with one argument, ``settings``: the speed node's
parameters as a dict (control_part, px_per_mm, likelihood_min, smoothing_frames,
units, target_px). See docs/clmf.md, "Your own control value". Plain Python.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Mapping, Protocol, Sequence, runtime_checkable

from clopy_common.plugins import PluginError, load_plugin

from clopy_signal.speed import SpeedEstimator

CONTROL_PROCESSORS = 'clopy.control_processors'


@dataclasses.dataclass(frozen=True)
class PoseSample:
    """One pose: the frame's time (s, any clock increasing with the index), its index,
    and body part -> (x_px, y_px, likelihood)."""

    t_s: float
    frame_index: int
    parts: Mapping[str, Sequence[float]]


@dataclasses.dataclass(frozen=True)
class ControlValue:
    """What the speed node publishes for one pose (``value`` is sent as 0 when not valid;
    ``reason`` says why it is not valid, sent as the control signal's invalid_reason)."""

    value: float
    units: str
    valid: bool
    reason: str = dataclasses.field(default='', compare=False)


@runtime_checkable
class ControlProcessor(Protocol):
    """Pose in, control value out, one pose at a time in frame order. May raise
    ValueError for a pose it cannot use (the node then skips it and calls ``reset()``
    if the processor has one)."""

    def process(self, pose: PoseSample) -> ControlValue: ...


class ProcessorError(ValueError):
    """A processor cannot be made: the message names the key and the bad value."""


SPEED_UNITS = ('px_per_frame', 'mm_per_s')


class SpeedProcessor:
    """The control part's speed (clopy_signal.speed.SpeedEstimator) in ``units``."""

    def __init__(self, settings: Mapping) -> None:
        self.units = settings.get('units', 'px_per_frame')
        if self.units not in SPEED_UNITS:
            raise ProcessorError(f'speed.units = {self.units!r}: allowed are {list(SPEED_UNITS)}')
        self.estimator = SpeedEstimator(settings.get('control_part', 'fl_l'), settings.get('px_per_mm', 3.5),
                                        settings.get('likelihood_min', 0.0), settings.get('smoothing_frames', 1))
        self.control_part = self.estimator.control_part

    def reset(self) -> None:
        self.estimator.reset()

    def process(self, pose: PoseSample) -> ControlValue:
        result = self.estimator.update(pose.t_s, pose.frame_index, pose.parts)
        value = result.px_per_frame if self.units == 'px_per_frame' else result.mm_per_s
        return ControlValue(value if result.valid else 0.0, self.units, result.valid, result.reason)


class PawDistanceProcessor:
    """Distance of the control part from a target point (``target_px`` = [x, y]), in px.

    A pose whose control-part likelihood is below ``likelihood_min``, or whose x, y
    are not finite, gives an invalid value."""

    units = 'px'

    def __init__(self, settings: Mapping) -> None:
        self.control_part = settings.get('control_part', 'fl_l')
        target = list(settings.get('target_px', []))
        if len(target) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in target):
            raise ProcessorError(f'speed.target_px = {target!r}: allowed is [x, y] in px (two finite numbers)')
        self.target_px = (float(target[0]), float(target[1]))
        self.likelihood_min = float(settings.get('likelihood_min', 0.0))

    def process(self, pose: PoseSample) -> ControlValue:
        try:
            x, y, likelihood = (float(c) for c in pose.parts[self.control_part])
        except KeyError:
            raise ValueError(f'pose has no {self.control_part!r}; parts present: {sorted(pose.parts)}') from None
        if not (math.isfinite(x) and math.isfinite(y) and likelihood >= self.likelihood_min):
            return ControlValue(0.0, self.units, False, f'{self.control_part}: position ({x:g}, {y:g}) with '
                                f'likelihood {likelihood:.3g} unusable (likelihood_min {self.likelihood_min:g})')
        return ControlValue(math.hypot(x - self.target_px[0], y - self.target_px[1]), self.units, True)


BUILTIN_PROCESSORS = {'speed': SpeedProcessor, 'paw_distance': PawDistanceProcessor}


def _class_from_path(name: str, key: str):
    module_name, _, attr = name.partition(':')
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProcessorError(f'{key} = {name!r}: module {module_name!r} does not import ({exc})') from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ProcessorError(f'{key} = {name!r}: module {module_name!r} has no {attr!r}') from None


def make_processor(name: str, settings: Mapping, key: str = 'speed.processor') -> ControlProcessor:
    """The processor ``name`` (built-in, ``module:Class`` or an entry point), made with
    ``settings`` and checked to have ``process``.

    Raises:
        ProcessorError: unknown name, a class that does not load or has no
            ``process``, or settings the processor refuses (the key named).
    """
    if ':' in name:
        cls = _class_from_path(name, key)
    else:
        try:
            cls = load_plugin(CONTROL_PROCESSORS, name, key, BUILTIN_PROCESSORS)
        except PluginError as exc:
            raise ProcessorError(f'{exc}; or give package.module:ClassName') from exc
    if not callable(getattr(cls, 'process', None)):
        raise ProcessorError(f'{key} = {name!r}: {cls!r} has no process(pose) method '
                             '(see clopy_signal.control.ControlProcessor)')
    try:
        processor = cls(dict(settings))
    except ProcessorError:
        raise
    except (ValueError, TypeError) as exc:
        raise ProcessorError(f'{key} = {name!r}: {exc}') from exc
    return processor
