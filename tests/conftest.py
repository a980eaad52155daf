"""Shared fixtures for the whole-graph tests: every test gets its own
ROS_DOMAIN_ID lease and loopback-only DDS, and every process it starts is
stopped at the end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clopy.rosenv import DomainLease, apply_loopback, loopback_env

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def domain_id():
    with DomainLease() as lease:
        yield lease.domain_id


@pytest.fixture
def ros_env(domain_id):
    """Environment for child processes (and this one, for in-test rclpy)."""
    saved = dict(os.environ)
    apply_loopback(domain_id)
    yield loopback_env(domain_id)
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def processes():
    """Start processes with `processes.start([...], env=...)`; all are stopped at teardown."""
    started: list[subprocess.Popen] = []

    class Starter:
        def start(self, args, env, **kw) -> subprocess.Popen:
            p = subprocess.Popen(args, env=env, start_new_session=True, **kw)
            started.append(p)
            return p

    yield Starter()
    for p in started:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in started:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


PYTHON = sys.executable
