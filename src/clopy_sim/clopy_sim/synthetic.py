"""Synthetic dorsal-cortex imaging for testing CLoPy without a mouse.

Frames are 8-bit BGR like the original Pi-camera stream (256 x 256 px,
15 fps, bregma at row 135 / col 128, 25.6 px/mm):

* green = GCaMP fluorescence: baseline ``G0`` (about 95-115 counts on the
  cortex) times ``(1 + activity)`` times the shared factor ``s(t)``;
* blue = reflectance: baseline ``B0`` (about 65-80) times ``s(t)`` only;
* red = a dim constant.

``activity`` is a sum of GCaMP-like transients, each a Gaussian blob (sigma
0.45 mm) on an atlas region (``clopy_signal.atlas`` centres) with time course
``(1 - exp(-t/0.05 s)) * exp(-t/0.7 s)`` scaled to peak 1 (rise about 0.1 s,
decay 0.7 s) and a gamma-distributed amplitude (a few % dF/F).
``s(t) = (1 + h(t)) * (1 + m(t))`` is the shared hemodynamic/motion
component: ``h`` two slow sinusoids (0.1-0.3 Hz), ``m`` occasional motion
steps (0.5-3 s long). Because ``s`` multiplies green and blue alike, the
green-minus-blue dF/F removes it, and green-only dF/F does not.

Activity modes:

``'flat'``
    The same frame every time: no noise, no transients, no shared
    component, so every dF/F is exactly 0.
``'ramp'``
    The flat frame, except that the green channel of each target region (a
    disc of radius 0.3 mm, fading out to 0.5 mm) is
    ``I(t) = ramp_start * exp(ramp_rate_per_s * t)``, t = index / fps.
    With a rolling baseline of the previous N frames (frame interval
    dt = 1/fps), every pixel's

        dF/F = I(t) / mean_k I(t - k dt) - 1 = N / sum_{k=1..N} q**k - 1,
        q = exp(-ramp_rate_per_s * dt)

    which is constant in time: 0.1594 for N = 90 (6 s at 15 fps) and
    0.05/s (about r*T/2 for small r*T). Starting at 30 counts the intensity
    reaches 255 after ln(255/30)/0.05 = 42.8 s; after that it stays at 255
    and dF/F decays to 0. ``expected_ramp_dff`` computes the formula.
``'spontaneous'``
    Random transients in every region (either hemisphere or both), rare
    whole-cortex events, the shared component, and Gaussian pixel noise.
    Target regions get extra transients at ``target_rate_hz * drive``
    (``set_drive``), e.g. for a simulated learning mouse.

Frames are a pure function of (seed, parameters, drive schedule, index):
events are drawn per 10 s block from generators seeded with
``[seed, stream, block]``, and each frame's pixel noise is a window of a
seeded noise bank picked by a generator seeded with ``[seed, stream, index]``,
so ``frame_at(i)`` is byte-identical however the frames are visited.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Iterable

import numpy as np
from clopy_signal.atlas import seed_centre_px

from .cortex_events import (_ACTIVE_AREAS, _BLOB_SIGMA_MM, _NOISE_BANK_ROWS, _RAMP_CORE_MM, _RAMP_EDGE_MM,
                            _STREAM_NOISE, _STREAM_STATIC, ACTIVITIES, CortexEvents, _Block, expected_ramp_dff)
from .rendered import RenderedSource

__all__ = ['ACTIVITIES', 'SyntheticCortexSource', 'expected_ramp_dff']


class SyntheticCortexSource(CortexEvents, RenderedSource):
    """Seedable synthetic GCaMP + reflectance cortex (BGR uint8 frames).

    Args:
        seed: generator seed; None draws fresh entropy (kept in ``seed`` so a
            run can be repeated).
        width_px, height_px: frame size.
        fps: nominal frame rate, Hz (sets t = index / fps).
        activity: ``'spontaneous'``, ``'flat'`` or ``'ramp'`` (see module).
        target_regions: atlas regions with side, e.g. ``['M1_L']``; required
            for ``'ramp'``.
        target_rate_hz: extra transients per target region at drive 1.
        target_amplitude: mean peak dF/F of the extra target transients.
        ramp_rate_per_s: exponential growth rate of the ramp, 1/s.
        ramp_start: green intensity of the ramp at t = 0, counts.
        spontaneous_rate_hz: transients per area (both sides together), Hz.
        transient_amplitude: mean peak dF/F of spontaneous transients.
        hemodynamic_amplitude: amplitude of the shared slow oscillation
            (fraction, 0.02 = 2 %).
        motion_rate_hz: motion steps per second.
        motion_amplitude: standard deviation of a motion step (fraction).
        noise_sd: pixel noise standard deviation, counts.
        max_drive: largest allowed ``set_drive`` level.
        n_frames: stop after this many frames (None: endless).
        bregma_row_px, bregma_col_px, px_per_mm: atlas geometry.
    """


    def __init__(self, seed: int | None = None, width_px: int = 256,
                 height_px: int = 256, fps: float = 15.0,
                 activity: str = 'spontaneous',
                 target_regions: Iterable[str] = (),
                 target_rate_hz: float = 0.1,
                 target_amplitude: float = 0.05,
                 ramp_rate_per_s: float = 0.05, ramp_start: float = 30.0,
                 spontaneous_rate_hz: float = 0.1,
                 transient_amplitude: float = 0.03,
                 hemodynamic_amplitude: float = 0.02,
                 motion_rate_hz: float = 0.05, motion_amplitude: float = 0.02,
                 noise_sd: float = 1.5, max_drive: float = 10.0,
                 n_frames: int | None = None, bregma_row_px: float = 135,
                 bregma_col_px: float = 128, px_per_mm: float = 25.6) -> None:
        super().__init__()
        if activity not in ACTIVITIES:
            raise ValueError(f'activity={activity!r} is not allowed; use one '
                             f'of {list(ACTIVITIES)}')
        if width_px < 16 or height_px < 16:
            raise ValueError(f'width_px={width_px}, height_px={height_px} '
                             f'must both be >= 16')
        for key, value in (('fps', fps), ('px_per_mm', px_per_mm),
                           ('ramp_start', ramp_start),
                           ('max_drive', max_drive)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{key}={value!r} must be a finite number > 0')
        for key, value in (('target_rate_hz', target_rate_hz),
                           ('target_amplitude', target_amplitude),
                           ('ramp_rate_per_s', ramp_rate_per_s),
                           ('spontaneous_rate_hz', spontaneous_rate_hz),
                           ('transient_amplitude', transient_amplitude),
                           ('hemodynamic_amplitude', hemodynamic_amplitude),
                           ('motion_rate_hz', motion_rate_hz),
                           ('motion_amplitude', motion_amplitude),
                           ('noise_sd', noise_sd)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'{key}={value!r} must be a finite number '
                                 f'>= 0')
        if hemodynamic_amplitude >= 0.5 or motion_amplitude >= 0.2:
            raise ValueError(
                f'hemodynamic_amplitude={hemodynamic_amplitude!r} must be < 0.5'
                f' and motion_amplitude={motion_amplitude!r} < 0.2 so frames '
                f'stay inside uint8')
        if n_frames is not None and n_frames < 0:
            raise ValueError(f'n_frames={n_frames!r} must be >= 0 or None')
        targets = list(dict.fromkeys(
            [target_regions] if isinstance(target_regions, str)
            else target_regions))
        if activity == 'ramp' and not targets:
            raise ValueError("activity='ramp' needs at least one entry in "
                             "target_regions, e.g. ['M1_L']")

        self.seed = (int(np.random.SeedSequence().entropy) if seed is None
                     else int(seed))
        if self.seed < 0:
            raise ValueError(f'seed={seed!r} must be >= 0')
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.nominal_fps = float(fps)
        self.encoding = 'bgr8'
        self.frame_count = n_frames
        self.activity = activity
        self.target_regions = tuple(targets)
        self.target_rate_hz = float(target_rate_hz)
        self.target_amplitude = float(target_amplitude)
        self.ramp_rate_per_s = float(ramp_rate_per_s)
        self.ramp_start = float(ramp_start)
        self.spontaneous_rate_hz = float(spontaneous_rate_hz)
        self.transient_amplitude = float(transient_amplitude)
        self.hemodynamic_amplitude = float(hemodynamic_amplitude)
        self.motion_rate_hz = float(motion_rate_hz)
        self.motion_amplitude = float(motion_amplitude)
        self.noise_sd = float(noise_sd)
        self.max_drive = float(max_drive)
        self.bregma_row_px = float(bregma_row_px)
        self.bregma_col_px = float(bregma_col_px)
        self.px_per_mm = float(px_per_mm)

        self._drive_start_index: list[int] = [0]
        self._drive_level: list[float] = [1.0]
        self._blocks: OrderedDict[int, _Block] = OrderedDict()
        self._build_static()

    # ------------------------------------------------------------------ setup

    def _centre(self, region: str) -> tuple[int, int]:
        """(x_col, y_row) of an atlas region, checked to be in the frame."""
        x, y = seed_centre_px(region, self.bregma_row_px, self.bregma_col_px,
                              self.px_per_mm)
        if not (0 <= x < self.width_px and 0 <= y < self.height_px):
            raise ValueError(
                f'region {region!r} centre (x={x}, y={y}) is outside the '
                f'{self.width_px}x{self.height_px} px frame')
        return x, y

    def _build_static(self) -> None:
        """Precompute everything that does not change from frame to frame."""
        h, w, ppmm = self.height_px, self.width_px, self.px_per_mm
        rng = np.random.default_rng([self.seed, _STREAM_STATIC])
        rows = np.arange(h, dtype=np.float32)[:, None]
        cols = np.arange(w, dtype=np.float32)[None, :]

        # Cortex outline: an ellipse 9.6 mm wide and 9.4 mm long centred
        # 0.5 mm behind bregma, with a soft edge.
        dy = (rows - (self.bregma_row_px + 0.5 * ppmm)) / (4.7 * ppmm)
        dx = (cols - self.bregma_col_px) / (4.8 * ppmm)
        radius = np.sqrt(dx * dx + dy * dy)
        mask = np.clip((1.0 - radius) / 0.08, 0.0, 1.0).astype(np.float32)
        # Midline sinus: a darker vertical band.
        mid_col = (cols - self.bregma_col_px) / (0.12 * ppmm)
        midline = 1.0 - 0.35 * np.exp(-0.5 * mid_col * mid_col)
        # Gentle illumination falloff and a little smooth texture.
        texture = np.zeros((h, w), np.float32)
        for _ in range(4):
            ky, kx = rng.uniform(0.5, 2.0, 2) * 2 * np.pi / np.array([h, w])
            phase = rng.uniform(0, 2 * np.pi)
            texture += np.cos(ky * rows + kx * cols + phase).astype(np.float32)
        shade = 1.0 - 0.15 * np.clip(radius, 0, 1) ** 2 + 0.02 * texture
        self._mask = mask
        self._green0 = (15.0 + mask * 95.0 * shade * midline).astype(np.float32)
        self._blue0 = (10.0 + mask * 70.0 * shade * midline).astype(np.float32)
        red0 = 5.0 + mask * 12.0 * midline

        # Fixed sub-count dither: rounding x + d over many pixels averages to
        # x, so slow changes (the ramp) are not lost to uint8 steps.
        self._dither = rng.uniform(-0.5, 0.5, (h, w)).astype(np.float32)
        self._static = np.empty((h, w, 3), np.uint8)
        self._static[..., 0] = np.rint(np.clip(self._blue0 + self._dither, 0, 255))
        self._static[..., 1] = np.rint(np.clip(self._green0 + self._dither, 0, 255))
        self._static[..., 2] = np.rint(np.clip(red0, 0, 255))
        self._red_flat = self._static[..., 2].ravel().copy()

        # Pixel-noise bank: drawing 2 x H x W fresh normals per frame would
        # take most of the frame budget, so each frame takes a random window
        # of a random bank row instead. Two frames share noise values only if
        # both the row and the offset coincide (p = 1 / (rows * H * W)).
        n_px = h * w
        self._noise_bank = rng.standard_normal(
            (_NOISE_BANK_ROWS, 3 * n_px), dtype=np.float32)

        # Shared slow hemodynamic oscillation: two sinusoids 0.1-0.3 Hz.
        self._hemo_hz = rng.uniform(0.1, 0.3, 2)
        self._hemo_phase = rng.uniform(0, 2 * np.pi, 2)

        # Activity rows: each active area left and right, then targets that
        # are not among them, then one whole-cortex row.
        names = [f'{a}_{s}' for a in _ACTIVE_AREAS for s in 'LR']
        names += [t for t in self.target_regions if t not in names]
        self._row_names = names + ['global']
        self._target_rows = np.array(
            [names.index(t) for t in self.target_regions], np.intp)
        sigma_px = _BLOB_SIGMA_MM * ppmm
        blobs = np.empty((len(self._row_names), h * w), np.float32)
        for i, name in enumerate(names):
            x, y = seed_centre_px(name, self.bregma_row_px, self.bregma_col_px,
                                  ppmm)
            d2 = ((rows - y) ** 2 + (cols - x) ** 2) / (2 * sigma_px ** 2)
            blobs[i] = (np.exp(-d2) * mask).ravel()
        blobs[-1] = mask.ravel()
        self._blobs = blobs
        for t in self.target_regions:
            self._centre(t)

        # Ramp pixels: weight 1 within the core radius, fading to 0 at the
        # edge radius; only pixels with weight > 0 are recomputed per frame.
        if self.activity == 'ramp':
            weight = np.zeros((h, w), np.float32)
            for t in self.target_regions:
                x, y = self._centre(t)
                dist_mm = np.sqrt((rows - y) ** 2 + (cols - x) ** 2) / ppmm
                ramp_w = np.clip((_RAMP_EDGE_MM - dist_mm)
                                 / (_RAMP_EDGE_MM - _RAMP_CORE_MM), 0, 1)
                weight = np.maximum(weight, ramp_w)
            self._ramp_idx = np.flatnonzero(weight > 0)
            self._ramp_w = weight.ravel()[self._ramp_idx]
            self._ramp_base = (self._green0.ravel()[self._ramp_idx]
                               + self._dither.ravel()[self._ramp_idx])
            self._ramp_dither = self._dither.ravel()[self._ramp_idx]

    # -------------------------------------------------------------- frames

    @property
    def brain_mask(self) -> np.ndarray:
        """Cortex weight per pixel, shape (H, W), float32 in [0, 1]."""
        return self._mask

    @property
    def drive(self) -> float:
        """Current drive level (scales the target transient rate)."""
        return self._drive_level[-1]

    def set_drive(self, level: float) -> None:
        """Scale the target regions' extra transient rate from the next
        ``read()`` on: rate = ``target_rate_hz * level``.

        Only ``'spontaneous'`` frames depend on it. The change is recorded
        against the frame index, so ``frame_at`` stays reproducible.

        Raises:
            ValueError: level outside [0, max_drive].
        """
        level = float(level)
        if not (math.isfinite(level) and 0.0 <= level <= self.max_drive):
            raise ValueError(f'drive level={level!r} must be within '
                             f'[0, max_drive={self.max_drive}]')
        if self._drive_start_index[-1] == self._next_index:
            self._drive_level[-1] = level
        else:
            self._drive_start_index.append(self._next_index)
            self._drive_level.append(level)

    def frame_at(self, index: int) -> np.ndarray:
        """Frame number ``index`` (t = index / fps), BGR uint8 (H, W, 3).

        The same seed, parameters and drive schedule give byte-identical
        frames, in any order of calls.
        """
        if index < 0:
            raise ValueError(f'frame index={index!r} must be >= 0')
        if self.activity == 'flat':
            return self._static.copy()
        t_s = index / self.nominal_fps
        if self.activity == 'ramp':
            return self._ramp_frame(t_s)
        return self._spontaneous_frame(index, t_s)

    def _ramp_frame(self, t_s: float) -> np.ndarray:
        frame = self._static.copy()
        level = self.ramp_start * math.exp(self.ramp_rate_per_s * t_s)
        value = (self._ramp_w * (level + self._ramp_dither)
                 + (1.0 - self._ramp_w) * self._ramp_base)
        green = frame[..., 1].reshape(-1)   # view into the copy
        green[self._ramp_idx] = np.rint(np.clip(value, 0, 255))
        return frame

    def _spontaneous_frame(self, index: int, t_s: float) -> np.ndarray:
        h, w = self.height_px, self.width_px
        act_rows, motion = self._amplitudes(t_s)
        hemo = self.hemodynamic_amplitude * float(
            0.6 * np.sin(2 * np.pi * self._hemo_hz[0] * t_s
                         + self._hemo_phase[0])
            + 0.4 * np.sin(2 * np.pi * self._hemo_hz[1] * t_s
                           + self._hemo_phase[1]))
        shared = np.float32((1.0 + hemo) * (1.0 + motion))

        # Only regions with live transients contribute (a handful at a time).
        gain = np.ones(h * w, np.float32)
        for r in np.flatnonzero(act_rows > 1e-6):
            gain += np.float32(act_rows[r]) * self._blobs[r]

        n_px = h * w
        rng = np.random.default_rng([self.seed, _STREAM_NOISE, index])
        bank_row = self._noise_bank[rng.integers(_NOISE_BANK_ROWS)]
        offset = int(rng.integers(n_px))
        noise_sd = np.float32(self.noise_sd)

        green = self._green0.ravel() * gain
        green *= shared
        green += noise_sd * bank_row[offset:offset + n_px]
        blue = self._blue0.ravel() * shared
        blue += noise_sd * bank_row[offset + n_px:offset + 2 * n_px]

        frame = np.empty((h * w, 3), np.uint8)
        for channel, values in ((0, blue), (1, green)):
            np.clip(values, 0, 255, out=values)
            np.rint(values, out=values)
            frame[:, channel] = values
        frame[:, 2] = self._red_flat
        return frame.reshape(h, w, 3)

    # ----------------------------------------------------- FrameSource API

    def describe(self) -> str:
        return f'synthetic cortex (seed {self.seed}, {self.activity})'

    def _open(self) -> None:
        # (Re)opening restarts at frame 0; after earlier reads the drive
        # schedule restarts too, keeping the current level, so it stays
        # ordered by frame index.
        if self._next_index != 0:
            self._drive_start_index = [0]
            self._drive_level = [self.drive]
        super()._open()
