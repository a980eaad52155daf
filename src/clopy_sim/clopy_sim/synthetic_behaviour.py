"""Synthetic behaviour camera for testing CLMF without a mouse.

Frames imitate the original CLMF crop (640 x 320 px BGR, 30 fps) of a head-fixed
mouse facing right: a side view in the top half and the mirror-bottom view in the
bottom half. The mouse is drawn with simple shapes (body ellipses, head, tail, limbs
as lines ending in bright paw blobs) and carries the 11 body parts of the original
DeepLabCut model, each drawn as a small blob of its own colour centred exactly on its
ground-truth position (``ground_truth(index)``):

  side view (top half)      snout_front, snout_top, fl_l_front, fl_r_front, tailbase_top
  bottom view (lower half)  snout_bottom, fl_l, fl_r, hl_l, hl_r, tailbase_bottom

(Which view each part belongs to is this simulation's layout; the original model's
labelling conventions are not public.)

Movement:

* Rest: every part wobbles smoothly around its rest position by at most
  ``rest_jitter_px`` px per axis (two sinusoids of 0.2-1 Hz per axis), so at rest a
  part moves at most ``sqrt(2) * 2 pi * 1 Hz * rest_jitter_px / fps`` px/frame
  (0.15 px/frame for the default 0.5 px at 30 fps): far below the 1 px/frame
  stillness level.
* Bouts: each limb (``fl_l``, ``fl_r``, ``hl_l``, ``hl_r``) makes movement bouts. After
  each rest the next bout of the control limb starts after an exponential wait of mean
  ``1 / bout_rate_hz`` (a Poisson process during rest; ``other_bout_rate_hz`` for the
  other limbs), lasts ``bout_duration_s`` (uniform, 0.3-1.5 s) and is a train of
  strokes at 4-6 Hz in a random direction (forward/back with a lateral part in the
  bottom view, forward/back and lift in the side view), under a raised-cosine
  envelope so position and speed are continuous. The stroke amplitude is scaled so
  that the peak speed of the control part (``fl_l`` by default: the view of the
  control part counts; other limbs: their bottom-view part) is exactly
  ``bout_speed_px_per_frame`` (continuous speed times the frame interval; the
  displacement between two frames is a little below it, since a frame averages).
  A limb's side-view part (``fl_l_front``) moves with it.

``bout_schedule`` lists the bouts as ``(start_s, end_s, limb)``; a part moves faster than
its rest wobble only inside a bout of its limb. Frames are a pure function of (seed,
parameters, index): each limb's bouts come from its own generator seeded with
``[seed, limb]``, drawn in time order and cached, so ``frame_at(i)`` and
``ground_truth(i)`` are identical however the frames are visited.
"""
from __future__ import annotations

import bisect
import math
import numbers
from dataclasses import dataclass

import numpy as np
from clopy_signal.speed import BODY_PARTS   # the 11 parts of the original CLMF model

from .rendered import RenderedSource


#: Limbs that make bouts, and the body parts each one carries.
LIMBS: tuple[str, ...] = ('fl_l', 'fl_r', 'hl_l', 'hl_r')
_LIMB_OF: dict[str, str] = {'fl_l': 'fl_l', 'fl_l_front': 'fl_l', 'fl_r': 'fl_r',
                            'fl_r_front': 'fl_r', 'hl_l': 'hl_l', 'hl_r': 'hl_r'}
_SIDE_VIEW = frozenset({'snout_front', 'snout_top', 'fl_l_front', 'fl_r_front', 'tailbase_top'})

DEFAULT_WIDTH_PX, DEFAULT_HEIGHT_PX = 640, 320

# Rest positions as fractions of the default 640 x 320 frame (x, y), scaled to the
# frame size. Side view: y < 0.5; bottom view: y > 0.5.
_REST_FRAC: dict[str, tuple[float, float]] = {
    'snout_front': (520 / 640, 72 / 320), 'snout_top': (492 / 640, 46 / 320),
    'fl_l_front': (420 / 640, 138 / 320), 'fl_r_front': (444 / 640, 134 / 320),
    'tailbase_top': (150 / 640, 98 / 320),
    'snout_bottom': (522 / 640, 240 / 320), 'fl_l': (420 / 640, 272 / 320),
    'fl_r': (420 / 640, 208 / 320), 'hl_l': (200 / 640, 276 / 320),
    'hl_r': (200 / 640, 204 / 320), 'tailbase_bottom': (148 / 640, 240 / 320),
}
# Paw / marker colours (BGR): distinct per part so a model can tell them apart.
_COLOURS: dict[str, tuple[int, int, int]] = {
    'snout_front': (60, 200, 255), 'snout_top': (60, 255, 255), 'snout_bottom': (60, 200, 255),
    'fl_l_front': (80, 80, 255), 'fl_l': (80, 80, 255),
    'fl_r_front': (80, 255, 80), 'fl_r': (80, 255, 80),
    'hl_l': (255, 120, 80), 'hl_r': (255, 80, 255),
    'tailbase_top': (220, 220, 220), 'tailbase_bottom': (220, 220, 220),
}
_BLOB_RADIUS_PX = 4.0
_STROKE_HZ = (4.0, 6.0)          # stroke frequency range within a bout
_LATERAL_MAX_RAD = math.radians(25)  # bottom-view direction: forward +- this
_LIFT = 0.4                      # side-view lift per unit of stroke amplitude
_TAPER = 0.2                     # envelope rise / fall, fraction of the bout
_JITTER_HZ = (0.2, 1.0)          # rest wobble frequencies
_CALIBRATION_POINTS = 400        # samples per bout used to find its peak speed
_MAX_SPEED_PX_PER_FRAME = 60.0   # strokes of at most ~80 px stay in the frame
_STREAM_JITTER = 100             # generator stream ids ([seed, stream]); limbs use 0..3
_SUBPIXEL_SHIFT = 4              # cv2 drawing with 1/16 px precision


@dataclass(frozen=True)
class Bout:
    """One movement bout of a limb (times in s from frame 0, t = index / fps).

    amplitude_px: stroke amplitude along ``direction`` (px); frequency_hz: strokes per
    s; direction: (forward, lateral) unit vector in the bottom view; phase: stroke phase
    at the start (rad).
    """

    start_s: float
    end_s: float
    limb: str
    amplitude_px: float
    frequency_hz: float
    direction: tuple[float, float]
    phase: float


def _envelope(tau: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 over tau in [0, 1], raised-cosine flanks of ``_TAPER``; C1 smooth."""
    tau = np.clip(tau, 0.0, 1.0)
    rise = np.clip(tau / _TAPER, 0.0, 1.0)
    fall = np.clip((1.0 - tau) / _TAPER, 0.0, 1.0)
    edge = np.minimum(rise, fall)
    return 0.5 - 0.5 * np.cos(np.pi * edge)


def _stroke(bout: Bout, t_s: np.ndarray, amplitude_px: float) -> tuple[np.ndarray, ...]:
    """(forward, lateral, lift) offsets in px of a limb during ``bout`` at times ``t_s``."""
    tau = (t_s - bout.start_s) / (bout.end_s - bout.start_s)
    phi = 2 * np.pi * bout.frequency_hz * (t_s - bout.start_s) + bout.phase
    w = _envelope(tau) * amplitude_px
    along = w * np.sin(phi)
    lift = _LIFT * w * (0.5 - 0.5 * np.cos(phi - bout.phase))  # >= 0: the paw lifts
    return along * bout.direction[0], along * bout.direction[1], lift


class SyntheticBehaviourSource(RenderedSource):
    """Seedable synthetic head-fixed mouse (side + mirror-bottom view), BGR uint8 frames.

    Args:
        seed: generator seed; None draws fresh entropy (kept in ``seed`` so a run can be
            repeated).
        width_px, height_px: frame size in px (default 640 x 320, the original crop);
            the layout scales with it, stroke amplitudes do not (>= 640 x 320).
        fps: nominal frame rate in Hz (t = index / fps).
        bout_rate_hz: bouts per s of rest of the control limb (Poisson), >= 0.
        other_bout_rate_hz: the same for the other three limbs, >= 0.
        bout_duration_s: (shortest, longest) bout in s; durations are uniform in it.
        bout_speed_px_per_frame: peak speed of a bout in px/frame (see module), in
            (0, 60]; the CLMF reward threshold is 20 px/frame.
        rest_jitter_px: amplitude of the rest wobble in px, in [0, 2].
        control_part: the body part whose peak speed is calibrated (a limb's part).
        n_frames: stop after this many frames (None: endless).
        schedule_horizon_s: how far ``bout_schedule`` reaches for an endless source, s.
    """


    def __init__(self, seed: int | None = None, width_px: int = DEFAULT_WIDTH_PX,
                 height_px: int = DEFAULT_HEIGHT_PX, fps: float = 30.0,
                 bout_rate_hz: float = 0.1, other_bout_rate_hz: float = 0.1,
                 bout_duration_s: tuple[float, float] = (0.3, 1.5),
                 bout_speed_px_per_frame: float = 40.0, rest_jitter_px: float = 0.5,
                 control_part: str = 'fl_l', n_frames: int | None = None,
                 schedule_horizon_s: float = 3600.0) -> None:
        super().__init__()
        for key, value in (('width_px', width_px), ('height_px', height_px)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f'{key}={value!r}; allowed: an integer number of px')
        if width_px < DEFAULT_WIDTH_PX or height_px < DEFAULT_HEIGHT_PX:
            raise ValueError(f'width_px={width_px}, height_px={height_px}; allowed: at least '
                             f'{DEFAULT_WIDTH_PX} x {DEFAULT_HEIGHT_PX} px (strokes of up to '
                             '75 px must stay in their view)')
        for key, value in (('fps', fps), ('schedule_horizon_s', schedule_horizon_s)):
            if not (_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f'{key}={value!r}; allowed: a finite number > 0')
        for key, value in (('bout_rate_hz', bout_rate_hz),
                           ('other_bout_rate_hz', other_bout_rate_hz)):
            if not (_real(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f'{key}={value!r}; allowed: a finite number >= 0 (Hz)')
        try:
            shortest, longest = (float(d) for d in bout_duration_s)
        except (TypeError, ValueError):
            raise ValueError(f'bout_duration_s={bout_duration_s!r}; allowed: (shortest, '
                             'longest) in s') from None
        if not (math.isfinite(longest) and 0 < shortest <= longest):
            raise ValueError(f'bout_duration_s={bout_duration_s!r}; allowed: 0 < shortest '
                             '<= longest (s)')
        if not (_real(bout_speed_px_per_frame)
                and 0 < bout_speed_px_per_frame <= _MAX_SPEED_PX_PER_FRAME):
            raise ValueError(f'bout_speed_px_per_frame={bout_speed_px_per_frame!r}; allowed: '
                             f'a number in (0, {_MAX_SPEED_PX_PER_FRAME:g}] px/frame')
        if not (_real(rest_jitter_px) and 0 <= rest_jitter_px <= 2):
            raise ValueError(f'rest_jitter_px={rest_jitter_px!r}; allowed: a number in [0, 2] px')
        if control_part not in _LIMB_OF:
            raise ValueError(f'control_part={control_part!r}; allowed: a limb part, one of '
                             f'{sorted(_LIMB_OF)}')
        if n_frames is not None and (isinstance(n_frames, bool)
                                     or not isinstance(n_frames, numbers.Integral)
                                     or n_frames < 0):
            raise ValueError(f'n_frames={n_frames!r}; allowed: an integer >= 0 or None')

        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.nominal_fps = float(fps)
        self.encoding = 'bgr8'
        self.frame_count = None if n_frames is None else int(n_frames)
        self.bout_rate_hz = float(bout_rate_hz)
        self.other_bout_rate_hz = float(other_bout_rate_hz)
        self.bout_duration_s = (shortest, longest)
        self.bout_speed_px_per_frame = float(bout_speed_px_per_frame)
        self.rest_jitter_px = float(rest_jitter_px)
        self.control_part = control_part
        self.control_limb = _LIMB_OF[control_part]
        self.schedule_horizon_s = float(schedule_horizon_s)

        self._rest = {p: (fx * self.width_px, fy * self.height_px)
                      for p, (fx, fy) in _REST_FRAC.items()}
        self._bouts: dict[str, list[Bout]] = {limb: [] for limb in LIMBS}
        self._bout_starts: dict[str, list[float]] = {limb: [] for limb in LIMBS}
        self._limb_rng = {limb: np.random.default_rng([self.seed, k])
                          for k, limb in enumerate(LIMBS)}
        self._limb_next_start: dict[str, float | None] = {}
        for limb in LIMBS:
            self._limb_next_start[limb] = self._next_wait(limb, 0.0)
        rng = np.random.default_rng([self.seed, _STREAM_JITTER])
        n = len(BODY_PARTS)
        self._jitter_hz = rng.uniform(*_JITTER_HZ, (n, 2, 2))  # part, axis, component
        self._jitter_phase = rng.uniform(0, 2 * np.pi, (n, 2, 2))
        self._background = self._draw_background()

    # --------------------------------------------------------------- bouts

    def _rate(self, limb: str) -> float:
        return self.bout_rate_hz if limb == self.control_limb else self.other_bout_rate_hz

    def _next_wait(self, limb: str, after_s: float) -> float | None:
        rate = self._rate(limb)
        if rate == 0:
            return None
        return after_s + float(self._limb_rng[limb].exponential(1.0 / rate))

    def _extend(self, limb: str, until_s: float) -> None:
        """Draw the limb's bouts in time order until one starts after ``until_s``."""
        rng = self._limb_rng[limb]
        while (start := self._limb_next_start[limb]) is not None and start <= until_s:
            duration = float(rng.uniform(*self.bout_duration_s))
            frequency = float(rng.uniform(*_STROKE_HZ))
            angle = float(rng.uniform(-_LATERAL_MAX_RAD, _LATERAL_MAX_RAD))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            phase = float(rng.uniform(0, 2 * np.pi))
            unit = Bout(start, start + duration, limb, 1.0, frequency,
                        (sign * math.cos(angle), math.sin(angle)), phase)
            bout = Bout(start, start + duration, limb, self._amplitude_for(unit), frequency,
                        unit.direction, phase)
            self._bouts[limb].append(bout)
            self._bout_starts[limb].append(start)
            self._limb_next_start[limb] = self._next_wait(limb, bout.end_s)

    def _amplitude_for(self, unit: Bout) -> float:
        """Stroke amplitude (px) giving the bout its peak speed in the calibrated view."""
        part = self.control_part if unit.limb == self.control_limb else unit.limb
        t = np.linspace(unit.start_s, unit.end_s, _CALIBRATION_POINTS)
        forward, lateral, lift = _stroke(unit, t, 1.0)
        second = -lift if part in _SIDE_VIEW else lateral  # image y offset in its view
        speed = np.hypot(np.gradient(forward, t), np.gradient(second, t))
        peak_px_per_s = self.bout_speed_px_per_frame * self.nominal_fps
        return float(peak_px_per_s / speed.max())

    def bouts_between(self, start_s: float, end_s: float) -> list[tuple[float, float, str]]:
        """Bouts overlapping [start_s, end_s] as (start_s, end_s, limb), sorted by start."""
        out = []
        for limb in LIMBS:
            self._extend(limb, end_s)
            out += [(b.start_s, b.end_s, b.limb) for b in self._bouts[limb]
                    if b.end_s >= start_s and b.start_s <= end_s]
        return sorted(out)

    @property
    def bout_schedule(self) -> list[tuple[float, float, str]]:
        """Every bout as (start_s, end_s, limb), sorted by start, up to the end of the
        source (``n_frames / fps``) or, when endless, ``schedule_horizon_s``."""
        horizon = (self.frame_count / self.nominal_fps if self.frame_count is not None
                   else self.schedule_horizon_s)
        return [b for b in self.bouts_between(0.0, horizon) if b[0] < horizon]

    def _active_bout(self, limb: str, t_s: float) -> Bout | None:
        self._extend(limb, t_s)
        i = bisect.bisect_right(self._bout_starts[limb], t_s) - 1
        if i >= 0 and self._bouts[limb][i].end_s > t_s:
            return self._bouts[limb][i]
        return None

    # ------------------------------------------------------------- positions

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or index < 0:
            raise ValueError(f'frame index={index!r}; allowed: an integer >= 0')
        return int(index)

    def ground_truth(self, index: int) -> dict[str, tuple[float, float]]:
        """Exact (x_px, y_px) of every body part in frame ``index`` (as drawn)."""
        t = self._check_index(index) / self.nominal_fps
        wobble = self.rest_jitter_px * (
            0.6 * np.sin(2 * np.pi * self._jitter_hz[..., 0] * t + self._jitter_phase[..., 0])
            + 0.4 * np.sin(2 * np.pi * self._jitter_hz[..., 1] * t + self._jitter_phase[..., 1]))
        offsets = {}
        for limb in LIMBS:
            bout = self._active_bout(limb, t)
            if bout is not None:
                forward, lateral, lift = _stroke(bout, np.array([t]), bout.amplitude_px)
                offsets[limb] = (float(forward[0]), float(lateral[0]), float(lift[0]))
        positions = {}
        for k, part in enumerate(BODY_PARTS):
            x, y = self._rest[part]
            x += float(wobble[k, 0])
            y += float(wobble[k, 1])
            limb = _LIMB_OF.get(part)
            if limb in offsets:
                forward, lateral, lift = offsets[limb]
                x += forward
                y += -lift if part in _SIDE_VIEW else lateral
            positions[part] = (x, y)
        return positions

    # -------------------------------------------------------------- drawing

    def _draw_background(self) -> np.ndarray:
        """The static mouse: bodies, heads, tails, on a dark background with the view split."""
        import cv2

        w, h = self.width_px, self.height_px
        sx, sy = w / DEFAULT_WIDTH_PX, h / DEFAULT_HEIGHT_PX
        image = np.full((h, w, 3), 28, np.uint8)
        image[h // 2:, :] = 36  # the mirror view is a little brighter
        cv2.line(image, (0, h // 2), (w - 1, h // 2), (70, 70, 70), 1)
        fur, head = (95, 105, 110), (110, 120, 125)

        def pt(x: float, y: float) -> tuple[int, int]:
            return int(round(x * sx)), int(round(y * sy))

        def axes(a: float, b: float) -> tuple[int, int]:
            return int(round(a * sx)), int(round(b * sy))

        # side view: body, head, ear, tail
        cv2.ellipse(image, pt(300, 92), axes(150, 40), 0, 0, 360, fur, -1, cv2.LINE_AA)
        cv2.ellipse(image, pt(470, 66), axes(52, 28), -12, 0, 360, head, -1, cv2.LINE_AA)
        cv2.circle(image, pt(450, 40), int(round(10 * sx)), (90, 95, 140), -1, cv2.LINE_AA)
        cv2.line(image, pt(150, 98), pt(30, 128), (85, 90, 120), max(1, int(4 * sx)),
                 cv2.LINE_AA)
        # bottom view: body, head, tail
        cv2.ellipse(image, pt(300, 240), axes(150, 46), 0, 0, 360, fur, -1, cv2.LINE_AA)
        cv2.ellipse(image, pt(480, 240), axes(44, 26), 0, 0, 360, head, -1, cv2.LINE_AA)
        cv2.line(image, pt(148, 240), pt(25, 250), (85, 90, 120), max(1, int(4 * sx)),
                 cv2.LINE_AA)
        return image

    def _joints(self) -> dict[str, tuple[float, float]]:
        """Fixed shoulder / hip points the limbs hang from (x_px, y_px)."""
        sx, sy = self.width_px / DEFAULT_WIDTH_PX, self.height_px / DEFAULT_HEIGHT_PX
        return {'fl_l_front': (410 * sx, 105 * sy), 'fl_r_front': (432 * sx, 102 * sy),
                'fl_l': (400 * sx, 255 * sy), 'fl_r': (400 * sx, 225 * sy),
                'hl_l': (215 * sx, 262 * sy), 'hl_r': (215 * sx, 218 * sy)}

    def frame_at(self, index: int) -> np.ndarray:
        """Frame number ``index`` (t = index / fps), BGR uint8 (H, W, 3).

        The same seed and parameters give byte-identical frames in any order of calls.
        """
        import cv2

        parts = self.ground_truth(index)
        image = self._background.copy()
        scale = 1 << _SUBPIXEL_SHIFT

        def fixed(x: float, y: float) -> tuple[int, int]:
            return int(round(x * scale)), int(round(y * scale))

        limb_colour = (120, 130, 170)
        for part, joint in self._joints().items():
            cv2.line(image, fixed(*joint), fixed(*parts[part]), limb_colour, 3, cv2.LINE_AA,
                     _SUBPIXEL_SHIFT)
        radius = int(round(_BLOB_RADIUS_PX * scale))
        for part in BODY_PARTS:
            cv2.circle(image, fixed(*parts[part]), radius, _COLOURS[part], -1, cv2.LINE_AA,
                       _SUBPIXEL_SHIFT)
        return image

    # ----------------------------------------------------- FrameSource API

    def describe(self) -> str:
        return f'synthetic behaviour (seed {self.seed}, control part {self.control_part})'


def _real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
