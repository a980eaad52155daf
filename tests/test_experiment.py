"""The experiment manager end to end: the example experiment's day 1 and day 2 of one
subject run in simulation by `clopy experiment run` (real node processes), the
threshold carried from day 1 to day 2, the registry rebuilt from the session folders,
the learning curve, busy rigs and subjects refused, and a run killed mid-session."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from clopy.profile import load_profile
from clopy.rosenv import DomainLease, loopback_env
from clopy_data.folder import SessionFolder
from clopy_data.postprocess import read_summary_row
from test_clnf_graph import no_process_left

from clopy_dashboard.experiment.registry import DATABASE, FINISHED, UNFINISHED, Registry, comparable

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / 'config' / 'experiments' / 'example.yaml'


def experiment(args: list[str], env: dict, wait: bool = True, timeout: float = 180):
    cmd = [sys.executable, '-m', 'clopy.cli', 'experiment', *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    """The example with this test's own ROS domains as its rigs' (leased here, inherited
    by the runs), and M1's days 1 and 2 run."""
    root = tmp_path_factory.mktemp('experiment')
    with DomainLease() as rig1, DomainLease() as rig2:
        data = yaml.safe_load(EXAMPLE.read_text())
        data['rigs'][0]['domain_id'], data['rigs'][1]['domain_id'] = rig1.domain_id, rig2.domain_id
        path = root / 'example.yaml'
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        data_root = root / 'data'
        env = loopback_env(rig1.domain_id)
        runs = []
        for day in (1, 2):
            r = experiment(['run', str(path), '--subject', 'M1', '--day', str(day), '--data-root', str(data_root)],
                           env)
            assert r.returncode == 0, r.stdout + r.stderr
            runs.append(r)
        yield {'path': path, 'data_root': data_root, 'env': env, 'runs': runs, 'file': data}


def args(study, command: str, *more: str) -> list[str]:
    return [command, str(study['path']), '--data-root', str(study['data_root']), *more]


def sessions(study, subject: str | None = 'M1', name: str = 'example') -> list[dict]:
    with Registry(study['data_root']) as reg:
        return reg.sessions(name, subject)


def test_day_2_starts_from_the_threshold_day_1_ended_with(study):
    day1, day2 = sessions(study)
    assert (day1['day'], day1['status'], day1['rig'], day1['trials']) == (1, FINISHED, 'rig1', 2)
    assert (day2['day'], day2['status'], day2['trials']) == (2, FINISHED, 2)
    first = SessionFolder(day1['session_dir'])
    assert first.node_parameters('task')['v.threshold'] == 0.06   # day 1's plan sets it
    summary = read_summary_row(first.default_sessions_summary, first.path)
    final = float(summary['final_threshold'])
    assert final == day1['final_threshold'] and final != 0.06   # the adaptive rule moved it
    # day 2's plan names no threshold: it starts where day 1 ended, not at the file's 0.075
    assert SessionFolder(day2['session_dir']).node_parameters('task')['v.threshold'] == pytest.approx(final)
    assert load_profile(study['data_root'], 'M1')['paradigms']['clnf_1roi']['task.v.threshold'] == \
        day2['final_threshold']
    assert 'the next clnf_1roi session starts at threshold' in study['runs'][0].stdout
    # each folder says which experiment, subject, day and rig it belongs to
    meta = yaml.safe_load(SessionFolder(day2['session_dir']).experiment.read_text())
    assert meta == {'experiment': 'example', 'subject': 'M1', 'group': 'grp1', 'day': 2, 'rig': 'rig1',
                    'paradigm': 'clnf_1roi'}


def test_status_and_subjects(study):
    r = experiment(args(study, 'status'), study['env'])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert next(line for line in lines if line.startswith('M1')).split() == ['M1', 'grp1', 'rig1', 'ok', 'ok', 'done']
    assert next(line for line in lines if line.startswith('M2')).split() == ['M2', 'grp1', 'rig2', '.', '.', 'day', '1']
    assert any(line.split()[:2] == ['rig1', f'(domain'] and line.endswith('free') for line in lines)
    r = experiment(args(study, 'subjects'), study['env'])
    assert r.returncode == 0 and 'all days done' in r.stdout and 'plans.grp1[0] (days 1)' in r.stdout


def test_the_registry_rebuilt_from_the_folders_equals_the_live_one(study):
    live = comparable(sessions(study, None))
    assert len(live) == 2
    for suffix in ('', '-wal', '-shm'):
        (study['data_root'] / (DATABASE + suffix)).unlink(missing_ok=True)
    r = experiment(args(study, 'rebuild'), study['env'])
    assert r.returncode == 0, r.stderr
    assert '2 sessions of example' in r.stdout
    assert comparable(sessions(study, None)) == live


def test_the_learning_curve_is_drawn(study):
    r = experiment(args(study, 'curve'), study['env'])
    assert r.returncode == 0, r.stderr
    png = study['data_root'] / 'analysis' / 'example' / 'learning_M1.png'
    assert f'learning curve: {png}' in r.stdout
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_busy_rig_and_subject_refused_and_a_killed_run_is_unfinished(study):
    env = study['env']
    run = experiment(args(study, 'run', '--subject', 'M2', '--day', '1'), env, wait=False)
    try:
        deadline = time.monotonic() + 60
        row = None
        while time.monotonic() < deadline:
            rows = sessions(study, 'M2')
            row = rows[0] if rows else None
            if row and row['session_dir'] and (Path(row['session_dir']) / 'events.tsv').is_file():
                break
            assert run.poll() is None, run.stdout.read()
            time.sleep(0.2)
        assert row and row['status'] == 'running' and row['rig'] == 'rig2'
        # while it runs: its rig and its subject are refused to other runs
        other = experiment(args(study, 'run', '--subject', 'M1', '--day', '1', '--rig', 'rig2'), env, timeout=60)
        assert other.returncode == 3 and "rig 'rig2' is busy: M2 day 1 on rig2 (example)" in other.stderr
        other = experiment(args(study, 'run', '--subject', 'M2', '--day', '2', '--rig', 'rig1'), env, timeout=60)
        assert other.returncode == 3 and "subject 'M2' is busy: M2 day 1 on rig2" in other.stderr
        os.kill(run.pid, signal.SIGKILL)   # the run dies mid-session (its nodes stop with it)
        run.wait(timeout=10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    folder = Path(row['session_dir'])
    deadline = time.monotonic() + 90
    while no_process_left(folder) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not no_process_left(folder)
    r = experiment(args(study, 'status'), env)
    assert r.returncode == 0, r.stderr
    assert next(line for line in r.stdout.splitlines() if line.startswith('M2')).split()[3:] == ['X', '.', 'day', '1']
    assert 'failed or cut short:' in r.stdout
    (row,) = sessions(study, 'M2')
    assert row['status'] == UNFINISHED and row['end_reason'] and str(folder) == row['session_dir']
    assert f'M2 day 1 on rig2 ({row["started"]}): {row["end_reason"]}' in r.stdout
    with Registry(study['data_root']) as reg:
        assert reg.locks() == []
        reg.release(reg.start_session('example', 'M2', 1, 'rig2', 'clnf_1roi'))   # both free again
        reg.db.execute("DELETE FROM sessions WHERE status = 'running'")
    # the killed session is in the folders too: rebuilt == live still
    live = comparable(sessions(study, None))
    r = experiment(args(study, 'rebuild'), env)
    assert r.returncode == 0 and '3 sessions of example' in r.stdout
    assert comparable(sessions(study, None)) == live


def test_the_experiment_page_starts_a_run_on_a_rig(study):
    """POST /experiments/<name>/run starts `clopy experiment run` in the background; the
    page shows the rig busy while it runs and the finished day after."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from clopy_dashboard.experiment.web import add_routes
    data = dict(study['file'], name='webexp')
    (study['data_root'] / 'experiments').mkdir(exist_ok=True)
    (study['data_root'] / 'experiments' / 'webexp.yaml').write_text(yaml.safe_dump(data, sort_keys=False))
    app = FastAPI()
    add_routes(app, data_root=study['data_root'], guard=lambda: None)
    client = TestClient(app)
    r = client.post('/experiments/webexp/run', json={'subject': 'M2', 'day': 1, 'rig': 'rig2'})
    assert r.status_code == 202, r.text
    pid = r.json()['pid']
    try:
        page = client.get('/experiments/webexp').text
        assert '<th>rig2</th>' in page and 'class="running">M2 day 1 since' in page
        again = client.post('/experiments/webexp/run', json={'subject': 'M2', 'day': 1, 'rig': 'rig1'})
        assert again.status_code == 409 and again.json()['detail'].startswith("subject 'M2' is busy: M2 day 1 on rig2")
        deadline = time.monotonic() + 120
        while any(row['status'] == 'running' for row in sessions(study, None, 'webexp')):
            assert time.monotonic() < deadline, Path(r.json()['log']).read_text()
            time.sleep(0.5)
    finally:
        try:
            os.killpg(pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    (row,) = sessions(study, None, 'webexp')
    assert (row['subject'], row['day'], row['rig'], row['status']) == ('M2', 1, 'rig2', FINISHED), row
    m2 = client.get('/experiments/webexp').text.split('subjects/M2">M2</a>')[1].split('</tr>')[0]
    assert '<td class="finished" title="all trials done">ok</td>' in m2 and '<td>day 2</td>' in m2
    history = client.get('/experiments/webexp/subjects/M2').text
    assert 'day 1: finished' in history and '/summary.png"' in history and 'learning.png' in history
