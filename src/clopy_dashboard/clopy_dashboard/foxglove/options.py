"""Where the bridge listens. Loopback by default: the Foxglove WebSocket protocol has no
authentication, so anyone who reaches the port sees every topic; the project's rule is
that a server beyond loopback needs a token, which this protocol cannot carry. So the bridge
listens on loopback only; another computer reaches it through an SSH tunnel. Plain Python."""
from __future__ import annotations

import ipaddress

# the address `clopy run --foxglove` prints, and the variable it hands its port over with
from clopy.foxglove_option import DEFAULT_PORT, PORT_ENV
from clopy.foxglove_option import HOST as DEFAULT_HOST

__all__ = ['DEFAULT_HOST', 'DEFAULT_PORT', 'PORT_ENV', 'BindError', 'check_bind', 'is_loopback']

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


def check_bind(host: str, port: int, where: str = 'foxglove') -> None:
    """BindError naming the key, the value and what is allowed, for a port out of range or
    an address that is not loopback."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise BindError(f'{where}.port = {port!r}: allowed: a whole number from 0 (any free port) to 65535')
    if not is_loopback(host):
        raise BindError(f'{where}.host = {host!r}: not a loopback address; allowed: 127.0.0.1, ::1 or localhost '
                        '(the Foxglove WebSocket protocol has no authentication, so no token can guard another '
                        'address: reach the bridge from another computer through an SSH tunnel, docs/foxglove.md)')
