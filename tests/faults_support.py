"""Fault injection for the whole-graph tests (tests/test_faults.py): start `clopy run`
with its console in a file, find its node processes by their command lines, wait for
rows in the session's events.tsv or lines in its logs, stop, continue or kill a
process, watch the valve on the graph, and read back how the session ended."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

from clopy_data.bag import read_bag, typestore_with_clopy
from clopy_data.folder import SessionFolder
from clopy_data.postprocess import read_summary_row
from clopy_data.session import read_event_log

FPS = 15.0
# short sessions: 1 s rests, fixed threshold
QUICK = ['task.v.initial_rest_s=1.0', 'task.v.success_rest_s=1.0', 'task.v.fail_rest_s=1.0',
         'task.v.adaptive_threshold=false']
NODES = ('camera', 'roi_dff', 'task', 'tone', 'reward', 'recorder')


def stamp_s(obj) -> float:
    """Seconds of a header's stamp, or of a Time."""
    t = getattr(obj, 'stamp', obj)
    return t.sec + t.nanosec * 1e-9


def processes_with(marker: bytes) -> list[int]:
    """Pids of the processes whose command line contains `marker`."""
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                if marker in Path(f'/proc/{pid}/cmdline').read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def wait_until(predicate, timeout_s: float, what: str, period_s: float = 0.05):
    """The first true value of predicate() within timeout_s, else AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'{what}: not within {timeout_s} s')
        time.sleep(period_s)


class Run:
    """One `clopy run` started in its own process group, its console in <out>/console.txt."""

    def __init__(self, out: Path, paradigm: str, *args: str, sets=(), env: dict, domain_id: int | None = None):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.console_path = self.out / 'console.txt'
        cmd = [sys.executable, '-m', 'clopy.cli', 'run', paradigm, *args, '--out', str(self.out)]
        if domain_id is not None:
            cmd += ['--domain-id', str(domain_id)]
        for s in sets:
            cmd += ['--set', s]
        self._console = open(self.console_path, 'w')
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._console, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._dir: Path | None = None
        self.stopped: set[int] = set()

    # -- where things are ---------------------------------------------------
    @property
    def dir(self) -> Path:
        if self._dir is None:
            found = wait_until(lambda: list(self.out.glob('*/*/parameters.yaml')), 60, 'the session folder')
            assert len(found) == 1, found
            self._dir = found[0].parent
        return self._dir

    @property
    def marker(self) -> bytes:
        return str(self.dir / 'parameters.yaml').encode()

    def node_pid(self, name: str, timeout_s: float = 60) -> int:
        """The pid of the session's node `name` (its command line has `__node:=<name>`), or
        of the hot-path process for 'hotpath' (clopy run --composed)."""
        tag = b'/hotpath_node\0' if name == 'hotpath' else f'__node:={name}\0'.encode()

        def find():
            for pid in processes_with(self.marker):
                try:
                    if tag in Path(f'/proc/{pid}/cmdline').read_bytes():
                        return pid
                except OSError:
                    pass
            return None
        return wait_until(find, timeout_s, f'node {name} of {self.dir}')

    def left(self) -> list[int]:
        """Processes of this session still running (node processes, or clopy run itself)."""
        pids = processes_with(self.marker)
        if self.proc.poll() is None:
            pids.append(self.proc.pid)
        return pids

    # -- what it wrote --------------------------------------------------------
    def console(self) -> str:
        return self.console_path.read_text(errors='replace')

    def log(self, name: str) -> str:
        try:
            return SessionFolder(self.dir).log(name).read_text(errors='replace')
        except OSError:
            return ''

    def events(self):
        """events.tsv as read_event_log gives it (a row cut short by a kill is dropped)."""
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            return read_event_log(SessionFolder(self.dir).events)

    def rows(self, type_: str, subtype: str | None = None) -> list[str]:
        """Contents of the events.tsv rows of a type (and subtype)."""
        try:
            log = self.events()
        except (OSError, ValueError):
            return []
        sel = log.type == type_
        if subtype is not None:
            sel &= log.subtype == subtype
        return list(log.loc[sel, 'content'])

    def states(self) -> list[tuple[float, str]]:
        """(time_s, state) of the task's state rows in events.tsv, in order."""
        log = self.events()
        st = log[log.type == 'state']
        return list(zip(st.time, st.content))

    def wait_state(self, state: str, count: int = 1, timeout_s: float = 60) -> None:
        """Until events.tsv has `count` rows entering `state`."""
        wait_until(lambda: self.rows('state').count(state) >= count, timeout_s,
                   f'{count} x state {state!r} in events.tsv')

    # -- faults -----------------------------------------------------------------
    def signal_node(self, name: str, sig: signal.Signals) -> int:
        pid = self.node_pid(name)
        if sig == signal.SIGSTOP:
            self.stopped.add(pid)
        os.kill(pid, sig)
        if sig == signal.SIGCONT:
            self.stopped.discard(pid)
        return pid

    def wait(self, timeout_s: float = 120) -> int:
        try:
            return self.proc.wait(timeout_s)
        finally:
            self._console.flush()

    def close(self) -> None:
        """Teardown: continue what was stopped, stop what is left (clopy run, then its
        nodes, each by its pid), so no test leaves a process behind."""
        for pid in self.stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._dir is None:
            found = list(self.out.glob('*/*/parameters.yaml'))
            self._dir = found[0].parent if len(found) == 1 else None
        if self._dir is not None:
            for pid in processes_with(self.marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._console.close()

    # -- the record ---------------------------------------------------------------
    def bag(self, topic: str) -> list:
        return [m.msg for m in read_bag(self.dir / 'bag', typestore_with_clopy(), topics=[topic])]

    def summary(self) -> dict | None:
        return read_summary_row(SessionFolder.sessions_summary(self.out), self.dir)


def end_record(run: Run) -> dict:
    """How the session ended, from each record that says it: events.tsv (end_reason,
    end_error rows), the sessions_summary.csv row and the bag's session_end topic."""
    log = run.events()
    info = log[log.type == 'info']
    order = list(info.subtype)
    row = run.summary() or {}
    try:
        ends = run.bag('session_end')
    except Exception as exc:  # noqa: BLE001 - reported in the assertion that needs it
        ends = [exc]
    return {
        'tsv_reason': list(info.loc[info.subtype == 'end_reason', 'content']),
        'tsv_error': list(info.loc[info.subtype == 'end_error', 'content']),
        'end_rows_before_end_time': ('end_reason' in order and 'end_time' in order
                                     and order.index('end_reason') < order.index('end_time')),
        'csv_reason': str(row.get('end_reason', '')),
        # the table writes a flag as 1/0 (or true/false)
        'csv_error': {'1': 'true', '0': 'false'}.get(str(row.get('end_error', '')).lower(),
                                                     str(row.get('end_error', '')).lower()),
        'bag_reason': [getattr(m, 'reason', repr(m)) for m in ends],
        'bag_error': [getattr(m, 'error', None) for m in ends],
    }


def assert_ended(run: Run, prefix: str, error: bool, in_bag: bool = True) -> dict:
    """The end reason (starting with `prefix`) and its error flag in events.tsv (just before
    end_time), in the summary row and first in the bag's session_end topic (`in_bag` False:
    a reason the recorder inferred, with nobody left to publish it; the topic may be empty)."""
    rec = end_record(run)
    flag = 'true' if error else 'false'
    assert len(rec['tsv_reason']) == 1 and rec['tsv_reason'][0].startswith(prefix), rec
    assert rec['tsv_error'] == [flag], rec
    assert rec['end_rows_before_end_time'], rec
    assert rec['csv_reason'].startswith(prefix), rec
    assert rec['csv_error'] == flag, rec
    if in_bag or rec['bag_reason']:
        assert rec['bag_reason'] and rec['bag_reason'][0].startswith(prefix), rec
        assert rec['bag_error'][0] is error, rec
    return rec


def valve_records(run: Run) -> tuple[list, list]:
    """(opening records, closed pulse records) of the valve in the bag."""
    events = [m for m in run.bag('reward_event') if m.output == 0 and m.delivered]
    return [m for m in events if m.opened], [m for m in events if not m.opened]


def assert_valve_closed(run: Run, limit_s: float) -> list:
    """Every valve opening has its closing record (same on_time), open at most limit_s.
    Returns the closed pulse records."""
    opened, closed = valve_records(run)
    by_on = {stamp_s(m.on_time): m for m in closed}
    for m in opened:
        assert stamp_s(m.on_time) in by_on, f'opening at {stamp_s(m.on_time)} never closed: {sorted(by_on)}'
    for m in closed:
        length = stamp_s(m.off_time) - stamp_s(m.on_time)
        assert 0 < length <= limit_s + 0.05, (length, limit_s)
    return closed


def assert_no_process_left(run: Run, within_s: float = 30) -> None:
    """clopy run and every node of the session have exited within `within_s`."""
    wait_until(lambda: not run.left(), within_s, 'every process of the session gone',
               period_s=0.2)


def assert_no_traceback(run: Run) -> None:
    """No traceback (nor a KeyboardInterrupt cutting a clean-up short) on the console or in any node log."""
    texts = {'console': run.console()}
    for path in SessionFolder(run.dir).logs.glob('*.log'):
        texts[path.name] = path.read_text(errors='replace')
    bad = [name for name, text in texts.items() if 'Traceback' in text or 'KeyboardInterrupt' in text]
    assert not bad, {name: texts[name][-2000:] for name in bad}


def assert_pipeline_drained(run: Run) -> None:
    """The camera stopped first and the rest drained: the last recorded frame has its
    control signal in the bag too."""
    frames = [m.frame_index for m in run.bag('frame_info')]
    signals = {m.frame_index for m in run.bag('control_signal')}
    assert frames and max(frames) in signals, (max(frames), sorted(signals)[-5:])


def log_times(run: Run, name: str, text: str) -> list[float]:
    """Times (s since the epoch) of the lines of a node's log that contain `text`."""
    times = []
    for line in run.log(name).splitlines():
        if text in line and line.startswith('[') and '] [' in line:
            try:
                times.append(float(line.split('] [', 2)[1].split(']')[0]))
            except (IndexError, ValueError):
                pass
    return times


class GraphWatch:
    """A node in the session's domain (its own rclpy context, spun in a thread): when the
    valve opened (the opening record, or the valve command, whichever comes first) and
    the manual reward service."""

    def __init__(self, domain_id: int):
        import rclpy
        from clopy_common import qos
        from clopy_interfaces.msg import RewardCommand, RewardEvent
        from clopy_interfaces.srv import ManualReward
        from rclpy.executors import SingleThreadedExecutor
        self.context = rclpy.Context()
        self.context.init(domain_id=domain_id)
        self.node = rclpy.create_node(f'fault_watch_{os.getpid()}', context=self.context)
        self.valve_open_at: float | None = None
        self.reward_events: list = []
        self._lock = threading.Lock()

        def on_event(msg):
            with self._lock:
                self.reward_events.append(msg)
                if msg.output == 0 and msg.opened and self.valve_open_at is None:
                    self.valve_open_at = time.monotonic()

        def on_command(msg):
            with self._lock:
                if msg.output == 0 and self.valve_open_at is None:
                    self.valve_open_at = time.monotonic()
        self.node.create_subscription(RewardEvent, qos.REWARD_EVENT, on_event, qos.EVENT_QOS)
        self.node.create_subscription(RewardCommand, qos.REWARD, on_command, qos.VALVE_COMMAND_QOS)
        self.manual = self.node.create_client(ManualReward, qos.MANUAL_REWARD)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - the context is being shut down
                return

    def wait_valve_open(self, timeout_s: float = 60) -> float:
        """The monotonic time the valve opened."""
        return wait_until(lambda: self.valve_open_at, timeout_s, 'a valve opening on the graph', period_s=0.005)

    def manual_reward(self, duration_s: float, timeout_s: float = 30):
        """Call the reward node's manual_reward service; its response."""
        from clopy_interfaces.srv import ManualReward
        assert self.manual.wait_for_service(timeout_sec=timeout_s), 'manual_reward service never appeared'
        future = self.manual.call_async(ManualReward.Request(duration_s=duration_s, reason='fault test'))
        return wait_until(lambda: future.result() if future.done() else None, timeout_s, 'manual_reward answer')

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def mount_tmpfs(path: Path, size_mb: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size_mb}m', 'tmpfs', str(path)], check=True)


def unmount(path: Path) -> None:
    subprocess.run(['umount', '-l', str(path)], check=False)


def free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1e6
