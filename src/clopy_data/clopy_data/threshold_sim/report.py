"""Baseline, recommendation and the outputs (table, CSV, plot) of the threshold simulation."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clopy_data.threshold_sim.inputs import DEFAULT_THRESHOLDS, Recording, ThresholdSimError
from clopy_data.threshold_sim.simulation import SimResult

# --------------------------------------------------------- baseline, recommendation


def parse_grid(text: str) -> list[float]:
    """``LO:HI:STEP`` -> [LO, LO+STEP, ..., <= HI] (HI included), rounded to 12 decimals."""
    parts = text.split(':')
    try:
        lo, hi, step = (float(p) for p in parts)
    except ValueError:
        raise ThresholdSimError(f'--thresholds {text!r}: expected LO:HI:STEP, e.g. {DEFAULT_THRESHOLDS}') from None
    if not all(math.isfinite(x) for x in (lo, hi, step)) or step <= 0 or hi < lo:
        raise ThresholdSimError(f'--thresholds {text!r}: need finite LO <= HI and STEP > 0')
    count = int(math.floor((hi - lo) / step + 1e-9)) + 1
    if count > 100_000:
        raise ThresholdSimError(f'--thresholds {text!r}: {count} thresholds; at most 100000')
    return [round(lo + k * step, 12) for k in range(count)]


def supra_per_min(rec: Recording, thresholds: Sequence[float]) -> np.ndarray:
    """Frames with the signal strictly above each threshold, per minute of signal."""
    x = np.sort(rec.values[rec.valid & np.isfinite(rec.values)])
    above = x.size - np.searchsorted(x, np.asarray(thresholds, dtype=np.float64), side='right')
    return above / rec.minutes


def baseline_threshold(thresholds: Sequence[float], per_min: Sequence[float], n_per_min: float) -> float | None:
    """First threshold (ascending) with at most ``n_per_min`` supra-threshold frames per minute."""
    for thr, rate in sorted(zip(thresholds, per_min)):
        if rate <= n_per_min:
            return thr
    return None


def recommend(results: Sequence[SimResult], target_per_min: float) -> SimResult | None:
    """The result whose rewards/min is closest to the target; ties go to the higher threshold."""
    finite = [r for r in results if math.isfinite(r.rewards_per_min)]
    if not finite:
        return None
    return min(finite, key=lambda r: (abs(r.rewards_per_min - target_per_min), -r.threshold))


# -------------------------------------------------------------------- outputs

CSV_COLUMNS = ('threshold', 'trials', 'successes', 'failures', 'rewards', 'success_rate',
               'rewards_per_min', 'duration_s', 'final_threshold', 'supra_frames_per_min', 'mode')


def _row(r: SimResult, supra: float) -> dict[str, Any]:
    return {'threshold': r.threshold, 'trials': r.trials, 'successes': r.successes,
            'failures': r.failures, 'rewards': r.rewards, 'success_rate': r.success_rate,
            'rewards_per_min': r.rewards_per_min, 'duration_s': r.duration_s,
            'final_threshold': r.final_threshold, 'supra_frames_per_min': supra, 'mode': r.mode}


def write_csv(path: Path, results: Sequence[SimResult], supra: Sequence[float]) -> None:
    with Path(path).open('w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator='\n')
        w.writeheader()
        for r, s in zip(results, supra):
            w.writerow(_row(r, float(s)))


def format_table(results: Sequence[SimResult], supra: Sequence[float], marks: dict[float, str]) -> str:
    head = (f'{"threshold":>10} {"trials":>6} {"success":>7} {"fail":>5} {"rewards":>7} '
            f'{"succ.rate":>9} {"rew/min":>8} {"minutes":>7} {"final thr":>9} {"supra/min":>9}')
    lines = [head]
    for r, s in zip(results, supra):
        lines.append(f'{r.threshold:>10.4g} {r.trials:>6d} {r.successes:>7d} {r.failures:>5d} '
                     f'{r.rewards:>7d} {r.success_rate:>9.3f} {r.rewards_per_min:>8.3f} '
                     f'{r.duration_s / 60:>7.2f} {r.final_threshold:>9.4g} {float(s):>9.2f}'
                     + (f'  <- {marks[r.threshold]}' if r.threshold in marks else ''))
    return '\n'.join(lines)


def write_plot(path: Path, results: Sequence[SimResult], title: str, *, baseline: float | None,
               recommended: SimResult | None, target: float | None) -> None:
    """rewards/min (left axis) and success rate (right axis) against the threshold."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 4.5), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    thr = [r.threshold for r in results]
    ax.plot(thr, [r.rewards_per_min for r in results], 'o-', ms=3, color='tab:blue', label='rewards/min')
    ax.set_xlabel('starting threshold (signal units)')
    ax.set_ylabel('rewards per minute', color='tab:blue')
    ax2 = ax.twinx()
    ax2.plot(thr, [r.success_rate for r in results], 's-', ms=3, color='tab:orange', label='success rate')
    ax2.set_ylabel('success rate', color='tab:orange')
    ax2.set_ylim(-0.02, 1.02)
    if target is not None:
        ax.axhline(target, color='tab:blue', ls=':', lw=1, label=f'target {target:g}/min')
    if recommended is not None:
        ax.axvline(recommended.threshold, color='tab:green', lw=1.5,
                   label=f'recommended {recommended.threshold:g}')
    if baseline is not None:
        ax.axvline(baseline, color='tab:red', ls='--', lw=1.5, label=f'baseline {baseline:g}')
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc='upper right', fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=120)
