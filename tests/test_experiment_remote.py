"""A rig on another computer, shown and started from the central experiment page: two
network namespaces joined by a veth pair (the central computer 198.18.0.5, the rig
computer 198.18.0.6), each with its own `clopy dashboard` and data root. The rig's
dashboard runs with --token-file (made here, 0600) and --rig rig2; the central one with
--rig-token rig2=FILE. A start of M2 on rig2 from the central page must run the session
in the rig's namespace (its folder under the rig's data root), the central page must show
it running and then finished with its record (imported into the central registry), the
subject must be refused elsewhere while it runs, the threshold must go there with the
start and come back with the record, and no UDP may leave through the real interfaces.
Needs root (skipped otherwise)."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml

from clopy.profile import load_profile, update_profile
from clopy.rosenv import DomainLease, loopback_env
from clopy_data.folder import SessionFolder
from clopy_data.session import read_event_log
from netns_pair import UdpWatch, ip, netns_pair, on_computer, stop_group

from clopy_dashboard.experiment.pairing import RIG_ENV, TOKENS_ENV
from clopy_dashboard.experiment.registry import FINISHED, Registry

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / 'config' / 'experiments' / 'example.yaml'
CENTRAL_ADDRESS, RIG_ADDRESS = '198.18.0.5', '198.18.0.6'
RIG_PORT, CENTRAL_PORT = 8090, 8091
RIG_URL, CENTRAL_URL = f'http://{RIG_ADDRESS}:{RIG_PORT}', f'http://127.0.0.1:{CENTRAL_PORT}'
START_THRESHOLD = 0.0421   # the central profile's: M2's day 1 starts there on the rig
# one request from inside a namespace (the test's own process is in neither)
HTTP = r'''
import json, sys, urllib.error, urllib.request
a = json.load(sys.stdin)
body = None if a['body'] is None else json.dumps(a['body']).encode()
req = urllib.request.Request(a['url'], data=body, method=a['method'], headers=a['headers'])
try:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=30) as r:
        print(json.dumps([r.status, r.read().decode()]))
except urllib.error.HTTPError as e:
    print(json.dumps([e.code, e.read().decode()]))
except OSError as e:
    print(json.dumps([0, str(e)]))
'''


def http(ns: str, method: str, url: str, body: dict | None = None, **headers: str) -> tuple[int, str]:
    """(status, text) of a request made in namespace `ns` (status 0: no answer)."""
    if body is not None:
        headers.setdefault('content-type', 'application/json')
    r = subprocess.run(['ip', 'netns', 'exec', ns, sys.executable, '-c', HTTP], text=True, capture_output=True,
                       input=json.dumps({'method': method, 'url': url, 'body': body, 'headers': headers}), timeout=60)
    assert r.returncode == 0, r.stderr
    status, text = json.loads(r.stdout)
    return status, text


def page(ns: str) -> dict:
    status, text = http(ns, 'GET', f'{CENTRAL_URL}/experiments/remote', accept='application/json')
    assert status == 200, text
    return json.loads(text)


def dashboard(ns: str, log: Path, env: dict, *args: str) -> subprocess.Popen:
    """`clopy dashboard` on a computer of its own: its namespace and its own /dev/shm."""
    cmd = on_computer(ns, [sys.executable, '-m', 'clopy.cli', 'dashboard', *args])
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while 'dashboard http://' not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return proc


def wait_for(what, timeout_s: float, why):
    deadline = time.monotonic() + timeout_s
    while not (found := what()):
        assert time.monotonic() < deadline, why()
        time.sleep(0.5)
    return found


def test_a_rig_on_another_computer_is_started_and_shown_from_the_central_page(tmp_path):
    central_root, rig_root = tmp_path / 'central', tmp_path / 'rig'
    token_file = tmp_path / 'rig2.token'   # made by the rig's dashboard, copied to the central computer
    watch = UdpWatch(tmp_path)
    procs: list[subprocess.Popen] = []
    with netns_pair('clopy-exp', ('central', 'rig'), (CENTRAL_ADDRESS, RIG_ADDRESS)) as pair, \
            DomainLease() as rig1, DomainLease() as rig2:
        names = (pair['central'][0], pair['rig'][0])
        central_ns, rig_ns = names
        data = yaml.safe_load(EXAMPLE.read_text())
        data['name'] = 'remote'
        data['rigs'] = [{'name': 'rig1', 'domain_id': rig1.domain_id},
                        {'name': 'rig2', 'domain_id': rig2.domain_id, 'host': RIG_ADDRESS, 'dashboard': RIG_URL}]
        # day 1 without a threshold of its own: it starts where the subject's profile says
        day1 = data['plans']['grp1'][0]
        day1['set'] = [s for s in day1['set'] if not s.startswith('task.v.threshold=')]
        # a long first rest: M2 still runs on rig2 while the refusals below are asked, however loaded the machine
        day1['set'] = [('task.v.initial_rest_s=25.0' if s.startswith('task.v.initial_rest_s=') else s)
                       for s in day1['set']]
        for root in (central_root, rig_root):
            (root / 'experiments').mkdir(parents=True)
            (root / 'experiments' / 'remote.yaml').write_text(yaml.safe_dump(data, sort_keys=False))
        update_profile(central_root, 'M2', paradigm='clnf_1roi',
                       paradigm_parameters={'task.v.threshold': START_THRESHOLD})
        env = {k: v for k, v in loopback_env(rig1.domain_id).items() if k not in (RIG_ENV, TOKENS_ENV)}
        watch.start()
        try:
            procs.append(dashboard(rig_ns, tmp_path / 'rig.log', env, '--out', str(rig_root), '--host', RIG_ADDRESS,
                                   '--port', str(RIG_PORT), '--token-file', str(token_file), '--rig', 'rig2'))
            token = token_file.read_text().strip()
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            procs.append(dashboard(central_ns, tmp_path / 'central.log', env, '--out', str(central_root),
                                   '--port', str(CENTRAL_PORT), '--rig-token', f'rig2={token_file}'))

            # the rig's dashboard: nothing without its token, nothing on its loopback
            state = f'{RIG_URL}/experiments/remote/rig/state'
            assert http(central_ns, 'GET', state)[0] == 401
            assert http(central_ns, 'GET', state, **{'x-clopy-token': token})[0] == 200
            status, text = http(central_ns, 'POST', f'{RIG_URL}/experiments/remote/rig/run',
                                {'subject': 'M2', 'day': 1, 'rig': 'rig2'})
            assert status == 401 and 'token missing or wrong' in text, text
            assert http(rig_ns, 'GET', f'http://127.0.0.1:{RIG_PORT}/experiments')[0] == 0

            # M2's day 1 on rig2, from the central page
            status, text = http(central_ns, 'POST', f'{CENTRAL_URL}/experiments/remote/run',
                                {'subject': 'M2', 'day': 1, 'rig': 'rig2'}, origin=CENTRAL_URL)
            assert status == 202, text
            assert json.loads(text)['on'] == RIG_URL
            now = page(central_ns)
            assert now['rigs']['rig2']['running']['subject'] == 'M2', now
            m2 = next(s for s in now['subjects'] if s['subject'] == 'M2')
            assert m2['running']['status'] == 'running' and m2['running']['rig'] == 'rig2'
            # while it runs there: M2 is refused on this computer's rig, rig2 refuses another subject
            status, text = http(central_ns, 'POST', f'{CENTRAL_URL}/experiments/remote/run',
                                {'subject': 'M2', 'day': 1, 'rig': 'rig1'}, origin=CENTRAL_URL)
            assert status == 409 and "subject 'M2' is busy: M2 day 1 on rig2" in text, text
            status, text = http(central_ns, 'POST', f'{CENTRAL_URL}/experiments/remote/run',
                                {'subject': 'M1', 'day': 1, 'rig': 'rig2'}, origin=CENTRAL_URL)
            assert status == 409, text
            assert f"rig2 ({RIG_URL}) refuses: rig 'rig2' is busy: M2 day 1 on rig2" in text, text

            # it ends there; the central page shows it finished, with its record
            def finished():
                day = next(s for s in page(central_ns)['subjects'] if s['subject'] == 'M2')['days'].get('1')
                return day if day and day['status'] == FINISHED else None
            row = wait_for(finished, 120, lambda: (tmp_path / 'rig.log').read_text()
                           + ''.join(p.read_text() for p in (rig_root / 'logs').glob('*.log')))
            assert row['rig'] == 'rig2' and row['trials'] == 2 and row['host'].startswith('rig rig2 at')

            # the session ran on the rig computer: its folder under the rig's data root only
            [folder] = [p.parent for p in rig_root.glob('clnf_1roi/M2_*/parameters.yaml')]
            assert not (central_root / 'clnf_1roi').exists()
            log = read_event_log(folder / 'events.tsv')
            assert 'run_end' in set(log.loc[log.type == 'variable', 'subtype'])
            # the threshold went with the start, and the one it ended with came back
            assert SessionFolder(folder).node_parameters('task')['v.threshold'] == START_THRESHOLD
            [imported] = Registry(central_root).sessions('remote', 'M2')
            assert imported['session_dir'] == str(folder) and imported['final_threshold'] != START_THRESHOLD
            assert load_profile(central_root, 'M2')['paradigms']['clnf_1roi']['task.v.threshold'] == \
                imported['final_threshold']
            status_out = subprocess.run([sys.executable, '-m', 'clopy.cli', 'experiment', 'status', 'remote',
                                         '--data-root', str(central_root)], env=env, capture_output=True, text=True,
                                        timeout=60)
            assert status_out.returncode == 0, status_out.stderr
            assert next(x for x in status_out.stdout.splitlines() if x.startswith('M2')).split()[3:5] == ['ok', '.']

            # the rig computer goes away: the page says so, and what it said last stands
            stop_group(procs[0])
            now = page(central_ns)
            assert 'cannot be reached' in now['rigs']['rig2']['unreachable'], now
            assert next(s for s in now['subjects'] if s['subject'] == 'M2')['days']['1']['status'] == FINISHED
            status, text = http(central_ns, 'GET', f'{CENTRAL_URL}/experiments/remote')
            assert status == 200 and f'<td class="unreachable">unreachable (rig2 ({RIG_URL}) cannot be reached' in text
        finally:
            for proc in procs:
                stop_group(proc)
            counts = watch.stop()
        logs = ''.join(p.read_text() for p in (tmp_path / 'rig.log', tmp_path / 'central.log'))
        assert token not in logs and 'token made in' in logs
    left = ip('netns', 'list').stdout
    assert not any(ns in left for ns in names), left
    assert sum(counts.values()) == 0, f'UDP on the real interfaces ({watch.tool}): {counts} {watch.seen}'
