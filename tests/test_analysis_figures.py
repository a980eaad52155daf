"""The paper-figure scripts in analysis/: each run as a user runs it from the checkout
(`python analysis/<name>.py --out DIR`), the PNG written, and the statistics it prints
compared with values computed here, independently, from the processed tables."""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / 'processed_data'
SHARED = REPO.parent / 'shared' / 'data'
TABLES = ('clnf_sessions_df.csv', 'clmf_sessions_df.csv', 'clmf_kld_df.csv')


def run_script(name: str, out: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([sys.executable, f'analysis/{name}.py', '--out', str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    png = out / f'{name}.png'
    assert png.is_file(), proc.stdout
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    height, width = image.imread(png).shape[:2]
    assert width >= 1000 and height >= 500, (width, height)
    assert f'wrote {png}' in proc.stdout
    return proc.stdout


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp('figures')
    return {name: run_script(name, out) for name in ('clnf_learning', 'clmf_groups', 'clmf_kld')}


def number_after(text: str, pattern: str) -> list[str]:
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f'{pattern!r} not in output:\n{text}'
    return list(match.groups())


def daily(table: pd.DataFrame, column: str) -> pd.Series:
    return table.groupby(['group', 'mouse_id', 'day'])[column].mean()


def minmax_per_mouse(rewards: pd.Series) -> pd.Series:
    by = rewards.groupby(level='mouse_id')
    span = by.transform('max') - by.transform('min')
    return ((rewards - by.transform('min')) / span.where(span > 0)).fillna(0.0)


@pytest.mark.parametrize('name', TABLES)
def test_processed_tables_are_the_studys(name):
    table = pd.read_csv(DATA / name)
    assert len(table) == {'clnf_sessions_df.csv': 353, 'clmf_sessions_df.csv': 258, 'clmf_kld_df.csv': 140}[name]
    if (SHARED / name).is_file():
        assert (DATA / name).read_bytes() == (SHARED / name).read_bytes()


def test_clnf_learning(outputs):
    out = outputs['clnf_learning']
    table = pd.read_csv(DATA / 'clnf_sessions_df.csv')
    for group, rows in table.groupby('group'):
        mice, sessions = number_after(out, rf'^{group}: (\d+) mice, (\d+) sessions')
        assert (int(mice), int(sessions)) == (rows['mouse_id'].nunique(), len(rows))
    rewards, rate = daily(table, 'rewards'), daily(table, 'performance')
    for group, day in (('grp1', 5), ('grp2', 11)):
        mice, mean_rewards, mean_rate, mean_norm = number_after(
            out, rf'^{group}\s+{day}\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$')
        day_rewards = rewards.xs((group, day), level=('group', 'day'))
        assert int(mice) == len(day_rewards)
        assert mean_rewards == format(day_rewards.mean(), '.3f')
        assert mean_rate == format(rate.xs((group, day), level=('group', 'day')).mean(), '.3f')
        # normalised within the phase: grp1 all days, grp2 after the rule change (days > 10)
        phase = rewards.xs(group, level='group')
        if group == 'grp2':
            phase = phase[phase.index.get_level_values('day') > 10]
        norm = minmax_per_mouse(phase)
        assert mean_norm == format(norm.xs(day, level='day').mean(), '.3f')
    # the original script's RM-ANOVA on grp1 days 1-9 reproduces the paper's p = 2.83e-5 to within 5 %
    (p_paper,) = number_after(out, r'^grp1\s+days 1-9 \(paper script\).*rm_anova.*?F=\S+\s+8,176\s+(\S+)')
    assert float(p_paper) == pytest.approx(2.83e-5, rel=0.05)


def rm_anova_p(matrix: np.ndarray) -> float:
    """One-way repeated-measures ANOVA p (subjects x conditions), from the sums of squares."""
    n, k = matrix.shape
    grand = matrix.mean()
    ss_cond = n * ((matrix.mean(axis=0) - grand) ** 2).sum()
    ss_subj = k * ((matrix.mean(axis=1) - grand) ** 2).sum()
    ss_err = ((matrix - grand) ** 2).sum() - ss_cond - ss_subj
    df1, df2 = k - 1, (k - 1) * (n - 1)
    return float(stats.f.sf((ss_cond / df1) / (ss_err / df2), df1, df2))


def test_clmf_groups(outputs):
    out = outputs['clmf_groups']
    table = pd.read_csv(DATA / 'clmf_sessions_df.csv')
    for group, rows in table.groupby('group'):
        mice, sessions = number_after(out, rf'^{group}:.*?(\d+) mice, (\d+) sessions')
        assert (int(mice), int(sessions)) == (rows['mouse_id'].nunique(), len(rows))
    assert re.search(r'^grp3: fixed 1-kHz tone \(control\)', out, re.MULTILINE)
    shared = table[table.duplicated(['mouse_id', 'cal_day'], keep=False)]
    assert f'note: {len(shared.drop_duplicates(["mouse_id", "cal_day"]))} sessions of GER2_ai94, HYL3_tta' in out
    rewards = daily(table, 'rewards')
    for group, day, first, last in (('grp3', 3, None, None), ('grp1', 6, 5, 10)):
        mice, mean_rewards, mean_norm = number_after(out, rf'^{group}\s+{day}\s+(\d+)\s+([\d.]+)\s+([\d.]+)$')
        day_rewards = rewards.xs((group, day), level=('group', 'day'))
        assert int(mice) == len(day_rewards)
        assert mean_rewards == format(day_rewards.mean(), '.3f')
        phase = rewards.xs(group, level='group')
        if first is not None:  # grp1 controls with the right forelimb from day 5
            days = phase.index.get_level_values('day')
            phase = phase[(days >= first) & (days <= last)]
        assert mean_norm == format(minmax_per_mouse(phase).xs(day, level='day').mean(), '.3f')
    # the fixed-tone control over days 1-4: mice x days of normalised rewards, missing days 0
    phase = rewards.xs('grp3', level='group')
    norm = minmax_per_mouse(phase).unstack('day').loc[:, 1:4].fillna(0.0)
    (p_control,) = number_after(out, r'^grp3\s+days 1-4\s+1-4\s+rm_anova\s+3\s+4\s+F=\S+\s+3,6\s+(\S+)')
    assert float(p_control) == pytest.approx(rm_anova_p(norm.to_numpy()), rel=1e-3)
    assert float(p_control) > 0.05  # the control group did not learn


def test_clmf_kld(outputs):
    out = outputs['clmf_kld']
    raw = pd.read_csv(DATA / 'clmf_kld_df.csv')
    parts = [c for c in raw.columns if c not in ('day', 'mouse_id', 'group')]
    assert len(parts) == 11
    for group, rows in raw.groupby('group'):
        (mice,) = number_after(out, rf'^{group}: (\d+) mice, {len(rows)} mouse-days')
        assert int(mice) == rows['mouse_id'].nunique()
    infinite = np.isinf(raw[parts]).sum()
    for part in ('snout_bottom', 'fl_l'):
        assert f'{part} {int(infinite[part])}' in out
    finite = raw.replace([np.inf, -np.inf], np.nan)
    later = finite[finite['day'] > 1]
    mouse_means = later.groupby(['group', 'mouse_id'])[parts].mean()
    for group, part in (('grp1', 'fl_l'), ('grp2', 'hl_l')):
        values = mouse_means.loc[group, part].dropna()
        mice, mean, sem = number_after(out, rf'^{group}\s+{part}\s+(\d+)\s+([\d.]+)\s+([\d.]+)$')
        assert int(mice) == len(values)
        assert mean == format(values.mean(), '.4f')
        assert sem == format(values.std(ddof=1) / math.sqrt(len(values)), '.4f')
    complete = mouse_means.loc['grp1'].dropna()
    chi2, p = stats.friedmanchisquare(*[complete[c] for c in parts])
    printed_chi2, printed_p = number_after(out, r'^grp1: n = \d+ mice, chi2\(10\) = (\S+), p = (\S+)$')
    assert printed_chi2 == format(chi2, '.3f')
    assert float(printed_p) == pytest.approx(p, rel=1e-2)


def test_script_runs_from_a_fresh_clone_without_the_built_workspace(tmp_path):
    """No workspace overlay on the path: the scripts import clopy_data from the checkout's src/."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'AMENT_PREFIX_PATH', 'COLCON_PREFIX_PATH', 'CLOPY_REPO')}
    check = subprocess.run([sys.executable, '-c', 'import clopy_data'], env=env, cwd=tmp_path, capture_output=True)
    assert check.returncode != 0, 'clopy_data importable without the workspace: this test would prove nothing'
    out = run_script('clmf_kld', tmp_path, env=env)
    assert 'Friedman test across body parts' in out


def test_missing_table_is_named(tmp_path):
    proc = subprocess.run([sys.executable, 'analysis/clnf_learning.py', '--data', str(tmp_path), '--out',
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f'{tmp_path / "clnf_sessions_df.csv"}: not found' in proc.stderr
