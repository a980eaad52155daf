"""The recorder node, a real process with real rclpy: why the session ended goes into
events.tsv (the first SessionEnd, else what the recorder infers), the folder carries
the UNFINISHED marker, and a full disk (the free-space limit, or ENOSPC on a small
tmpfs, root only) ends the session cleanly: bag closed, no traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import rclpy

from clopy_common import qos
from clopy_common.session_end import ENDED_WITH_ERROR
from clopy_data.folder import SessionFolder
from clopy_data.session import read_event_log, session_info
from clopy_interfaces.msg import SessionEnd, TaskEvent

RECORDER = [sys.executable, '-m', 'clopy.recorder_node']


def recorder_args(session: Path, *params: str) -> list[str]:
    args = ['--ros-args', '-p', f'session_dir:={session}', '-p', 'paradigm:=clnf_1roi', '-p', 'finish:=false',
            '-p', 'flush_period_s:=0.2', '-p', 'mouse:=m1']
    for p in params:
        args += ['-p', p]
    return args


def start_recorder(session: Path, *params: str) -> subprocess.Popen:
    proc = subprocess.Popen(RECORDER + recorder_args(session, *params), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: SessionFolder(session).events.is_file(), proc)
    return proc


def wait_for(condition, proc=None, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, 'timed out'
        assert proc is None or proc.poll() is None, proc.communicate()[0]
        time.sleep(0.05)


def end_rows(session: Path) -> dict:
    info = session_info(read_event_log(SessionFolder(session).events))
    return {k: info.get(k) for k in ('end_reason', 'end_error', 'end_time')}


@pytest.fixture
def probe():
    rclpy.init()
    node = rclpy.create_node('recorder_test_probe')
    yield node
    node.destroy_node()
    rclpy.shutdown()


def spin_until(node, condition, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return out


def test_stopped_without_a_reason_is_stopped_by_the_user_and_marked_unfinished(tmp_path):
    session = tmp_path / 'clnf_1roi' / 'm1_1'
    proc = start_recorder(session)
    assert SessionFolder(session).unfinished_marker.is_file(), 'marked from the start'
    out = stop(proc)
    assert proc.returncode == 0, out
    rows = end_rows(session)
    assert rows['end_reason'] == 'stopped by the user' and rows['end_error'] == 'false' and rows['end_time'], rows
    folder = SessionFolder(session)
    assert folder.bag_closed
    assert folder.unfinished, 'finish:=false: the table and summary row are not made, the marker stays'


def test_the_first_session_end_is_the_reason(tmp_path, probe):
    session = tmp_path / 'clnf_1roi' / 'm1_1'
    proc = start_recorder(session)
    pub = probe.create_publisher(SessionEnd, qos.SESSION_END, qos.SESSION_END_QOS)
    spin_until(probe, lambda: pub.get_subscription_count() >= 1)
    for reason, error in (('camera stalled: no frame for 12.0 s (limit 10.0 s)', True), ('all trials done', False)):
        msg = SessionEnd()
        msg.reason, msg.node, msg.error = reason, 'task', error
        pub.publish(msg)
    spin_until(probe, lambda: False, timeout_s=1.0)
    out = stop(proc)
    rows = end_rows(session)
    assert rows['end_reason'] == 'camera stalled: no frame for 12.0 s (limit 10.0 s)', out
    assert rows['end_error'] == 'true'
    from clopy_data.bag import read_bag, typestore_with_clopy
    recorded = [m.msg.reason for m in read_bag(SessionFolder(session).bag, typestore_with_clopy(),
                                                 topics=['session_end'])]
    assert recorded[0].startswith('camera stalled') and 'all trials done' in recorded


def test_a_session_node_that_left_the_graph_is_named(tmp_path, probe):
    session = tmp_path / 'clnf_1roi' / 'm1_1'
    proc = start_recorder(session)
    node = subprocess.Popen([sys.executable, '-c', textwrap.dedent('''
        import rclpy
        rclpy.init()
        node = rclpy.create_node('roi_dff')
        try:
            rclpy.spin(node)
        except KeyboardInterrupt:
            pass
        node.destroy_node()
    ''')])
    # the recorder looks once a second: seen by this probe, then two looks more
    spin_until(probe, lambda: 'roi_dff' in probe.get_node_names(), timeout_s=60)
    spin_until(probe, lambda: False, timeout_s=2.5)
    node.send_signal(signal.SIGINT)
    node.wait(timeout=30)
    spin_until(probe, lambda: 'roi_dff' not in probe.get_node_names(), timeout_s=60)
    spin_until(probe, lambda: False, timeout_s=2.5)
    out = stop(proc)
    rows = end_rows(session)
    assert rows['end_reason'] == 'node roi_dff left the graph' and rows['end_error'] == 'true', out


PARENT = textwrap.dedent('''
    import subprocess, sys, time
    p = subprocess.Popen(sys.argv[1:])
    print(p.pid, flush=True)
    time.sleep(600)
''')


def test_a_recorder_whose_parent_dies_says_clopy_run_died(tmp_path):
    session = tmp_path / 'clnf_1roi' / 'm1_1'
    parent = subprocess.Popen([sys.executable, '-c', PARENT, *RECORDER, *recorder_args(session)],
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        wait_for(lambda: SessionFolder(session).events.is_file())
        time.sleep(1)
        parent.kill()   # as a SIGKILLed clopy run: the recorder is re-parented
        parent.wait()
        wait_for(lambda: end_rows(session)['end_time'] is not None, timeout_s=60)
        rows = end_rows(session)
        assert rows['end_reason'] == 'clopy run died' and rows['end_error'] == 'true', rows
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ------------------------------------------------------------------ a full disk


@pytest.fixture
def small_fs(tmp_path):
    """A 16 MB tmpfs (mounting needs root)."""
    if os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root')
    mount = tmp_path / 'small'
    mount.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', str(mount)]).returncode != 0:
        pytest.skip('cannot mount a tmpfs here')
    yield mount
    subprocess.run(['umount', '-l', str(mount)])


def fill_disk(probe, session: Path, min_free_mb: int) -> tuple[list, subprocess.Popen, str]:
    """A recorder with `min_free_mb`, fed big task events (into the bag and the TSV) until
    it ends the session: (the SessionEnd records, the process, its output)."""
    proc = start_recorder(session, f'min_free_mb:={min_free_mb}')
    ends: list = []
    probe.create_subscription(SessionEnd, qos.SESSION_END, ends.append, qos.SESSION_END_QOS)
    pub = probe.create_publisher(TaskEvent, qos.TASK_EVENT, qos.EVENT_QOS)
    spin_until(probe, lambda: pub.get_subscription_count() >= 1)
    deadline = time.monotonic() + 60
    i = 0
    while not ends and proc.poll() is None and time.monotonic() < deadline:
        msg = TaskEvent()
        msg.type, msg.subtype, msg.content = 'print', 'filler', 'x' * 200_000
        msg.time_s = 0.01 * i
        i += 1
        pub.publish(msg)
        rclpy.spin_once(probe, timeout_sec=0.05)
    spin_until(probe, lambda: bool(ends), timeout_s=10)
    out, _ = proc.communicate(timeout=60)
    assert ends and ends[0].reason.startswith('disk full: ') and ends[0].error, out
    assert proc.returncode == ENDED_WITH_ERROR, out
    assert 'Traceback' not in out, out
    return ends, proc, out


def test_below_min_free_mb_the_recorder_closes_and_ends_the_session(small_fs, probe):
    session = small_fs / 'clnf_1roi' / 'm1_1'
    ends, proc, out = fill_disk(probe, session, 8)
    assert ends[0].reason.endswith('MB free (limit 8 MB)') and ends[0].node == 'recorder', out
    assert SessionFolder(session).bag_closed, 'the bag was closed while there was room'
    rows = end_rows(session)
    assert rows['end_reason'] == ends[0].reason and rows['end_error'] == 'true' and rows['end_time'], rows


def test_enospc_ends_the_session_in_one_line_without_a_traceback(small_fs, probe):
    session = small_fs / 'clnf_1roi' / 'm1_1'
    ends, proc, out = fill_disk(probe, session, 0)
    assert ends[0].reason == 'disk full: No space left on device', out
    assert len([line for line in out.splitlines() if 'closing the bag and the event log' in line]) == 1, out
    assert SessionFolder(session).unfinished_marker.is_file()


def test_under_ros2_launch_the_first_node_exit_is_the_reason(tmp_path):
    """ros2 launch writes each node process that exits before its shutdown into
    logs/node_exits.tsv (launch_common); with no SessionEnd, the first one is the reason."""
    session = tmp_path / 'clnf_1roi' / 'm1_1'
    proc = start_recorder(session)
    folder = SessionFolder(session)
    folder.record_node_exit('camera', -9)
    folder.record_node_exit('task', 0)
    out = stop(proc, signal.SIGINT)
    rows = end_rows(session)
    assert rows['end_reason'] == 'node camera died (SIGKILL)' and rows['end_error'] == 'true', out
