"""The task node with real rclpy: invalid-signal runs, refused rewards and a camera stall
become task events; the stall turns the tone off and, too long, ends the session."""
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from clopy_common import qos  # noqa: E402
from clopy_common.session_end import ENDED_WITH_ERROR  # noqa: E402
from clopy_interfaces.msg import ControlSignal, RewardEvent, SessionEnd, SessionStatus, TaskEvent, ToneCommand  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402


def spin_until(executor, done, timeout_s=10.0):
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        executor.spin_once(timeout_sec=0.02)
    return done()


def test_invalid_run_refusal_and_stall_are_reported_and_a_long_stall_ends_the_session():
    from clopy_feedback.task_node import TaskNode
    rclpy.init(args=['--ros-args', '-p', 'frame_rate_hz:=10.0', '-p', 'stall_after_frames:=2', '-p',
                     'stall_limit_s:=1.5', '-p', 'invalid_warn_frames:=2', '-p', 'status_period_s:=0.1'])
    node = TaskNode()
    peer = rclpy.create_node('peer')
    events, tones, ends, statuses = [], [], [], []
    peer.create_subscription(TaskEvent, qos.TASK_EVENT, events.append, qos.EVENT_QOS)
    peer.create_subscription(ToneCommand, qos.TONE, tones.append, qos.COMMAND_QOS)
    peer.create_subscription(SessionEnd, qos.SESSION_END, ends.append, qos.SESSION_END_QOS)
    peer.create_subscription(SessionStatus, qos.SESSION_STATUS, statuses.append, qos.STATUS_QOS)
    signal_pub = peer.create_publisher(ControlSignal, qos.CONTROL_SIGNAL, qos.STREAM_QOS)
    reward_pub = peer.create_publisher(RewardEvent, qos.REWARD_EVENT, qos.EVENT_QOS)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(peer)

    def send(index, stamp_s, valid=True, reason=''):
        msg = ControlSignal()
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int(round((stamp_s % 1) * 1e9))
        msg.frame_index, msg.value, msg.valid, msg.invalid_reason = index, 0.0, valid, reason
        signal_pub.publish(msg)
        spin_until(executor, lambda: node.frames > index - 0, 5.0)

    def subtypes():
        return [(e.type, e.subtype, e.content) for e in events if e.type in ('warning', 'error', 'info')
                and e.subtype in ('stall', 'stall_end', 'invalid_signal', 'reward_refused')]

    try:
        assert spin_until(executor, lambda: signal_pub.get_subscription_count() and reward_pub.get_subscription_count()
                          and node.count_subscribers(qos.TASK_EVENT), 10.0)
        for i in range(4):
            send(i, 100.0 + i / 10)
        for i in range(4, 7):
            send(i, 100.0 + i / 10, valid=False, reason='blank frame (mean 0.0 of 255, allowed 5.1-249.9)')
        send(7, 100.7)
        refusal = RewardEvent()
        refusal.name, refusal.delivered, refusal.note, refusal.frame_index = 'valve', False, 'duration 100 s above 1 s', 7
        refusal.rewards_refused = 1
        reward_pub.publish(refusal)
        assert spin_until(executor, lambda: any(s[1] == 'reward_refused' for s in subtypes()))
        assert spin_until(executor, lambda: any(s[1] == 'stall' for s in subtypes()))   # no frame for 0.5 s
        # the session start's silence, then the stall's tone-off
        assert spin_until(executor, lambda: len([t for t in tones if t.frequency_hz == 0.0]) >= 2)
        assert spin_until(executor, lambda: any(s.stalled for s in statuses))
        send(8, 103.7)                      # frames resume: 3 s gap in the stamps
        assert spin_until(executor, lambda: any(s[1] == 'stall_end' for s in subtypes()))
        got = subtypes()
        assert got[0] == ('warning', 'invalid_signal', 'blank frame (mean 0.0 of 255, allowed 5.1-249.9) for 3 frames')
        assert got[1] == ('error', 'reward_refused', 'duration 100 s above 1 s (frame 7)')
        assert got[2][:2] == ('warning', 'stall') and got[2][2].endswith('s: task paused, tone off')
        assert got[3] == ('info', 'stall_end', 'stall of 2.90 s: task time paused, the trial resumes')
        assert spin_until(executor, lambda: ends, 10.0)    # no frame again, past the 1.5 s limit
        assert ends[0].reason.startswith('camera stalled: no frame for ') and ends[0].reason.endswith('(limit 1.5 s)')
        assert ends[0].error and ends[0].node == 'task'
        assert node.finished and node.exit_status == ENDED_WITH_ERROR
        last = statuses[-1]
        assert (last.rewards_refused, last.invalid_frames) == (1, 3) and last.stalled_s > 2.9
    finally:
        peer.destroy_node()
        node.close()
        node.destroy_node()
        rclpy.shutdown()
