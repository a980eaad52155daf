"""Who may change a session from the dashboard: the bind address, the token, the origin
of a request and the pace of valve actions. Plain Python (the FastAPI dependency that
applies it lives in clopy_dashboard.web).

- Loopback (127.0.0.0/8, ::1, localhost) is the default bind address and needs no token.
- Any other bind address needs a token: `Guard.for_bind(host)` makes one with `secrets`
  (the caller prints it once, on the console only; it is never written to a log).
- A state-changing request (POST) must carry the token when one is in force
  (header `X-Clopy-Token`) and an `Origin` that is the page's own (scheme://Host).
- The Host header must name the server by an address or `localhost` (a page that
  reaches the server through a DNS name of its own is refused: DNS rebinding).
- Valve actions are paced on top of the reward node's own limits (`RateLimit`).
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from clopy.dashboard_process import LOOPBACK_NAMES, is_loopback

__all__ = ['Guard', 'RateLimit', 'Refused', 'is_loopback', 'host_name']

TOKEN_HEADER = 'x-clopy-token'
TOKEN_QUERY = 'token'


class Refused(Exception):
    """A request the guard refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip('[]'))
        return True
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The host of a Host header ('127.0.0.1:8080' -> '127.0.0.1', '[::1]:80' -> '::1')."""
    return (urlsplit(f'//{host_header}').hostname or '').lower()


@dataclass
class Guard:
    """The dashboard's rules for one server: `token` None means none is in force (loopback)."""

    bind_host: str = '127.0.0.1'
    token: str | None = None

    @classmethod
    def for_bind(cls, host: str, token: str | None = None) -> 'Guard':
        """A loopback bind needs no token (one given is still enforced); any other gets one."""
        if token is None and not is_loopback(host):
            token = secrets.token_urlsafe(24)
        return cls(host, token)

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def check_host(self, host_header: str | None) -> None:
        """The Host header names the server by an address or a loopback name (against DNS
        rebinding); with a token in force any name (a bind by host name, e.g. rig1.lab),
        since a rebinding page has no token."""
        name = host_name(host_header or '')
        if self.token is not None and name:
            return
        if not name or not (_is_address(name) or name in LOOPBACK_NAMES):
            raise Refused(403, f'Host {host_header!r} refused: open the dashboard by its address '
                               f'(e.g. http://127.0.0.1:PORT)')

    def check_read(self, host_header: str | None, token: str | None) -> None:
        """A live view (the websocket): the host, and the token when one is in force."""
        self.check_host(host_header)
        if not self.token_ok(token):
            raise Refused(401, 'token missing or wrong: open the address printed with ?token=...')

    def check_origin(self, host_header: str | None, origin: str | None, required: bool = True) -> None:
        """The request comes from the page itself (a browser always says where from)."""
        if not origin:
            if required:
                raise Refused(403, 'a state-changing request needs an Origin header (the page itself)')
            return
        parts = urlsplit(origin)
        if parts.scheme not in ('http', 'https') or parts.netloc.lower() != (host_header or '').lower():
            raise Refused(403, f'Origin {origin!r} is not this page ({host_header!r})')

    def check_change(self, host_header: str | None, origin: str | None, token: str | None) -> None:
        """A state-changing request: the host, the same origin, and the token when in force."""
        self.check_host(host_header)
        self.check_origin(host_header, origin)
        if not self.token_ok(token):
            raise Refused(401, 'token missing or wrong: open the address printed with ?token=...')


@dataclass
class RateLimit:
    """At most `per_minute` actions in any 60 s and none closer than `min_interval_s`."""

    min_interval_s: float = 1.0
    per_minute: int = 20
    clock: Callable[[], float] = time.monotonic
    _times: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> str | None:
        """None and counted when allowed, else why not (nothing counted)."""
        with self._lock:
            now = self.clock()
            while self._times and now - self._times[0] >= 60.0:
                self._times.popleft()
            if self._times and now - self._times[-1] < self.min_interval_s:
                return (f'valve actions at most one per {self.min_interval_s:g} s '
                        f'(the last {now - self._times[-1]:.2f} s ago)')
            if len(self._times) >= self.per_minute:
                return f'valve actions at most {self.per_minute} per minute'
            self._times.append(now)
            return None
