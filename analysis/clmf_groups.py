"""CLMF learning of the four groups (the paper's movement-feedback figure): the
groups with tone feedback graded by paw speed against the fixed 1-kHz tone control
(grp3).

    python analysis/clmf_groups.py [--data DIR] [--out DIR]

Left: rewards per session (60 trials) per group, mean +- SEM over mice, with grp1's
switch from the left to the right forelimb (day 5) marked. Right: rewards min-max
normalised per mouse within each phase (grp1: days 1-4 and 5-10; the others: all
days), mean +- SEM, with the repeated-measures ANOVA over the first four training
days of each group. Prints the group sizes, the per-day means and the learning
statistics (clopy_data.analysis_stats, as `clopy analyze`).
"""
from __future__ import annotations

import sys

import pandas as pd

from figure_common import CLMF_CONTROL_GROUP as CONTROL_GROUP
from figure_common import CLMF_GROUP_NOTES as NOTES
from figure_common import figure, mean_sem, parse_args, print_learning_stats, read_table, run_main, save

from clopy_data.analysis_stats import CLMF_DAY_PAW_SWITCH, Design, Window, clmf_design, daily_rewards, learning_stats
from clopy_data.analysis_stats import normalise

TABLE = 'clmf_sessions_df.csv'
FIGURE = 'clmf_groups.png'
FIRST_DAYS = (1, 4)
MIN_MICE = 2  # days with fewer mice are left out of the plot (no SEM); the statistics keep them
COLOURS = {'grp1': 'tab:blue', 'grp2': 'tab:green', 'grp3': 'tab:red', 'grp4': 'tab:purple'}


def design(groups: list[str]) -> Design:
    """The project's CLMF design plus a days 1-4 window for every group (grp1's first phase is that window)."""
    base = clmf_design(groups)
    extra = tuple(Window(p.group, p.name, FIRST_DAYS[0], FIRST_DAYS[1], 'days 1-4') for p in base.phases
                  if p.group != 'grp1' and p.name == 'all')
    return Design(base.name, base.phases, base.windows + extra)


def label(group: str, rows: pd.DataFrame) -> str:
    note = f' {NOTES[group]},' if group in NOTES else ''
    return f'{group}:{note} {rows["mouse_id"].nunique()} mice'


def print_overview(table: pd.DataFrame, daily: pd.DataFrame) -> None:
    trials = sorted(table['trials'].unique())
    print(f'CLMF sessions: {len(table)} sessions, {table["mouse_id"].nunique()} mice, '
          f'{"/".join(str(int(t)) for t in trials)} trials per session')
    for group, rows in table.groupby('group'):
        joints = ', '.join(f'{j} days {d.min()}-{d.max()} ({d.size} sessions)'
                           for j, d in rows.groupby('control_joint')['day'])
        print(f'{label(group, rows)}, {len(rows)} sessions, days {rows["day"].min()}-{rows["day"].max()}; '
              f'control point {joints}')
    shared = table[table.duplicated(['mouse_id', 'cal_day'], keep=False)]
    if len(shared):
        print(f'note: {shared[["mouse_id", "cal_day"]].drop_duplicates().shape[0]} sessions of '
              f'{", ".join(sorted(shared["mouse_id"].unique()))} are listed in more than one group; '
              'each group counts them')
    print('\nper day (mean over mice of each mouse\'s daily mean)')
    print(f'{"group":<6} {"day":>3} {"mice":>4} {"rewards":>8} {"norm":>6}')
    for (group, day), rows in daily.groupby(['group', 'day']):
        print(f'{group:<6} {day:>3} {len(rows):>4} {rows["rewards"].mean():>8.3f} {rows["norm"].mean():>6.3f}')


def draw(table: pd.DataFrame, daily: pd.DataFrame, stats: pd.DataFrame):
    fig, axes = figure(12.0, 4.8, 1, 2)
    counts = daily.groupby(['group', 'day'])['mouse_id'].nunique()
    shown = counts[counts >= MIN_MICE].index.get_level_values('day')
    left, right = axes[0]
    for group, rows in daily.groupby('group'):
        style = dict(color=COLOURS.get(group, 'k'), ls='--' if group == CONTROL_GROUP else '-', capsize=2, ms=3)
        m = mean_sem(rows, 'day', 'rewards').query(f'n >= {MIN_MICE}')
        left.errorbar(m.index, m['mean'], yerr=m['sem'], marker='o', label=label(group, rows), **style)
        for phase, part in rows.groupby('phase', sort=False):
            m = mean_sem(part, 'day', 'norm').query(f'n >= {MIN_MICE}')
            right.errorbar(m.index, m['mean'], yerr=m['sem'], marker='o',
                           label=None if phase not in ('all', 'left paw') else group, **style)
    for ax in (left, right):
        ax.axvline(CLMF_DAY_PAW_SWITCH - 0.5, color=COLOURS['grp1'], ls=':', lw=1.2)
        ax.set_xlabel('training day')
        ax.set_xticks(range(int(shown.min()), int(shown.max()) + 1))
        ax.grid(axis='y', color='0.92')
    trials = int(table['trials'].max())
    left.text(CLMF_DAY_PAW_SWITCH - 0.4, 3, 'grp1: left -> right\nforelimb', color=COLOURS['grp1'], fontsize=8)
    left.set_ylim(0, trials)
    left.set_ylabel(f'rewards per session (of {trials} trials)')
    left.set_title(f'CLMF rewards per day, mean ± SEM (days with >= {MIN_MICE} mice)', fontsize=10)
    left.legend(fontsize=7.5, loc='lower right')
    right.set_ylim(-0.05, 1.1)
    right.set_ylabel('rewards, normalised per mouse and phase')
    first = stats[(stats['test'] == 'rm_anova') & (stats['days'] == f'{FIRST_DAYS[0]}-{FIRST_DAYS[1]}')]
    lines = [f'{r.group}: F({r.df1:.0f},{r.df2:.0f}) = {r.value:.2f}, p = {r.p:.2g}'
             for r in first.itertuples() if pd.notna(r.p)]
    right.set_title('\n'.join(['RM-ANOVA over days 1-4'] + lines), fontsize=7.5)
    right.legend(fontsize=7.5, loc='lower right')
    return fig


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split('\n\n')[0], argv)
    table = read_table(args.data, TABLE)
    plan = design(sorted(table['group'].unique()))
    norm = normalise(daily_rewards(table), plan)
    print_overview(table, norm)
    stats = learning_stats(norm, plan)
    print_learning_stats(stats)
    save(draw(table, norm, stats), args.out, FIGURE)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
