"""How the movement of each body part changed during CLMF training (the paper's KL
divergence figure): per mouse and day, the KL divergence of each body part's speed
distribution from the mouse's day 1 (processed_data/clmf_kld_df.csv).

    python analysis/clmf_kld.py [--data DIR] [--out DIR]

Top: per group, the mean KL divergence over mice for each body part and day (day 1
is the reference, 0 by definition). Bottom: per group, each body part's mean over
days 2-10 (per mouse first, then mean +- SEM over mice), with a Friedman test across
body parts. Infinite values (a speed bin empty on day 1) are left out and counted.
Prints the group sizes, the heatmap values, the body-part means and the tests.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from matplotlib import colormaps

from figure_common import CLMF_GROUP_NOTES, figure, parse_args, read_table, run_main, save

TABLE = 'clmf_kld_df.csv'
FIGURE = 'clmf_kld.png'
KEYS = ('day', 'mouse_id', 'group')
REFERENCE_DAY = 1
CONTROL_POINTS = ('fl_l', 'fl_r')  # the CLMF control points (grp1: fl_l days 1-4, fl_r from day 5)


def body_parts(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c not in KEYS]


def finite(table: pd.DataFrame) -> pd.DataFrame:
    """The table with infinite divergences as NaN."""
    parts = body_parts(table)
    out = table.copy()
    out[parts] = out[parts].replace([np.inf, -np.inf], np.nan)
    return out


def mouse_means(table: pd.DataFrame) -> pd.DataFrame:
    """Per group and mouse: each body part's mean over the days after the reference day (finite values)."""
    later = table[table['day'] > REFERENCE_DAY]
    return later.groupby(['group', 'mouse_id'])[body_parts(table)].mean()


def friedman(means: pd.DataFrame) -> dict[str, float]:
    """Friedman test across body parts over mice with a value for every body part."""
    from scipy import stats
    complete = means.dropna()
    if len(complete) < 2:
        return {'n': len(complete), 'chi2': float('nan'), 'p': float('nan')}
    chi2, p = stats.friedmanchisquare(*[complete[c].to_numpy() for c in complete.columns])
    return {'n': len(complete), 'chi2': float(chi2), 'p': float(p)}


def print_report(raw: pd.DataFrame, table: pd.DataFrame, means: pd.DataFrame, tests: dict) -> None:
    parts = body_parts(table)
    print(f'CLMF KL divergence: {len(table)} mouse-days, {table["mouse_id"].nunique()} mice, {len(parts)} body parts, '
          f'days {table["day"].min()}-{table["day"].max()} (day {REFERENCE_DAY} = reference)')
    for group, rows in table.groupby('group'):
        print(f'{group}: {rows["mouse_id"].nunique()} mice, {len(rows)} mouse-days')
    infs = np.isinf(raw[parts]).sum()
    print('infinite values left out: ' + ', '.join(f'{p} {int(n)}' for p, n in infs.items() if n))
    for group, rows in table.groupby('group'):
        print(f'\n{group}: mean KL divergence per day (over mice, finite values)')
        print(rows.groupby('day')[parts].mean().round(4).to_string())
    print('\nbody-part means over days 2-10 (per mouse, then mean and SEM over mice)')
    print(f'{"group":<6} {"body part":<16} {"mice":>4} {"mean":>8} {"sem":>8}')
    for group, rows in means.groupby(level='group'):
        for part in parts:
            s = rows[part].dropna()
            sem = s.std(ddof=1) / np.sqrt(len(s)) if len(s) > 1 else 0.0
            print(f'{group:<6} {part:<16} {len(s):>4} {s.mean():>8.4f} {sem:>8.4f}')
    print('\nFriedman test across body parts (mice with every body part finite)')
    for group, t in tests.items():
        print(f'{group}: n = {t["n"]} mice, chi2({len(parts) - 1}) = {t["chi2"]:.3f}, p = {t["p"]:.3g}')


def draw(table: pd.DataFrame, means: pd.DataFrame, tests: dict):
    parts = body_parts(table)
    groups = sorted(table['group'].unique())
    fig, axes = figure(4.6 * len(groups), 8.6, 2, len(groups))
    heat = {g: rows.groupby('day')[parts].mean().T for g, rows in table.groupby('group')}
    cmap = colormaps['magma'].with_extremes(bad='0.82')  # grey: no finite value that day
    vmax = float(np.nanpercentile(np.concatenate([h.to_numpy().ravel() for h in heat.values()]), 98))
    for col, group in enumerate(groups):
        top, bottom = axes[0][col], axes[1][col]
        h = heat[group]
        image = top.imshow(h.to_numpy(), aspect='auto', cmap=cmap, vmin=0, vmax=vmax)
        top.set_xticks(range(h.shape[1]), [str(d) for d in h.columns])
        top.set_yticks(range(len(parts)), parts, fontsize=8)
        top.set_xlabel('training day')
        n_mice = table.loc[table['group'] == group, 'mouse_id'].nunique()
        note = f', {CLMF_GROUP_NOTES[group]}' if group in CLMF_GROUP_NOTES else ''
        top.set_title(f'{group}{note}: {n_mice} mice\nKL divergence from day {REFERENCE_DAY}; grey: none finite',
                      fontsize=8.5)
        m = means.loc[group]
        stats = pd.DataFrame({'mean': m.mean(), 'sem': m.sem(ddof=1), 'n': m.count()}).reindex(parts)
        colours = ['tab:red' if p in CONTROL_POINTS else 'tab:gray' for p in parts]
        bottom.barh(range(len(parts)), stats['mean'], xerr=stats['sem'].fillna(0), color=colours, capsize=2)
        bottom.set_yticks(range(len(parts)), parts, fontsize=8)
        bottom.invert_yaxis()
        bottom.set_xlabel(f'mean KL divergence, days {REFERENCE_DAY + 1}-{table["day"].max()}')
        t = tests[group]
        bottom.set_title(f'Friedman across body parts: chi2 = {t["chi2"]:.2f}, p = {t["p"]:.2g} '
                         f'({t["n"]} mice)\nred: forelimbs (the control points)', fontsize=8)
    xmax = max(ax.get_xlim()[1] for ax in axes[1])
    for ax in axes[1]:
        ax.set_xlim(0, xmax)  # one scale for every group
    fig.colorbar(image, ax=[axes[0][c] for c in range(len(groups))], shrink=0.8, label='KL divergence')
    return fig


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.split('\n\n')[0], argv)
    raw = read_table(args.data, TABLE, sessions=False)
    table = finite(raw)
    means = mouse_means(table)
    tests = {group: friedman(rows) for group, rows in means.groupby(level='group')}
    print_report(raw, table, means, tests)
    save(draw(table, means, tests), args.out, FIGURE)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
