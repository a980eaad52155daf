"""Aligning another system's record of the sync pulses with the session's (pure numpy).

The session sends sync pulses at random intervals (clopy_reward.sync: uniform in
0.1-1.9 x the mean) and records each pulse's on time. Another system (the imaging
computer's TTL input, a video that sees an LED on the sync line) records the same
pulses on its own clock. :func:`align_pulses` finds which of its pulses are which:

1. runs of ``window`` consecutive inter-pulse intervals that agree (within the
   tolerance, plus the largest clock drift allowed) are candidate matches; random
   intervals make a true run unique, and a missing or extra pulse only spoils the
   runs that span it;
2. the candidates that agree on one clock offset (a line of slope about 1) win;
3. a straight-line fit ``session_s = offset_s + slope * other_s`` maps every other
   pulse onto the session, each is paired with the nearest session pulse within the
   tolerance (one to one), and the fit is made again on those pairs until they no
   longer change.

The result holds the fit (offset, drift in ppm), the pairs and their residuals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: default tolerance on an interval and on a mapped pulse time (TTL logs)
TOLERANCE_S = 0.010
#: default largest clock-rate difference between the two systems
MAX_DRIFT_PPM = 2000.0
#: default run of intervals that must agree for a candidate match
WINDOW = 5
#: candidate runs tried as seeds of the consensus (evenly spread over all of them)
MAX_SEEDS = 400


class AlignError(ValueError):
    """The pulse records cannot be aligned (the message names the record and why)."""


@dataclass(frozen=True)
class Alignment:
    """``session_s = intercept_s + slope * (other_s - centre_s)``, fitted on the pairs."""

    intercept_s: float
    slope: float
    centre_s: float
    other_s: np.ndarray        # matched pulses, other clock
    session_s: np.ndarray      # the same pulses, session clock
    n_other: int               # pulses in the other record
    n_session: int             # pulses in the session record

    @property
    def offset_s(self) -> float:
        """Session time of the other clock's zero."""
        return self.intercept_s - self.slope * self.centre_s

    @property
    def drift_ppm(self) -> float:
        """How much faster the session clock runs than the other one (parts per million)."""
        return (self.slope - 1.0) * 1e6

    def map(self, other_s) -> np.ndarray:
        """Other-clock times on the session clock."""
        return self.intercept_s + self.slope * (np.asarray(other_s, dtype=float) - self.centre_s)

    @property
    def residuals_s(self) -> np.ndarray:
        """Session time minus the mapped other time, per matched pulse."""
        return self.session_s - self.map(self.other_s)

    @property
    def max_residual_ms(self) -> float:
        return float(np.max(np.abs(self.residuals_s)) * 1e3)

    @property
    def rms_residual_ms(self) -> float:
        return float(np.sqrt(np.mean(self.residuals_s ** 2)) * 1e3)

    @property
    def n_matched(self) -> int:
        return int(len(self.other_s))

    def summary(self) -> dict:
        """The fit in plain numbers (for the command's report and a JSON file)."""
        return {'offset_s': self.offset_s, 'slope': self.slope, 'drift_ppm': self.drift_ppm,
                'matched': self.n_matched, 'other_pulses': self.n_other, 'session_pulses': self.n_session,
                'unmatched_other': self.n_other - self.n_matched,
                'unmatched_session': self.n_session - self.n_matched,
                'max_residual_ms': self.max_residual_ms, 'rms_residual_ms': self.rms_residual_ms,
                'first_s': float(self.other_s[0]), 'last_s': float(self.other_s[-1])}


def _pulses(times, what: str, need: int) -> np.ndarray:
    t = np.asarray(times, dtype=float).ravel()
    if not np.all(np.isfinite(t)):
        raise AlignError(f'{what}: pulse times must be finite numbers ({int(np.sum(~np.isfinite(t)))} are not)')
    t = np.unique(t)   # sorted, repeats dropped
    if len(t) < need:
        raise AlignError(f'{what}: too few pulses: {len(t)}, at least {need} are needed (a run of {need - 1} '
                         'intervals) to find a match; record a longer stretch or lower the window')
    return t


def _candidate_runs(ds, do, tol_s, drift, window):
    """Index pairs (i, j): session intervals i..i+window-1 agree with other ones j..j+window-1."""
    order = np.argsort(ds)
    ds_sorted = ds[order]
    starts = len(do) - window + 1
    band = tol_s + drift * do[:starts]
    lo = np.searchsorted(ds_sorted, do[:starts] - band, 'left')
    hi = np.searchsorted(ds_sorted, do[:starts] + band, 'right')
    counts = hi - lo
    if not counts.sum():
        return np.empty(0, int), np.empty(0, int)
    jj = np.repeat(np.arange(starts), counts)
    ranks = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi) if b > a])
    ii = order[ranks]
    keep = ii <= len(ds) - window
    ii, jj = ii[keep], jj[keep]
    for k in range(1, window):
        ok = np.abs(ds[ii + k] - do[jj + k]) <= tol_s + drift * do[jj + k]
        ii, jj = ii[ok], jj[ok]
    return ii, jj


def _consensus(s, o, ii, jj, tol_s, drift):
    """The candidate runs that agree on one clock offset, the best supported one's."""
    d = s[ii] - o[jj]
    seeds = np.unique(np.linspace(0, len(ii) - 1, min(len(ii), MAX_SEEDS)).astype(int))
    best, best_support = None, -1
    for c in seeds:
        agree = np.abs(d - d[c]) <= 2 * tol_s + drift * np.abs(o[jj] - o[jj[c]])
        support = int(agree.sum())
        if support > best_support:
            best, best_support = agree, support
    return ii[best], jj[best]


def _fit(other, session):
    centre = float(np.mean(other))
    if len(other) < 2 or np.ptp(other) == 0:
        return float(np.mean(session - other) + centre), 1.0, centre
    slope, intercept = np.polyfit(other - centre, session, 1)
    return float(intercept), float(slope), centre


def _pair(s, o, predicted, tol_s):
    """One-to-one pairs (session index, other index) of mapped pulses within the tolerance."""
    pos = np.clip(np.searchsorted(s, predicted), 1, len(s) - 1)
    left, right = s[pos - 1], s[pos]
    nearest = np.where(np.abs(predicted - left) <= np.abs(right - predicted), pos - 1, pos)
    err = np.abs(s[nearest] - predicted)
    j = np.nonzero(err <= tol_s)[0]
    i = nearest[j]
    # one to one: a session pulse claimed twice keeps the closer other pulse
    order = np.lexsort((err[j], i))
    i, j = i[order], j[order]
    first = np.ones(len(i), bool)
    first[1:] = i[1:] != i[:-1]
    i, j = i[first], j[first]
    back = np.argsort(j)
    return i[back], j[back]


def align_pulses(session_s, other_s, tolerance_s: float = TOLERANCE_S, max_drift_ppm: float = MAX_DRIFT_PPM,
                 window: int = WINDOW, session_what: str = 'session', other_what: str = 'other record') -> Alignment:
    """Match ``other_s`` (pulse onsets on the other system's clock, seconds) to
    ``session_s`` (the session's sync pulse on times) and fit the clock mapping.

    ``tolerance_s``: how far an interval or a mapped pulse may be from the session's
    (timing jitter; for video about a frame period). ``max_drift_ppm``: the largest
    clock-rate difference searched. Raises AlignError naming the record at fault."""
    if not tolerance_s > 0:
        raise AlignError(f'tolerance {tolerance_s!r} s must be > 0')
    if window < 2:
        raise AlignError(f'window {window!r} must be at least 2 intervals')
    s = _pulses(session_s, session_what, window + 1)
    o = _pulses(other_s, other_what, window + 1)
    drift = abs(max_drift_ppm) * 1e-6
    ii, jj = _candidate_runs(np.diff(s), np.diff(o), tolerance_s, drift, window)
    if not len(ii):
        raise AlignError(
            f'{other_what}: no match: no run of {window} pulse intervals agrees with the {session_what} sync '
            f'pulses within {tolerance_s * 1e3:g} ms; check that it records the sync line, the time unit, and '
            'that the two records overlap in time (a larger --tolerance-ms for video)')
    ii, jj = _consensus(s, o, ii, jj, tolerance_s, drift)
    ks = np.arange(window + 1)
    pairs = dict(zip((jj[:, None] + ks).ravel(), (ii[:, None] + ks).ravel()))
    j0 = np.array(sorted(pairs))
    i0 = np.array([pairs[j] for j in j0])
    intercept, slope, centre = _fit(o[j0], s[i0])
    pair_set = None
    for _ in range(20):
        predicted = intercept + slope * (o - centre)
        i, j = _pair(s, o, predicted, tolerance_s)
        if len(j) < window + 1:
            break
        intercept, slope, centre = _fit(o[j], s[i])
        key = (tuple(i), tuple(j))
        if key == pair_set:
            break
        pair_set = key
    if len(j) < window + 1:
        raise AlignError(f'{other_what}: no match: only {len(j)} pulses map onto {session_what} pulses within '
                         f'{tolerance_s * 1e3:g} ms after the fit; the timing is too irregular for this tolerance')
    return Alignment(intercept, slope, centre, o[j].copy(), s[i].copy(), len(o), len(s))
