"""A rig computer's dashboard and the central side that asks it, over real HTTP on this
computer's loopback: the rig's dashboard (its own data root and registry, a token,
CLOPY_RIG=rig2) in a thread of this process, the central registry in another folder.
What the rig says is imported (a running session holds its subject centrally, a finished
one carries its threshold to the central profile); a wrong token, a stopped rig and a
start from a browser of another site are refused with the reason."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from clopy.profile import load_profile, update_profile

from clopy_dashboard.commands import make_app
from clopy_dashboard.experiment.definition import load_experiment
from clopy_dashboard.experiment.pairing import RIG_ENV
from clopy_dashboard.experiment.registry import FINISHED, RUNNING, Busy, Registry
from clopy_dashboard.experiment.remote import (RigError, call, checked_sent_profile, profile_for_start,
                                               remote_rigs, sync, write_sent_profile)
from clopy_dashboard.security import TOKEN_HEADER, Guard
from clopy_dashboard.server import Server

EXAMPLE = Path(__file__).resolve().parents[3] / 'config' / 'experiments' / 'example.yaml'
TOKEN = 'rig-token-' + 'r' * 30


def session(day: int, subject: str, status: str, threshold: float | None, folder: str) -> dict:
    return {'experiment': 'two', 'subject': subject, 'day': day, 'rig': 'rig2', 'paradigm': 'clnf_1roi',
            'session_dir': folder, 'started': f'2026-12-0{day}T10:00:00+00:00', 'ended': '', 'status': status,
            'end_reason': 'all trials done', 'trials': 2, 'successes': 1, 'rewards': 1, 'water_ul': 0.0,
            'final_threshold': threshold}


@pytest.fixture
def rig(tmp_path, monkeypatch):
    """The rig computer's dashboard (a token, host of rig2) on a free loopback port, and the
    experiment file both sides have, with rig2's dashboard at that port."""
    monkeypatch.setenv(RIG_ENV, 'rig2')
    rig_root, central_root = tmp_path / 'rig', tmp_path / 'central'
    server = Server(make_app(rig_root, 'mouse', 'clnf_1roi', Guard.for_bind('127.0.0.1', token=TOKEN)),
                    '127.0.0.1', 0).start()
    data = yaml.safe_load(EXAMPLE.read_text())
    data['name'] = 'two'
    data['rigs'][1].update(host='rig2.lab', dashboard=server.url)
    for root in (rig_root, central_root):
        (root / 'experiments').mkdir(parents=True)
        (root / 'experiments' / 'two.yaml').write_text(yaml.safe_dump(data, sort_keys=False))
    exp = load_experiment(central_root / 'experiments' / 'two.yaml', check_plans=False)
    try:
        yield {'server': server, 'exp': exp, 'rig2': exp.rigs['rig2'], 'rig_root': rig_root,
               'central_root': central_root}
    finally:
        server.stop()


def test_what_the_rig_ran_is_imported_and_holds_its_subject(rig):
    exp, rig2 = rig['exp'], rig['rig2']
    with Registry(rig['rig_root']) as reg:   # the rig's registry: M2 finished there, M1 running (this process)
        reg.insert_record(session(1, 'M2', FINISHED, 0.052, '/rig/data/clnf_1roi/M2_20261201-100000'))
        running = reg.start_session('two', 'M1', 1, 'rig2', 'clnf_1roi', pid=os.getpid())
    with Registry(rig['central_root']) as central:
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        rows = {r['subject']: r for r in central.sessions('two')}
        assert rows['M2']['status'] == FINISHED and rows['M2']['host'] == f'rig rig2 at {rig2.dashboard}'
        assert rows['M1']['status'] == RUNNING and rows['M1']['rig'] == 'rig2'
        # the finished one's threshold is the subject's start here too
        assert load_profile(rig['central_root'], 'M2')['paradigms']['clnf_1roi']['task.v.threshold'] == 0.052
        # M1 runs there: no run here may take M1
        with pytest.raises(Busy, match=r"subject 'M1' is busy: M1 day 1 on rig2 \(two\), process \d+ on rig rig2 at"):
            central.start_session('two', 'M1', 1, 'rig1', 'clnf_1roi')
        # it ends there: the next look frees M1 here, and the rows are not doubled
        with Registry(rig['rig_root']) as reg:
            reg.update_session(running, {'status': FINISHED, 'final_threshold': 0.04, 'session_dir': '/rig/M1_x'})
            reg.release(running)
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        assert len(central.sessions('two')) == 2 and central.locks() == []
        central.release(central.start_session('two', 'M1', 2, 'rig1', 'clnf_1roi'))


def test_a_wrong_token_and_a_stopped_rig_are_said_and_what_it_said_last_stands(rig):
    exp, rig2 = rig['exp'], rig['rig2']
    with Registry(rig['rig_root']) as reg:
        reg.insert_record(session(1, 'M2', FINISHED, 0.05, '/rig/M2_a'))
    with Registry(rig['central_root']) as central:
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        wrong = sync(exp, central, {'rig2': 'x' * 30}, [rig2])
        assert wrong['rig2'].startswith(f'token wrong or missing for rig2 ({rig2.dashboard})')
        assert sync(exp, central, {}, [rig2])['rig2'].startswith(f'no token for rig2 ({rig2.dashboard})')
        rig['server'].stop()
        gone = sync(exp, central, {'rig2': TOKEN}, [rig2])
        assert gone['rig2'].startswith(f'rig2 ({rig2.dashboard}) cannot be reached: ')
        assert [r['subject'] for r in central.sessions('two')] == ['M2']


def test_a_start_sent_to_the_rig_needs_its_token_and_is_refused_when_busy(rig):
    rig2 = rig['rig2']
    body = {'subject': 'M2', 'day': 1, 'rig': 'rig2',
            'profile': {'paradigms': {'clnf_1roi': {'task.v.threshold': 0.07}}}}
    with pytest.raises(RigError, match=r'token wrong or missing for rig2'):
        call(rig2, 'y' * 30, 'POST', '/experiments/two/rig/run', body)
    with Registry(rig['rig_root']) as reg:   # rig2 is busy there
        reg.start_session('two', 'M1', 1, 'rig2', 'clnf_1roi', pid=os.getpid())
    with pytest.raises(RigError) as info:
        call(rig2, TOKEN, 'POST', '/experiments/two/rig/run', body)
    assert info.value.status == 409
    assert str(info.value).startswith(f"rig2 ({rig2.dashboard}) refuses: rig 'rig2' is busy: M1 day 1 on rig2")
    assert load_profile(rig['rig_root'], 'M2') == {}   # nothing written for a start refused
    # from a browser: a page of another site is refused even with the token; a rig it is not the host of too
    client = TestClient(rig['server'].server.config.app, base_url=rig2.dashboard)
    r = client.post('/experiments/two/rig/run', json=body,
                    headers={TOKEN_HEADER: TOKEN, 'origin': 'http://evil.example'})
    assert r.status_code == 403 and 'is not this page' in r.json()['detail']
    r = client.post('/experiments/two/rig/run', json=dict(body, rig='rig1'), headers={TOKEN_HEADER: TOKEN})
    assert r.status_code == 403 and "this computer is not the host of 'rig1'" in r.json()['detail']


def test_a_dashboard_without_a_token_takes_no_start_from_another_computer(tmp_path, monkeypatch):
    monkeypatch.setenv(RIG_ENV, 'rig2')
    client = TestClient(make_app(tmp_path, 'mouse', 'clnf_1roi', Guard.for_bind('127.0.0.1')))
    r = client.post('/experiments/example/rig/run', json={'subject': 'M2', 'day': 1, 'rig': 'rig2'})
    assert r.status_code == 403 and '--token-file' in r.json()['detail']


def test_the_profile_a_start_brings_is_only_the_carried_threshold(tmp_path):
    update_profile(tmp_path, 'M2', parameters={'roi_dff.bregma_row_px': 140.0}, paradigm='clnf_1roi',
                   paradigm_parameters={'task.v.threshold': 0.07, 'task.v.total_trials': 9})
    sent = profile_for_start(tmp_path, 'M2')
    assert sent == {'paradigms': {'clnf_1roi': {'task.v.threshold': 0.07}}}   # no alignment, no other key
    write_sent_profile(tmp_path / 'rig', 'M2', checked_sent_profile(sent))
    assert load_profile(tmp_path / 'rig', 'M2')['paradigms'] == {'clnf_1roi': {'task.v.threshold': 0.07}}
    for bad in ({'secrets': {}}, {'paradigms': {'clnf_1roi': 3}}, {'parameters': {'reward.max_valve_open_s': 9}},
                {'paradigms': {'clnf_1roi': {'reward.max_valve_open_s': 9.0}}},
                {'paradigms': {'clnf_1roi': {'task.v.threshold': float('nan')}}},
                {'paradigms': {'clnf_1roi': {'task.v.threshold': -1}}}, {'paradigms': {'nope': {}}}, 'text'):
        with pytest.raises(ValueError, match='profile: '):
            checked_sent_profile(bad)


def test_a_refused_start_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(RIG_ENV, 'rig2')
    guard = Guard.for_bind('127.0.0.1', token=TOKEN)
    client = TestClient(make_app(tmp_path, 'mouse', 'clnf_1roi', guard))
    r = client.post('/experiments/example/rig/run', headers={TOKEN_HEADER: TOKEN},
                    json={'subject': 'M2', 'day': 1, 'rig': 'rig2',
                          'profile': {'paradigms': {'clnf_1roi': {'task.v.threshold': 0.05, 'recorder.out_dir': 1}}}})
    assert r.status_code == 400 and 'profile: ' in r.json()['detail']
    assert load_profile(tmp_path, 'M2') == {} or 'paradigms' not in load_profile(tmp_path, 'M2')


def test_a_rig_of_this_computer_is_not_asked(rig, monkeypatch):
    assert remote_rigs(rig['exp']) == []   # CLOPY_RIG=rig2: this computer is its host
    monkeypatch.delenv(RIG_ENV)
    assert [r.name for r in remote_rigs(rig['exp'])] == ['rig2']


def test_a_data_root_both_computers_share_is_not_doubled(rig):
    """The rig's registry is the central one (one data root on a share): nothing is imported twice."""
    exp, rig2 = rig['exp'], rig['rig2']
    with Registry(rig['rig_root']) as reg:
        reg.insert_record(session(1, 'M2', FINISHED, 0.05, '/share/M2_a'))
        running = reg.start_session('two', 'M1', 1, 'rig2', 'clnf_1roi', pid=os.getpid())
        assert sync(exp, reg, {'rig2': TOKEN}, [rig2]) == {}
        assert len(reg.sessions('two')) == 2 and [x['session_id'] for x in reg.locks()] == [running, running]


def test_a_rig_that_answers_for_other_rigs_is_unreachable_and_its_running_rows_stand(rig, monkeypatch):
    """Its dashboard restarted without --rig rig2 (or with another --out) knows nothing of rig2:
    that answer never frees a subject rig2 runs."""
    exp, rig2 = rig['exp'], rig['rig2']
    with Registry(rig['rig_root']) as reg:
        reg.start_session('two', 'M2', 1, 'rig2', 'clnf_1roi', pid=os.getpid())
    with Registry(rig['central_root']) as central:
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        monkeypatch.setenv(RIG_ENV, 'rig9')
        said = sync(exp, central, {'rig2': TOKEN}, [rig2])
        assert 'answered as the host of rig9, not of rig2' in said['rig2'] and '--rig rig2' in said['rig2']
        assert [(r['subject'], r['status']) for r in central.sessions('two')] == [('M2', RUNNING)]
        with pytest.raises(Busy, match="subject 'M2' is busy"):
            central.start_session('two', 'M2', 1, 'rig1', 'clnf_1roi')


def test_a_start_sent_to_a_rig_holds_its_subject_until_the_rig_reports_it(rig):
    exp, rig2 = rig['exp'], rig['rig2']
    host = f'rig rig2 at {rig2.dashboard}'
    with Registry(rig['central_root']) as central:
        central.hold_remote('two', 'M2', host)
        with pytest.raises(Busy, match=r"subject 'M2' is busy: a start sent to rig rig2 at"):
            central.hold_remote('two', 'M2', host)   # a second start of M2, on any rig
        with pytest.raises(Busy, match="subject 'M2' is busy: a start sent to"):
            central.start_session('two', 'M2', 1, 'rig1', 'clnf_1roi')
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}   # the rig has not reported M2 yet
        assert [(x['name'], x['session_id']) for x in central.locks()] == [('M2', None)]
        with Registry(rig['rig_root']) as reg:   # now it runs there
            reg.start_session('two', 'M2', 1, 'rig2', 'clnf_1roi', pid=os.getpid())
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        [lock] = central.locks()
        assert lock['name'] == 'M2' and lock['session_id'] is not None
        central.hold_remote('two', 'M1', host)
        central.drop_remote_hold('two', 'M1', host)   # the rig refused: M1 is free again
        assert [x['name'] for x in central.locks()] == ['M2']


def test_an_earlier_day_on_the_rig_does_not_end_a_start_s_hold(rig):
    """The rig reports M2's finished day 1 while M2's day 2 is still starting there: M2 stays held."""
    exp, rig2 = rig['exp'], rig['rig2']
    with Registry(rig['rig_root']) as reg:
        reg.insert_record(session(1, 'M2', FINISHED, 0.05, '/rig/M2_day1'))
    with Registry(rig['central_root']) as central:
        central.hold_remote('two', 'M2', f'rig rig2 at {rig2.dashboard}')
        assert sync(exp, central, {'rig2': TOKEN}, [rig2]) == {}
        assert [(x['name'], x['session_id']) for x in central.locks()] == [('M2', None)]
