"""The ROS environment every CLoPy process runs in: loopback-only DDS and a
domain ID of its own.

DDS discovery multicasts out of the real network interface by default. A
training rig is one computer unless the experimenter says otherwise, so every
process that `clopy run`, the demo or a test starts gets
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, the loopback Fast DDS profile and a
ROS_DOMAIN_ID leased for that run (two runs on one machine never cross-talk).
"""
from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

LOCK_DIR = Path(os.environ.get('CLOPY_LOCK_DIR', '/tmp/clopy-domain-locks'))
# 1..101: the IDs whose DDS ports stay clear of Linux's ephemeral port range.
DOMAIN_IDS = range(1, 102)


def fastdds_profile(name: str = 'fastdds_loopback.xml') -> Path:
    """Path of config/<name> (installed share/clopy, else the checkout); default the loopback profile."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('clopy')) / 'config' / name
        if installed.exists():
            return installed
    except Exception:  # noqa: BLE001 - not installed: fall back to the source tree
        pass
    source = Path(__file__).resolve().parents[3] / 'config' / name
    if source.exists():
        return source
    raise FileNotFoundError(f'config/{name} not found: is the clopy package built?')


def lock_path(domain_id: int, kind: str = 'domain') -> Path:
    """The lock file of a domain ('domain': the ID is taken; 'graph': a session graph runs on it)."""
    return LOCK_DIR / (f'{domain_id}.lock' if kind == 'domain' else f'graph-{domain_id}.lock')


class DomainBusy(RuntimeError):
    """The ROS domain asked for is held by another session (names the domain and the holder)."""


def _ancestors() -> set[int]:
    """This process and its ancestors (from /proc; just this process where /proc is absent)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
            pid = int(fields[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _describe_holder(info: dict) -> str:
    what = info.get('label') or 'a CLoPy process'
    pid = info.get('pid')
    since = info.get('since')
    return f'{what}' + (f' (pid {pid}' + (f', since {since}' if since else '') + ')' if pid else '')


class DomainLease:
    """A ROS_DOMAIN_ID held for as long as this object is open.

    The lease is an exclusive lock on a file per ID (``LOCK_DIR/<id>.lock``), so it is
    released by the kernel even when the holder is killed. The file names the holder
    (pid, label, start time) so that a refused run can say who has the domain.

    ``kind``: 'domain' (the ID is taken: nobody else picks it) or 'graph' (one session
    graph runs on this domain: the runner and, under ``ros2 launch``, the recorder node
    take it; a second graph on the same domain is refused).
    ``preferred``: that ID and no other (an explicit ``--domain-id``). When it is held,
    :class:`DomainBusy` names the holder, unless the holder is this process or one of
    its ancestors (a test or a shell that leased the domain and starts the graph in
    it): then the lease is inherited and this object holds nothing of its own.
    Without ``preferred``: the first free ID, starting from one derived from the pid.
    """

    def __init__(self, preferred: int | None = None, label: str = '', kind: str = 'domain') -> None:
        if kind not in ('domain', 'graph'):
            raise ValueError(f'kind={kind!r}; allowed: domain, graph')
        if kind == 'graph' and preferred is None:
            raise ValueError('a graph lease is for one named domain: give preferred')
        self.kind = kind
        self.domain_id: int | None = None
        self.inherited_from: dict | None = None
        self._fd: int | None = None
        self._preferred = preferred
        self._label = label

    def acquire(self) -> int:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        if self._preferred is not None:
            if not self._try(self._preferred):
                holder = self.holder(self._preferred)
                if holder.get('pid') in _ancestors():
                    self.inherited_from, self.domain_id = holder, self._preferred
                    return self._preferred
                raise DomainBusy(f'ROS_DOMAIN_ID={self._preferred} is in use by {_describe_holder(holder)}; '
                                 'a second graph on one domain would merge both sessions (each bag with both '
                                 'cameras, every reward driving both valves): stop that session, or leave out '
                                 '--domain-id to get a free domain (under ros2 launch: another ROS_DOMAIN_ID)')
            return self._preferred
        start = os.getpid() % len(DOMAIN_IDS)
        for i in range(len(DOMAIN_IDS)):
            candidate = DOMAIN_IDS[(start + i) % len(DOMAIN_IDS)]
            if self._try(candidate):
                return candidate
        raise RuntimeError(f'every ROS domain ID 1-101 is in use (locks in {LOCK_DIR})')

    def _try(self, candidate: int) -> bool:
        fd = os.open(lock_path(candidate, self.kind), os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        info = {'pid': os.getpid(), 'label': self._label,
                'since': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + '\n').encode(), 0)
        self._fd, self.domain_id = fd, candidate
        return True

    def relabel(self, label: str) -> None:
        """Name what holds the domain (e.g. the session folder, once it exists)."""
        self._label = label
        if self._fd is not None:
            info = {'pid': os.getpid(), 'label': label,
                    'since': datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')}
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, (json.dumps(info) + '\n').encode(), 0)

    def holder(self, domain_id: int) -> dict:
        """What the lock file of a domain says about its holder ({} when unknown)."""
        try:
            return json.loads(lock_path(domain_id, self.kind).read_text() or '{}')
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'DomainLease':
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _set_profile(env: dict[str, str], profile: Path) -> None:
    profile_key = ('FASTRTPS_DEFAULT_PROFILES_FILE' if env.get('ROS_DISTRO') in ('humble', 'jazzy')
                   else 'FASTDDS_DEFAULT_PROFILES_FILE')
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)
    env[profile_key] = str(profile)


def loopback_env(domain_id: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process: `base` (default os.environ) with
    loopback-only discovery, the loopback Fast DDS profile and `domain_id`."""
    env = dict(os.environ if base is None else base)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    # Fast DDS 3 (Kilted, the PyPI wheels) reads FASTDDS_*, Fast DDS 2 (Humble, Jazzy)
    # FASTRTPS_*; set only the one it reads (Fast DDS 3 loads both and then complains)
    _set_profile(env, fastdds_profile())
    if env.get('ROS_DISTRO') == 'humble':
        env['ROS_LOCALHOST_ONLY'] = '1'
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


LOOPBACK_KEYS = ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'FASTDDS_DEFAULT_PROFILES_FILE',
                 'FASTRTPS_DEFAULT_PROFILES_FILE', 'ROS_LOCALHOST_ONLY')


def apply_loopback(domain_id: int) -> None:
    """Set the loopback environment in this process (before rclpy.init)."""
    env = loopback_env(domain_id)
    for key in LOOPBACK_KEYS:
        os.environ.pop(key, None)
    os.environ.update({k: env[k] for k in LOOPBACK_KEYS if k in env})


# -- a rig of several computers (CLOPY_NETWORK=rig) ------------------------------------
NETWORK_MODES = ('loopback', 'rig')
RIG_KEYS = LOOPBACK_KEYS + ('ROS_STATIC_PEERS',)
_RIG_MARKER = '<!-- CLOPY_RIG_ADDRESSES -->'
_RIG_LOCATORS = '<!-- CLOPY_RIG_LOCATORS -->'


def network_mode(env: Mapping[str, str] | None = None) -> str:
    """CLOPY_NETWORK of `env` (default os.environ): 'loopback' (unset) or 'rig'."""
    mode = (os.environ if env is None else env).get('CLOPY_NETWORK', '') or 'loopback'
    if mode not in NETWORK_MODES:
        raise ValueError(f'CLOPY_NETWORK={mode!r}: allowed: {", ".join(NETWORK_MODES)} '
                         '(unset: loopback)')
    return mode


def parse_peers(text: str, source: str = '--peers') -> list[str]:
    """The peer computers of a rig from 'a;b' or 'a,b' (IPv4 addresses or host names).
    `source` names where the text came from, for the error message."""
    import ipaddress
    peers = [p.strip() for p in text.replace(',', ';').split(';') if p.strip()]
    if not peers:
        raise ValueError(f'{source} {text!r}: no peer; give the other computers\' addresses, e.g. 198.18.0.2')
    for peer in peers:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            if not all(part and part.replace('-', '').isalnum() for part in peer.split('.')):
                raise ValueError(f'{source} {text!r}: {peer!r} is neither an IP address nor a host name') from None
            continue
        if address.version != 4 or address.is_loopback or address.is_multicast or address.is_unspecified:
            raise ValueError(f'{source} {text!r}: {peer!r}: allowed are the IPv4 addresses of the other '
                             'computers of the rig (not loopback, multicast or the unspecified address)')
    return peers


def local_address_for(peer: str) -> str:
    """This computer's address on the route to `peer` (a UDP socket is connected, nothing is sent)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((peer, 7400))
        except OSError as exc:
            raise ValueError(f'peer {peer!r}: no route from this computer ({exc})') from None
        return s.getsockname()[0]


def rig_profile_xml(addresses: list[str], template: str | None = None) -> str:
    """config/fastdds_rig.xml with the UDP interface whitelist extended by `addresses`."""
    text = fastdds_profile('fastdds_rig.xml').read_text() if template is None else template
    if _RIG_MARKER not in text:
        raise ValueError(f'fastdds_rig.xml: the marker {_RIG_MARKER} is missing')
    entries = '\n          '.join(f'<address>{a}</address>' for a in addresses)
    locators = ''.join(f'<locator><udpv4><address>{a}</address></udpv4></locator>' for a in addresses)
    return text.replace(_RIG_MARKER, entries).replace(_RIG_LOCATORS, locators)


def rig_env(domain_id: int, peers: list[str], profile: Path,
            base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process on one computer of a rig: `base` (default
    os.environ) with discovery on this computer and the static `peers` only
    (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST + ROS_STATIC_PEERS), the rig Fast DDS
    profile `profile` and `domain_id` (the same on every computer of the rig)."""
    if not peers:
        raise ValueError('a rig needs its peers: --peers or ROS_STATIC_PEERS')
    env = dict(os.environ if base is None else base)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['ROS_STATIC_PEERS'] = ';'.join(peers)
    _set_profile(env, profile)
    env.pop('ROS_LOCALHOST_ONLY', None)
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def apply_env(env: Mapping[str, str], keys: tuple[str, ...] = RIG_KEYS) -> None:
    """Set `keys` of `env` in this process (unset those `env` lacks), before rclpy.init."""
    for key in keys:
        os.environ.pop(key, None)
    os.environ.update({k: env[k] for k in keys if k in env})
