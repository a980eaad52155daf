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
import os
from pathlib import Path
from typing import Mapping

LOCK_DIR = Path(os.environ.get('CLOPY_LOCK_DIR', '/tmp/clopy-domain-locks'))
# 1..101: the IDs whose DDS ports stay clear of Linux's ephemeral port range.
DOMAIN_IDS = range(1, 102)


def fastdds_profile() -> Path:
    """Path of config/fastdds_loopback.xml (installed share/clopy, else the checkout)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('clopy')) / 'config' / 'fastdds_loopback.xml'
        if installed.exists():
            return installed
    except Exception:  # noqa: BLE001 - not installed: fall back to the source tree
        pass
    source = Path(__file__).resolve().parents[3] / 'config' / 'fastdds_loopback.xml'
    if source.exists():
        return source
    raise FileNotFoundError('config/fastdds_loopback.xml not found: is the clopy package built?')


class DomainLease:
    """A ROS_DOMAIN_ID held for as long as this object is open.

    The lease is an exclusive lock on a file per ID, so it is released by the
    kernel even when the holder is killed.
    """

    def __init__(self, preferred: int | None = None) -> None:
        self.domain_id: int | None = None
        self._fd: int | None = None
        self._preferred = preferred

    def acquire(self) -> int:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        start = self._preferred if self._preferred is not None else (os.getpid() % len(DOMAIN_IDS))
        order = [DOMAIN_IDS[(start + i) % len(DOMAIN_IDS)] for i in range(len(DOMAIN_IDS))]
        for candidate in order:
            fd = os.open(LOCK_DIR / f'{candidate}.lock', os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._fd, self.domain_id = fd, candidate
            return candidate
        raise RuntimeError(f'every ROS domain ID 1-101 is in use (locks in {LOCK_DIR})')

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'DomainLease':
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def loopback_env(domain_id: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process: `base` (default os.environ) with
    loopback-only discovery, the loopback Fast DDS profile and `domain_id`."""
    env = dict(os.environ if base is None else base)
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    # Fast DDS 3 (Kilted, the PyPI wheels) reads FASTDDS_*, Fast DDS 2 (Humble, Jazzy)
    # FASTRTPS_*; set only the one it reads (Fast DDS 3 loads both and then complains)
    profile_key = ('FASTRTPS_DEFAULT_PROFILES_FILE' if env.get('ROS_DISTRO') in ('humble', 'jazzy')
                   else 'FASTDDS_DEFAULT_PROFILES_FILE')
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)
    env[profile_key] = str(fastdds_profile())
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
