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
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from clopy_data.bag import read_bag, typestore_with_clopy
from clopy_data.session import read_event_log
from clopy_data.tables import read_frame_table

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
NETNS_ETC = Path('/etc/netns')


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['ip', *args], capture_output=True, text=True)


@pytest.fixture
def rig_pair():
    """Two namespaces ('camera computer', 'session computer') joined by a veth pair;
    always deleted at the end (deleting a namespace deletes its end of the pair)."""
    if os.geteuid() != 0:
        pytest.skip('needs root to create network namespaces (ip netns add)')
    if shutil.which('ip') is None or shutil.which('unshare') is None:
        pytest.skip('needs the ip (iproute2) and unshare (util-linux) commands')
    tag = uuid.uuid4().hex[:6]
    cam_ns, ses_ns = f'clopy-rig-cam-{tag}', f'clopy-rig-ses-{tag}'
    cam_if, ses_if = f'crc{tag}', f'crs{tag}'   # interface names: at most 15 characters
    made = []
    try:
        for ns in (cam_ns, ses_ns):
            r = _ip('netns', 'add', ns)
            if r.returncode != 0:
                pytest.skip(f'cannot create a network namespace: ip netns add {ns}: {r.stderr.strip()}')
            made.append(ns)
            # a machine id of its own (ip netns exec mounts /etc/netns/NS/* over /etc): Fast DDS
            # tells computers apart by it, and two computers share neither loopback nor memory
            (NETNS_ETC / ns).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / ns / 'machine-id').write_text(uuid.uuid4().hex + '\n')
        for args in (['link', 'add', cam_if, 'netns', cam_ns, 'type', 'veth', 'peer', 'name', ses_if,
                      'netns', ses_ns],
                     ['-n', cam_ns, 'addr', 'add', f'{CAMERA_ADDRESS}/30', 'dev', cam_if],
                     ['-n', ses_ns, 'addr', 'add', f'{SESSION_ADDRESS}/30', 'dev', ses_if],
                     ['-n', cam_ns, 'link', 'set', 'lo', 'up'], ['-n', ses_ns, 'link', 'set', 'lo', 'up'],
                     ['-n', cam_ns, 'link', 'set', cam_if, 'up'], ['-n', ses_ns, 'link', 'set', ses_if, 'up']):
            r = _ip(*args)
            assert r.returncode == 0, f'ip {" ".join(args)}: {r.stderr}'
        yield {'camera': (cam_ns, cam_if), 'session': (ses_ns, ses_if)}
    finally:
        for ns in made:
            _ip('netns', 'delete', ns)
            shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
        left = _ip('netns', 'list').stdout
        assert cam_ns not in left and ses_ns not in left, left


def _real_interfaces() -> list[str]:
    """This machine's network interfaces that are up, loopback excepted."""
    names = []
    for path in sorted(Path('/sys/class/net').iterdir()):
        state = (path / 'operstate').read_text().strip() if (path / 'operstate').exists() else ''
        if path.name != 'lo' and state in ('up', 'unknown'):
            names.append(path.name)
    return names


class UdpWatch:
    """Counts the UDP packets through the real interfaces while it runs: tcpdump where
    it is installed, else a packet socket per interface (both need root)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.interfaces = _real_interfaces()
        self.counts = {name: 0 for name in self.interfaces}
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._procs: dict[str, subprocess.Popen] = {}
        self._threads: list[threading.Thread] = []
        self.tool = 'tcpdump' if shutil.which('tcpdump') else 'packet socket'

    def start(self) -> None:
        for name in self.interfaces:
            if self.tool == 'tcpdump':
                self._procs[name] = subprocess.Popen(
                    ['tcpdump', '-i', name, '-n', '-U', '-w', str(self.out / f'udp-{name}.pcap'), 'udp'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            else:
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL
                sock.bind((name, 0))
                sock.settimeout(0.2)
                t = threading.Thread(target=self._read, args=(name, sock), daemon=True)
                t.start()
                self._threads.append(t)

    def _read(self, name: str, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    frame = sock.recv(128)
                except socket.timeout:
                    continue
                ethertype, offset = int.from_bytes(frame[12:14], 'big'), 14
                if ethertype == 0x8100:   # one VLAN tag
                    ethertype, offset = int.from_bytes(frame[16:18], 'big'), 18
                udp = ((ethertype == 0x0800 and len(frame) > offset + 9 and frame[offset + 9] == 17)
                       or (ethertype == 0x86DD and len(frame) > offset + 6 and frame[offset + 6] == 17))
                if udp:
                    self.counts[name] += 1
                    if len(self.seen) < 5:
                        self.seen.append(f'{name}: {frame[:48].hex()}')

    def stop(self) -> dict[str, int]:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for name, proc in self._procs.items():
            proc.send_signal(signal.SIGINT)
            proc.wait(10)
            lines = subprocess.run(['tcpdump', '-r', str(self.out / f'udp-{name}.pcap'), '-n'],
                                   capture_output=True, text=True).stdout.splitlines()
            self.counts[name] = len(lines)
            self.seen += lines[:5]
        return self.counts


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
    # a computer of its own: its network namespace, and (a mount namespace) its own /dev/shm,
    # so Fast DDS shared-memory ports of the two sides cannot collide as on one machine
    cmd = ['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
           'mount -t tmpfs -o size=256m tmpfs /dev/shm && exec "$@"', 'computer', *run]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
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
