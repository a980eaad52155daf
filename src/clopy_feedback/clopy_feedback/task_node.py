"""Task node: runs a pyControl-style task file on the control signal.

`control_signal` in; `tone` and `reward` commands, `task_event` records and
`session_status` out. Task time comes from the frame stamps only, with camera
stalls taken out (clopy_task.stall), so the same task gives the same records live,
in replay and offline. Licks (`lick`) become the task's input event 'lick' at their
own time (clopy_feedback.lick_input). A wall-clock watchdog (clopy_feedback.task_health) turns the
tone off while no frame comes and ends the session when a stall lasts longer than
`stall_limit_s` or no first frame comes; refused valve commands and runs of invalid
control signals become warnings and errors in task_event and session_status. Every task variable
`v.name` is a ROS parameter `v.name`: set it in the parameter file, or change
it during the run (`ros2 param set /task v.threshold 0.08`); each change is
logged as a task event.
"""
from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

from clopy_common import qos
from clopy_common.intraprocess import call_soon, hot_publisher, hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_common.schema import SchemaError
from clopy_common.session_end import STOPPED_BY_USER, SessionEnder
from clopy_common.stamps import to_s
from clopy_interfaces.msg import (ControlSignal, FrameInfo, Lick, RewardCommand, RewardEvent, SessionStatus,
                                  TaskEvent, ToneCommand)
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from clopy_feedback.lick_input import LickInput
from clopy_feedback.task_health import Notice, TaskHealth
from clopy_feedback.task_params import TASK, task_schema
from clopy_task import files
from clopy_task.engine import TaskEngine, TaskError, TaskRecord


def resolve_task_file(name: str) -> Path:
    """The task file: a path, or a packaged task's name (clopy_task.files)."""
    try:
        return files.resolve_task_file(name)
    except FileNotFoundError as exc:
        raise StartupError(str(exc)) from None


class _NodeOutputs:
    """Engine outputs -> ROS commands, stamped with the frame being processed."""

    def __init__(self, node: 'TaskNode') -> None:
        self.node = node

    def reward(self, t_s, frame_index, duration_s, reason):
        self.node.rewards_commanded += 1
        self._reward(RewardCommand.OUTPUT_VALVE, t_s, frame_index, duration_s, reason)

    def fail_signal(self, t_s, frame_index, duration_s, reason):
        self._reward(RewardCommand.OUTPUT_FAIL, t_s, frame_index, duration_s, reason)

    def _reward(self, output, t_s, frame_index, duration_s, reason):
        cmd = RewardCommand()
        cmd.header = self.node.header_for(frame_index)
        cmd.frame_index = max(0, frame_index)
        cmd.output = output
        cmd.duration_s = float(duration_s)
        cmd.reason = reason
        self.node.reward_pub.publish(cmd)

    def tone(self, t_s, frame_index, frequency_hz):
        cmd = ToneCommand()
        cmd.header = self.node.header_for(frame_index)
        cmd.frame_index = max(0, frame_index)
        cmd.frequency_hz = float(frequency_hz)
        cmd.amplitude = 1.0 if frequency_hz > 0 else 0.0
        self.node.tone_pub.publish(cmd)


class TaskNode(Node):
    def __init__(self) -> None:
        super().__init__('task')
        try:
            self.schema = task_schema(TASK.given(self, 'task_file'), TASK.given(self, 'frame_rate_hz'))
        except SchemaError as exc:
            raise StartupError(str(exc)) from None
        values = self.schema.declare(self, check_sets=False)   # on_set_parameters checks first
        self.paradigm = values['paradigm']
        self.task_path = resolve_task_file(values['task_file'])
        frame_rate_hz = values['frame_rate_hz']

        self._current_header = None
        self._current_header_index = -1
        self._records: list = []   # (record, header) waiting for flush_records
        # variables: the task file's defaults, overridden by parameters
        try:
            defaults = TaskEngine(self.task_path, frame_rate_hz=frame_rate_hz).variables
            overrides = {name: values[f'v.{name}'] for name in defaults
                         if f'v.{name}' in values and values[f'v.{name}'] != defaults[name]}
            self.engine = TaskEngine(self.task_path, overrides, frame_rate_hz=frame_rate_hz,
                                     outputs=_NodeOutputs(self), sink=self.on_record)
        except (TaskError, ValueError, SyntaxError, OSError) as exc:
            raise StartupError(f'{self.task_path}: {exc}') from exc

        self.tone_pub = hot_publisher(self, ToneCommand, qos.TONE, qos.COMMAND_QOS)
        self.reward_pub = hot_publisher(self, RewardCommand, qos.REWARD, qos.COMMAND_QOS)
        self.event_pub = self.create_publisher(TaskEvent, qos.TASK_EVENT, qos.EVENT_QOS)
        self.status_pub = self.create_publisher(SessionStatus, qos.SESSION_STATUS, qos.STATUS_QOS)
        hot_subscription(self, ControlSignal, qos.CONTROL_SIGNAL, self.on_signal, qos.STREAM_QOS)
        self.create_subscription(FrameInfo, qos.FRAME_INFO, self.on_frame_info, qos.STREAM_QOS)
        self.create_subscription(RewardEvent, qos.REWARD_EVENT, self.on_reward_event, qos.EVENT_QOS)
        self.licks = LickInput()
        self.create_subscription(Lick, qos.LICK, self.on_lick, qos.EVENT_QOS)
        self.ender = SessionEnder(self)
        self.upstream_topics = (qos.CONTROL_SIGNAL, qos.FRAME_INFO)  # on stop: until the signal chain has gone
        self.add_on_set_parameters_callback(self.on_set_parameters)
        self.create_service(Trigger, '~/stop_session', self.on_stop_session)   # the dashboard's Stop
        self.create_timer(values['status_period_s'], self.publish_status)
        self.health = TaskHealth(frame_rate_hz, values['stall_after_frames'], values['stall_limit_s'],
                                 values['first_frame_timeout_s'], values['invalid_warn_frames'], time.monotonic())
        self.create_timer(0.05, self.watchdog)

        self.stop_when_done = values['stop_when_done']
        self.linger_s = 0.5
        self.finished = False
        self._frame_headers: dict[int, object] = {}
        self._stamps_s: deque[float] = deque(maxlen=60)
        self._task_s: float | None = None   # the latest frame's task time (stall rule)
        self.frames = 0
        self._frame_info_seen = False   # a camera has published; its going later is the end, not a stall
        self.rewards_commanded = 0
        self.dropped_frames = 0
        self._syncing = False
        self._done_at_s: float | None = None
        self.get_logger().info(f'task {self.task_path.name}: waiting for the first frame')

    # -- frames ---------------------------------------------------------------
    def header_for(self, frame_index: int):
        if self._current_header is not None:
            return self._current_header
        return ControlSignal().header

    def on_frame_info(self, info: FrameInfo) -> None:
        self.dropped_frames = info.dropped_total
        self.health.camera_seen(time.monotonic())
        self._frame_info_seen = True

    def on_reward_event(self, event: RewardEvent) -> None:
        if event.name == 'valve' and not event.delivered:
            self.publish_notice(self.health.reward_refused(event.note, event.frame_index))
            self.health.rewards_refused = max(self.health.rewards_refused, event.rewards_refused)
            self.publish_status()

    def on_lick(self, lick: Lick) -> None:
        """Held until a frame stamped at or after it (lick_input): then an input event."""
        self.licks.add(to_s(lick.header.stamp), lick.touching)

    def watchdog(self) -> None:
        """Wall clock: a stall starts (tone off), lasts too long, or no first frame comes."""
        if self.finished or self.engine.stopped or self._stopping():
            return
        notices, end = self.health.check(time.monotonic())
        for notice in notices:
            if self.engine.state is not None:   # silence while no frame comes; the engine keeps its tone
                _NodeOutputs(self).tone(self.engine.time_s, self._current_header_index, 0.0)
            self.publish_notice(notice)
            self.publish_status()
        if end is not None:
            self.ender.end(end, error=True)
            self.publish_status()

    def _stopping(self) -> bool:
        """The graph is stopping: this node was asked to stop (it finishes what its upstream
        nodes sent), or the camera has gone after its frames: no frame is then the end,
        not a stall."""
        request = getattr(self, 'stop_request', None)
        if request is not None and request.stop.is_set():
            return True
        return self._frame_info_seen and self.count_publishers(qos.FRAME_INFO) == 0

    def publish_notice(self, notice: Notice, t_s: float | None = None) -> None:
        """A task event of the node's own (at task time `t_s`, default the engine's time)."""
        line = f'{notice.subtype}: {notice.content}'
        if notice.type == 'info':   # one severity per call site (rclpy)
            self.get_logger().info(line)
        else:
            self.get_logger().warning(line)
        start_s = self.engine.start_time_s
        time_s = self.engine.time_s if start_s is None or t_s is None else max(self.engine.time_s, t_s - start_s)
        self.on_record(TaskRecord(time_s if start_s is not None else 0.0, notice.type, notice.subtype,
                                  notice.content, self._current_header_index))

    def on_signal(self, sig: ControlSignal) -> None:
        if self.engine.stopped:
            return
        stamp_s = to_s(sig.header.stamp)
        self._current_header = sig.header
        self._current_header_index = sig.frame_index
        was_stalled = self.health.stalled
        paused_before_s = self.health.clock.paused_s
        t_s, notices = self.health.frame(time.monotonic(), stamp_s, sig.valid, sig.invalid_reason)
        if self.engine.state is None:
            # silence at the session start: the tone output's time line starts here
            _NodeOutputs(self).tone(t_s, sig.frame_index, 0.0)
            self.engine.start(t_s)
            self.get_logger().info(f'session started at frame {sig.frame_index}')
        elif was_stalled and self.engine.tone_hz != 0:
            _NodeOutputs(self).tone(t_s, sig.frame_index, self.engine.tone_hz)   # the tone the stall cut
        for notice in notices:
            self.publish_notice(notice, t_s)
        self.licks.deliver(self.engine, stamp_s, paused_before_s, t_s)
        self.engine.process_frame(t_s, sig.frame_index, sig.value, sig.valid)
        self.frames += 1
        self._stamps_s.append(stamp_s)
        self._task_s = t_s
        if notices:
            self.publish_status()
        if self.engine.stopped:
            self.flush_records()   # the run's last records before the session's end
            self.publish_status()
            self.get_logger().info('task finished')
            if self.stop_when_done:
                self.ender.end('all trials done')

    # -- records, variables ---------------------------------------------------
    def on_record(self, record: TaskRecord) -> None:
        """A record of the engine (a task_event), queued with its frame's header: the frame's
        commands (valve, tone) go out first, the records after them (flush_records, a task of
        the executor: in a composed process it first runs the callbacks those commands woke,
        the reward and tone nodes')."""
        self._records.append((record, self.header_for(record.frame_index)))
        if len(self._records) == 1:
            executor = self.executor
            if executor is None:   # not spinning (yet): at once
                self.flush_records()
            else:
                call_soon(executor, self.flush_records)

    def flush_records(self) -> None:
        records, self._records = self._records, []
        for record, header in records:
            self._publish_record(record, header)

    def _publish_record(self, record: TaskRecord, header) -> None:
        msg = TaskEvent()
        msg.header = header
        msg.frame_index = max(0, record.frame_index)
        msg.time_s = record.time_s
        msg.type = record.type
        msg.subtype = record.subtype
        msg.content = record.content
        self.event_pub.publish(msg)
        if record.type == 'state':
            self.publish_status()
        if record.type == 'variable' and record.subtype == 'task':
            self._mirror_variables(record.content)

    def _mirror_variables(self, content: str) -> None:
        """Keep the ROS parameters equal to variables the task changed itself."""
        try:
            changed = json.loads(content)
        except ValueError:
            return
        params = []
        for k, v in changed.items():
            if f'v.{k}' in self.schema:
                try:
                    params.append(Parameter(f'v.{k}', value=self.schema[f'v.{k}'].coerce(v)))
                except SchemaError as exc:
                    self.get_logger().warn(f'task.v.{k} = {exc}: the task set it; the parameter keeps its value')
        if params:
            self._syncing = True
            try:
                self.set_parameters(params)
            finally:
                self._syncing = False

    def on_set_parameters(self, params) -> SetParametersResult:
        if self._syncing:
            return SetParametersResult(successful=True)
        refused = self.schema.on_set(params)   # type, NaN/inf, the task file's limits
        if not refused.successful:
            return refused
        for param in params:
            if not param.name.startswith('v.'):
                continue
            name = param.name[2:]
            if self.engine.state is None or self._task_s is None:
                return SetParametersResult(successful=False, reason=(
                    f'{param.name}: the session has not started; set it in the parameter file'))
            try:
                # logged at the time of the last frame: task time only moves with frames
                self.engine.set_variable(name, param.value, self._task_s, subtype='api')
            except (TaskError, ValueError, TypeError) as exc:
                return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def on_stop_session(self, request, response):
        """End the session as stopped by the user (`/task/stop_session`); the graph's
        ordered stop follows, as after the last trial."""
        if self.ender.reason is not None or self.finished:
            response.success, response.message = False, f'the session is ending already ({self.ender.reason})'
            return response
        self.publish_notice(Notice('info', 'stop_session', 'stopped by the user (stop_session service)'))
        self.ender.end(STOPPED_BY_USER)
        response.success, response.message = True, STOPPED_BY_USER
        return response

    # -- status -------------------------------------------------------------------
    def publish_status(self) -> None:
        status = self.engine.status()  # what the task declares in status_variables
        msg = SessionStatus()
        msg.header.stamp = self._current_header.stamp if self._current_header else self.get_clock().now().to_msg()
        msg.paradigm = self.paradigm
        msg.session_type = str(status.get('session_type', ''))
        msg.state = self.engine.state or 'waiting'
        msg.trial = int(status.get('trial', 0))
        msg.total_trials = int(status.get('total_trials', 0))
        msg.successes = int(status.get('successes', 0))
        msg.failures = int(status.get('failures', 0))
        msg.rewards_delivered = self.rewards_commanded   # valve pulses commanded (no_reward: 0)
        msg.threshold = float(status.get('threshold', 0.0))
        if len(self._stamps_s) > 1 and self._stamps_s[-1] > self._stamps_s[0]:
            msg.frame_rate_hz = (len(self._stamps_s) - 1) / (self._stamps_s[-1] - self._stamps_s[0])
        msg.frames = self.frames
        msg.dropped_frames = self.dropped_frames
        msg.elapsed_s = self.engine.time_s if self.engine.state is not None else 0.0
        msg.running = self.engine.state is not None and not self.engine.stopped
        msg.rewards_refused = self.health.rewards_refused
        msg.stalled = self.health.stalled
        msg.stalled_s = self.health.stalled_s(time.monotonic())
        msg.invalid_frames = self.health.invalid_frames
        msg.warning = self.health.warning
        self.status_pub.publish(msg)

    def close(self) -> None:
        if self.engine.state is not None and not self.engine.stopped:
            if self._current_header is not None:
                # what the stop sends (the final tone-off) was caused by no frame: it keeps
                # the last frame's stamp (the WAV time line) but says so in frame_id
                self._current_header = Header(stamp=self._current_header.stamp, frame_id=qos.SESSION_END_FRAME_ID)
            self.engine.stop(self._task_s if self._task_s is not None else self.engine.time_s)
        self.flush_records()
        if self.engine.state is not None:
            self.publish_status()


def main(args=None) -> int:
    return run_node(TaskNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
