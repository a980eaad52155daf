"""Learning statistics of the across-session analysis: the experiment designs
(phases and test windows per group), the daily rewards normalised per mouse and
phase, and the tests (RM-ANOVA, Mann-Kendall, Spearman, mixed model); see
:mod:`clopy_data.analysis` for the method."""
from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clopy_data.analysis_load import AnalysisError

TABLE_COLUMNS = ('mouse_id', 'day', 'rewards', 'group')


# ------------------------------------------------------------------- designs


@dataclasses.dataclass(frozen=True)
class Phase:
    """Days ``first_day``..``last_day`` (inclusive; None = open) of one group, normalised together."""

    group: str
    name: str
    first_day: int | None = None
    last_day: int | None = None

    def contains(self, day: pd.Series) -> pd.Series:
        lo = -math.inf if self.first_day is None else self.first_day
        hi = math.inf if self.last_day is None else self.last_day
        return (day >= lo) & (day <= hi)


@dataclasses.dataclass(frozen=True)
class Window:
    """A test window: days of one phase (None = the phase's own limits); label for the table."""

    group: str
    phase: str
    first_day: int | None = None
    last_day: int | None = None
    label: str = ''


@dataclasses.dataclass(frozen=True)
class Design:
    name: str
    phases: tuple[Phase, ...]
    windows: tuple[Window, ...]


CLNF_DAY_RULE_CHANGE = 10  # grp2's ROI rule changes after day 10 (clopy-original.md)
CLMF_DAY_PAW_SWITCH = 5  # grp1 controls with the right forelimb from day 5

CLNF_DESIGN = Design('clnf', (
    Phase('grp1', 'all'),
    Phase('grp2', 'before', None, CLNF_DAY_RULE_CHANGE),
    Phase('grp2', 'after', CLNF_DAY_RULE_CHANGE + 1, None),
), (
    Window('grp1', 'all', 1, 9, 'days 1-9 (the paper)'),
    Window('grp1', 'all'),
    Window('grp2', 'before'),
    Window('grp2', 'after'),
))


def clmf_design(groups: Sequence[str]) -> Design:
    phases: list[Phase] = []
    for g in sorted(groups):
        if g == 'grp1':
            phases += [Phase(g, 'left paw', None, CLMF_DAY_PAW_SWITCH - 1),
                       Phase(g, 'right paw', CLMF_DAY_PAW_SWITCH, None)]
        else:
            phases.append(Phase(g, 'all'))
    return Design('clmf', tuple(phases), tuple(Window(p.group, p.name) for p in phases))


def split_design(name: str, groups: Sequence[str], splits: dict[str, int]) -> Design:
    """Each group one phase, or two when ``splits[group]`` = the last day of its first phase."""
    phases: list[Phase] = []
    for g in sorted(groups):
        if g in splits:
            phases += [Phase(g, 'before', None, splits[g]), Phase(g, 'after', splits[g] + 1, None)]
        else:
            phases.append(Phase(g, 'all'))
    return Design(name, tuple(phases), tuple(Window(p.group, p.name) for p in phases))


def design_for_table(table: pd.DataFrame, name: str, splits: dict[str, int] | None = None) -> Design:
    """CLNF design for a table with roi_rule, CLMF with control_joint; ``splits`` override."""
    groups = sorted(table['group'].astype(str).unique())
    if splits:
        return split_design(name, groups, splits)
    if 'control_joint' in table.columns:
        return dataclasses.replace(clmf_design(groups), name=name)
    if 'roi_rule' in table.columns and set(groups) <= {'grp1', 'grp2'}:
        return dataclasses.replace(CLNF_DESIGN, name=name)
    return split_design(name, groups, {})


# ------------------------------------------------------------------ statistics


def read_sessions_table(path: str | Path) -> pd.DataFrame:
    """A sessions table CSV (the original's columns), checked; read in place."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={'mouse_id': str, 'cal_day': str, 'group': str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AnalysisError(f'{path}: not a readable sessions table: {exc}') from exc
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f'{path}: missing column(s) {missing}; a sessions table needs {list(TABLE_COLUMNS)}')
    for col in ('day', 'rewards'):
        values = pd.to_numeric(table[col], errors='coerce')
        bad = table.index[values.isna()]
        if len(bad):
            raise AnalysisError(f'{path}: column {col!r}, row {int(bad[0]) + 2}: {table.loc[bad[0], col]!r} '
                                'is not a number')
        table[col] = values
    table['day'] = table['day'].astype(int)
    return table


def daily_rewards(table: pd.DataFrame) -> pd.DataFrame:
    """Mean rewards per (group, mouse, day), with the number of sessions averaged."""
    out = (table.groupby(['group', 'mouse_id', 'day'], as_index=False)
           .agg(rewards=('rewards', 'mean'), sessions=('rewards', 'size')))
    return out


def normalise(daily: pd.DataFrame, design: Design) -> pd.DataFrame:
    """Add ``phase`` and ``norm`` = (rewards - min) / (max - min) per mouse within its phase
    (0 when max == min). Rows in no phase of the design are dropped."""
    parts = []
    for phase in design.phases:
        rows = daily[(daily['group'] == phase.group) & phase.contains(daily['day'])].copy()
        if rows.empty:
            continue
        rows['phase'] = phase.name
        by = rows.groupby('mouse_id')['rewards']
        lo, hi = by.transform('min'), by.transform('max')
        span = hi - lo
        rows['norm'] = np.where(span > 0, (rows['rewards'] - lo) / span.where(span > 0, 1.0), 0.0)
        parts.append(rows)
    if not parts:
        return daily.iloc[0:0].assign(phase=pd.Series(dtype=object), norm=pd.Series(dtype=float))
    return pd.concat(parts, ignore_index=True)


def rm_anova_scipy(matrix: np.ndarray) -> dict[str, float]:
    """One-way repeated-measures ANOVA of a complete subjects x conditions matrix.

    Returns F, df1 = k - 1, df2 = (k - 1)(n - 1), p, ng2 (generalised eta squared,
    SS_days / SS_total), eps (Greenhouse-Geisser) and p_gg (p with df scaled by eps).
    """
    y = np.asarray(matrix, dtype=float)
    n, k = y.shape
    if n < 2 or k < 2 or not np.all(np.isfinite(y)):
        raise ValueError(f'rm_anova_scipy: need a finite matrix of >= 2 subjects x >= 2 days; got {y.shape}')
    grand = y.mean()
    ss_days = n * float(((y.mean(axis=0) - grand) ** 2).sum())
    ss_subjects = k * float(((y.mean(axis=1) - grand) ** 2).sum())
    ss_total = float(((y - grand) ** 2).sum())
    ss_error = ss_total - ss_days - ss_subjects
    from scipy import stats  # imported here: `clopy` builds its parser from this module
    df1, df2 = k - 1, (k - 1) * (n - 1)
    f_value = (ss_days / df1) / (ss_error / df2) if ss_error > 0 else math.inf
    cov = np.cov(y, rowvar=False)
    centre = np.eye(k) - 1.0 / k
    dc = centre @ cov @ centre  # double-centred covariance
    denom = (k - 1) * float((dc ** 2).sum())
    eps = float(np.trace(dc) ** 2 / denom) if denom > 0 else 1.0
    eps = min(1.0, max(eps, 1.0 / (k - 1)))
    return {'F': f_value, 'df1': float(df1), 'df2': float(df2), 'p': float(stats.f.sf(f_value, df1, df2)),
            'ng2': ss_days / ss_total if ss_total > 0 else float('nan'), 'eps': eps,
            'p_gg': float(stats.f.sf(f_value, df1 * eps, df2 * eps))}


def _pingouin() -> Any:
    try:
        import pingouin
    except ImportError:
        return None
    return pingouin


def rm_anova(matrix: pd.DataFrame) -> dict[str, Any]:
    """RM-ANOVA of a mice x days DataFrame (complete): pingouin when installed, else scipy."""
    pg = _pingouin()
    if pg is None:
        return {**rm_anova_scipy(matrix.to_numpy()), 'backend': 'scipy'}
    long = matrix.rename_axis(index='mouse_id', columns='day').stack().rename('norm').reset_index()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = pg.rm_anova(dv='norm', within='day', subject='mouse_id', data=long, detailed=True,
                          correction=True)
    row = res.iloc[0]
    p_col = 'p_unc' if 'p_unc' in res.columns else 'p-unc'
    gg_col = next((c for c in ('p_GG_corr', 'p-GG-corr') if c in res.columns), None)
    df2 = float(res.iloc[1]['DF'])
    return {'F': float(row['F']), 'df1': float(row['DF']), 'df2': df2, 'p': float(row[p_col]),
            'ng2': float(row.get('ng2', float('nan'))), 'eps': float(row.get('eps', float('nan'))),
            'p_gg': float(row[gg_col]) if gg_col else float('nan'),
            'backend': f'pingouin {pg.__version__}'}


def mann_kendall(values: Sequence[float]) -> dict[str, float]:
    """Mann-Kendall trend test (normal approximation, tie-corrected variance, continuity
    correction): S, z, two-sided p and Kendall's tau = S / (n (n - 1) / 2)."""
    from scipy import stats
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return {'S': float('nan'), 'z': float('nan'), 'p': float('nan'), 'tau': float('nan'), 'n': n}
    s = float(sum(np.sign(x[j] - x[i]) for i in range(n - 1) for j in range(i + 1, n)))
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float((counts * (counts - 1) * (2 * counts + 5)).sum())) / 18.0
    z = 0.0 if s == 0 or var <= 0 else (s - math.copysign(1.0, s)) / math.sqrt(var)
    return {'S': s, 'z': z, 'p': float(2 * stats.norm.sf(abs(z))), 'tau': s / (n * (n - 1) / 2), 'n': n}


def mixed_slope(rows: pd.DataFrame) -> dict[str, Any] | None:
    """norm ~ day with a random intercept per mouse (statsmodels MixedLM, REML): slope per day,
    its z and p. None when statsmodels is not installed."""
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        return None
    data = rows[['norm', 'day', 'mouse_id']].astype({'norm': float, 'day': float, 'mouse_id': str})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        fit = smf.mixedlm('norm ~ day', data, groups=data['mouse_id']).fit(reml=True)
    return {'slope': float(fit.params['day']), 'z': float(fit.tvalues['day']), 'p': float(fit.pvalues['day']),
            'converged': bool(getattr(fit, 'converged', True))}


STATS_COLUMNS = ('dataset', 'group', 'phase', 'days', 'test', 'n_mice', 'n_days', 'statistic',
                 'value', 'df1', 'df2', 'p', 'p_gg', 'effect', 'effect_value', 'backend', 'note')


def _window_rows(norm: pd.DataFrame, design: Design, w: Window) -> pd.DataFrame:
    phase = next((p for p in design.phases if p.group == w.group and p.name == w.phase), None)
    if phase is None:
        raise AnalysisError(f'design {design.name}: window {w} names no phase')
    rows = norm[(norm['group'] == w.group) & (norm['phase'] == w.phase)]
    window = Phase(w.group, w.phase, w.first_day, w.last_day)
    return rows[window.contains(rows['day'])]


def learning_stats(norm: pd.DataFrame, design: Design, missing: str = 'zero') -> pd.DataFrame:
    """The statistics table: per window, RM-ANOVA, Mann-Kendall, Spearman and mixed model."""
    from scipy import stats
    if missing not in ('zero', 'drop'):
        raise AnalysisError(f'--missing {missing!r}; allowed: zero, drop')
    out: list[dict[str, Any]] = []
    for w in design.windows:
        rows = _window_rows(norm, design, w)
        if rows.empty:
            continue
        days_text = f'{int(rows["day"].min())}-{int(rows["day"].max())}'
        base = {'dataset': design.name, 'group': w.group, 'phase': w.label or w.phase, 'days': days_text}
        wide = rows.pivot(index='mouse_id', columns='day', values='norm')
        note = ''
        if missing == 'zero':
            n_missing = int(wide.isna().sum().sum())
            wide = wide.fillna(0.0)
            note = f'{n_missing} missing mouse-days set to 0' if n_missing else ''
        else:
            dropped = int(wide.isna().any(axis=1).sum())
            wide = wide.dropna()
            note = f'{dropped} mice with missing days left out' if dropped else ''
        entry = {**base, 'test': 'rm_anova', 'n_mice': len(wide), 'n_days': wide.shape[1], 'statistic': 'F'}
        if len(wide) >= 2 and wide.shape[1] >= 2:
            r = rm_anova(wide)
            entry.update(value=r['F'], df1=r['df1'], df2=r['df2'], p=r['p'], p_gg=r['p_gg'], effect='ng2',
                         effect_value=r['ng2'], backend=r['backend'], note=note)
        else:
            entry.update(note=f'too few complete mice ({len(wide)}) or days ({wide.shape[1]})')
        out.append(entry)
        mean_by_day = rows.groupby('day')['norm'].mean().sort_index()
        mk = mann_kendall(mean_by_day.to_numpy())
        out.append({**base, 'test': 'mann_kendall (group mean)', 'n_mice': rows['mouse_id'].nunique(),
                    'n_days': int(mk['n']), 'statistic': 'z', 'value': mk['z'], 'p': mk['p'], 'effect': 'tau',
                    'effect_value': mk['tau'], 'backend': 'scipy'})
        if rows['day'].nunique() >= 2 and len(rows) >= 3:
            rho, p_rho = stats.spearmanr(rows['day'], rows['norm'])
            out.append({**base, 'test': 'spearman (sessions)', 'n_mice': rows['mouse_id'].nunique(),
                        'n_days': rows['day'].nunique(), 'statistic': 'rho', 'value': float(rho),
                        'p': float(p_rho), 'effect': 'rho', 'effect_value': float(rho), 'backend': 'scipy',
                        'note': f'{len(rows)} mouse-days'})
        if rows['mouse_id'].nunique() >= 2 and rows['day'].nunique() >= 2:
            try:
                m = mixed_slope(rows)
            except (ValueError, np.linalg.LinAlgError) as exc:
                m = {'error': str(exc)}
            entry = {**base, 'test': 'mixedlm norm~day (1|mouse)', 'n_mice': rows['mouse_id'].nunique(),
                     'n_days': rows['day'].nunique(), 'statistic': 'z'}
            if m is None:
                entry['note'] = 'statsmodels not installed'
            elif 'error' in m:
                entry['note'] = f'fit failed: {m["error"]}'
            else:
                entry.update(value=m['z'], p=m['p'], effect='slope/day', effect_value=m['slope'],
                             backend='statsmodels', note='' if m['converged'] else 'did not converge')
            out.append(entry)
    return pd.DataFrame(out, columns=list(STATS_COLUMNS))


def paper_clnf_anova(table: pd.DataFrame) -> pd.DataFrame:
    """The original analysis script's CLNF RM-ANOVAs, computed as it did (for comparison).

    Wide table day x (mouse_id, group, sex, roi_type, roi_rule, exp_label) per group; grp2
    split at day 10; each column min-max normalised; concatenated and melted (so mice with
    two rules get two rows per day, averaged by the ANOVA, and rows of the other part add
    zeros); NaN -> 0; RM-ANOVA of grp1 on days < 10 and of grp2 on days > 10.
    """
    keys = [c for c in ('mouse_id', 'group', 'sex', 'roi_type', 'roi_rule', 'exp_label') if c in table.columns]
    g1, g2 = table[table['group'] == 'grp1'], table[table['group'] == 'grp2']

    def wide(part: pd.DataFrame) -> pd.DataFrame:
        return part.pivot(index='day', columns=keys, values='rewards')

    def scale(w: pd.DataFrame) -> pd.DataFrame:
        return (w - w.min()) / (w.max() - w.min())

    w2 = wide(g2)
    parts = [scale(wide(g1)), scale(w2.loc[w2.index <= CLNF_DAY_RULE_CHANGE]),
             scale(w2.loc[w2.index > CLNF_DAY_RULE_CHANGE])]
    combined = pd.concat(parts)
    melted = []
    for column in combined.columns:
        melted.append(pd.DataFrame({'day': combined.index.to_numpy(), 'norm': combined[column].to_numpy(),
                                    'mouse_id': column[0], 'group': column[keys.index('group')]}))
    long = pd.concat(melted, ignore_index=True).fillna({'norm': 0.0})
    out = []
    for group, select, label in (('grp1', long['day'] < CLNF_DAY_RULE_CHANGE, 'days 1-9 (paper script)'),
                                 ('grp2', long['day'] > CLNF_DAY_RULE_CHANGE, 'days 11-19 (paper script)')):
        rows = long[select & (long['group'] == group)]
        matrix = rows.groupby(['mouse_id', 'day'])['norm'].mean().unstack('day')
        r = rm_anova(matrix)
        out.append({'dataset': 'paper script', 'group': group, 'phase': label,
                    'days': f'{int(matrix.columns.min())}-{int(matrix.columns.max())}', 'test': 'rm_anova',
                    'n_mice': len(matrix), 'n_days': matrix.shape[1], 'statistic': 'F', 'value': r['F'],
                    'df1': r['df1'], 'df2': r['df2'], 'p': r['p'], 'p_gg': r['p_gg'], 'effect': 'ng2',
                    'effect_value': r['ng2'], 'backend': r['backend'], 'note': 'original pipeline, quirks included'})
    return pd.DataFrame(out, columns=list(STATS_COLUMNS))
