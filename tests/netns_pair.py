"""Two computers simulated on this machine, for the whole-graph tests that need them: two
network namespaces joined by a veth pair (addresses from the benchmarking range
198.18.0.0/15), each with a machine id of its own, always deleted at the end; and a watch
that counts the UDP packets through this machine's real interfaces (none may leave).
Needs root and iproute2 (the fixtures skip with the reason otherwise)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

NETNS_ETC = Path('/etc/netns')


def ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['ip', *args], capture_output=True, text=True)


@contextmanager
def netns_pair(prefix: str, roles: tuple[str, str], addresses: tuple[str, str]) -> Iterator[dict]:
    """{role: (namespace, interface)} of two namespaces named <prefix>-<role>-<tag>, joined by
    a veth pair with addresses[i]/30 on roles[i]'s end; deleted at the end (asserted)."""
    if os.geteuid() != 0:
        pytest.skip('needs root to create network namespaces (ip netns add)')
    if shutil.which('ip') is None or shutil.which('unshare') is None:
        pytest.skip('needs the ip (iproute2) and unshare (util-linux) commands')
    tag = uuid.uuid4().hex[:6]
    names = [f'{prefix}-{role}-{tag}' for role in roles]
    ifaces = [f'{prefix[:4]}{role[0]}{tag}'[:15] for role in roles]   # interface names: at most 15 characters
    made = []
    try:
        for ns in names:
            r = ip('netns', 'add', ns)
            if r.returncode != 0:
                pytest.skip(f'cannot create a network namespace: ip netns add {ns}: {r.stderr.strip()}')
            made.append(ns)
            # a machine id of its own (ip netns exec mounts /etc/netns/NS/* over /etc): Fast DDS
            # and the experiment registry tell computers apart by it
            (NETNS_ETC / ns).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / ns / 'machine-id').write_text(uuid.uuid4().hex + '\n')
        steps = [['link', 'add', ifaces[0], 'netns', names[0], 'type', 'veth', 'peer', 'name', ifaces[1],
                  'netns', names[1]]]
        for ns, iface, address in zip(names, ifaces, addresses):
            steps += [['-n', ns, 'addr', 'add', f'{address}/30', 'dev', iface], ['-n', ns, 'link', 'set', 'lo', 'up'],
                      ['-n', ns, 'link', 'set', iface, 'up']]
        for args in steps:
            r = ip(*args)
            assert r.returncode == 0, f'ip {" ".join(args)}: {r.stderr}'
        yield {role: (ns, iface) for role, ns, iface in zip(roles, names, ifaces)}
    finally:
        for ns in made:
            ip('netns', 'delete', ns)
            shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
        left = ip('netns', 'list').stdout
        assert not any(ns in left for ns in names), left


def on_computer(ns: str, cmd: list[str]) -> list[str]:
    """`cmd` as on a computer of its own: its network namespace, and (a mount namespace) its
    own /dev/shm, so Fast DDS shared-memory ports of two sides cannot collide as on one machine."""
    return ['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
            'mount -t tmpfs -o size=256m tmpfs /dev/shm && exec "$@"', 'computer', *cmd]


def stop_group(proc: subprocess.Popen, timeout_s: float = 15) -> None:
    """Ctrl-C to the process group of `proc` (started with start_new_session), then a kill."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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
