"""The tone node on a full disk: the WAV sink writing to /dev/full (every write fails
with ENOSPC). The node says once why the session ends (`disk full: ...`, error),
exits with ENDED_WITH_ERROR, and prints no traceback. Real rclpy, a real process."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy

from clopy_common import qos
from clopy_common.session_end import ENDED_WITH_ERROR
from clopy_interfaces.msg import SessionEnd, ToneCommand


@pytest.mark.skipif(not Path('/dev/full').exists(), reason='needs /dev/full')
def test_a_full_disk_under_the_wav_ends_the_session_without_a_traceback():
    proc = subprocess.Popen([sys.executable, '-m', 'clopy_feedback.tone_node', '--ros-args',
                             '-p', 'backend:=wav', '-p', 'wav_path:=/dev/full'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    node = rclpy.create_node('tone_disk_full_probe')
    ends = []
    try:
        node.create_subscription(SessionEnd, qos.SESSION_END, ends.append, qos.SESSION_END_QOS)
        pub = node.create_publisher(ToneCommand, qos.TONE, qos.COMMAND_QOS)
        deadline = time.monotonic() + 60
        frequency = 1000.0
        while not ends and proc.poll() is None and time.monotonic() < deadline:
            cmd = ToneCommand()
            cmd.header.stamp = node.get_clock().now().to_msg()
            cmd.frequency_hz = frequency
            frequency = 3000.0 if frequency == 1000.0 else 1000.0
            pub.publish(cmd)
            rclpy.spin_once(node, timeout_sec=0.1)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        node.destroy_node()
        rclpy.shutdown()
    assert ends, out
    assert ends[0].reason.startswith('disk full: ') and ends[0].error and ends[0].node == 'tone', ends[0]
    assert proc.returncode == ENDED_WITH_ERROR, out
    assert 'Traceback' not in out, out
    assert len([line for line in out.splitlines() if 'disk full' in line]) == 1, out
