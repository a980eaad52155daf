"""Online dF/F0 of ROIs with a rolling per-pixel baseline.

Per frame and per ROI pixel p and channel c:

    F0[p, c]  = mean of F[p, c] over the previous ``history_frames`` frames
                (the current frame is NOT part of its own baseline)
    dff[p, c] = (F[p, c] - F0[p, c]) / F0[p, c]    (0 where F0[p, c] == 0)

then the per-pixel signal is ``dff[green] - dff[blue]`` (hemodynamic
correction: blue is reflectance, which sees blood volume/motion but not GCaMP),
``dff[green]`` or ``dff[mono]``, and the ROI value is its mean over the ROI's
pixels. Results are invalid (NaN) until ``history_frames`` frames have been
seen; unlike the original there is no all-zero frame in the initial baseline.

The baseline is a running sum over a ring buffer of ROI crops, so one update
costs O(ROI pixels), independent of the history length.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ConfigError
from .roi import Roi

#: correction -> BGR channel indices used (green first), None for 2-D frames.
_CHANNELS: dict[str, list[int] | None] = {
    'green_minus_blue': [1, 0],
    'green': [1],
    'mono': None,
}
CORRECTIONS: tuple[str, ...] = tuple(_CHANNELS)


@dataclass(frozen=True)
class DffResult:
    """One frame's ROI signals.

    Attributes:
        values: dF/F0 per ROI, shape (n_rois,), float64, dimensionless
            (0.01 = 1 %); NaN while not ``valid``.
        valid: True once the baseline holds ``history_frames`` frames.
        f0: the lowest ROI-mean F0 over the channels used, per ROI (frame
            counts); NaN while not ``valid``. A floor on it keeps dark
            baselines from giving huge dF/F (clopy_signal.quality).
    """

    values: np.ndarray
    valid: bool
    f0: np.ndarray | None = None


def history_frames_for(dff_history_s: float, frame_rate_hz: float) -> int:
    """Baseline length in frames: ``dff_history_s * frame_rate_hz`` rounded
    half up (6 s at 15 Hz -> 90 frames).

    Raises:
        ConfigError: non-finite or non-positive input, or fewer than 1 frame.
    """
    for key, value in (('dff_history_s', dff_history_s),
                       ('frame_rate_hz', frame_rate_hz)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)
                and value > 0):
            raise ConfigError(f'{key}={value!r} must be a finite number > 0')
    frames = int(math.floor(dff_history_s * frame_rate_hz + 0.5))
    if frames < 1:
        raise ConfigError(
            f'dff_history_s={dff_history_s!r} at frame_rate_hz='
            f'{frame_rate_hz!r} gives {frames} baseline frames; at least 1 is '
            f'needed')
    return frames


class DffEstimator:
    """Rolling-baseline dF/F0 for a fixed set of ROIs.

    Args:
        rois: ROIs to measure (may overlap); order defines ``values`` order.
        history_frames: baseline length in frames (>= 1), e.g. from
            ``history_frames_for(6.0, 15.0)`` = 90.
        correction: ``'green_minus_blue'`` (BGR frames, green dF/F minus blue
            dF/F per pixel), ``'green'`` (BGR frames, green only) or
            ``'mono'`` (2-D frames).
    """

    def __init__(self, rois: Sequence[Roi], history_frames: int,
                 correction: str = 'green_minus_blue') -> None:
        if correction not in _CHANNELS:
            raise ConfigError(
                f'correction={correction!r} is not allowed; use one of '
                f'{list(CORRECTIONS)}')
        if isinstance(history_frames, bool) or not isinstance(
                history_frames, (int, np.integer)) or history_frames < 1:
            raise ConfigError(
                f'history_frames={history_frames!r} must be an integer >= 1')
        rois = tuple(rois)
        if not rois:
            raise ConfigError('rois: at least one ROI is required, got none')
        names = [r.name for r in rois]
        if len(set(names)) != len(names):
            raise ConfigError(f'ROI names must be unique, got {names}')

        self._rois = rois
        self._correction = correction
        self._channels = _CHANNELS[correction]
        self._history = int(history_frames)

        # Gather all ROI pixels into one flat index list so a frame is cropped
        # with a single fancy-indexing operation, whatever the ROI count.
        rows, cols, owner = [], [], []
        for i, roi in enumerate(rois):
            rr, cc = np.mgrid[roi.rows, roi.cols]
            rows.append(rr.ravel())
            cols.append(cc.ravel())
            owner.append(np.full(roi.n_pixels, i, dtype=np.intp))
        self._rows = np.concatenate(rows)
        self._cols = np.concatenate(cols)
        self._owner = np.concatenate(owner)
        self._n_px_per_roi = np.array([r.n_pixels for r in rois], np.float64)
        self._min_height = max(r.row_px + r.height_px for r in rois)
        self._min_width = max(r.col_px + r.width_px for r in rois)
        negative = [r.name for r in rois if r.row_px < 0 or r.col_px < 0]
        if negative:
            # Negative indices would silently wrap to the far image edge.
            raise ConfigError(
                f'ROIs {negative} start at a negative row/col; boxes must lie '
                f'inside the frame')

        n_ch = 1 if self._channels is None else len(self._channels)
        n_px = self._rows.size
        # float64 so sums of uint8/uint16 pixels stay exact (< 2**53).
        self._ring = np.zeros((self._history, n_px, n_ch), np.float64)
        self._sum = np.zeros((n_px, n_ch), np.float64)
        self.reset()

    @property
    def rois(self) -> tuple[Roi, ...]:
        """ROIs in ``values`` order."""
        return self._rois

    @property
    def names(self) -> list[str]:
        """ROI names in ``values`` order."""
        return [r.name for r in self._rois]

    @property
    def history_frames(self) -> int:
        """Baseline length in frames."""
        return self._history

    @property
    def correction(self) -> str:
        """Active correction mode."""
        return self._correction

    @property
    def frames_in_history(self) -> int:
        """Frames currently in the baseline (0..history_frames)."""
        return self._filled

    def reset(self) -> None:
        """Forget the baseline (e.g. at a session restart)."""
        self._ring.fill(0.0)
        self._sum.fill(0.0)
        self._filled = 0
        self._slot = 0
        self._pushes_since_resum = 0

    def _crop(self, frame: np.ndarray) -> np.ndarray:
        """ROI pixels of ``frame`` as float64, shape (n_px, n_channels)."""
        if not isinstance(frame, np.ndarray):
            raise ValueError(
                f'frame must be a numpy array, got {type(frame).__name__}')
        if self._channels is None:
            if frame.ndim != 2:
                raise ValueError(
                    f"correction 'mono' needs 2-D (H, W) frames, got shape "
                    f'{frame.shape}')
        elif frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f'correction {self._correction!r} needs BGR frames of shape '
                f'(H, W, 3), got shape {frame.shape}')
        if frame.shape[0] < self._min_height or frame.shape[1] < self._min_width:
            outside = [r.name for r in self._rois
                       if not r.fits(frame.shape[0], frame.shape[1])]
            raise ValueError(
                f'ROIs {outside} do not fit in a {frame.shape[0]}x'
                f'{frame.shape[1]} px (HxW) frame')
        pixels = frame[self._rows, self._cols]
        if self._channels is None:
            return pixels[:, None].astype(np.float64)
        return pixels[:, self._channels].astype(np.float64)

    def update(self, frame: np.ndarray, add_to_baseline: bool = True) -> DffResult:
        """Measure ``frame`` against the baseline, then add it to the baseline.

        Args:
            frame: (H, W, 3) BGR or, for ``'mono'``, (H, W); any real dtype
                (uint8 from the cameras).
            add_to_baseline: False measures the frame without adding it (a
                blank or saturated frame must not pull F0 down or up).

        Returns:
            ``DffResult`` with one value per ROI.

        Raises:
            ValueError: wrong number of dimensions/channels, or a ROI outside
                the frame.
        """
        crop = self._crop(frame)
        if self._filled == self._history:
            f0 = self._sum / self._history
            dff = np.zeros_like(crop)
            np.divide(crop - f0, f0, out=dff, where=f0 != 0)
            signal = dff[:, 0] - dff[:, 1] if dff.shape[1] == 2 else dff[:, 0]
            values = np.bincount(self._owner, weights=signal,
                                 minlength=len(self._rois)) / self._n_px_per_roi
            f0_roi = np.min([np.bincount(self._owner, weights=f0[:, c], minlength=len(self._rois))
                             for c in range(f0.shape[1])], axis=0) / self._n_px_per_roi
            result = DffResult(values, True, f0_roi)
        else:
            nan = np.full(len(self._rois), np.nan)
            result = DffResult(nan, False, nan.copy())
        if add_to_baseline:
            self._push(crop)
        return result

    def _push(self, crop: np.ndarray) -> None:
        """Add a crop to the ring buffer and keep the running sum current."""
        if self._filled == self._history:
            self._sum -= self._ring[self._slot]
        else:
            self._filled += 1
        self._ring[self._slot] = crop
        self._sum += crop
        self._slot = (self._slot + 1) % self._history
        # Integer-valued pixels sum exactly in float64, but float input could
        # let add/subtract rounding drift; a full re-sum once per history
        # length bounds that at an amortised cost of one add per pixel.
        self._pushes_since_resum += 1
        if self._pushes_since_resum >= self._history:
            np.sum(self._ring[:self._filled], axis=0, out=self._sum)
            self._pushes_since_resum = 0
