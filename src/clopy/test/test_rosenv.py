"""Domain leases: one graph per ROS domain, the holder named when refused."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

from clopy import rosenv
from clopy.rosenv import DomainBusy, DomainLease


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(rosenv, 'LOCK_DIR', tmp_path)
    return tmp_path


def hold_in_child(lock_dir, domain_id, kind, label):
    """Another process holding a lease until its stdin closes."""
    code = textwrap.dedent(f'''
        import sys
        from clopy import rosenv
        from pathlib import Path
        rosenv.LOCK_DIR = Path({str(lock_dir)!r})
        lease = rosenv.DomainLease({domain_id}, label={label!r}, kind={kind!r})
        lease.acquire()
        print('held', flush=True)
        sys.stdin.read()
    ''')
    child = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == 'held'
    return child


def test_explicit_domain_held_by_another_process_is_refused_naming_the_holder(lock_dir):
    child = hold_in_child(lock_dir, 42, 'graph', 'the session /data/M1_20261201-101500')
    try:
        with pytest.raises(DomainBusy) as err:
            DomainLease(42, kind='graph').acquire()
        text = str(err.value)
        assert 'ROS_DOMAIN_ID=42' in text
        assert 'the session /data/M1_20261201-101500' in text
        assert f'pid {child.pid}' in text
        # another domain is free
        with DomainLease(43, kind='graph') as other:
            assert other.domain_id == 43 and other.inherited_from is None
    finally:
        child.stdin.close()
        child.wait()
    # released by the kernel when the holder is gone
    with DomainLease(42, kind='graph') as lease:
        assert lease.domain_id == 42 and lease.inherited_from is None


def test_a_lease_held_by_an_ancestor_is_inherited(lock_dir):
    with DomainLease(7, label='the test') as mine:
        assert mine.domain_id == 7
        code = textwrap.dedent(f'''
            from pathlib import Path
            from clopy import rosenv
            rosenv.LOCK_DIR = Path({str(lock_dir)!r})
            lease = rosenv.DomainLease(7)
            print(lease.acquire(), lease.inherited_from['label'])
        ''')
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
        assert out.stdout.split(maxsplit=1) == ['7', 'the test\n']


def test_automatic_leases_never_share_an_id(lock_dir):
    leases = [DomainLease() for _ in range(5)]
    ids = [lease.acquire() for lease in leases]
    assert len(set(ids)) == 5
    assert all(1 <= i <= 101 for i in ids)
    for lease in leases:
        lease.release()


def test_graph_lease_needs_a_domain(lock_dir):
    with pytest.raises(ValueError, match='preferred'):
        DomainLease(kind='graph')
