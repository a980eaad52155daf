"""The node processes of one session: where an executable is, starting each with the
session's parameter file and its log in the session folder, stopping them in order,
and none outliving `clopy run` (parent-death signal)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from clopy_data.folder import SessionFolder

from clopy.paradigms import HOT_PATH

# '[ERROR] [1733000000.123456789] [camera]: ' and '[camera] ' in front of a node's log line
_LOG_PREFIX = re.compile(r'^(\[[A-Z]+\] \[[\d.]+\] \[[^\]]*\]: |\[\w+\] )')

STOP_TIMEOUT_S = 10.0
RECORDER_STOP_TIMEOUT_S = 60.0  # closes the bag, then makes the table, summary row and figure
HOT_PATH_STOP_TIMEOUT_S = 30.0  # camera, signal, task, tone and reward, one after the other


class ProcessError(RuntimeError):
    """A node executable is missing (names the path and what to run)."""


def executable(package: str, name: str) -> Path:
    from ament_index_python.packages import get_package_prefix
    path = Path(get_package_prefix(package)) / 'lib' / package / name
    if not path.exists():
        raise ProcessError(f'{package} {name} is not installed at {path}: run ./clopy.sh setup')
    return path


try:
    import ctypes
    _LIBC = ctypes.CDLL('libc.so.6', use_errno=True)   # loaded before any fork
except OSError:
    _LIBC = None


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM it when `clopy run` dies (even by SIGKILL),
    so no node outlives its session; the node then closes cleanly (valve shut,
    files flushed). Linux prctl(PR_SET_PDEATHSIG)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class Session:
    """The running processes of one session."""

    def __init__(self, session_dir: Path, params_path: Path, env: dict, quiet: bool = False):
        self.session_dir = session_dir
        self.params_path = params_path
        self.env = env
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, object] = {}
        SessionFolder(session_dir).logs.mkdir(exist_ok=True)

    def start(self, package: str, exe: str, name: str, nodes: list[str] | None = None,
              env: dict | None = None) -> None:
        """Start one node, or with `nodes` the hot-path process of those nodes (each keeps
        its own name: no __node remapping); `env` is added to the session's environment."""
        log = open(SessionFolder(self.session_dir).log(name), 'w')
        self.logs[name] = log
        own = ['--nodes', ','.join(nodes), '--ros-args'] if nodes else ['--ros-args', '-r', f'__node:={name}']
        self.procs[name] = subprocess.Popen(
            [str(executable(package, exe)), *own, '--params-file', str(self.params_path)],
            env=dict(self.env, **(env or {})), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_stop_with_parent)

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def error_lines(self, name: str) -> str:
        """The node's ERROR / configuration-error lines (why it failed), else its log's tail."""
        tail = self.log_tail(name, lines=200).splitlines()
        errors = [line for line in tail if '[ERROR]' in line or 'configuration error' in line
                  or line.startswith(('Traceback', 'Error', 'RuntimeError'))]
        return '\n'.join(errors[-5:]) if errors else '\n' + '\n'.join(tail[-12:])

    def first_error(self, name: str) -> str:
        """Why the node failed, in one line: its first ERROR or configuration-error line
        (without the log prefix), else the exception line that ends a traceback."""
        lines = [line.strip() for line in self.log_tail(name, lines=400).splitlines() if line.strip()]
        for line in lines:
            if '[ERROR]' in line or 'configuration error' in line:
                return _LOG_PREFIX.sub('', line)
        for i, line in enumerate(lines):
            if line.startswith('Traceback'):
                after = [x for x in lines[i + 1:] if not x.startswith(('File ', '^', '~'))]
                exception = next((x for x in after if re.match(r'^[\w.]+(Error|Exception|Interrupt)\b', x)), '')
                return exception or (after[-1] if after else line)
        return ''

    def log_tail(self, name: str, lines: int = 12) -> str:
        try:
            text = SessionFolder(self.session_dir).log(name).read_text(errors='replace')
        except OSError:
            return ''
        return '\n'.join(text.strip().splitlines()[-lines:])

    def stop(self, name: str, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        if name == 'recorder':
            timeout_s = RECORDER_STOP_TIMEOUT_S
        elif name == HOT_PATH[2]:   # its nodes stop one after the other
            timeout_s = HOT_PATH_STOP_TIMEOUT_S
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        log = self.logs.get(name)
        if log is not None:
            log.close()
        return proc.returncode

    def stop_all(self, drain_s: float = 0.5) -> dict[str, int | None]:
        """Stop in the reverse of the start order: the camera first, the recorder last."""
        codes = {}
        for name in reversed(list(self.procs)):
            codes[name] = self.stop(name)
            if name == 'camera':   # (the hot-path process drains inside itself)
                time.sleep(drain_s)   # let the last frames through the pipeline
        return codes
