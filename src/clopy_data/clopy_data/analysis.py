"""Across-session analysis: pyControl-like loaders and the paper's learning statistics.

``clopy analyze PATH ... [--out DIR] [--group MOUSE=GROUP ...] [--split GROUP=DAY ...]
[--missing zero|drop] [--paper]``

PATH is a session folder (with ``events.tsv``), a folder holding session folders,
or a sessions table CSV with the original CLoPy columns (``clnf_sessions_df.csv``,
``clmf_sessions_df.csv``: mouse_id, cal_day, day, trials, rewards, group, and
roi_rule or control_joint). Tables are read in place.

Loaders (pyControl's ``Session`` / ``Experiment`` ideas):

* :class:`Session` reads one session folder: the event log as ``states``,
  ``events``, ``variables`` and ``prints`` DataFrames (times in s since run start),
  ``times`` (name -> entry / event times), ``info``, ``parameters``, the per-frame
  table ``frames`` (``VideoTimestamp.txt``) and ``summary`` numbers.
* :class:`Experiment` groups sessions per subject and numbers days by the start
  date (day 1 = the subject's first date; two sessions on one date share a day).

Learning statistics (the paper's, Gupta & Murphy): rewards per mouse and day (the
mean when a mouse has several sessions that day) are min-max normalised per mouse
within each phase of its group (CLNF: grp1 all days; grp2 days <= 10 and > 10, the
ROI rule change. CLMF: every group on its own; grp1 days <= 4 and >= 5, the switch
to the right paw). A mouse whose rewards do not vary within a phase normalises to
0 (the original's 0/0 became 0 through ``fillna(0)``). Then per test window:

* one-way repeated-measures ANOVA over days: mice with at least one session in the
  window, one value per mouse and day, missing days 0 (``--missing zero``, the
  original's ``fillna(0)``) or mice with a missing day left out (``--missing drop``).
  pingouin's ``rm_anova`` when installed, else the same sums of squares with scipy
  (:func:`rm_anova_scipy`); Greenhouse-Geisser corrected p alongside.
* Mann-Kendall trend test on the group's mean normalised rewards per day (as in the
  original), Kendall's tau = S / (n (n - 1) / 2).
* Spearman's rho of normalised rewards against day over all sessions in the window.
* a linear mixed model ``normalised ~ day`` with a random intercept per mouse
  (statsmodels, when installed): the slope per day.

``--paper`` adds the original analysis script's CLNF computation verbatim (pivot by
mouse, rule and labels, normalise each column, concat, melt, ``fillna(0)``; RM-ANOVA
of grp1 on days 1-9 and of grp2 on days 11-19) to compare with the published values.
"""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from clopy_data.analysis_load import AnalysisError, Experiment, Session, find_sessions
from clopy_data.analysis_stats import (CLMF_DAY_PAW_SWITCH, CLNF_DAY_RULE_CHANGE, CLNF_DESIGN, STATS_COLUMNS,
                                       TABLE_COLUMNS, Design, Phase, Window, clmf_design, daily_rewards,
                                       design_for_table, learning_stats, mann_kendall, mixed_slope, normalise,
                                       paper_clnf_anova, read_sessions_table, rm_anova, rm_anova_scipy,
                                       split_design)

__all__ = [
    'CLMF_DAY_PAW_SWITCH', 'CLNF_DAY_RULE_CHANGE', 'CLNF_DESIGN', 'STATS_COLUMNS', 'TABLE_COLUMNS',
    'AnalysisError', 'Design', 'Experiment', 'Phase', 'Session', 'Window', 'add_command', 'analyze_table',
    'clmf_design', 'daily_rewards', 'design_for_table', 'find_sessions', 'format_stats', 'learning_figure',
    'learning_stats', 'mann_kendall', 'mixed_slope', 'normalise', 'paper_clnf_anova', 'read_sessions_table',
    'rm_anova', 'rm_anova_scipy', 'run_command', 'split_design',
]


# ---------------------------------------------------------------------- figures


def _sem(x: pd.Series) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def learning_figure(path: Path, daily: pd.DataFrame, norm: pd.DataFrame, design: Design,
                    table: pd.DataFrame) -> None:
    """Per group: rewards per day per mouse (thin) and the group mean (top); normalised rewards,
    mean +- SEM per phase, with the RM-ANOVA p of each window (bottom)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    groups = sorted(norm['group'].unique()) if len(norm) else sorted(daily['group'].unique())
    fig = Figure(figsize=(4.2 * max(1, len(groups)), 7), layout='constrained')
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, max(1, len(groups)), squeeze=False)
    for col, group in enumerate(groups):
        top, bottom = axes[0][col], axes[1][col]
        d = daily[daily['group'] == group]
        for _, m in d.groupby('mouse_id'):
            top.plot(m['day'], m['rewards'], '-', color='0.75', lw=0.8)
        mean = d.groupby('day')['rewards'].agg(['mean', _sem])
        top.errorbar(mean.index, mean['mean'], yerr=mean['_sem'], color='k', lw=2, capsize=2, label='mean +- SEM')
        top.set_title(f'{design.name} {group}: {d["mouse_id"].nunique()} mice', fontsize=9)
        top.set_xlabel('day')
        top.set_ylabel('rewards per session')
        n = norm[norm['group'] == group]
        texts = []
        for phase in [p for p in design.phases if p.group == group]:
            rows = n[n['phase'] == phase.name]
            if rows.empty:
                continue
            m = rows.groupby('day')['norm'].agg(['mean', _sem])
            bottom.errorbar(m.index, m['mean'], yerr=m['_sem'], marker='o', ms=3, capsize=2, label=phase.name)
            if phase.last_day is not None and phase.last_day < rows['day'].max() + 100:
                bottom.axvline(phase.last_day + 0.5, color='0.5', ls='--', lw=1)
        for _, r in table[(table['group'] == group) & (table['test'] == 'rm_anova')].iterrows():
            if pd.notna(r['p']):
                texts.append(f'{r["phase"]}: RM-ANOVA F={r["value"]:.2f}, p={r["p"]:.3g}')
        for ax in (top, bottom):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel('day')
        bottom.set_ylabel('normalised rewards (per mouse, phase)')
        bottom.legend(fontsize=7, loc='lower right')
        bottom.set_title('\n'.join(texts), fontsize=7)
    fig.savefig(path, dpi=110)


# ---------------------------------------------------------------------- command


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ''
    return format(x, spec)


def format_stats(table: pd.DataFrame) -> str:
    head = (f'{"group":<6} {"phase":<26} {"days":<6} {"test":<28} {"mice":>4} {"days":>4} '
            f'{"stat":>10} {"df":>9} {"p":>9} {"p_GG":>9} {"effect":>16}  note')
    lines = [head]
    for _, r in table.iterrows():
        stat = f'{r["statistic"]}={_fmt(r["value"], ".3f")}' if pd.notna(r['value']) else ''
        df = f'{r["df1"]:.0f},{r["df2"]:.0f}' if pd.notna(r['df1']) else ''
        eff = f'{r["effect"]}={_fmt(r["effect_value"], ".3f")}' if pd.notna(r['effect_value']) else ''
        note = r['note'] if isinstance(r['note'], str) else ''
        lines.append(f'{r["group"]:<6} {str(r["phase"]):<26.26} {r["days"]:<6} {r["test"]:<28.28} '
                     f'{_fmt(r["n_mice"], "d"):>4} {_fmt(r["n_days"], "d"):>4} {stat:>10} {df:>9} '
                     f'{_fmt(r["p"], ".3g"):>9} {_fmt(r["p_gg"], ".3g"):>9} {eff:>16}  {note}')
    return '\n'.join(lines)


def _parse_pairs(items: Sequence[str], option: str, value_type: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key or not value:
            raise AnalysisError(f'{option} {item!r}: expected NAME=VALUE')
        try:
            out[key] = value_type(value)
        except ValueError:
            raise AnalysisError(f'{option} {item!r}: {value!r} is not a {value_type.__name__}') from None
    return out


def add_command(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser('analyze', help='across-day learning statistics and figures',
                              description=__doc__.split('\n\n')[0])
    p.add_argument('paths', nargs='+', type=Path, metavar='PATH',
                   help='session folder(s), a folder of sessions, or a sessions table CSV')
    p.add_argument('--out', type=Path, help='output folder (default: processed_data/analysis in the current '
                                             'folder for tables, <sessions parent>/analysis for sessions)')
    p.add_argument('--group', action='append', default=[], metavar='MOUSE=GROUP',
                   help='group of a subject (session folders; default group "all")')
    p.add_argument('--split', action='append', default=[], metavar='GROUP=DAY',
                   help='phases of a group: days <= DAY and > DAY, normalised separately')
    p.add_argument('--missing', choices=('zero', 'drop'), default='zero',
                   help='RM-ANOVA: missing mouse-days as 0 (the paper) or drop incomplete mice')
    p.add_argument('--paper', action='store_true',
                   help="CLNF tables: also the original script's RM-ANOVA, computed its way")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except AnalysisError as exc:
        print(f'clopy analyze: {exc}', file=sys.stderr)
        return 2


def analyze_table(table: pd.DataFrame, name: str, out: Path, *, splits: dict[str, int] | None = None,
                  missing: str = 'zero', paper: bool = False) -> pd.DataFrame:
    """Statistics, normalised table and figure of one sessions table; returns the statistics."""
    design = design_for_table(table, name, splits)
    daily = daily_rewards(table)
    norm = normalise(daily, design)
    result = learning_stats(norm, design, missing)
    if paper and 'roi_rule' in table.columns:
        result = pd.concat([result, paper_clnf_anova(table).assign(dataset=name)], ignore_index=True)
    norm.to_csv(out / f'{name}_normalised.csv', index=False)
    learning_figure(out / f'{name}_days.png', daily, norm, design, result)
    return result


def _run(args: argparse.Namespace) -> int:
    groups = _parse_pairs(args.group, '--group', str)
    splits = _parse_pairs(args.split, '--split', int)
    tables: list[tuple[str, pd.DataFrame]] = []
    folders: list[Path] = []
    for path in args.paths:
        if path.is_file() and path.suffix.lower() == '.csv':
            tables.append((path.stem, read_sessions_table(path)))
        elif path.is_dir():
            folders.append(path)
        else:
            raise AnalysisError(f'{path}: not a session folder, a folder of sessions or a .csv sessions table')
    if folders:
        experiment = Experiment(folders, groups)
        table = experiment.sessions_table()
        print(f'{experiment}: ' + ', '.join(f'{s} ({len(v)} sessions)' for s, v in experiment.subjects.items()))
        tables.append(('sessions', table))
    out = args.out
    if out is None:
        out = (folders[0].resolve().parent / 'analysis') if folders and not tables[:-1] \
            else Path.cwd() / 'processed_data' / 'analysis'
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name, table in tables:
        if name == 'sessions':
            table.to_csv(out / 'sessions_table.csv', index=False)
        result = analyze_table(table, name, out, splits=splits, missing=args.missing, paper=args.paper)
        print(f'\n{name}: {len(table)} sessions, {table["mouse_id"].nunique()} mice, '
              f'groups {", ".join(sorted(table["group"].astype(str).unique()))}')
        print(format_stats(result))
        results.append(result)
    stats_table = pd.concat(results, ignore_index=True)
    stats_table.to_csv(out / 'learning_stats.csv', index=False)
    print(f'\nwrote {out / "learning_stats.csv"} and ' + ', '.join(f'{n}_days.png' for n, _ in tables)
          + f' in {out}')
    return 0
