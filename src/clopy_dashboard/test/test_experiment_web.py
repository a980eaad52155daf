"""The experiment pages of the dashboard, through starlette's TestClient on a real
FastAPI app, a real registry and real files."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from clopy_data.session import append_summary_row

from clopy_dashboard.experiment.registry import FINISHED, UNFINISHED, Registry
from clopy_dashboard.experiment.web import add_routes
from clopy_dashboard.security import TOKEN_HEADER, Guard
from clopy_dashboard.web import guard_dependency

TOKEN = 'let-me-in-' + 'x' * 24
#: a POST from the page itself (TestClient's server is http://testserver)
SAME_ORIGIN = {'origin': 'http://testserver'}


def png(path: Path) -> Path:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(1, 1))
    fig.savefig(path)
    return path


def row(tmp: Path, subject: str, day: int, status: str, rewards: int | None, reason: str) -> dict:
    folder = tmp / 'clnf_1roi' / f'{subject}_2026120{day}-100000'
    folder.mkdir(parents=True)
    png(folder / 'summary.png')
    (folder / 'parameters.yaml').write_text('recorder:\n  ros__parameters:\n    paradigm: clnf_1roi\n')
    return {'experiment': 'example', 'subject': subject, 'day': day, 'rig': 'rig1', 'paradigm': 'clnf_1roi',
            'session_dir': str(folder), 'started': f'2026-12-0{day}T10:00:00+00:00',
            'ended': f'2026-12-0{day}T10:01:00+00:00', 'status': status, 'end_reason': reason, 'trials': 2,
            'successes': rewards, 'rewards': rewards, 'water_ul': 0.0, 'final_threshold': 0.03}


@pytest.fixture
def client(tmp_path):
    app = FastAPI()
    # the dashboard's own guard, as off loopback: every route needs the token
    add_routes(app, data_root=tmp_path, guard=guard_dependency(Guard.for_bind('0.0.0.0', token=TOKEN)))
    with Registry(tmp_path) as reg:
        reg.insert_record(row(tmp_path, 'M1', 1, FINISHED, 1, 'all trials done'))
        failed = row(tmp_path, 'M2', 1, UNFINISHED, 0, 'camera failed: no frames (error)')
        reg.insert_record(failed)
    # its folder's summary row says so (an unfinished row is read again from its folder)
    append_summary_row(tmp_path / 'sessions_summary.csv', {
        'mouse_id': 'M2', 'data_path': failed['session_dir'], 'start': failed['started'], 'end': failed['ended'],
        'trials': 2, 'successes': 0, 'rewards': 0, 'water_ul': 0.0, 'final_threshold': 0.03,
        'end_reason': 'camera failed: no frames', 'end_error': True})
    return TestClient(app, headers={TOKEN_HEADER: TOKEN}), tmp_path


def test_list_of_experiments(client):
    c, _ = client
    names = [x['name'] for x in c.get('/experiments', headers={'accept': 'application/json'}).json()]
    assert 'example' in names
    page = c.get('/experiments')
    assert page.status_code == 200 and 'href="/experiments/example"' in page.text


def test_experiment_page_grid_due_failed_and_rigs(client):
    c, _ = client
    page = c.get('/experiments/example')
    assert page.status_code == 200
    text = page.text
    assert '<a href="/experiments/example/subjects/M1">M1</a>' in text
    # M1: day 1 finished, day 2 due; M2: day 1 failed and still due
    m1 = text.split('subjects/M1">M1</a>')[1].split('</tr>')[0]
    assert '<td class="finished" title="all trials done">ok</td>' in m1 and '<td>day 2</td>' in m1
    m2 = text.split('subjects/M2">M2</a>')[1].split('</tr>')[0]
    assert 'class="unfinished due"' in m2 and '<td>day 1</td>' in m2
    assert 'name="day" size="3" value="1"' in m2
    # the page's query (a dashboard token) goes with the start form
    with_token = c.get('/experiments/example?token=abc').text
    assert '<form method="post" action="/experiments/example/run?token=abc">' in with_token
    assert 'M2 day 1 (2026-12-01T10:00:00+00:00): camera failed: no frames (error)' in text
    rigs = text.split('id="rigs"')[1]
    assert '<th>rig1</th><td>101</td><td>this computer</td><td class="">free</td>' in rigs
    assert '<th>rig2</th><td>102</td>' in rigs


def test_unknown_experiment_and_subject(client):
    c, _ = client
    assert c.get('/experiments/nope').status_code == 404
    assert c.get('/experiments/..%2Fetc').status_code == 404
    assert c.get('/experiments/example/subjects/M9').status_code == 404


def test_subject_history_with_figures_and_learning_curve(client):
    c, tmp = client
    page = c.get('/experiments/example/subjects/M1')
    assert page.status_code == 200
    assert 'src="/experiments/example/subjects/M1/learning.png"' in page.text
    # opened with the token in its address, the page's images and links carry it
    with_token = c.get('/experiments/example/subjects/M1?token=abc').text
    assert 'learning.png?token=abc"' in with_token and 'summary.png?token=abc"' in with_token
    assert '<a href="/experiments/example?token=abc">back to' in with_token
    assert 'day 1: finished' in page.text and 'threshold at the end 0.03' in page.text
    figure = page.text.split('<img src="')[1].split('"')[0]
    assert figure.endswith('/summary.png')
    image = c.get(figure)
    assert image.status_code == 200 and image.content[:8] == b'\x89PNG\r\n\x1a\n'
    curve = c.get('/experiments/example/subjects/M1/learning.png')
    assert curve.status_code == 200 and curve.content[:8] == b'\x89PNG\r\n\x1a\n'
    assert (tmp / 'analysis' / 'example' / 'learning_M1.png').is_file()


def test_every_page_and_the_start_need_the_guard(client):
    c, _ = client
    body = {'subject': 'M2', 'day': 1, 'rig': 'rig2'}
    assert c.post('/experiments/example/run', json=body).status_code == 403   # no Origin
    no_token = {TOKEN_HEADER: ''}
    assert c.post('/experiments/example/run', json=body, headers={**no_token, **SAME_ORIGIN}).status_code == 401
    for path in ('/experiments', '/experiments/example', '/experiments/example/subjects/M1',
                 '/experiments/example/subjects/M1/learning.png', '/experiments/example/sessions/1/summary.png'):
        assert c.get(path, headers=no_token).status_code == 401, path
    assert c.get('/experiments/example/subjects/M1?token=' + TOKEN, headers=no_token).status_code == 200
    # a name, never a file of the working folder
    assert c.get('/experiments/example.yaml').status_code == 404


def test_start_refused_when_the_rig_or_the_subject_is_busy(client):
    c, tmp = client
    with Registry(tmp) as reg:   # a run of M1 on rig1 in this (live) process
        reg.start_session('example', 'M1', 2, 'rig1', 'clnf_1roi')
    headers = SAME_ORIGIN
    r = c.post('/experiments/example/run', json={'subject': 'M2', 'day': 1, 'rig': 'rig1'}, headers=headers)
    assert r.status_code == 409
    assert r.json()['detail'].startswith("rig 'rig1' is busy: M1 day 2 on rig1 (example), process ")
    r = c.post('/experiments/example/run', data={'subject': 'M1', 'day': '2', 'rig': 'rig2'}, headers=headers)
    assert r.status_code == 409 and r.json()['detail'].startswith("subject 'M1' is busy: M1 day 2 on rig1")
    page = c.get('/experiments/example').text
    assert '<th>rig1</th><td>101</td><td>this computer</td><td class="running">M1 day 2 since' in page


def test_start_refuses_a_day_not_planned_and_an_unknown_rig(client):
    c, _ = client
    headers = SAME_ORIGIN
    r = c.post('/experiments/example/run', json={'subject': 'M2', 'day': 7, 'rig': 'rig2'}, headers=headers)
    assert r.status_code == 400 and 'no day 7' in r.json()['detail']
    r = c.post('/experiments/example/run', json={'subject': 'M2', 'day': 1, 'rig': 'rig9'}, headers=headers)
    assert r.status_code == 400 and "no rig 'rig9'" in r.json()['detail']
