"""Where the bridge listens. Loopback by default: the Foxglove WebSocket protocol has no
authentication, so anyone who reaches the port sees every topic. Another address is
only taken with ``allow_remote`` and is warned about. Plain Python."""
from __future__ import annotations

import ipaddress

# the address `clopy run --foxglove` prints, and the variable it hands its port over with
from clopy.foxglove_option import DEFAULT_PORT, PORT_ENV
from clopy.foxglove_option import HOST as DEFAULT_HOST

__all__ = ['DEFAULT_HOST', 'DEFAULT_PORT', 'PORT_ENV', 'BindError', 'check_bind', 'is_loopback']

REMOTE_WARNING = ('WARNING: the Foxglove bridge listens on {host}:{port}, beyond this computer. The Foxglove '
                  'WebSocket protocol has no authentication: anyone who can reach this port sees every topic '
                  'of the session (the camera image included). Use it on a trusted network only.')


class BindError(ValueError):
    """A bind address that is not allowed as given."""


def is_loopback(host: str) -> bool:
    """True for a loopback address or 'localhost' (no name look-up otherwise)."""
    if host.strip().lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, allow_remote: bool, where: str = 'foxglove') -> str:
    """'' for a loopback bind; for another address the warning to print when
    ``allow_remote`` is set, else BindError naming the key, the value and what is allowed."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise BindError(f'{where}.port = {port!r}: allowed: a whole number from 0 (any free port) to 65535')
    if is_loopback(host):
        return ''
    if not allow_remote:
        raise BindError(f'{where}.host = {host!r}: not a loopback address; allowed: 127.0.0.1, ::1 or localhost, '
                        f'or any address together with {where}.allow_remote = true (the Foxglove WebSocket '
                        'protocol has no authentication)')
    return REMOTE_WARNING.format(host=host, port=port)

