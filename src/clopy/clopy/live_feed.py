"""The recorder's batches for viewers (`live_feed`, clopy_interfaces/LiveFeed).

The recorder receives every control signal, tone command, frame_info and pose of the
session anyway. While someone subscribes to `live_feed` (the dashboard), it also keeps
what arrived since the last batch and publishes it a few times a second, so a viewer
adds no reader to the hot-path topics and wakes 4 times a second instead of about 100.
Nothing is kept or deserialised while nobody subscribes (`clopy run --dashboard`'s node
subscribes for the whole session, whether a page is open or not).
"""
from __future__ import annotations

import time

from clopy_common import qos
from clopy_common.stamps import to_s
from clopy_interfaces.msg import ControlSignal, FrameInfo, LiveFeed, Pose, ToneCommand
from rclpy.serialization import deserialize_message

#: how often a batch goes out while watched
PERIOD_S = 0.25


class LiveFeedPublisher:
    """`take(topic, data)` from the recorder's raw writers, `frame(msg)` from its
    frame_info callback; `send()` on a timer publishes and starts the next batch."""

    #: the raw topics whose messages go into a batch
    TOPICS = (qos.CONTROL_SIGNAL, qos.TONE, qos.POSE)

    def __init__(self, node, period_s: float = PERIOD_S) -> None:
        self.pub = node.create_publisher(LiveFeed, qos.LIVE_FEED, qos.LIVE_FEED_QOS)
        self.clock = node.get_clock()
        self.watched = False
        self.batch = LiveFeed()
        self.sent = 0
        self._takers = {qos.CONTROL_SIGNAL: self._signal, qos.TONE: self._tone, qos.POSE: self._pose}
        node.create_timer(period_s, self.send)

    def take(self, topic: str, data: bytes) -> None:
        if self.watched:
            self._takers[topic](data)

    def _signal(self, data: bytes) -> None:
        msg = deserialize_message(data, ControlSignal)
        b, stamp_s = self.batch, to_s(msg.header.stamp)
        b.signal_stamp_s.append(stamp_s)
        b.signal_value.append(msg.value)
        b.signal_valid.append(msg.valid)
        b.signal_latency_s.append(time.time() - stamp_s)

    def _tone(self, data: bytes) -> None:
        msg = deserialize_message(data, ToneCommand)
        self.batch.tone_stamp_s.append(to_s(msg.header.stamp))
        self.batch.tone_frequency_hz.append(msg.frequency_hz)

    def _pose(self, data: bytes) -> None:
        msg = deserialize_message(data, Pose)
        b = self.batch
        b.pose_body_parts, b.pose_x_px, b.pose_y_px, b.pose_likelihood = \
            msg.body_parts, msg.x_px, msg.y_px, msg.likelihood

    def frame(self, msg: FrameInfo) -> None:
        if self.watched:
            b = self.batch
            b.has_frame, b.frame_index, b.dropped_total, b.interval_s = \
                True, msg.frame_index, msg.dropped_total, msg.interval_s

    def send(self) -> None:
        watched = self.pub.get_subscription_count() > 0
        if watched and self.watched:
            self.batch.header.stamp = self.clock.now().to_msg()
            self.pub.publish(self.batch)
            self.sent += 1
        last = self.batch
        self.batch = LiveFeed()
        # the latest frame and pose stay until newer ones come
        self.batch.has_frame, self.batch.frame_index = last.has_frame, last.frame_index
        self.batch.dropped_total, self.batch.interval_s = last.dropped_total, last.interval_s
        self.batch.pose_body_parts, self.batch.pose_x_px = last.pose_body_parts, last.pose_x_px
        self.batch.pose_y_px, self.batch.pose_likelihood = last.pose_y_px, last.pose_likelihood
        self.watched = watched
