"""Dashboard node: watches a session's topics and serves the live page (clopy_dashboard.web).

Not on the hot path, and no reader of a hot-path topic: the image comes from the camera's
`image_preview` (a few frames a second, sent only while watched) and the per-frame values
(control signal, tone, frame_info, pose) from the recorder's `live_feed` batches, 4 a
second; only events and the status are read as they come. The page's actions go through
the graph's own services:
`/task/set_parameters` (the same validation as `ros2 param set`; the task logs `variable
api`), `/manual_reward` (the reward node's limits, plus the dashboard's pace) and
`/task/stop_session` (ends the session as stopped by the user). Each action is also a
task_event row (`info` / `dashboard`) in events.tsv. Settings come from the environment
(clopy_dashboard.settings): `clopy run --dashboard` and `dashboard:=true` set them.
"""
from __future__ import annotations

import threading

from clopy_common import qos
from clopy_common.node_main import StartupError, run_node
from clopy_common.realtime import lower_for_viewer
from clopy_common.stamps import to_s
from clopy_interfaces.msg import LiveFeed, Lick, RewardCommand, RewardEvent, SessionStatus, TaskEvent
from clopy_interfaces.srv import ManualReward
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from clopy_dashboard import param_text
from clopy_dashboard.imaging import Throttle, image_array, preview_jpeg, roi_geometry
from clopy_dashboard.security import Guard
from clopy_dashboard.server import Server
from clopy_dashboard.settings import DashboardSettings
from clopy_dashboard.state import LiveState
from clopy_dashboard.web import add_root, create_app
from clopy_dashboard.web_live import add_live_routes

# a backstop: the camera paces image_preview itself (camera.preview_rate_hz, 2 a second)
PREVIEW_RATE_HZ = 4.0
SERVICE_TIMEOUT_S = 5.0
STATUS_FIELDS = ('paradigm', 'session_type', 'state', 'trial', 'total_trials', 'successes', 'failures',
                 'rewards_delivered', 'threshold', 'frame_rate_hz', 'frames', 'dropped_frames', 'elapsed_s',
                 'running', 'rewards_refused', 'stalled', 'stalled_s', 'invalid_frames', 'warning')
_TYPES = {param_text.BOOL: ('bool_value', ParameterType.PARAMETER_BOOL),
          param_text.INTEGER: ('integer_value', ParameterType.PARAMETER_INTEGER),
          param_text.DOUBLE: ('double_value', ParameterType.PARAMETER_DOUBLE),
          param_text.STRING: ('string_value', ParameterType.PARAMETER_STRING),
          param_text.BOOL_ARRAY: ('bool_array_value', ParameterType.PARAMETER_BOOL_ARRAY),
          param_text.INTEGER_ARRAY: ('integer_array_value', ParameterType.PARAMETER_INTEGER_ARRAY),
          param_text.DOUBLE_ARRAY: ('double_array_value', ParameterType.PARAMETER_DOUBLE_ARRAY),
          param_text.STRING_ARRAY: ('string_array_value', ParameterType.PARAMETER_STRING_ARRAY)}


def _overlay(settings: DashboardSettings) -> dict:
    roi = settings.section('roi_dff')
    overlay = {'control_part': settings.section('speed').get('control_part', '')}
    if roi:
        try:
            overlay.update(roi_geometry(roi))
        except ValueError as exc:   # the session itself refuses such ROIs; the page shows none
            overlay['error'] = str(exc)
    return overlay


class DashboardNode(Node):
    def __init__(self) -> None:
        super().__init__('dashboard')
        try:
            settings = DashboardSettings.from_env()
        except (OSError, ValueError) as exc:
            raise StartupError(str(exc)) from None
        rec = settings.section('recorder')
        self.live = LiveState(str(rec.get('mouse', '')), str(rec.get('paradigm', '')), _overlay(settings))
        self.throttle = Throttle(PREVIEW_RATE_HZ)
        self.event_pub = self.create_publisher(TaskEvent, qos.TASK_EVENT, qos.EVENT_QOS)
        self.params_client = self.create_client(SetParameters, '/task/set_parameters')
        self.reward_client = self.create_client(ManualReward, '/' + qos.MANUAL_REWARD)
        self.stop_client = self.create_client(Trigger, '/task/stop_session')
        self.create_subscription(Image, qos.IMAGE_PREVIEW, self.on_image, qos.IMAGE_QOS, raw=True)
        self.create_subscription(LiveFeed, qos.LIVE_FEED, self.on_feed, qos.LIVE_FEED_QOS)
        self.create_subscription(TaskEvent, qos.TASK_EVENT, self.on_task_event, qos.EVENT_QOS)
        self.create_subscription(RewardEvent, qos.REWARD_EVENT, self.on_reward_event, qos.EVENT_QOS)
        self.create_subscription(Lick, qos.LICK, self.on_lick, qos.EVENT_QOS)
        self.create_subscription(SessionStatus, qos.SESSION_STATUS, self.on_status, qos.STATUS_QOS)
        guard = Guard.for_bind(settings.host, settings.token)
        if guard.token is not None and settings.token is None:
            raise StartupError(f'dashboard host {settings.host}: a bind address other than loopback needs a '
                               'token (clopy run --dashboard makes one and prints it)')
        app = create_app(guard, 'CLoPy session')
        add_live_routes(app, self.live, self)
        add_root(app, '/live')
        try:
            self.server = Server(app, settings.host, settings.port).start()
        except (OSError, RuntimeError) as exc:
            raise StartupError(str(exc)) from None
        if settings.url_file is not None:
            settings.url_file.parent.mkdir(parents=True, exist_ok=True)
            settings.url_file.write_text(self.server.url + '\n')
        self.get_logger().info(f'dashboard {self.server.url}' + (' (token required)' if guard.token else ''))

    # -- topics ----------------------------------------------------------------------
    def on_image(self, data: bytes) -> None:
        if not self.throttle.accept():
            return   # skipped undecoded: the page needs a few frames per second
        msg = deserialize_message(data, Image)
        try:
            img = image_array(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        except ValueError as exc:
            self.get_logger().warning(str(exc), once=True)
            return
        self.live.set_frame(preview_jpeg(img), [msg.height, msg.width])

    def on_feed(self, msg: LiveFeed) -> None:
        """One batch of the recorder's: the signal's values with their latency to the
        recorder, the tone commands, the latest frame_info and pose."""
        for stamp_s, value, valid, latency_s in zip(msg.signal_stamp_s, msg.signal_value, msg.signal_valid,
                                                    msg.signal_latency_s):
            self.live.add_signal(stamp_s, value, valid, latency_s if latency_s < 5.0 else None)
        for stamp_s, frequency_hz in zip(msg.tone_stamp_s, msg.tone_frequency_hz):
            self.live.add_tone(stamp_s, frequency_hz)
        if msg.has_frame:
            self.live.set_camera(msg.frame_index, msg.dropped_total, msg.interval_s)
        if msg.pose_body_parts:
            self.live.set_pose(msg.pose_body_parts, msg.pose_x_px, msg.pose_y_px, msg.pose_likelihood)

    def on_task_event(self, msg: TaskEvent) -> None:
        self.live.add_event(msg.time_s, msg.type, msg.subtype, msg.content)

    def on_reward_event(self, msg: RewardEvent) -> None:
        stamp_s = to_s(msg.header.stamp)
        if msg.output == RewardCommand.OUTPUT_VALVE and msg.delivered and msg.opened:
            self.live.add_mark(stamp_s, 'reward')
        elif msg.output == RewardCommand.OUTPUT_VALVE and not msg.delivered:
            self.live.add_mark(stamp_s, 'refused')
        elif msg.output == RewardCommand.OUTPUT_FAIL and msg.delivered:
            self.live.add_mark(stamp_s, 'fail')

    def on_lick(self, msg: Lick) -> None:
        if msg.touching:
            self.live.add_mark(to_s(msg.header.stamp), 'lick')

    def on_status(self, msg: SessionStatus) -> None:
        self.live.set_status({f: getattr(msg, f) for f in STATUS_FIELDS})

    # -- the page's actions (called from the web server's threads) -----------------
    def _call(self, client, request, what: str):
        if not client.wait_for_service(timeout_sec=1.0):
            return None, f'{what}: the service {client.srv_name} is not available (is the session running?)'
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(SERVICE_TIMEOUT_S) or future.result() is None:
            return None, f'{what}: no answer from {client.srv_name} within {SERVICE_TIMEOUT_S:g} s'
        return future.result(), ''

    def _log(self, content: str) -> None:
        msg = TaskEvent()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.time_s = float(self.live.status.get('elapsed_s', 0.0))
        msg.type, msg.subtype, msg.content = 'info', 'dashboard', content
        self.event_pub.publish(msg)

    def set_variable(self, name: str, text: str) -> tuple[bool, str]:
        kind, value = param_text.parse_value(text)
        field, ptype = _TYPES[kind]
        pv = ParameterValue(type=ptype)
        setattr(pv, field, value)
        request = SetParameters.Request(parameters=[Parameter(name=f'v.{name}', value=pv)])
        response, error = self._call(self.params_client, request, f'set {name}')
        ok = response is not None and response.results[0].successful
        message = error or ('' if ok else response.results[0].reason) or f'{name} = {value!r}'
        self._log(f'set variable {name} = {text}: {"done" if ok else "refused: " + message}')
        return ok, message

    def manual_reward(self, duration_s: float) -> tuple[bool, str]:
        response, error = self._call(self.reward_client, ManualReward.Request(duration_s=float(duration_s),
                                                                              reason='manual'), 'manual reward')
        ok = response is not None and response.delivered
        message = error or response.message
        self._log(f'manual reward {duration_s:g} s: {"delivered" if ok else "refused: " + message}')
        return ok, message

    def stop_session(self) -> tuple[bool, str]:
        self._log('stop the session')
        response, error = self._call(self.stop_client, Trigger.Request(), 'stop')
        ok = response is not None and response.success
        return ok, error or response.message

    def close(self) -> None:
        server = getattr(self, 'server', None)
        if server is not None:
            server.stop()


def main(args=None) -> int:
    lower_for_viewer()   # a viewer yields the CPU to the closed loop
    return run_node(DashboardNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
