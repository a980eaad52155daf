"""Tone table and signal-to-pitch mapping of CLoPy (both paradigms).

The feedback tone is one of ``n_tones`` quarter-octave steps above ``base_hz``.
A control-signal value picks the tone through bin edges; the lookup is numpy's
``searchsorted(edges, x, side='left')``, i.e. the tone index is the number of
edges strictly below the value. This module reproduces the original CLoPy lookup
exactly (see the pinned test vectors in ``test/test_tones.py``) without its
defects: NaN does not crash, and the symmetric tone range is an explicit option
instead of a silent switch after the first adaptive-threshold window.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
from typing import Literal

import numpy as np

ToneMapping = Literal['clnf', 'clmf']
ToneRange = Literal['zero_to_threshold', 'symmetric']

TONE_MAPPINGS: tuple[str, ...] = ('clnf', 'clmf')
TONE_RANGES: tuple[str, ...] = ('zero_to_threshold', 'symmetric')


def tone_table_hz(n_tones: int = 18, base_hz: float = 1000.0) -> list[int]:
    """Return the tone frequencies in Hz: ``int(base_hz * 2**(i/4))``, i = 0..n_tones-1.

    The original truncates to integers (1000, 1189, 1414, ..., 19027 Hz for 18 tones);
    we keep that so recorded ``freq`` columns compare one to one.
    """
    if isinstance(n_tones, bool) or not isinstance(n_tones, numbers.Integral) or n_tones < 1:
        raise ValueError(f'tones.tone_table_hz: n_tones={n_tones!r}; allowed: an integer >= 1')
    base_ok = isinstance(base_hz, numbers.Real) and not isinstance(base_hz, bool)
    if not (base_ok and math.isfinite(base_hz) and base_hz > 0):
        raise ValueError(f'tones.tone_table_hz: base_hz={base_hz!r}; '
                         'allowed: a finite number > 0 (Hz)')
    return [int(base_hz * 2 ** (i / 4)) for i in range(n_tones)]


@dataclasses.dataclass(frozen=True)
class ToneMapper:
    """Maps a control-signal value to a tone frequency in Hz.

    Fields:
        threshold: reward threshold in signal units (dF/F for CLNF, px/frame for CLMF); > 0.
        n_tones: number of tones in the table; >= 3 (CLNF needs two outer bins).
        mapping: 'clnf' -> edges ``[-inf] + linspace(0, thr, n-2) + [+inf]`` (x <= 0 gives
            the second tone, 1000 Hz is never used); 'clmf' -> edges
            ``linspace(0, thr, n-1) + [+inf]`` (x == 0 gives the first tone).
        tone_range: 'zero_to_threshold' (the original's default) or 'symmetric', which for
            'clnf' spreads the inner edges over ``linspace(-thr, +thr, n-2)`` as the original
            did after its first adaptive window. Speeds are never negative, so 'symmetric'
            is only defined for 'clnf'.
        base_hz: frequency of tone 0 in Hz.

    The mapper is immutable; ``with_threshold`` returns a new one, so a tone node can
    swap mappers atomically between frames.
    """

    threshold: float
    n_tones: int = 18
    mapping: ToneMapping = 'clnf'
    tone_range: ToneRange = 'zero_to_threshold'
    base_hz: float = 1000.0
    _edges: tuple[float, ...] = dataclasses.field(init=False, repr=False, compare=False)
    _table_hz: tuple[int, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        thr = self.threshold
        thr_ok = isinstance(thr, numbers.Real) and not isinstance(thr, bool)
        if not thr_ok or not math.isfinite(thr) or thr <= 0:
            raise ValueError(f'ToneMapper: threshold={thr!r}; allowed: a finite number > 0')
        n = self.n_tones
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 3:
            raise ValueError(f'ToneMapper: n_tones={n!r}; allowed: an integer >= 3')
        thr, n = float(thr), int(n)
        # frozen dataclass: normalised and derived fields are set once, here
        object.__setattr__(self, 'threshold', thr)
        object.__setattr__(self, 'n_tones', n)
        if self.mapping not in TONE_MAPPINGS:
            raise ValueError(f'ToneMapper: mapping={self.mapping!r}; '
                             f'allowed: {", ".join(TONE_MAPPINGS)}')
        if self.tone_range not in TONE_RANGES:
            raise ValueError(f'ToneMapper: tone_range={self.tone_range!r}; '
                             f'allowed: {", ".join(TONE_RANGES)}')
        if self.mapping == 'clmf' and self.tone_range == 'symmetric':
            raise ValueError("ToneMapper: tone_range='symmetric' with mapping='clmf'; allowed: "
                             "'symmetric' only with mapping='clnf' (speeds are never negative)")
        inf = float('inf')
        if self.mapping == 'clnf':
            low = -thr if self.tone_range == 'symmetric' else 0.0
            inner = np.linspace(low, thr, n - 2)
            edges = [-inf, *inner.tolist(), inf]
        else:
            edges = [*np.linspace(0.0, thr, n - 1).tolist(), inf]
        object.__setattr__(self, '_edges', tuple(float(e) for e in edges))
        object.__setattr__(self, '_table_hz', tuple(tone_table_hz(n, self.base_hz)))

    @property
    def edges(self) -> tuple[float, ...]:
        """Bin edges in signal units (length n_tones)."""
        return self._edges

    @property
    def table_hz(self) -> tuple[int, ...]:
        """Tone frequencies in Hz, index i -> tone i."""
        return self._table_hz

    def index(self, value: float) -> int:
        """Tone index for a signal value: the number of edges strictly below it.

        NaN maps like 0.0: a NaN means "no valid measurement this frame" (a dropped or
        saturated frame, F0 == 0), and the honest feedback for "no information" is the
        baseline tone, not the top tone that ``searchsorted`` would give NaN (it sorts
        NaN after +inf) and that the mouse would read as "almost rewarded".
        +inf / -inf are treated as very large / very small finite values so they land in
        the top / bottom used bin (never the -inf sentinel bin).
        """
        x = float(value)
        if math.isnan(x):
            x = 0.0
        elif math.isinf(x):
            x = math.copysign(np.finfo(float).max, x)
        return bisect.bisect_left(self._edges, x)

    def frequency_hz(self, value: float) -> int:
        """Tone frequency in Hz for a signal value (see ``index`` for NaN / inf)."""
        return self._table_hz[self.index(value)]

    def with_threshold(self, threshold: float) -> 'ToneMapper':
        """Return a mapper identical to this one but with a new threshold."""
        return dataclasses.replace(self, threshold=threshold)
