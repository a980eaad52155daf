"""The learning curve of an experiment's subjects across days: the `clopy analyze`
statistics (clopy_data.analysis: rewards per mouse and day, min-max normalised per
mouse within each phase of its group, the tests per phase) on the experiment's own
sessions, and one PNG per subject. A group's phases split where its plan changes the
control signal (paradigm, ROIs, rule or body part), as the study's grp2 after day 10.
Plain Python (matplotlib, Agg)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from clopy_data.analysis_stats import daily_rewards, learning_stats, normalise, split_design

from clopy_dashboard.experiment.definition import Experiment

ANALYSIS = 'analysis'


def analysis_dir(data_root: Path, exp: Experiment) -> Path:
    return Path(data_root) / ANALYSIS / exp.name


def curve_path(data_root: Path, exp: Experiment, subject: str) -> Path:
    return analysis_dir(data_root, exp) / f'learning_{subject}.png'


def phase_splits(exp: Experiment) -> dict[str, int]:
    """group -> the last day before its plan first changes the control signal."""
    splits = {}
    for group, plans in exp.plans.items():
        first = plans[0]
        key = (first.paradigm, first.rois, first.rule, first.body_part)
        for plan in plans[1:]:
            if (plan.paradigm, plan.rois, plan.rule, plan.body_part) != key:
                splits[group] = plan.first_day - 1
                break
    return splits


def sessions_table(exp: Experiment, rows: list[dict]) -> pd.DataFrame:
    """One row per session with its numbers (mouse_id, day, group, rewards, trials,
    final_threshold), as `clopy analyze` reads a sessions table; running sessions left out."""
    groups = {s.id: s.group for s in exp.subjects.values()}
    data = [{'mouse_id': r['subject'], 'day': int(r['day']), 'group': groups.get(r['subject'], ''),
             'rewards': r['rewards'], 'trials': r['trials'], 'final_threshold': r['final_threshold'],
             'status': r['status']} for r in rows if r['rewards'] is not None]
    return pd.DataFrame(data, columns=['mouse_id', 'day', 'group', 'rewards', 'trials', 'final_threshold',
                                       'status'])


def learning(exp: Experiment, rows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(sessions table, normalised daily rewards, statistics) of the experiment."""
    table = sessions_table(exp, rows)
    design = split_design(exp.name, sorted(exp.plans), phase_splits(exp))
    daily = daily_rewards(table) if len(table) else table.assign(sessions=[])
    norm = normalise(daily, design) if len(daily) else daily.assign(phase=[], norm=[])
    stats = learning_stats(norm, design) if len(norm) else pd.DataFrame()
    return table, norm, stats


def draw_curve(path: Path, exp: Experiment, subject: str, table: pd.DataFrame, norm: pd.DataFrame) -> Path:
    """The subject's rewards and trials per day, its normalised rewards per phase and the
    threshold each day ended with."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    mine = table[table['mouse_id'] == subject].sort_values('day')
    fig = Figure(figsize=(6.0, 7.0), layout='constrained')
    FigureCanvasAgg(fig)
    top, middle, bottom = fig.subplots(3, 1, sharex=True)
    per_day = mine.groupby('day')[['rewards', 'trials']].mean()
    top.plot(per_day.index, per_day['rewards'], 'o-', color='tab:green', label='rewards')
    top.plot(per_day.index, per_day['trials'], 's--', color='0.5', label='trials')
    top.set_ylabel('per session')
    top.legend(fontsize=7)
    group = exp.subject(subject).group
    top.set_title(f'{exp.name}: {subject} ({group}), {len(mine)} sessions', fontsize=9)
    n = norm[norm['mouse_id'] == subject] if len(norm) else norm
    for phase, rows in (n.groupby('phase') if len(n) else []):
        middle.plot(rows['day'], rows['norm'], 'o-', label=str(phase))
    for day in [d + 0.5 for g, d in phase_splits(exp).items() if g == group]:
        for ax in (top, middle, bottom):
            ax.axvline(day, color='0.5', ls=':', lw=1)
    middle.set_ylim(-0.05, 1.05)
    middle.set_ylabel('normalised rewards')
    if len(n):
        middle.legend(fontsize=7)
    th = mine.dropna(subset=['final_threshold'])
    bottom.plot(th['day'], th['final_threshold'], 'o-', color='tab:purple')
    bottom.set_ylabel('threshold at the end')
    bottom.set_xlabel('day')
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    planned = exp.days(subject)   # the axis spans the subject's plan: what is still to come shows
    if planned:
        bottom.set_xlim(min(planned) - 0.5, max(planned) + 0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def draw_all(data_root: Path, exp: Experiment, rows: list[dict]) -> tuple[list[Path], pd.DataFrame]:
    """Every subject's curve (subjects with sessions) and the statistics, written to
    <data_root>/analysis/<experiment>/ (learning_<subject>.png, learning_stats.csv)."""
    table, norm, stats = learning(exp, rows)
    out = analysis_dir(data_root, exp)
    out.mkdir(parents=True, exist_ok=True)
    paths = [draw_curve(curve_path(data_root, exp, s), exp, s, table, norm)
             for s in exp.subjects if (table['mouse_id'] == s).any()]
    if len(stats):
        stats.to_csv(out / 'learning_stats.csv', index=False)
    return paths, stats
