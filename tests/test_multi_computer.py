"""A rig of two computers, simulated on this machine: two network namespaces joined
by a veth pair (198.18.0.1/30 and 198.18.0.2/30, from the benchmarking range
198.18.0.0/15), created and deleted by the test. The camera runs in one
(`clopy run ... --nodes camera`), the rest of the graph with the recorder and the
session folder in the other (`clopy run ... --remote camera`), both with
CLOPY_NETWORK=rig and the other side as their only peer. The session must record
completely, the frames must cross the veth pair, and no UDP packet may leave
through this machine's real interfaces. Needs root (skipped otherwise)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clopy_data.bag import read_bag, typestore_with_clopy
from clopy_data.session import read_event_log
from clopy_data.tables import read_frame_table
from netns_pair import UdpWatch, ip, netns_pair, on_computer, stop_group

CAMERA_ADDRESS, SESSION_ADDRESS = '198.18.0.1', '198.18.0.2'
TRIALS = 2
# paradigm -> (the nodes on the camera computer, the topic of its per-frame signal, short settings)
SPLITS = {
    'clnf_1roi': (['camera'], 'roi_signal',
                  ['task.v.initial_rest_s=7.0', 'task.v.success_rest_s=2.0', 'task.v.fail_rest_s=2.0',
                   'task.v.adaptive_threshold=false', 'task.v.max_trial_s=5.0', 'camera.synthetic.activity=ramp']),
    'clmf': (['camera', 'pose'], 'pose',
             ['task.v.initial_rest_s=2.0', 'task.v.max_trial_s=5.0', 'task.v.success_rest_s=2.0',
              'task.v.fail_rest_s=2.0', '/**.synthetic_behaviour.bout_rate_hz=0.25',
              '/**.synthetic_behaviour.seed=4']),
}


_ip = ip


@pytest.fixture
def rig_pair():
    """Two namespaces ('camera computer', 'session computer') joined by a veth pair;
    always deleted at the end (deleting a namespace deletes its end of the pair)."""
    with netns_pair('clopy-rig', ('camera', 'session'), (CAMERA_ADDRESS, SESSION_ADDRESS)) as pair:
        yield pair


def _veth_rx_bytes(ns: str, ifname: str) -> int:
    r = _ip('-n', ns, '-s', '-j', 'link', 'show', 'dev', ifname)
    assert r.returncode == 0, r.stderr
    return int(json.loads(r.stdout)[0]['stats64']['rx']['bytes'])


def _socket_buffer_limits(ns: str) -> str:
    r = subprocess.run(['ip', 'netns', 'exec', ns, 'sysctl', 'net.core.rmem_max', 'net.core.wmem_max'],
                       capture_output=True, text=True)
    return r.stdout.strip().replace('\n', ', ')


def _clopy_run(ns: str, paradigm: str, out: Path, env: dict, *args: str) -> subprocess.Popen:
    run = [sys.executable, '-m', 'clopy.cli', 'run', paradigm, '--sim', '--out', str(out), *args]
    for s in SPLITS[paradigm][2]:
        run += ['--set', s]
    return subprocess.Popen(on_computer(ns, run), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _messages(d: Path, topic: str):
    return [m.msg for m in read_bag(d / 'bag', typestore_with_clopy(), topics=[topic])]


@pytest.mark.parametrize('paradigm', list(SPLITS))
def test_camera_on_one_computer_records_completely_on_the_other(paradigm, rig_pair, domain_id, tmp_path):
    remote, signal_topic, _ = SPLITS[paradigm]
    cam_ns, cam_if = rig_pair['camera']
    ses_ns, ses_if = rig_pair['session']
    watch = UdpWatch(tmp_path)
    watch.start()
    procs: list[subprocess.Popen] = []
    try:
        # each computer has its own /tmp: its own domain locks
        base = dict(os.environ, CLOPY_NETWORK="rig")
        base.pop('ROS_STATIC_PEERS', None)
        session = _clopy_run(ses_ns, paradigm, tmp_path / 'session',
                             dict(base, CLOPY_LOCK_DIR=str(tmp_path / 'locks-s')),
                             '--remote', ','.join(remote), '--peers', CAMERA_ADDRESS, '--domain-id', str(domain_id),
                             '--trials', str(TRIALS), '--mouse', 'rigmouse')
        procs.append(session)
        camera = _clopy_run(cam_ns, paradigm, tmp_path / 'camera',
                            dict(base, CLOPY_LOCK_DIR=str(tmp_path / 'locks-c'), ROS_STATIC_PEERS=SESSION_ADDRESS),
                            '--nodes', ','.join(remote), '--domain-id', str(domain_id))
        procs.append(camera)
        session_out, _ = session.communicate(timeout=120)
        camera_out, _ = camera.communicate(timeout=30)
    finally:
        for p in procs:
            stop_group(p)
        counts = watch.stop()
    report = f'--- session computer:\n{session_out}\n--- camera computer:\n{camera_out}'
    # both computers end cleanly: the session with its trials, the camera because the session ended
    assert session.returncode == 0, report
    assert camera.returncode == 0, report
    assert f'rig network, peers {CAMERA_ADDRESS}' in session_out, report
    assert 'session ended: the session ended on the other computer' in camera_out, report

    [d] = [p.parent for p in (tmp_path / 'session').glob('*/*/parameters.yaml')]
    # the network each side used: its own rig address whitelisted, the profile kept with the session
    assert f'<address>{SESSION_ADDRESS}</address>' in (d / 'fastdds_rig.xml').read_text()
    [cam_dir] = [p.parent for p in (tmp_path / 'camera').glob('*/*/parameters.yaml')]
    assert f'<address>{CAMERA_ADDRESS}</address>' in (cam_dir / 'fastdds_rig.xml').read_text()
    for name in remote:
        assert (cam_dir / 'logs' / f'{name}.log').exists(), name
        assert not (d / 'logs' / f'{name}.log').exists(), f'{name} did not run on the session computer'
    assert not (cam_dir / 'bag').exists() and not (cam_dir / 'events.tsv').exists()

    # the record is complete: frames from the remote camera, their control signals, the task's end
    images = _messages(d, 'image_raw')
    infos = _messages(d, 'frame_info')
    controls = _messages(d, 'control_signal')
    signals = _messages(d, signal_topic)
    print(f'{paradigm}: frames recorded {len(infos)}, images {len(images)}, {signal_topic} {len(signals)}, '
          f'control signals {len(controls)}')
    assert len(infos) > 60, len(infos)
    # each image carries its frame index (camera#<index>): the signal node needs no frame_info
    assert {m.header.frame_id for m in images} <= {f'camera#{m.frame_index}' for m in infos}
    assert sorted(m.frame_index for m in infos) == list(range(len(infos))), 'no frame lost on the way'
    # every image crossed the network (best effort, 64 KB datagrams: needs the profile's 4 MB
    # socket buffers, which the kernel caps at net.core.rmem_max / wmem_max)
    assert len(images) == len(infos), (len(images), len(infos), _socket_buffer_limits(ses_ns))
    assert len(controls) >= len(infos) - 2   # the last frames may arrive as the pipeline stops
    log = read_event_log(d / 'events.tsv')
    assert 'run_end' in set(log.loc[log.type == 'variable', 'subtype'])
    states = [m.content for m in _messages(d, 'task_event') if m.type == 'state']
    assert states.count('trial') == TRIALS and states[-1] == 'done', states
    table = read_frame_table(d / 'VideoTimestamp.txt')
    # one row per processed frame
    assert sorted(table.frame) == sorted({m.frame_index for m in controls} | {m.frame_index for m in signals})
    # every valve command delivered, every opening closed again
    commands = [m for m in _messages(d, 'reward') if m.output == 0]
    valve = [m for m in _messages(d, 'reward_event') if m.output == 0 and not m.opened]
    assert len(valve) == len(commands) and all(m.delivered for m in valve)
    opened = [m for m in _messages(d, 'reward_event') if m.output == 0 and m.opened]
    assert [m.on_time for m in opened] == [m.on_time for m in valve]
    for m in valve:
        assert m.off_time.sec + m.off_time.nanosec * 1e-9 > m.on_time.sec + m.on_time.nanosec * 1e-9
    # the frames crossed the veth pair (not shared memory, not another interface)
    assert _veth_rx_bytes(ses_ns, ses_if) >= sum(len(m.data) for m in images)
    # and nothing reached the real network
    assert sum(counts.values()) == 0, f'UDP on the real interfaces ({watch.tool}): {counts} {watch.seen}'
