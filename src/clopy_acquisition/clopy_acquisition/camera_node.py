"""Camera node: publishes every frame of a source as sensor_msgs/Image on
`image_raw` and a FrameInfo (frame index, dropped frames) with the same stamp
on `frame_info`. The image's header.frame_id carries the frame index too
(`camera#123`, clopy_common.frames.image_frame_id), so roi_dff and pose never wait for
the FrameInfo. Viewers get the frame on `image_preview` instead, at most
`preview_rate_hz` and only while one subscribes, published after the frame's own
messages: a page or rqt_image_view open on the rig adds no reader to `image_raw`.

Live sources (Pi camera, OpenCV device, GenICam camera) pace themselves and report
frames the driver lost; a GenICam camera's own timestamp of each frame goes into
FrameInfo.device_stamp_ns (0 for sources without one). Replay and synthetic
sources are paced here at `frame_rate_hz`;
when this node falls behind by a whole frame interval it skips frames, as a
camera would, and counts them as dropped instead of hiding them.

Frame sizes and rates beyond what a source can deliver are refused at start-up
(clopy_acquisition.limits). The camera ends the session itself at the end of a
recording ('end of the recording') and when its source delivers no first frame
within `first_frame_timeout_s` of the start of capture.

Kinds of other packages (clopy_sim's `synthetic` cortex with its learning mouse and
`synthetic_behaviour`, or a lab's camera) are found through the entry-point group
`clopy.frame_sources` (clopy_acquisition.sources); their parameters live under
`<kind>.` and are declared only when that kind is chosen.
"""
from __future__ import annotations

import array
import os
import threading
import time

import numpy as np

from clopy_common import qos
from clopy_common.frames import image_frame_id
from clopy_common.intraprocess import hot_publisher
from clopy_common.node_main import StartupError, run_node
from clopy_common.schema import SchemaError
from clopy_common.session_end import SessionEnder
from clopy_common.stamps import from_ns
from clopy_interfaces.msg import ControlSignal, FrameInfo, RewardEvent
from rclpy.node import Node
from sensor_msgs.msg import Image

from clopy_acquisition.camera_params import CAMERA_SCHEMAS, check_camera
from clopy_acquisition.limits import ValvePulses, check_frame_budget
from clopy_acquisition.preview import PreviewPace
from clopy_acquisition.source_setup import make_source
from clopy_acquisition.sources import SourceError


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__('camera')
        # the parameters of the kinds not chosen (`synthetic.*` in a rig's file) are not this run's
        kind, values = CAMERA_SCHEMAS.declare(self)

        def get(name):
            return values[name]

        self.fps = float(get('frame_rate_hz'))
        self.max_frames = int(get('max_frames'))
        self.pace = get('pace')
        self.frame_id = get('frame_id')
        self.wait_for_topics = list(get('wait_for_topics'))
        try:   # before the source makes a frame: a size it cannot deliver would hang and eat memory
            check_camera(values)
        except SchemaError as exc:
            raise StartupError(str(exc)) from None
        self.source = self._make_source(kind, get)
        try:
            self.source.open()
            check_frame_budget(self.source.width_px, self.source.height_px, self.fps,
                               1 if self.source.encoding == 'mono8' else 3, self.source.max_size_px)
        except (SourceError, ValueError) as exc:
            raise StartupError(f'camera.source = {kind!r}: {exc}') from exc
        self.ender = SessionEnder(self)
        self.first_frame_timeout_s = float(get('first_frame_timeout_s'))
        self._capture_started_s: float | None = None
        self._pulses = ValvePulses()
        self.crop = self._crop(list(get('crop_px')))
        if self.source.nominal_fps and abs(self.source.nominal_fps - self.fps) > 1e-6 and not self.source.live:
            self.get_logger().info(f'file says {self.source.nominal_fps} fps; pacing at frame_rate_hz = {self.fps}')

        self.image_pub = hot_publisher(self, Image, qos.IMAGE, qos.IMAGE_QOS)   # composed: straight to roi_dff/pose
        # composed: both published from the executor's thread, after the frame's closed loop ran
        self.info_pub = hot_publisher(self, FrameInfo, qos.FRAME_INFO, qos.STREAM_QOS)
        # viewers' copy (no in-process reader: composed, its DDS publication follows the closed loop)
        self.preview_pub = hot_publisher(self, Image, qos.IMAGE_PREVIEW, qos.IMAGE_QOS)
        self.preview = PreviewPace(float(get('preview_rate_hz')), self.preview_pub.get_subscription_count)
        self.frames_published = 0
        self.dropped_total = 0
        self.finished = False
        self._stop = threading.Event()
        self._acked = threading.Condition()
        self._acked_index = -1
        if self.pace == 'lockstep':
            self.create_subscription(ControlSignal, qos.CONTROL_SIGNAL, self._on_control, qos.STREAM_QOS)
        if getattr(self.source, 'wants_rewards', False):   # e.g. clopy_sim's learning mouse
            self.create_subscription(RewardEvent, qos.REWARD_EVENT, self._on_reward, qos.EVENT_QOS)
        self.create_timer(1.0, self._check_foreign_publishers)
        self.create_timer(0.25, self._check_first_frame)
        self.linger_s = 0.3   # the last frame's reliable messages reach their readers
        self._thread = threading.Thread(target=self._loop, name='capture', daemon=True)
        self.get_logger().info(
            f'{self.source.describe()}: {self.source.width_px}x{self.source.height_px} '
            f'{self.source.encoding} at {self.fps} fps')
        self._thread.start()

    def _loop(self) -> None:
        try:
            self._capture()
        except Exception as exc:  # noqa: BLE001 - reported, then the node ends
            self.get_logger().error(f'capture failed: {exc}')
            self.exit_status = 1
        finally:
            self.finished = True

    def _crop(self, crop: list[int]):
        """(rows, cols) slices of crop_px, checked against the source's frame size."""
        if not any(crop):
            return None
        if len(crop) != 4 or crop[2] <= 0 or crop[3] <= 0 or crop[0] < 0 or crop[1] < 0 \
                or crop[0] + crop[2] > self.source.width_px or crop[1] + crop[3] > self.source.height_px:
            raise StartupError(f'camera.crop_px = {crop}: must be [x, y, width, height] inside the '
                               f'{self.source.width_px}x{self.source.height_px} frame')
        x, y, w, h = crop
        return slice(y, y + h), slice(x, x + w)

    def _make_source(self, kind: str, get):
        """The source of `kind` (not opened): clopy_acquisition.source_setup."""
        try:
            return make_source(kind, get)
        except SourceError as exc:   # the message names camera.source and the kind
            raise StartupError(str(exc)) from exc

    def _check_first_frame(self) -> None:
        """The source delivers nothing after capture started: say so and end the session."""
        started = self._capture_started_s
        if started is None or self.frames_published or self.finished:
            return
        if time.monotonic() - started > self.first_frame_timeout_s:
            self.ender.end(f'no first frame within {self.first_frame_timeout_s:g} s', error=True)
            self._stop.set()

    def _on_reward(self, event: RewardEvent) -> None:
        # once per valve pulse: the opening record, not the closing one that follows it
        if event.name != 'valve' or not self._pulses.take(event.delivered, event.opened,
                                                            (event.on_time.sec, event.on_time.nanosec)):
            return
        line = self.source.on_reward(event.delivered, event.rewards_delivered)
        if line:
            self.get_logger().info(line)

    def _on_control(self, msg: ControlSignal) -> None:
        with self._acked:
            self._acked_index = max(self._acked_index, msg.frame_index)
            self._acked.notify_all()

    def _wait_for_ack(self, index: int) -> None:
        """Lockstep: block until the control signal of frame `index` has been published."""
        with self._acked:
            ok = self._acked.wait_for(lambda: self._acked_index >= index or self._stop.is_set(),
                                      timeout=self.get_parameter('lockstep_timeout_s').value)
        if not ok:
            self.get_logger().warn(f'lockstep: no control signal for frame {index}; going on')

    def _wait_for_topics(self) -> bool:
        """The graph's start condition: every 'topic:count' of wait_for_topics matched.
        False (and an error naming what is missing) when the wait times out."""
        wanted = {}
        for item in self.wait_for_topics:
            topic, _, count = item.rpartition(':')
            wanted[topic or item] = int(count) if count.isdigit() else 1
        if not wanted:
            return True
        deadline = time.monotonic() + self.get_parameter('wait_timeout_s').value
        while not self._stop.is_set():
            missing = {t: n for t, n in wanted.items() if self.count_subscribers(t) < n}
            if not missing:
                return True
            if time.monotonic() > deadline:
                self.get_logger().error(
                    'start-up: not every subscription of the graph is matched after '
                    f'{self.get_parameter("wait_timeout_s").value:g} s; topic: subscribers needed '
                    f'(have): {", ".join(f"{t}: {n} ({self.count_subscribers(t)})" for t, n in missing.items())}')
                return False
            self._stop.wait(0.02)
        return False

    def _check_foreign_publishers(self) -> None:
        """One camera per graph: another publisher of image_raw or frame_info in this
        domain means a second graph (or a stray camera) is mixing its frames into this
        session's records and driving its valve: stop with an error saying so."""
        for topic in (qos.IMAGE, qos.FRAME_INFO):
            others = [f'{i.node_namespace.rstrip("/")}/{i.node_name}' for i in self.get_publishers_info_by_topic(topic)
                      if (i.node_name, i.node_namespace) != (self.get_name(), self.get_namespace())]
            # a publisher found before its node's name is: DDS names it _NODE_NAME_UNKNOWN_
            others = ['a node whose name is not known yet' if '_NODE_NAME_UNKNOWN_' in o else o for o in others]
            if others:
                self.get_logger().error(
                    f'a second camera: another publisher on {topic} in ROS_DOMAIN_ID='
                    f'{os.environ.get("ROS_DOMAIN_ID", "0")}: '
                    f'{", ".join(sorted(set(others)))}; two graphs on one domain would merge their sessions: '
                    'stopping this camera (give each session its own domain)')
                self.exit_status = 1
                self._stop.set()
                self.finished = True
                return

    def _wait_for_subscribers(self) -> None:
        wanted = self.get_parameter('wait_for_subscribers').value
        if wanted <= 0:
            return
        deadline = time.monotonic() + self.get_parameter('wait_timeout_s').value
        while not self._stop.is_set():
            have = min(self.image_pub.get_subscription_count(), self.info_pub.get_subscription_count())
            if have >= wanted:
                # matched in the graph; give the transport a moment to connect
                self._stop.wait(0.3)
                return
            if time.monotonic() > deadline:
                self.get_logger().warn(f'only {have} of {wanted} subscribers after waiting: starting anyway')
                return
            self._stop.wait(0.02)

    def _capture(self) -> None:
        if not self._wait_for_topics():
            self.exit_status = getattr(self, 'exit_status', 0) or 1
            return
        self._wait_for_subscribers()
        self._capture_started_s = time.monotonic()
        interval_s = 1.0 / self.fps
        clock = self.get_clock()
        # live sources stamp frames on their monotonic clock; map it to ROS time
        offset_ns = clock.now().nanoseconds - time.monotonic_ns()
        start = time.monotonic()
        slot = 0            # frame slots since start (paced sources)
        index = 0           # index of the next published frame
        previous_stamp_ns = None
        while not self._stop.is_set():
            if self.max_frames and index >= self.max_frames:
                self.ender.end(f'end of the recording: camera.max_frames = {self.max_frames} reached')
                return
            dropped = 0
            if not self.source.live and self.pace == 'realtime':
                wait = start + slot * interval_s - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return      # stopped while waiting for the slot: no early extra frame
                # behind by a whole interval or more: those frames are lost
                behind = int((time.monotonic() - (start + slot * interval_s)) / interval_s)
                for _ in range(max(0, behind)):
                    if self.source.read() is None:
                        self.ender.end('end of the recording')
                        return
                    dropped += 1
                slot += 1 + max(0, behind)
            frame = self.source.read()
            if frame is None:
                if self.source.live:   # a camera does not end: it was unplugged or failed
                    self.get_logger().error(f'{self.source.describe()} stopped delivering frames')
                    self.exit_status = 1
                else:
                    self.get_logger().info(f'end of {self.source.describe()} after {index} frames')
                    self.ender.end('end of the recording')
                return
            dropped += frame.dropped_before
            index += dropped
            if frame.index is not None:      # a recording: its own indices and stamps
                index = frame.index
            if frame.stamp_ns is not None:
                stamp_ns = frame.stamp_ns
            elif self.source.live and frame.capture_time_s is not None:
                stamp_ns = int(frame.capture_time_s * 1e9) + offset_ns
            elif self.pace == 'lockstep':    # file frames: time from the index, so re-runs repeat
                stamp_ns = int(round(index * 1e9 / self.fps))
            else:
                stamp_ns = clock.now().nanoseconds
            self.dropped_total += dropped
            image = frame.image if self.crop is None else frame.image[self.crop]
            self._publish(image, stamp_ns, index, dropped, previous_stamp_ns, frame.device_stamp_ns or 0)
            previous_stamp_ns = stamp_ns
            if self.pace == 'lockstep':
                self._wait_for_ack(index)
            index += 1

    def _publish(self, image, stamp_ns: int, index: int, dropped: int, previous_ns, device_stamp_ns: int) -> None:
        stamp = from_ns(stamp_ns)
        info = FrameInfo()
        info.header.stamp = stamp
        info.header.frame_id = self.frame_id
        info.frame_index = index
        info.dropped_before = dropped
        info.dropped_total = self.dropped_total
        info.interval_s = (stamp_ns - previous_ns) * 1e-9 if previous_ns is not None else 0.0
        info.device_stamp_ns = device_stamp_ns
        msg = Image()
        msg.header.stamp = stamp
        # the image carries its index: a node reading images waits for no second message
        msg.header.frame_id = image_frame_id(self.frame_id, index)
        msg.height, msg.width = image.shape[0], image.shape[1]
        msg.encoding = 'bgr8' if image.ndim == 3 else 'mono8'
        msg.step = image.shape[1] * (3 if image.ndim == 3 else 1)
        # array.array: Humble checks a plain bytes value byte by byte (14 ms a frame); one copy
        data = array.array('B')
        data.frombytes(np.ascontiguousarray(image))
        msg.data = data
        # the image first: it is what the closed loop waits for; the frame's facts right after
        self.image_pub.publish(msg)
        self.info_pub.publish(info)
        if self.preview.due():
            self.preview_pub.publish(msg)
        self.frames_published += 1
        if dropped:
            self.get_logger().warn(f'{dropped} frame(s) dropped before frame {index} '
                                   f'({self.dropped_total} so far)')

    def close(self) -> None:
        self._stop.set()
        with self._acked:
            self._acked.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if self._thread.is_alive():   # still inside the driver's read(): closing now could crash it
            self.get_logger().warn('capture thread did not stop; leaving the source to the process exit')
        else:
            self.source.close()
        summary = getattr(self.source, 'summary', None)
        self.get_logger().info(f'{self.frames_published} frames published, {self.dropped_total} dropped'
                               + (f'; {summary()}' if summary else ''))


def main(args=None) -> int:
    return run_node(CameraNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
