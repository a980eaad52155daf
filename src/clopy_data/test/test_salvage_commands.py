"""The offline commands on a session whose recorder was killed (SIGKILL mid-session
of a live simulated run): no metadata.yaml, no MCAP footer, no frame table. Each of
``tables``, ``plot``, ``threshold`` and ``analyze`` salvages the bag itself (once,
into bag_salvaged/), says so on stderr in one line, and finishes without a traceback.

Needs the built graph (``clopy run --sim``); skipped where clopy is not installed
(clopy_data alone, without ROS)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clopy_data.bag import read_bag, topic_counts
from clopy_data.folder import BAG_METADATA, SALVAGE_REPORT, SessionFolder

MIN_MCAP_BYTES = 3 * 2**20   # several cut chunks of camera frames before the kill
SHORT = ['task.v.initial_rest_s=1.0', 'task.v.max_trial_s=2.0', 'task.v.success_rest_s=1.0',
         'task.v.fail_rest_s=1.0', 'camera.synthetic.activity=ramp']


def processes_of(session: Path) -> dict[int, bytes]:
    """pid -> command line of every process started for this session."""
    marker = str(session / 'parameters.yaml').encode()
    found = {}
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                cmdline = Path(f'/proc/{pid}/cmdline').read_bytes()
            except OSError:
                continue
            if marker in cmdline:
                found[int(pid)] = cmdline
    return found


@pytest.fixture(scope='module')
def killed_session(tmp_path_factory) -> Path:
    """A live simulated CLNF session whose recorder got SIGKILL once its bag held several chunks."""
    rosenv = pytest.importorskip('clopy.rosenv', reason='the live graph (clopy) is not installed')
    out = tmp_path_factory.mktemp('live')
    with rosenv.DomainLease() as lease:
        cmd = [sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--out', str(out)]
        for s in SHORT:
            cmd += ['--set', s]
        proc = subprocess.Popen(cmd, env=rosenv.loopback_env(lease.domain_id), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            recorder = None
            deadline = time.monotonic() + 180
            while recorder is None and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
                mcaps = list(out.glob('*/*/bag/*.mcap'))
                if mcaps and mcaps[0].stat().st_size >= MIN_MCAP_BYTES:
                    session = mcaps[0].parents[1]
                    recorder = next((pid for pid, cmdline in processes_of(session).items()
                                     if b'__node:=recorder' in cmdline), None)
            assert recorder, f'the recorder never wrote {MIN_MCAP_BYTES} bytes: {proc.poll()}'
            os.kill(recorder, signal.SIGKILL)
            proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    (session,) = [p.parent for p in out.glob('*/*/parameters.yaml')]
    folder = SessionFolder(session)
    assert not folder.bag_closed, 'a SIGKILLed recorder cannot close its bag'
    # `clopy run` made the table and figure itself, from a salvage of the bag
    assert (folder.bag_salvaged / SALVAGE_REPORT).is_file() and folder.frame_table.is_file()
    return session


def copy_of(session: Path, dest: Path) -> SessionFolder:
    """A copy as a crash of the whole computer leaves it: the bag as the killed recorder
    left it (its last 1000 bytes cut too), no salvage, no table, no figure."""
    folder = SessionFolder(dest / session.name)
    shutil.copytree(session, folder.path, ignore=shutil.ignore_patterns(
        folder.bag_salvaged.name, folder.frame_table.name, folder.summary_figure.name))
    mcap = next(folder.bag.glob('*.mcap'))
    with mcap.open('r+b') as f:
        f.truncate(mcap.stat().st_size - 1000)
    assert not folder.bag_salvaged.exists() and not folder.frame_table.exists()
    return folder


def run(*args: str, module: str = 'clopy_data', timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND='Agg')
    return subprocess.run([sys.executable, '-m', module, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_salvaged_once(result: subprocess.CompletedProcess, folder: SessionFolder) -> None:
    """rc 0, no traceback, one stderr line naming the salvage and its loss report."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if 'not closed' in line]
    assert len(lines) == 1, result.stderr
    assert f'salvaged into {folder.bag_salvaged}' in lines[0] or 'made earlier' in lines[0], lines[0]
    assert 'kept ' in lines[0] and ('bytes unreadable' in lines[0] or 'nothing unreadable' in lines[0])
    assert (folder.bag_salvaged / BAG_METADATA).is_file() and (folder.bag_salvaged / SALVAGE_REPORT).is_file()
    assert not folder.bag_closed, 'the recording itself is left as it was'


def test_tables(killed_session, tmp_path):
    folder = copy_of(killed_session, tmp_path)
    result = run('tables', str(folder.path))
    assert_salvaged_once(result, folder)
    assert 'clnf_1roi' in result.stdout
    counts = topic_counts(folder.bag_salvaged)
    rows = folder.frame_table.read_text().splitlines()
    frames = {m.msg.frame_index for m in read_bag(folder.bag_salvaged, topics=['control_signal'])}
    assert counts['control_signal'] >= 2 and len(rows) == 1 + len(frames)
    # a second command reads the same salvage
    again = run('plot', str(folder.path))
    assert_salvaged_once(again, folder)
    assert 'made earlier' in again.stderr


def test_plot(killed_session, tmp_path):
    folder = copy_of(killed_session, tmp_path)
    result = run('plot', str(folder.path))
    assert_salvaged_once(result, folder)
    assert Path(result.stdout.strip()) == folder.summary_figure
    assert folder.summary_figure.read_bytes().startswith(b'\x89PNG\r\n\x1a\n')


def test_threshold(killed_session, tmp_path):
    folder = copy_of(killed_session, tmp_path)
    result = run('threshold', str(folder.path), '--thresholds', '0.02:0.10:0.04')
    assert_salvaged_once(result, folder)
    assert folder.threshold_sim.is_dir() and any(folder.threshold_sim.iterdir())


def test_analyze(killed_session, tmp_path):
    """Through the ``clopy`` command; the frame table the recorder never wrote is made from the salvage."""
    pytest.importorskip('clopy.cli')
    folder = copy_of(killed_session, tmp_path / 'sessions')
    result = run('analyze', str(folder.path), '--out', str(tmp_path / 'out'), module='clopy.cli')
    assert_salvaged_once(result, folder)
    assert (tmp_path / 'out' / 'sessions_table.csv').is_file()
    assert not folder.frame_table.exists(), 'analyze reads the bag; it does not write into the session'


def test_tables_finishes_an_unfinished_folder(killed_session, tmp_path):
    """A marked folder without its table (the whole computer crashed): `tables` salvages the
    bag, writes the table and the summary row into the sessions table of the output root,
    and removes the marker; a second run adds no second row."""
    from clopy_data.postprocess import read_summary_row
    folder = copy_of(killed_session, tmp_path / 'out' / 'clnf_1roi')
    folder.mark_unfinished()
    csv_path = tmp_path / 'out' / 'sessions_summary.csv'
    assert folder.default_sessions_summary == csv_path
    result = run('tables', str(folder.path))
    assert_salvaged_once(result, folder)
    assert folder.frame_table.is_file() and not folder.unfinished_marker.exists()
    row = read_summary_row(csv_path, folder.path)
    assert row is not None and row['session'] == folder.name, csv_path.read_text()
    assert row['end_reason'] != '' and row['valve_openings'] == row['rewards']
    again = run('tables', str(folder.path))
    assert again.returncode == 0, again.stderr
    assert len(csv_path.read_text().splitlines()) == 2, 'one header, one row'
