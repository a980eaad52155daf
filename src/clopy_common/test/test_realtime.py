"""Real-time priority of the hot path (clopy_common.realtime): the request read from
CLOPY_RT_PRIORITY, and SCHED_FIFO for every thread, or a line saying it is not permitted."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from clopy_common.realtime import ENV, requested_priority


def test_the_request_is_a_priority_from_1_to_99():
    assert requested_priority({}) is None and requested_priority({ENV: ' '}) is None
    assert requested_priority({ENV: '10'}) == 10
    for bad in ('0', '100', 'high', '1.5', '-3'):
        with pytest.raises(ValueError) as err:
            requested_priority({ENV: bad})
        assert str(err.value) == f'{ENV} = {bad!r}: allowed: a whole number from 1 to 99 (SCHED_FIFO priority)'


def test_every_thread_gets_the_priority_or_the_log_says_why_not():
    # in a process of its own: a thread started before (a library's worker) and one after
    probe = textwrap.dedent('''
        import os, threading, time
        from clopy_common import realtime
        stop = threading.Event()
        before = threading.Thread(target=stop.wait); before.start()
        line = realtime.apply(5)
        policies = []
        after = threading.Thread(target=lambda: policies.append(os.sched_getscheduler(0))); after.start(); after.join()
        try:
            for tid in [int(t) for t in os.listdir('/proc/self/task')]:
                try:
                    policies.append(os.sched_getscheduler(tid))
                except ProcessLookupError:   # the joined thread, still listed for a moment
                    pass
        finally:
            stop.set(); before.join()
        print(line); print(sorted(set(policies)))
    ''')
    out = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    line, policies = out.stdout.splitlines()
    if line == 'real-time priority 5 (SCHED_FIFO)':
        assert policies == f'[{os.SCHED_FIFO}]'
    else:
        assert line.startswith('real-time priority 5 (SCHED_FIFO) not permitted'), line
        assert 'rtprio' in line and policies == f'[{os.SCHED_OTHER}]'


def test_a_viewer_process_lowers_its_priority_for_all_its_threads():
    probe = textwrap.dedent('''
        import os, threading
        from clopy_common import realtime
        before = os.nice(0)
        now = realtime.lower_for_viewer()
        seen = []
        t = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0))); t.start(); t.join()
        print(before, now, seen[0])
    ''')
    out = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, now, thread = (int(x) for x in out.stdout.split())
    assert now == min(before + 10, 19) and thread == now
