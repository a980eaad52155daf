"""Tests of clopy_data.tables: exact column layouts of the original and value round trips."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from clopy_data.tables import (
    ClmfFrameTableWriter,
    FrameTableWriter,
    clmf_table_columns,
    frame_table_columns,
    read_frame_table,
)

PKG_ROOT = Path(__file__).resolve().parents[1]
CLMF_PARTS = ['snout_front', 'fl_l_front', 'fl_r_front', 'snout_top', 'snout_bottom', 'fl_l', 'fl_r',
              'hl_l', 'hl_r', 'tailbase_bottom', 'tailbase_top']


def test_one_roi_columns(tmp_path):
    expected = ['frame', 'time', 'BC_Ldff', 'freq', 'rew_threshold', 'reward', 'trial', 'audio', 'lick']
    assert frame_table_columns(['BC_L']) == expected
    assert frame_table_columns(['BC_L'], 'BC_L') == expected  # the 1-ROI rule is the ROI itself
    path = tmp_path / 'VideoTimestamp.txt'
    FrameTableWriter(path, ['BC_L'], None).close()
    assert path.read_text() == '\t'.join(expected) + '\n'


def test_two_roi_columns(tmp_path):
    expected = ['frame', 'time', 'BC_Ldff', 'BC_Rdff', 'BC_L-BC_Rdff', 'freq', 'rew_threshold', 'reward',
                'trial', 'audio', 'lick']
    assert frame_table_columns(['BC_L', 'BC_R'], 'BC_L-BC_R') == expected
    path = tmp_path / 'VideoTimestamp.txt'
    with FrameTableWriter(path, ['BC_L', 'BC_R'], 'BC_L-BC_R'):
        pass
    assert path.read_text().split('\n')[0].split('\t') == expected


def test_clmf_columns(tmp_path):
    cols = clmf_table_columns(CLMF_PARTS)
    assert cols[:8] == ['frame', 'time', 'cj_speed', 'freq', 'reward', 'trial', 'audio', 'lick']
    assert cols[8:14] == ['snout_front_x', 'snout_front_y', 'snout_front_likelihood',
                          'fl_l_front_x', 'fl_l_front_y', 'fl_l_front_likelihood']
    assert cols[-3:] == ['tailbase_top_x', 'tailbase_top_y', 'tailbase_top_likelihood']
    assert len(cols) == 8 + 3 * 11
    path = tmp_path / 'clmf.tsv'
    ClmfFrameTableWriter(path, CLMF_PARTS).close()
    assert list(read_frame_table(path).columns) == cols


def test_clnf_values_round_trip(tmp_path):
    path = tmp_path / 'VideoTimestamp.txt'
    rows = [
        # frame, time, dff L, dff R, rule, freq, thr, reward, trial, audio, lick
        (0, 0.0, float('nan'), float('nan'), float('nan'), 0, 0.1, 0, 0, 0, 0),
        (1, 0.066667, 0.0123456789012345, -0.002, 0.0143456789012345, 1189, 0.1, 0, 1, 1, 0),
        (2, 0.133333, 0.2, 0.05, 0.15, 19027.0, 0.1, 1, 1, 1, 1),
        (3, 0.2, -0.01, 0.01, -0.02, 1414.2135, 0.102, -1, 2, 0, 0),
    ]
    with FrameTableWriter(path, ['BC_L', 'BC_R'], 'BC_L-BC_R') as table:
        for f, t, dl, dr, rule, hz, thr, rew, trial, audio, lick in rows:
            table.add_row(f, t, {'BC_R': dr, 'BC_L': dl}, rule, hz, thr, rew, trial, audio, lick)
    text = path.read_text().split('\n')
    assert text[3].split('\t')[:2] == ['2', '0.133333']
    assert text[3].split('\t')[5] == '19027'  # integral frequencies as integers
    assert text[4].split('\t')[5] == '1414.2135'

    df = read_frame_table(path)
    assert len(df) == 4
    assert df['frame'].tolist() == [0, 1, 2, 3]
    assert df['reward'].tolist() == [0, 0, 1, -1]
    assert df['trial'].tolist() == [0, 1, 1, 2]
    assert df['audio'].tolist() == [0, 1, 1, 0] and df['lick'].tolist() == [0, 0, 1, 0]
    assert df['freq'].tolist() == [0, 1189, 19027, 1414.2135]
    assert math.isnan(df['BC_Ldff'][0]) and math.isnan(df['BC_L-BC_Rdff'][0])
    assert df['BC_Ldff'][1] == 0.0123456789012345  # full float precision survives
    assert df['BC_L-BC_Rdff'].tolist()[1:] == [0.0143456789012345, 0.15, -0.02]
    assert df['rew_threshold'].tolist() == [0.1, 0.1, 0.1, 0.102]
    np.testing.assert_allclose(df['time'], [0.0, 0.066667, 0.133333, 0.2])


def test_clnf_row_errors(tmp_path):
    path = tmp_path / 'VideoTimestamp.txt'
    table = FrameTableWriter(path, ['BC_L', 'BC_R'], 'BC_L-BC_R')
    with pytest.raises(KeyError, match='BC_R'):
        table.add_row(0, 0.0, {'BC_L': 0.1}, 0.1, 0, 0.1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match='rule_value'):
        table.add_row(0, 0.0, {'BC_L': 0.1, 'BC_R': 0.0}, None, 0, 0.1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match='reward 2'):
        table.add_row(0, 0.0, {'BC_L': 0.1, 'BC_R': 0.0}, 0.1, 0, 0.1, 2, 0, 0, 0)
    with pytest.raises(ValueError, match='frame -1'):
        table.add_row(-1, 0.0, {'BC_L': 0.1, 'BC_R': 0.0}, 0.1, 0, 0.1, 0, 0, 0, 0)
    with pytest.raises(ValueError, match='time_s'):
        table.add_row(0, float('nan'), {'BC_L': 0.1, 'BC_R': 0.0}, 0.1, 0, 0.1, 0, 0, 0, 0)
    table.close()
    table.close()
    with pytest.raises(ValueError, match='closed'):
        table.add_row(0, 0.0, {'BC_L': 0.1, 'BC_R': 0.0}, 0.1, 0, 0.1, 0, 0, 0, 0)
    assert len(read_frame_table(path)) == 0  # no half-written rows from the errors
    with pytest.raises(FileExistsError, match='VideoTimestamp.txt'):
        FrameTableWriter(path, ['BC_L'])
    with pytest.raises(ValueError, match='duplicate'):
        FrameTableWriter(tmp_path / 'dup.txt', ['BC_L', 'BC_L'])
    with pytest.raises(ValueError, match='ROI name'):
        FrameTableWriter(tmp_path / 'tab.txt', ['BC\tL'])


def test_one_roi_ignores_rule_value(tmp_path):
    path = tmp_path / 'VideoTimestamp.txt'
    with FrameTableWriter(path, ['M1_L']) as table:
        table.add_row(5, 1.0, {'M1_L': 0.08}, 0.08, 16000, 0.075, 1, 3, 1, 0)
    df = read_frame_table(path)
    assert df.iloc[0].to_dict() == {'frame': 5, 'time': 1.0, 'M1_Ldff': 0.08, 'freq': 16000,
                                    'rew_threshold': 0.075, 'reward': 1, 'trial': 3, 'audio': 1, 'lick': 0}


def test_clmf_values_round_trip(tmp_path):
    path = tmp_path / 'clmf.tsv'
    with ClmfFrameTableWriter(path, ['fl_l', 'fl_r']) as table:
        table.add_row(0, 0.0, 0.0, 1000, 0, 1, 1, 0, {'fl_l': (100.5, 200.25, 0.99), 'fl_r': (1.0, 2.0, 0.5)})
        table.add_row(1, 0.033333, 21.5, 19027, 1, 1, 1, 1, {'fl_l': (110.0, 220.0, 0.9)})
        table.add_row(2, 0.066667, 3.25, 0, 0, 1, 1, 0, None)
        with pytest.raises(KeyError, match='hl_l'):
            table.add_row(3, 0.1, 0.0, 0, 0, 1, 1, 0, {'hl_l': (0.0, 0.0, 0.0)})
        with pytest.raises(ValueError, match='fl_l'):
            table.add_row(3, 0.1, 0.0, 0, 0, 1, 1, 0, {'fl_l': (0.0, 0.0)})  # type: ignore[dict-item]
    df = read_frame_table(path)
    assert len(df) == 3
    assert df['cj_speed'].tolist() == [0.0, 21.5, 3.25]
    assert df['freq'].tolist() == [1000, 19027, 0]
    assert df['reward'].tolist() == [0, 1, 0]
    assert df['fl_l_x'].tolist()[:2] == [100.5, 110.0] and df['fl_l_likelihood'][0] == 0.99
    assert df['fl_r_y'][0] == 2.0
    assert math.isnan(df['fl_r_x'][1]) and df[['fl_l_x', 'fl_r_likelihood']].iloc[2].isna().all()


def test_rows_survive_a_killed_process(tmp_path):
    path = tmp_path / 'VideoTimestamp.txt'
    code = """
        import os, signal, sys
        from clopy_data.tables import FrameTableWriter
        table = FrameTableWriter(sys.argv[1], ['BC_L'])
        for i in range(300):
            table.add_row(i, i / 15, {'BC_L': i / 1000}, None, 1189, 0.075, 0, 1, 1, 0)
        os.kill(os.getpid(), signal.SIGKILL)
    """
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code), str(path)], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    df = read_frame_table(path)
    assert df['frame'].tolist() == list(range(300))
    assert df['BC_Ldff'].iloc[-1] == 0.299
