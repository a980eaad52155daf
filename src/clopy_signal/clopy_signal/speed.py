"""Control-point speed from pose estimates (CLMF) and the paw-stillness condition.

Per pose (one processed camera frame), for the control body part (default the left
forelimb ``fl_l``):

    d           = Euclidean distance of the control point from the last usable pose, px
    px_per_frame = d / (frame_index - last_frame_index)
    mm_per_s     = d / px_per_mm / (t_s - last_t_s)

The original CLoPy took ``d`` between consecutive *processed* frames as px per frame,
so its speed depended on the loop rate and silently doubled when a frame was lost.
Here a frame lost in between (an index gap of k frames) divides the distance by k:
px/frame stays the mean speed per camera frame over the gap, comparable with the
20 px/frame threshold whatever the drops, and mm/s uses the real time between the two
poses. Without gaps and with ``smoothing_frames=1`` and ``likelihood_min=0`` the
px/frame values equal the original's.

Options the original did not have (both off by default):

* likelihood gating: a pose whose control-point likelihood is below ``likelihood_min``
  (or whose x, y are not finite) is unusable: its result is invalid, and the next
  usable pose is compared with the last usable one (over the whole index gap);
* smoothing: the result is the moving average of the last ``smoothing_frames`` raw
  speeds (fewer while fewer exist; invalid poses add nothing).

The first usable pose has nothing to be compared with: its result is invalid.

``StillnessDetector`` is the CLMF trial-start condition: the mean speed over the last
``window_s`` (5 s: 151 frames at 30 fps) is below ``level_px_per_frame`` (1 px/frame).
"""
from __future__ import annotations

import collections
import dataclasses
import math
import numbers
from typing import Mapping, Sequence

#: The 11 body parts of the original CLMF DeepLabCut model (side + mirror-bottom views).
BODY_PARTS: tuple[str, ...] = (
    'snout_front', 'fl_l_front', 'fl_r_front', 'snout_top', 'snout_bottom',
    'fl_l', 'fl_r', 'hl_l', 'hl_r', 'tailbase_bottom', 'tailbase_top')

_TIME_TOLERANCE_S = 1e-9  # float slack when comparing frame stamps with window edges


def _is_real(x: object) -> bool:
    """A real number, not a bool (may be NaN or infinite)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_positive(owner: str, name: str, value: object) -> float:
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError(f'{owner}: {name}={value!r}; allowed: a finite number > 0')
    return float(value)


@dataclasses.dataclass(frozen=True)
class SpeedResult:
    """Speed of the control point at one pose.

    Fields:
        px_per_frame: speed in px per camera frame (NaN when invalid).
        mm_per_s: speed in mm/s from the real time between poses (NaN when invalid).
        valid: False for the first usable pose, for unusable poses (likelihood below
            ``likelihood_min``, non-finite x/y), and when nothing could be compared.
        reason: why it is not valid ('' when valid); the first usable pose's starts
            with 'warming up' (not a fault).
    """

    px_per_frame: float
    mm_per_s: float
    valid: bool
    reason: str = dataclasses.field(default='', compare=False)


def invalid(reason: str) -> SpeedResult:
    """An invalid speed, and why."""
    return SpeedResult(math.nan, math.nan, False, reason)


class SpeedEstimator:
    """Speed of one body part between consecutive usable poses.

    Args:
        control_part: the body part whose speed is the control signal, e.g. ``'fl_l'``.
        px_per_mm: image scale in px/mm (3.5 px/mm in the original CLMF rig); > 0.
        likelihood_min: poses whose control-point likelihood is below this are not
            used (0.0: every pose with finite x, y is used, as in the original); in [0, 1].
        smoothing_frames: moving-average length in raw speeds (1: no smoothing).

    Not thread-safe; feed it from one thread, in frame order.
    """

    def __init__(self, control_part: str, px_per_mm: float = 3.5,
                 likelihood_min: float = 0.0, smoothing_frames: int = 1) -> None:
        if not (isinstance(control_part, str) and control_part):
            raise ValueError(f'SpeedEstimator: control_part={control_part!r}; '
                             'allowed: a body-part name such as \'fl_l\'')
        self.control_part = control_part
        self.px_per_mm = _check_positive('SpeedEstimator', 'px_per_mm', px_per_mm)
        if not (_is_real(likelihood_min) and 0.0 <= likelihood_min <= 1.0):
            raise ValueError(f'SpeedEstimator: likelihood_min={likelihood_min!r}; '
                             'allowed: a number in [0, 1]')
        self.likelihood_min = float(likelihood_min)
        if (isinstance(smoothing_frames, bool) or not isinstance(smoothing_frames, numbers.Integral)
                or smoothing_frames < 1):
            raise ValueError(f'SpeedEstimator: smoothing_frames={smoothing_frames!r}; '
                             'allowed: an integer >= 1')
        self.smoothing_frames = int(smoothing_frames)
        self._last_index: int | None = None  # last pose seen (usable or not)
        self._last_t_s: float | None = None
        self._reference: tuple[float, int, float, float] | None = None  # t_s, index, x, y
        self._recent: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=self.smoothing_frames)  # raw (px/frame, mm/s)

    def reset(self) -> None:
        """Forget every pose (e.g. between sessions); the next pose is a first pose."""
        self._last_index = self._last_t_s = self._reference = None
        self._recent.clear()

    def update(self, t_s: float, frame_index: int,
               parts: Mapping[str, Sequence[float]]) -> SpeedResult:
        """Speed at one pose.

        Args:
            t_s: the frame's capture time in s (any clock, increasing with frame_index).
            frame_index: the camera frame index (gaps = frames not processed).
            parts: body part -> (x_px, y_px, likelihood); must contain ``control_part``.

        Raises:
            ValueError: frame_index or t_s not above the previous pose's, or the control
                part missing or malformed (the message names the key and value).
        """
        if isinstance(frame_index, bool) or not isinstance(frame_index, numbers.Integral):
            raise ValueError(f'SpeedEstimator.update: frame_index={frame_index!r}; '
                             'allowed: an integer')
        if not (_is_real(t_s) and math.isfinite(t_s)):
            raise ValueError(f'SpeedEstimator.update: t_s={t_s!r}; allowed: a finite time in s')
        if self._last_index is not None:
            if frame_index <= self._last_index:
                raise ValueError(f'SpeedEstimator.update: frame_index={frame_index} is not '
                                 f'after the previous pose\'s frame_index={self._last_index}')
            if t_s <= self._last_t_s:
                raise ValueError(f'SpeedEstimator.update: t_s={t_s!r} is not after the '
                                 f'previous pose\'s t_s={self._last_t_s!r} '
                                 f'(frame_index={frame_index})')
        x, y, likelihood = self._control_point(parts)
        self._last_index, self._last_t_s = int(frame_index), float(t_s)

        usable = math.isfinite(x) and math.isfinite(y) and likelihood >= self.likelihood_min
        if not usable:  # NaN likelihood fails the comparison too
            if not (math.isfinite(x) and math.isfinite(y)):
                return invalid(f'{self.control_part}: non-finite position ({x}, {y})')
            return invalid(f'{self.control_part}: likelihood {likelihood:.3g} below likelihood_min '
                           f'{self.likelihood_min:g}')
        reference, self._reference = self._reference, (float(t_s), int(frame_index), x, y)
        if reference is None:
            return invalid('warming up: first usable pose, no speed yet')
        ref_t_s, ref_index, ref_x, ref_y = reference
        distance_px = math.hypot(x - ref_x, y - ref_y)
        px_per_frame = distance_px / (frame_index - ref_index)
        mm_per_s = distance_px / self.px_per_mm / (t_s - ref_t_s)
        self._recent.append((px_per_frame, mm_per_s))
        n = len(self._recent)
        return SpeedResult(math.fsum(p for p, _ in self._recent) / n,
                           math.fsum(m for _, m in self._recent) / n, True)

    def _control_point(self, parts: Mapping[str, Sequence[float]]) -> tuple[float, float, float]:
        try:
            point = parts[self.control_part]
        except KeyError:
            raise ValueError(f'SpeedEstimator.update: parts has no {self.control_part!r}; '
                             f'parts present: {sorted(parts)}') from None
        try:
            x, y, likelihood = (float(c) for c in point)
        except (TypeError, ValueError):
            raise ValueError(f'SpeedEstimator.update: parts[{self.control_part!r}]={point!r}; '
                             'allowed: (x_px, y_px, likelihood) numbers') from None
        return x, y, likelihood


class StillnessDetector:
    """Is the control point still? Mean speed over the last ``window_s`` below a level.

    The window holds the samples with ``t >= t_now - window_s`` (both ends included:
    5 s at 30 fps is 151 frames, as in the original). It is *full* once a sample at
    or before ``t_now - window_s`` has been seen, i.e. the samples cover the whole window.
    ``still`` is True when the window is full, at least ``min_valid_fraction`` of its
    samples are valid, and the mean of the valid speeds is strictly below
    ``level_px_per_frame``. Invalid samples (None, NaN) are left out of the mean: an
    unknown speed is neither movement nor stillness.

    Args:
        window_s: window length in s; > 0.
        level_px_per_frame: stillness level in px/frame; > 0.
        min_valid_fraction: share of valid samples the window needs, in (0, 1].
    """

    def __init__(self, window_s: float = 5.0, level_px_per_frame: float = 1.0,
                 min_valid_fraction: float = 0.5) -> None:
        self.window_s = _check_positive('StillnessDetector', 'window_s', window_s)
        self.level_px_per_frame = _check_positive('StillnessDetector', 'level_px_per_frame',
                                                  level_px_per_frame)
        if not (_is_real(min_valid_fraction) and 0.0 < min_valid_fraction <= 1.0):
            raise ValueError(f'StillnessDetector: min_valid_fraction={min_valid_fraction!r}; '
                             'allowed: a number in (0, 1]')
        self.min_valid_fraction = float(min_valid_fraction)
        self._samples: collections.deque[tuple[float, float | None]] = collections.deque()
        self._first_t_s: float | None = None
        self._now_s: float | None = None

    def reset(self) -> None:
        """Forget every sample: the window has to fill again."""
        self._samples.clear()
        self._first_t_s = self._now_s = None

    def update(self, t_s: float, speed: float | None) -> None:
        """Add one speed sample (px/frame) at time ``t_s`` (s); None or NaN = invalid.

        Raises:
            ValueError: t_s not finite or before the previous sample's time.
        """
        if not (_is_real(t_s) and math.isfinite(t_s)):
            raise ValueError(f'StillnessDetector.update: t_s={t_s!r}; allowed: a finite time in s')
        if self._now_s is not None and t_s < self._now_s:
            raise ValueError(f'StillnessDetector.update: t_s={t_s!r} is before the previous '
                             f'sample\'s t_s={self._now_s!r}')
        value = None
        if speed is not None:
            if not _is_real(speed):
                raise ValueError(f'StillnessDetector.update: speed={speed!r}; allowed: a '
                                 'number of px/frame, or None when unknown')
            value = float(speed) if math.isfinite(speed) else None
        if self._first_t_s is None:
            self._first_t_s = float(t_s)
        self._now_s = float(t_s)
        self._samples.append((float(t_s), value))
        start_s = self._now_s - self.window_s - _TIME_TOLERANCE_S
        while self._samples and self._samples[0][0] < start_s:
            self._samples.popleft()

    @property
    def full(self) -> bool:
        """The samples seen cover the whole window."""
        return (self._first_t_s is not None
                and self._first_t_s <= self._now_s - self.window_s + _TIME_TOLERANCE_S)

    @property
    def mean_speed(self) -> float:
        """Mean of the valid speeds in the window, px/frame (NaN when there are none)."""
        valid = [s for _, s in self._samples if s is not None]
        return math.fsum(valid) / len(valid) if valid else math.nan

    @property
    def n_samples(self) -> int:
        """Samples in the window, valid or not."""
        return len(self._samples)

    @property
    def still(self) -> bool:
        """Window full, enough valid samples, and mean speed < ``level_px_per_frame``."""
        if not self.full:
            return False
        n_valid = sum(s is not None for _, s in self._samples)
        if n_valid == 0 or n_valid < self.min_valid_fraction * len(self._samples):
            return False
        return self.mean_speed < self.level_px_per_frame
