"""run_node under real signals: a small real rclpy node in its own process.

The node's close() takes a while and writes a file when it is done; the tests send
the signals that clopy run, a user or the kernel's parent-death signal send, and
check that close() ran to its end and what the node learnt."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

NODE = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from rclpy.node import Node
    from clopy_common.node_main import run_node

    OUT = Path(sys.argv[1])

    class Slow(Node):
        def __init__(self):
            super().__init__('node_main_probe')
            if len(sys.argv) > 3:   # waits on stop for the publishers of this topic to go
                self.upstream_topics = (sys.argv[3],)
                self.upstream_wait_s = 600.0
            (OUT / 'started').write_text('1')

        def close(self):
            (OUT / 'closing').write_text('1')
            end = time.monotonic() + float(sys.argv[2])
            while time.monotonic() < end:   # busy: signals land in the middle of Python code
                sum(range(1000))
            (OUT / 'closed.json').write_text(json.dumps({
                'parent_died': self.parent_died, 'signals': self.stop_request.signals}))

    sys.exit(run_node(Slow))
''')

# starts the node above, prints its pid, then waits (killed by the test: the node's parent dies)
PARENT = textwrap.dedent('''
    import subprocess, sys, time
    p = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2], sys.argv[3]])
    print(p.pid, flush=True)
    time.sleep(600)
''')


def start(tmp_path: Path, close_s: float = 1.0, *upstream: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, '-c', NODE, str(tmp_path), str(close_s), *upstream],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(tmp_path / 'started')
    return proc


def wait_for(path: Path, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < end, f'{path} never appeared'
        time.sleep(0.05)


def test_three_sigterms_10_ms_apart_let_close_finish(tmp_path):
    proc = start(tmp_path)
    for _ in range(3):   # the parent-death pattern: a few SIGTERMs a few ms apart
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.01)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert 'Traceback' not in out and 'KeyboardInterrupt' not in out, out
    closed = json.loads((tmp_path / 'closed.json').read_text())
    assert closed['parent_died'] is False
    assert 1 <= closed['signals'] <= 3   # pending signals of one kind may merge into one


def test_signals_during_close_are_absorbed(tmp_path):
    proc = start(tmp_path, close_s=2.5)
    proc.send_signal(signal.SIGINT)
    wait_for(tmp_path / 'closing')
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):   # a user pressing Ctrl-C again, later
        time.sleep(0.4)
        proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert 'Traceback' not in out, out
    assert json.loads((tmp_path / 'closed.json').read_text())['signals'] == 4


def test_a_node_whose_parent_is_killed_closes_and_knows_it(tmp_path):
    parent = subprocess.Popen([sys.executable, '-c', PARENT, NODE, str(tmp_path), '0.5'],
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        wait_for(tmp_path / 'started')
        parent.kill()   # no signal reaches the node: it notices it was re-parented
        parent.wait()
        wait_for(tmp_path / 'closed.json', timeout_s=30)
        assert json.loads((tmp_path / 'closed.json').read_text())['parent_died'] is True
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_later_second_ctrl_c_cuts_the_upstream_wait_short_and_close_still_runs(tmp_path):
    import rclpy
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.create_node('node_main_upstream')
    try:
        node.create_publisher(String, 'node_main_upstream_topic', 10)   # stays: the wait never ends
        proc = start(tmp_path, 0.5, 'node_main_upstream_topic')
        end = time.monotonic() + 60
        while 'node_main_probe' not in node.get_node_names() and time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)   # discovery, both ways
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        proc.send_signal(signal.SIGINT)
        time.sleep(1.5)   # later than a repeat of the same request
        assert not (tmp_path / 'closing').exists(), 'still waiting for its upstream publisher'
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)   # the 600 s wait was cut short
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert proc.returncode == 0, out
    assert (tmp_path / 'closed.json').is_file(), 'close() ran to its end'
