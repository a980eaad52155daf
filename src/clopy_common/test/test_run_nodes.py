"""run_nodes: several real rclpy nodes in one process on one executor (the hot path of
`clopy run --composed`), stopped in the reverse of their start order, each working on
until the node feeding it has gone; a node that ends stops them all; a start-up error
of one closes the ones already made."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

# a consumer (started first) and a producer (started last) in one process: the producer
# counts on 'run_nodes_probe' every 10 ms; the consumer keeps what it received
PROCESS = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Int64
    from clopy_common.node_main import StartupError, run_nodes

    OUT, MODE = Path(sys.argv[1]), sys.argv[2]
    QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)

    def note(what):
        with open(OUT / 'order.txt', 'a') as f:
            f.write(what + '\\n')

    class ConsumerNode(Node):
        def __init__(self):
            super().__init__('run_nodes_consumer')
            self.received = []
            self.create_subscription(Int64, 'run_nodes_probe', lambda m: self.received.append(m.data), QOS)
            self.upstream_topics = ('run_nodes_probe',)

        def close(self):
            note('consumer')
            (OUT / 'consumer.json').write_text(json.dumps(self.received))

    class ProducerNode(Node):
        def __init__(self):
            super().__init__('run_nodes_producer')
            if MODE == 'bad':
                raise StartupError('producer.rate_hz = -1: allowed: > 0')
            self.sent = 0
            self.pub = self.create_publisher(Int64, 'run_nodes_probe', QOS)
            self.create_timer(0.01, self.tick)

        def tick(self):
            if self.pub.get_subscription_count() == 0:
                return
            self.pub.publish(Int64(data=self.sent))
            self.sent += 1
            if self.sent == 3:
                (OUT / 'started').write_text('1')
            if MODE == 'finish' and self.sent == 50:   # the session ends here
                self.finished, self.exit_status = True, 3

        def close(self):
            note('producer')
            (OUT / 'producer.json').write_text(json.dumps(self.sent))

    sys.exit(run_nodes([ConsumerNode, ProducerNode]))
''')


def run(tmp_path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', PROCESS, str(tmp_path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(path: Path, timeout_s: float = 60.0) -> None:
    end = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < end, f'{path} never appeared'
        time.sleep(0.05)


def drained(tmp_path: Path) -> tuple[list[str], int, list[int]]:
    order = (tmp_path / 'order.txt').read_text().split()
    return order, json.loads((tmp_path / 'producer.json').read_text()), \
        json.loads((tmp_path / 'consumer.json').read_text())


def test_a_stop_signal_stops_the_last_started_first_and_the_rest_drains(tmp_path):
    proc = run(tmp_path, 'signal')
    wait_for(tmp_path / 'started')
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert '[consumer+producer] executor: ' in out, out
    order, sent, received = drained(tmp_path)
    assert order == ['producer', 'consumer']
    assert sent > 3 and received == list(range(sent)), (sent, received[-5:])   # the last one too
    assert 'Traceback' not in out, out


def test_a_node_that_ends_stops_the_others_with_its_exit_status(tmp_path):
    proc = run(tmp_path, 'finish')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    order, sent, received = drained(tmp_path)
    assert order == ['producer', 'consumer'] and sent == 50 and received == list(range(50))


def test_a_start_up_error_closes_the_nodes_already_made(tmp_path):
    proc = run(tmp_path, 'bad')
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert '[producer] configuration error: producer.rate_hz = -1: allowed: > 0' in out, out
    assert (tmp_path / 'order.txt').read_text().split() == ['consumer']
    assert 'Traceback' not in out, out
