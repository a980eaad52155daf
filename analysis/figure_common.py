"""Shared plumbing of the paper-figure scripts in analysis/: where the tables and
figures live, the command line (``--data DIR``, ``--out DIR``), the project's
analysis library (clopy_data, imported from the checkout when the workspace is not
sourced, so a fresh clone needs no build) and the mean +- SEM helpers."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / 'processed_data'
FIGURES_DIR = REPO / 'analysis' / 'figures'

try:
    import clopy_data  # noqa: F401  (the built workspace, scripts/env.sh sourced)
except ImportError:  # a fresh clone: the library's source in the checkout (no ROS needed)
    sys.path.insert(0, str(REPO / 'src' / 'clopy_data'))

from clopy_data.analysis_load import AnalysisError  # noqa: E402
from clopy_data.analysis_stats import read_sessions_table  # noqa: E402

#: what the reference (the original study) says about the CLMF groups; the others are
#: described by their table alone (control point per day)
CLMF_CONTROL_GROUP = 'grp3'
CLMF_GROUP_NOTES = {'grp1': 'left -> right forelimb at day 5', CLMF_CONTROL_GROUP: 'fixed 1-kHz tone (control)'}

__all__ = ['AnalysisError', 'CLMF_CONTROL_GROUP', 'CLMF_GROUP_NOTES', 'DATA_DIR', 'FIGURES_DIR', 'REPO', 'mean_sem',
           'parse_args', 'read_table',
           'print_learning_stats', 'run_main', 'save', 'sem', 'figure']


def parse_args(description: str, argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--data', type=Path, default=DATA_DIR, help=f'folder of the processed tables (default: {DATA_DIR})')
    p.add_argument('--out', type=Path, default=FIGURES_DIR, help=f'folder for the PNG (default: {FIGURES_DIR})')
    return p.parse_args(argv)


def read_table(folder: Path, name: str, sessions: bool = True) -> pd.DataFrame:
    """A processed table by file name: sessions tables are checked by clopy_data."""
    path = folder / name
    if not path.is_file():
        raise AnalysisError(f'{path}: not found; the processed tables are in {DATA_DIR} (see processed_data/README.md)')
    return read_sessions_table(path) if sessions else pd.read_csv(path, dtype={'mouse_id': str, 'group': str})


def sem(x: pd.Series) -> float:
    x = x.dropna()
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def mean_sem(frame: pd.DataFrame, by: str | list[str], column: str) -> pd.DataFrame:
    """Mean, SEM and n of ``column`` per ``by`` (NaN left out)."""
    return frame.groupby(by)[column].agg(mean='mean', sem=sem, n='count')


def figure(width_in: float, height_in: float, rows: int, cols: int):
    """An Agg figure (no display) with a rows x cols grid of axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width_in, height_in), layout='constrained')
    FigureCanvasAgg(fig)
    return fig, fig.subplots(rows, cols, squeeze=False)


def save(fig, out: Path, name: str) -> Path:
    """Write the figure as ``out/name`` (folder created) and say so."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fig.savefig(path, dpi=120)
    print(f'\nwrote {path}')
    return path


def print_learning_stats(stats: pd.DataFrame) -> None:
    """The learning statistics table as `clopy analyze` prints it."""
    from clopy_data.analysis import format_stats
    print('\nlearning statistics (rewards normalised per mouse and phase; missing mouse-days 0)')
    print(format_stats(stats))


def run_main(main, argv: list[str] | None = None) -> int:
    """Run a figure script's main, turning bad input into a message and exit code 2."""
    try:
        return main(argv)
    except AnalysisError as exc:
        print(f'{Path(sys.argv[0]).name}: {exc}', file=sys.stderr)
        return 2
