"""Serving a dashboard app with uvicorn in a thread of its own (the node's executor keeps
the main thread). Port 0 takes a free port; `Server.port` is the real one. Access logs
stay off: a URL may carry the token."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn

from clopy_dashboard.security import is_loopback


def url_host(host: str) -> str:
    """The address to print: a wildcard bind is reached through 127.0.0.1 on this computer."""
    if host in ('0.0.0.0', '::', ''):
        return '127.0.0.1'
    return f'[{host}]' if ':' in host else host


class Server:
    def __init__(self, app, host: str = '127.0.0.1', port: int = 0) -> None:
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, int(port)))
        except OSError as exc:
            self.sock.close()
            raise OSError(f'dashboard: cannot listen on {host}:{port}: {exc.strerror or exc}') from exc
        self.sock.listen(64)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.loopback = is_loopback(host)
        config = uvicorn.Config(app, log_level='warning', access_log=False, ws='websockets-sansio',
                                timeout_graceful_shutdown=2, lifespan='off')
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={'sockets': [self.sock]},
                                       name='dashboard-http', daemon=True)

    @property
    def url(self) -> str:
        return f'http://{url_host(self.host)}:{self.port}'

    def start(self, timeout_s: float = 10.0) -> 'Server':
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError(f'dashboard: the web server did not start on {self.host}:{self.port}')
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout_s)
        self.sock.close()
