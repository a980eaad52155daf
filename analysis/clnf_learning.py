"""CLNF learning across days (the paper's neurofeedback figure): grp1 trained on one
ROI rule throughout; grp2's ROI rule changed after day 10.

    python analysis/clnf_learning.py [--data DIR] [--out DIR]

Top: success rate per session (rewards / trials, capped at 1) per mouse and the group
mean +- SEM. Bottom: rewards min-max normalised per mouse within each phase (grp1 all
days; grp2 days <= 10 and > 10), mean +- SEM, with the repeated-measures ANOVA over
days of each phase; the rule change is marked. Prints the group sizes, the per-day
means and the learning statistics (clopy_data.analysis_stats, as `clopy analyze`).
"""
from __future__ import annotations

import sys

import pandas as pd

from figure_common import figure, mean_sem, parse_args, print_learning_stats, read_table, run_main, save

from clopy_data.analysis_stats import (CLNF_DAY_RULE_CHANGE, CLNF_DESIGN, daily_rewards, learning_stats, normalise,
                                       paper_clnf_anova)

TABLE = 'clnf_sessions_df.csv'
FIGURE = 'clnf_learning.png'


def daily_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per group, mouse and day: mean rewards, mean success rate and the normalised rewards."""
    daily = daily_rewards(table)
    rate = table.groupby(['group', 'mouse_id', 'day'], as_index=False)['performance'].mean()
    norm = normalise(daily, CLNF_DESIGN)[['group', 'mouse_id', 'day', 'phase', 'norm']]
    return daily.merge(rate, on=['group', 'mouse_id', 'day']).merge(norm, on=['group', 'mouse_id', 'day'], how='left')


def print_overview(table: pd.DataFrame, daily: pd.DataFrame) -> None:
    print(f'CLNF sessions: {len(table)} sessions, {table["mouse_id"].nunique()} mice')
    for group, rows in table.groupby('group'):
        change = f' (ROI rule changes after day {CLNF_DAY_RULE_CHANGE})' if group == 'grp2' else ''
        print(f'{group}: {rows["mouse_id"].nunique()} mice, {len(rows)} sessions, '
              f'days {rows["day"].min()}-{rows["day"].max()}{change}')
    print('\nper day (mean over mice of each mouse\'s daily mean)')
    print(f'{"group":<6} {"day":>3} {"mice":>4} {"rewards":>8} {"success":>8} {"norm":>6}')
    for (group, day), rows in daily.groupby(['group', 'day']):
        print(f'{group:<6} {day:>3} {len(rows):>4} {rows["rewards"].mean():>8.3f} '
              f'{rows["performance"].mean():>8.3f} {rows["norm"].mean():>6.3f}')


def draw(daily: pd.DataFrame, stats: pd.DataFrame):
    groups = sorted(daily['group'].unique())
    fig, axes = figure(5.2 * len(groups), 7.0, 2, len(groups))
    colours = {'all': 'tab:blue', 'before': 'tab:blue', 'after': 'tab:orange'}
    for col, group in enumerate(groups):
        top, bottom = axes[0][col], axes[1][col]
        rows = daily[daily['group'] == group]
        for _, mouse in rows.groupby('mouse_id'):
            top.plot(mouse['day'], mouse['performance'], color='0.8', lw=0.7)
        m = mean_sem(rows, 'day', 'performance')
        top.errorbar(m.index, m['mean'], yerr=m['sem'], color='k', lw=1.8, capsize=2, label='mean ± SEM')
        top.set_title(f'CLNF {group}: {rows["mouse_id"].nunique()} mice', fontsize=10)
        top.set_ylabel('success rate (rewards / trials)')
        top.set_ylim(0, 1.05)
        for phase, part in rows.groupby('phase', sort=False):
            m = mean_sem(part, 'day', 'norm')
            bottom.errorbar(m.index, m['mean'], yerr=m['sem'], marker='o', ms=3, capsize=2,
                            color=colours.get(phase, 'tab:green'), label=f'{phase} ({part["mouse_id"].nunique()} mice)')
        anova = stats[(stats['group'] == group) & (stats['test'] == 'rm_anova')]
        lines = [f'{r.phase if "days" in r.phase else f"{r.phase}, days {r.days}"}: '
                 f'F({r.df1:.0f},{r.df2:.0f}) = {r.value:.2f}, p = {r.p:.2g}'
                 for r in anova.itertuples() if pd.notna(r.p)]
        bottom.set_title('\n'.join(['RM-ANOVA over days'] + lines), fontsize=7.5)
        bottom.set_ylabel('rewards, normalised per mouse and phase')
        bottom.set_ylim(-0.05, 1.1)
        for ax in (top, bottom):
            ax.set_xlabel('training day')
            ax.set_xticks(range(1, int(rows['day'].max()) + 1))
            if group == 'grp2':
                ax.axvline(CLNF_DAY_RULE_CHANGE + 0.5, color='tab:red', ls='--', lw=1.2)
                ax.axvspan(CLNF_DAY_RULE_CHANGE + 0.5, rows['day'].max() + 0.5, color='tab:orange', alpha=0.08)
        if group == 'grp2':
            top.text(CLNF_DAY_RULE_CHANGE + 0.7, 0.05, 'ROI rule\nchanged', color='tab:red', fontsize=8)
        top.legend(fontsize=7, loc='lower right')
        bottom.legend(fontsize=7, loc='lower right')
    return fig


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split('\n\n')[0], argv)
    table = read_table(args.data, TABLE)
    daily = daily_table(table)
    print_overview(table, daily)
    stats = learning_stats(normalise(daily_rewards(table), CLNF_DESIGN), CLNF_DESIGN)
    stats = pd.concat([stats, paper_clnf_anova(table)], ignore_index=True)
    print_learning_stats(stats)
    save(draw(daily, stats), args.out, FIGURE)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
