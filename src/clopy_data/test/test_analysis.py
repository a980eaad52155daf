"""Tests of clopy_data.analysis: the loaders on a hand-written session, the learning statistics on
the original study's CLNF table (processed_data/ of the checkout, copied from the study)."""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from clopy_data import commands as cli
from clopy_data.analysis import (
    CLNF_DESIGN,
    AnalysisError,
    Experiment,
    Session,
    daily_rewards,
    design_for_table,
    learning_stats,
    mann_kendall,
    normalise,
    paper_clnf_anova,
    read_sessions_table,
    rm_anova_scipy,
)
from clopy_data.session import EventLogWriter
from clopy_data.tables import FrameTableWriter

SHARED_DATA = Path(__file__).resolve().parents[3] / 'processed_data'
UTC = timezone.utc


def shared_table(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.fail(f'{path} is missing: these tests read the original study\'s table from the '
                    'checkout\'s processed_data/')
    return path


def variables_row(**values) -> str:
    return json.dumps(values)


def write_session(root: Path, mouse: str, start: datetime, successes: int = 1,
                  frames_rewarded: tuple[int, ...] = (30,)) -> Path:
    """A small CLNF session by hand: 30 s rest, one successful trial, threshold adapted, done."""
    folder = root / f'{mouse}_{start:%Y%m%d-%H%M%S}'
    folder.mkdir(parents=True)
    with EventLogWriter(folder / 'events.tsv') as log:
        log.write_start_info(subject_id=mouse, paradigm='clnf_1roi', start_time=start, task_file='clnf.py',
                             session_type='graded')
        log.write(0.0, 'variable', 'run_start', variables_row(threshold=0.075, trial_n=0, successes=0, failures=0))
        log.write(0.0, 'state', '', 'initial_rest')
        log.write(30.0, 'state', '', 'trial')
        log.write(30.0, 'variable', 'task', variables_row(trial_n=1))
        log.write(32.5, 'variable', 'task', variables_row(successes=successes))
        log.write(32.5, 'state', '', 'success_rest')
        log.write(40.0, 'event', 'timer', 'adapt_threshold')
        log.write(40.0, 'variable', 'task', variables_row(threshold=0.077))
        log.write(42.5, 'state', '', 'done')
        log.write(42.5, 'print', 'task', 'session complete: 1 successes in 1 trials')
        log.write(42.5, 'variable', 'run_end',
                  variables_row(threshold=0.077, trial_n=1, successes=successes, failures=0))
        log.close(end_time=start + timedelta(seconds=43))
    with FrameTableWriter(folder / 'VideoTimestamp.txt', ['M1_L']) as table:
        for i in range(40):
            table.add_row(frame=i, time_s=i / 15, dff={'M1_L': 0.01 * i}, rule_value=None, freq_hz=0,
                          threshold=0.075, reward=1 if i in frames_rewarded else 0, trial=int(i >= 20),
                          audio=0, lick=0)
    params = {'task': {'ros__parameters': {'v.session_type': 'graded'}},
              'roi_dff': {'ros__parameters': {'rule': 'M1_L'}}}
    (folder / 'parameters.yaml').write_text(yaml.safe_dump(params))
    return folder


def test_session_loader(tmp_path):
    start = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    s = Session(write_session(tmp_path, 'M1', start))
    assert (s.subject_id, s.paradigm, s.session_type, s.start_time) == ('M1', 'clnf_1roi', 'graded', start)
    assert s.end_time == start + timedelta(seconds=43)
    assert s.states['name'].tolist() == ['initial_rest', 'trial', 'success_rest', 'done']
    assert s.states['time'].tolist() == [0.0, 30.0, 32.5, 42.5]
    assert s.states['duration_s'].tolist() == [30.0, 2.5, 10.0, 0.0]
    assert s.events.to_dict('records') == [{'time': 40.0, 'name': 'adapt_threshold', 'subtype': 'timer'}]
    assert s.prints['text'].tolist() == ['session complete: 1 successes in 1 trials']
    task_rows = s.variables[s.variables['subtype'] == 'task']
    assert list(zip(task_rows['time'], task_rows['name'], task_rows['value'])) == \
        [(30.0, 'trial_n', 1), (32.5, 'successes', 1), (40.0, 'threshold', 0.077)]
    assert s.times['trial'].tolist() == [30.0] and s.times['adapt_threshold'].tolist() == [40.0]
    assert s.variable_values('start')['threshold'] == 0.075
    assert s.variable_values('end')['threshold'] == 0.077
    assert len(s.frames) == 40 and list(s.frames.columns[:3]) == ['frame', 'time', 'M1_Ldff']
    summary = s.summary
    assert {k: summary[k] for k in ('trials', 'successes', 'failures', 'rewards', 'success_rate', 'duration_s',
                                    'threshold_start', 'threshold_end', 'rule', 'n_frames')} == {
        'trials': 1, 'successes': 1, 'failures': 0, 'rewards': 1, 'success_rate': 1.0, 'duration_s': 42.5,
        'threshold_start': 0.075, 'threshold_end': 0.077, 'rule': 'M1_L', 'n_frames': 40}
    assert summary['rewards_per_min'] == pytest.approx(1 / (42.5 / 60))


def test_session_without_run_end_replays_the_changes(tmp_path):
    folder = tmp_path / 'cut'
    folder.mkdir()
    with EventLogWriter(folder / 'events.tsv') as log:
        log.write_start_info(subject_id='M9', paradigm='clnf_1roi', start_time=datetime(2026, 1, 1, tzinfo=UTC))
        log.write(0.0, 'variable', 'run_start', variables_row(threshold=0.1, trial_n=0, successes=0, failures=0))
        log.write(5.0, 'variable', 'task', variables_row(trial_n=1))
        log.write(9.0, 'variable', 'api', variables_row(threshold=0.2))
    s = Session(folder)  # killed: no run_end, no frame table
    assert s.frames is None
    assert s.variable_values('end') == {'threshold': 0.2, 'trial_n': 1, 'successes': 0, 'failures': 0}
    assert s.summary['duration_s'] == 9.0
    with pytest.raises(AnalysisError, match='no events.tsv'):
        Session(tmp_path)


def test_experiment_numbers_days_by_start_date(tmp_path):
    day1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    write_session(tmp_path / 'cohort', 'M1', day1)
    write_session(tmp_path / 'cohort', 'M1', day1 + timedelta(hours=5), frames_rewarded=(3, 30))
    write_session(tmp_path / 'cohort', 'M1', day1 + timedelta(days=3))  # a gap of two days: still day 2
    write_session(tmp_path / 'cohort', 'M2', day1 + timedelta(days=1))  # M2's first date: its day 1
    exp = Experiment([tmp_path / 'cohort'], groups={'M1': 'grp1'})
    assert list(exp.subjects) == ['M1', 'M2']
    assert [exp.day(s) for s in exp.subjects['M1']] == [1, 1, 2]
    assert [exp.day(s) for s in exp.subjects['M2']] == [1]
    table = exp.sessions_table()
    assert table[['mouse_id', 'cal_day', 'day', 'group', 'roi_rule', 'trials', 'rewards']].values.tolist() == [
        ['M1', '20261120090000', 1, 'grp1', 'M1_L', 1, 1], ['M1', '20261120140000', 1, 'grp1', 'M1_L', 1, 2],
        ['M1', '20261123090000', 2, 'grp1', 'M1_L', 1, 1], ['M2', '20261121090000', 1, 'all', 'M1_L', 1, 1]]
    daily = daily_rewards(table)
    assert daily[daily['mouse_id'] == 'M1'][['day', 'rewards', 'sessions']].values.tolist() == [[1, 1.5, 2],
                                                                                                 [2, 1.0, 1]]


def test_normalise_per_mouse_within_phase():
    table = pd.DataFrame({'group': ['grp2'] * 6 + ['grp1'] * 2, 'mouse_id': ['a'] * 4 + ['b'] * 2 + ['c'] * 2,
                          'day': [1, 2, 11, 12, 1, 2, 1, 2], 'rewards': [10, 30, 5, 7, 4, 4, 1, 3]})
    norm = normalise(daily_rewards(table), CLNF_DESIGN)
    got = {(r.mouse_id, r.day): (r.phase, r.norm) for r in norm.itertuples()}
    assert got == {('a', 1): ('before', 0.0), ('a', 2): ('before', 1.0), ('a', 11): ('after', 0.0),
                   ('a', 12): ('after', 1.0), ('b', 1): ('before', 0.0), ('b', 2): ('before', 0.0),
                   ('c', 1): ('all', 0.0), ('c', 2): ('all', 1.0)}


def test_rm_anova_and_mann_kendall_by_hand():
    # subjects x days = subject (0, 1, 2) + day (0, 1, 2) + error [[1, -1, 0], [-1, 1, 0], [0, 0, 0]]:
    # grand mean 2, day and subject means 1, 2, 3 -> SS_days = SS_subjects = 3 * 2 = 6,
    # SS_error = 4, SS_total = 16; F = (6 / 2) / (4 / 4) = 3 with df 2, 4, so
    # p = (1 + 2 F / 4) ** -2 = 0.16; generalised eta squared 6 / 16
    y = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 3.0], [2.0, 3.0, 4.0]])
    r = rm_anova_scipy(y)
    assert (r['df1'], r['df2']) == (2.0, 4.0)
    assert r['F'] == pytest.approx(3.0)
    assert r['p'] == pytest.approx(0.16)
    assert r['ng2'] == pytest.approx(0.375)
    mk = mann_kendall([1, 2, 3, 4, 5])
    # S = 10, var = 5 * 4 * 15 / 18, z = (10 - 1) / sqrt(var)
    assert (mk['S'], mk['tau']) == (10.0, 1.0)
    assert mk['z'] == pytest.approx(9 / math.sqrt(50 / 3))
    assert mk['p'] == pytest.approx(0.02747, abs=1e-4)
    assert mann_kendall([3, 2, 1])['tau'] == -1.0


def clnf_stats(missing: str = 'zero') -> pd.DataFrame:
    table = read_sessions_table(shared_table('clnf_sessions_df.csv'))
    design = design_for_table(table, 'clnf')
    return learning_stats(normalise(daily_rewards(table), design), design, missing)


def test_clnf_learning_statistics_on_the_shared_table():
    stats = clnf_stats()
    anova = stats[stats['test'] == 'rm_anova'].set_index('phase')
    paper_window = anova.loc['days 1-9 (the paper)']
    assert (paper_window['group'], paper_window['n_mice'], paper_window['n_days']) == ('grp1', 23, 9)
    assert (paper_window['df1'], paper_window['df2']) == (8, 176)
    # per mouse within phase, one value per mouse and day, missing days 0
    assert paper_window['value'] == pytest.approx(5.066937, rel=1e-5)
    assert paper_window['p'] == pytest.approx(1.1089e-5, rel=1e-3)
    assert paper_window['p_gg'] == pytest.approx(0.000632, rel=1e-2)
    # every window: rewards rose over days (paper: "CLNF rewards rose over days")
    assert (anova['p'] < 1e-4).all()
    trend = stats[stats['test'].str.startswith('mann_kendall')]
    assert (trend['effect_value'] > 0).all()
    assert set(stats['test']) >= {'rm_anova', 'mann_kendall (group mean)', 'spearman (sessions)'}
    dropped = clnf_stats('drop')
    row = dropped[(dropped['test'] == 'rm_anova') & (dropped['phase'] == 'days 1-9 (the paper)')].iloc[0]
    assert row['n_mice'] < 23 and 'left out' in row['note']


def test_scipy_rm_anova_equals_pingouins_numbers():
    """The scipy fallback gives what pingouin 0.7.0 gave on the same matrix (numbers recorded)."""
    table = read_sessions_table(shared_table('clnf_sessions_df.csv'))
    norm = normalise(daily_rewards(table), CLNF_DESIGN)
    rows = norm[(norm['group'] == 'grp1') & (norm['day'] <= 9)]
    matrix = rows.pivot(index='mouse_id', columns='day', values='norm').fillna(0.0).to_numpy()
    r = rm_anova_scipy(matrix)
    assert r['F'] == pytest.approx(5.066937, rel=1e-6)
    assert r['p'] == pytest.approx(1.1088779e-05, rel=1e-6)
    assert r['ng2'] == pytest.approx(0.165899, rel=1e-5)
    assert r['eps'] == pytest.approx(0.551207, rel=1e-5)
    assert r['p_gg'] == pytest.approx(0.000632, rel=2e-3)


def test_paper_script_reproduces_the_published_anova():
    """The original script's computation gives p = 2.94e-5 on this table (paper: 2.83e-5)."""
    table = read_sessions_table(shared_table('clnf_sessions_df.csv'))
    paper = paper_clnf_anova(table).set_index('group')
    assert (paper.loc['grp1', 'df1'], paper.loc['grp1', 'df2']) == (8, 176)
    assert paper.loc['grp1', 'value'] == pytest.approx(4.718887, rel=1e-5)
    assert paper.loc['grp1', 'p'] == pytest.approx(2.94e-5, rel=1e-2)
    assert abs(math.log10(paper.loc['grp1', 'p']) - math.log10(2.83e-5)) < 0.05


def test_analyze_command_prints_the_statistics(tmp_path, capsys):
    code = cli.main(['analyze', str(shared_table('clnf_sessions_df.csv')), str(shared_table('clmf_sessions_df.csv')),
                     '--paper', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert 'clnf_sessions_df: 353 sessions, 41 mice' in out
    assert 'clmf_sessions_df: 258 sessions, 15 mice' in out
    line = next(l for l in out.splitlines() if 'days 1-9 (the paper)' in l and 'rm_anova' in l)
    assert 'F=5.067' in line and '8,176' in line and '1.11e-05' in line
    stats = pd.read_csv(tmp_path / 'learning_stats.csv')
    clmf = stats[(stats['dataset'] == 'clmf_sessions_df') & (stats['test'] == 'rm_anova')].set_index('phase')
    assert set(clmf.index) == {'left paw', 'right paw', 'all'}
    assert clmf.loc['left paw', 'p'] < 1e-3  # grp1 improved within its first 4 days
    for name in ('clnf_sessions_df_days.png', 'clmf_sessions_df_days.png'):
        assert (tmp_path / name).read_bytes()[:4] == b'\x89PNG'
    assert set(pd.read_csv(tmp_path / 'clnf_sessions_df_normalised.csv')['phase']) == {'all', 'before', 'after'}


def test_analyze_command_on_session_folders(tmp_path, capsys):
    day1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for mouse, gains in (('M1', (1, 2, 4)), ('M2', (2, 3, 3)), ('M3', (1, 1, 5))):
        for d, successes in enumerate(gains):
            write_session(tmp_path / 'sessions', mouse, day1 + timedelta(days=d),
                          frames_rewarded=tuple(range(successes)))
    code = cli.main(['analyze', str(tmp_path / 'sessions'), '--out', str(tmp_path / 'out')])
    out = capsys.readouterr().out
    assert code == 0 and 'Experiment(9 sessions, 3 subjects)' in out
    table = pd.read_csv(tmp_path / 'out' / 'sessions_table.csv')
    assert table.groupby('mouse_id')['rewards'].apply(list).to_dict() == {'M1': [1, 2, 4], 'M2': [2, 3, 3],
                                                                          'M3': [1, 1, 5]}
    stats = pd.read_csv(tmp_path / 'out' / 'learning_stats.csv')
    anova = stats[stats['test'] == 'rm_anova'].iloc[0]
    assert (anova['group'], anova['n_mice'], anova['df1'], anova['df2']) == ('all', 3, 2, 4)


def test_bad_tables_are_named(tmp_path, capsys):
    bad = tmp_path / 'bad.csv'
    bad.write_text('mouse_id,day,rewards\nM1,1,3\n')
    with pytest.raises(AnalysisError, match=r"bad.csv: missing column\(s\) \['group'\]"):
        read_sessions_table(bad)
    bad.write_text('mouse_id,day,rewards,group\nM1,one,3,grp1\n')
    assert cli.main(['analyze', str(bad), '--out', str(tmp_path)]) == 2
    assert "column 'day', row 2: 'one' is not a number" in capsys.readouterr().err


def test_statistics_without_pingouin_use_scipy(monkeypatch):
    from clopy_data import analysis_stats as analysis
    monkeypatch.setattr(analysis, '_pingouin', lambda: None)
    stats = clnf_stats()
    row = stats[(stats['test'] == 'rm_anova') & (stats['phase'] == 'days 1-9 (the paper)')].iloc[0]
    assert row['backend'] == 'scipy'
    assert row['value'] == pytest.approx(5.066937, rel=1e-6) and row['p'] == pytest.approx(1.1088779e-05, rel=1e-6)
