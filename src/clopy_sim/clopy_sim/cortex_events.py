"""Random events of the synthetic cortex: GCaMP-like transients per atlas region,
whole-cortex events and motion steps, drawn per 10 s block from generators seeded
with ``[seed, stream, block]`` (see ``clopy_sim.synthetic``), and the transient time
course. ``CortexEvents`` is the part of ``SyntheticCortexSource`` that draws them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from clopy_signal.atlas import SEEDS_MM

ACTIVITIES: tuple[str, ...] = ('spontaneous', 'flat', 'ramp')

# Seeds that are landmarks, not cortical areas: no spontaneous activity.
_LANDMARKS = ('ANT', 'LAMBDA', 'STROKE')
_ACTIVE_AREAS = tuple(s for s in SEEDS_MM if s not in _LANDMARKS)

_BLOCK_S = 10.0          # event-generation block length
_RISE_S = 0.05           # transient rise time constant
_DECAY_S = 0.7           # transient decay time constant
_KERNEL_S = 6.0          # transients are cut off after this (exp(-8.6))
_MOTION_MAX_S = 3.0      # longest motion step
_BLOB_SIGMA_MM = 0.45    # spatial spread of one region's activity
_RAMP_CORE_MM = 0.3      # ramp region: full ramp within this radius ...
_RAMP_EDGE_MM = 0.5      # ... fading to the baseline at this radius
_BILATERAL_P = 0.4       # share of area events that hit both hemispheres
_GLOBAL_RATE_HZ = 0.03   # whole-cortex events
_NOISE_BANK_ROWS = 8     # precomputed pixel-noise sequences

# Generator streams: separate streams keep e.g. the background identical
# when only the target parameters change.
_STREAM_STATIC, _STREAM_AREAS, _STREAM_TARGET, _STREAM_MOTION, _STREAM_NOISE = range(5)


def _kernel(dt_s: np.ndarray) -> np.ndarray:
    """GCaMP-like transient time course, peak 1, for dt_s >= 0."""
    return (-np.expm1(-dt_s / _RISE_S)) * np.exp(-dt_s / _DECAY_S) / _KERNEL_PEAK


def _kernel_peak() -> float:
    t_peak = _RISE_S * math.log1p(_DECAY_S / _RISE_S)
    return (1 - math.exp(-t_peak / _RISE_S)) * math.exp(-t_peak / _DECAY_S)


_KERNEL_PEAK = _kernel_peak()


def expected_ramp_dff(ramp_rate_per_s: float, history_frames: int,
                      fps: float) -> float:
    """dF/F of an exponential ramp against the mean of the previous frames.

    ``N / sum_{k=1..N} exp(-r k / fps) - 1`` with N = ``history_frames``;
    0.1594 for r = 0.05/s, N = 90, fps = 15.
    """
    k = np.arange(1, history_frames + 1)
    return float(history_frames / np.exp(-ramp_rate_per_s * k / fps).sum()
                 - 1.0)


@dataclass(frozen=True)
class _Block:
    """Random events of one 10 s block (times in s from frame 0)."""

    time_s: np.ndarray        # spontaneous + global transients
    row: np.ndarray
    amp: np.ndarray
    target_time_s: np.ndarray  # target candidates, thinned by the drive
    target_row: np.ndarray
    target_amp: np.ndarray
    target_u: np.ndarray
    motion_start_s: np.ndarray
    motion_dur_s: np.ndarray
    motion_amp: np.ndarray


class CortexEvents:
    """Event drawing of ``SyntheticCortexSource`` (which sets seed, rates, amplitudes,
    max_drive, nominal_fps, the activity rows and the drive schedule it uses)."""

    def _block(self, b: int) -> _Block:
        """Events of block b (cached; a few blocks cover any frame)."""
        block = self._blocks.get(b)
        if block is not None:
            self._blocks.move_to_end(b)
            return block
        t0 = b * _BLOCK_S
        n_areas = len(_ACTIVE_AREAS)
        amp_mean = self.transient_amplitude

        rng = np.random.default_rng([self.seed, _STREAM_AREAS, b])
        counts = rng.poisson(self.spontaneous_rate_hz * _BLOCK_S, n_areas)
        area = np.repeat(np.arange(n_areas), counts)
        times = t0 + rng.random(area.size) * _BLOCK_S
        # Gamma(2) amplitudes: mostly moderate, occasionally large.
        amps = rng.gamma(2.0, amp_mean / 2.0, area.size)
        side = rng.random(area.size)
        left = side < (1 + _BILATERAL_P) / 2        # left or both
        right = side >= (1 - _BILATERAL_P) / 2      # right or both
        n_global = rng.poisson(_GLOBAL_RATE_HZ * _BLOCK_S)
        g_times = t0 + rng.random(n_global) * _BLOCK_S
        g_amps = rng.gamma(2.0, amp_mean / 2.0, n_global)
        time_s = np.concatenate([times[left], times[right], g_times])
        row = np.concatenate([2 * area[left], 2 * area[right] + 1,
                              np.full(n_global, len(self._row_names) - 1)])
        amp = np.concatenate([amps[left], amps[right], g_amps])

        rng = np.random.default_rng([self.seed, _STREAM_TARGET, b])
        n_t = len(self._target_rows)
        # Candidates at the highest possible rate, thinned at render time by
        # the drive then in force: the same candidates whatever the drive.
        t_counts = rng.poisson(
            self.target_rate_hz * self.max_drive * _BLOCK_S, n_t)
        t_row = np.repeat(self._target_rows, t_counts)
        t_time = t0 + rng.random(t_row.size) * _BLOCK_S
        t_amp = rng.gamma(2.0, self.target_amplitude / 2.0, t_row.size)
        t_u = rng.random(t_row.size)

        rng = np.random.default_rng([self.seed, _STREAM_MOTION, b])
        n_m = rng.poisson(self.motion_rate_hz * _BLOCK_S)
        m_start = t0 + rng.random(n_m) * _BLOCK_S
        m_dur = rng.uniform(0.5, _MOTION_MAX_S, n_m)
        m_amp = rng.normal(0.0, self.motion_amplitude, n_m)

        block = _Block(time_s, row, amp, t_time, t_row, t_amp, t_u,
                       m_start, m_dur, m_amp)
        self._blocks[b] = block
        while len(self._blocks) > 8:
            self._blocks.popitem(last=False)
        return block

    def _drive_at(self, time_s: np.ndarray) -> np.ndarray:
        """Drive level in force at each time (levels start at frame times)."""
        starts_s = np.asarray(self._drive_start_index, np.float64) / self.nominal_fps
        i = np.searchsorted(starts_s, time_s, side='right') - 1
        return np.asarray(self._drive_level)[np.maximum(i, 0)]

    def _amplitudes(self, t_s: float) -> tuple[np.ndarray, float]:
        """Per-row activity (peak-normalised dF/F) and motion factor at t."""
        first = math.floor((t_s - max(_KERNEL_S, _MOTION_MAX_S)) / _BLOCK_S)
        last = math.floor(t_s / _BLOCK_S)
        blocks = [self._block(b) for b in range(max(first, 0), last + 1)]
        act = np.zeros(len(self._row_names), np.float64)
        motion = 0.0
        for blk in blocks:
            dt = t_s - blk.time_s
            on = (dt >= 0) & (dt < _KERNEL_S)
            if on.any():
                act += np.bincount(blk.row[on], blk.amp[on] * _kernel(dt[on]),
                                   minlength=act.size)
            dt = t_s - blk.target_time_s
            on = (dt >= 0) & (dt < _KERNEL_S)
            if on.any():
                accepted = (blk.target_u[on] * self.max_drive
                            < self._drive_at(blk.target_time_s[on]))
                act += np.bincount(
                    blk.target_row[on][accepted],
                    (blk.target_amp[on] * _kernel(dt[on]))[accepted],
                    minlength=act.size)
            dt = t_s - blk.motion_start_s
            motion += float(blk.motion_amp[(dt >= 0) & (dt < blk.motion_dur_s)].sum())
        return act, motion
