"""Reward node: water valve, fail signal and TTL outputs.

Subscribes `reward` (RewardCommand), serves `manual_reward` (ManualReward) and
publishes `reward_event` (RewardEvent) for what the hardware actually did: a record
the moment the valve opens (opened True, off_time zero), then the closing record
with the same on_time and the measured off time; a refused command is a record with
delivered False and the reason in `note`. Safety lives in clopy_reward.outputs
(pulse limits, a watchdog, every output low on shutdown, signal or error),
clopy_reward.limits (the valve ceiling, checked at start) and clopy_reward.water
(openings, refusals, water, the session's cap: the reward node ends the session
once the pulse reaching it has closed).
"""
from __future__ import annotations

from clopy_common import qos
from clopy_common.intraprocess import hot_subscription
from clopy_common.node_main import StartupError, run_node
from clopy_common.session_end import SessionEnder
from clopy_common.stamps import from_s
from clopy_interfaces.msg import RewardCommand, RewardEvent, TaskEvent
from clopy_interfaces.srv import ManualReward
from rclpy.node import Node

from clopy_reward.limits import ValveLimitError, check_reward_values, override_warning
from clopy_reward.outputs import OutputBank, OutputError, OutputSpec, PulseRecord
from clopy_reward.pins import check_output_pins, make_driver
from clopy_reward.reward_params import REWARD
from clopy_reward.sync import SyncError, start_sync, sync_output_specs
from clopy_reward.water import WaterLedger

OUTPUT_NAMES = {RewardCommand.OUTPUT_VALVE: 'valve', RewardCommand.OUTPUT_FAIL: 'fail'}
#: TTL outputs held high for the session (hold_ttl_outputs) when wired
HELD_TTLS = ('behaviour_camera', 'illumination', 'imaging_ttl')


class RewardNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__('reward', **node_options)   # node_options: rclpy Node's (a test's context)
        values = REWARD.declare(self)
        self.simulate = values['simulate']
        self.valve_pulse_s, self.fail_pulse_s = values['valve_pulse_s'], values['fail_pulse_s']
        self.hold_ttl = values['hold_ttl_outputs']
        try:
            limits = check_reward_values(values, 'reward node parameters')
            pins = check_output_pins(values, lambda key: 'reward node parameters')
        except ValveLimitError as exc:
            raise StartupError(str(exc)) from None
        self.water = WaterLedger(values['max_rewards'], values['valve_flow_ul_per_ms'], values['max_water_ml'])
        self.ender = SessionEnder(self)
        self._closing = False
        self.linger_s = 0.3   # the last reward events reach the recorder

        self.held = [name for name in HELD_TTLS if name in pins]
        end_pulse_s = {'imaging_ttl': values['imaging_ttl_end_pulse_s']}
        try:
            sync_specs = sync_output_specs(values)
        except SyncError as exc:
            raise StartupError(str(exc)) from None
        try:
            driver = make_driver(values['backend'], self.simulate, values['serial_port'], values['baud'],
                                 values['connect_timeout_s'])
            self.outputs = OutputBank(
                [OutputSpec(name, pin, limits.get(name, 0.0), end_pulse_s=end_pulse_s.get(name, 0.0))
                 for name, pin in pins.items()] + sync_specs, driver)
        except OutputError as exc:
            raise StartupError(str(exc)) from exc
        self.outputs.on_failure = self._on_output_failure

        self.events = self.create_publisher(RewardEvent, qos.REWARD_EVENT, qos.EVENT_QOS)
        self.task_events = self.create_publisher(TaskEvent, qos.TASK_EVENT, qos.EVENT_QOS)
        hot_subscription(self, RewardCommand, qos.REWARD, self.on_command, qos.VALVE_COMMAND_QOS)
        self.upstream_topics = (qos.REWARD,)  # on stop: until the task has gone (a pulse still finishes)
        self.create_service(ManualReward, qos.MANUAL_REWARD, self.on_manual)
        warning = override_warning(values)
        if warning:
            self._warn_in_session('valve_ceiling_override', warning)
        if self.hold_ttl:
            for name in self.held:
                self.outputs.set_level(name, True)
        describe = self.outputs.driver.describe
        self.get_logger().info(
            f'outputs ready ({self.outputs.driver.name}): valve {describe(pins["valve"])} '
            f'(at most {limits["valve"]:g} s), fail {describe(pins["fail"])}'
            + ''.join(f', {name} {describe(pins[name])}' for name in self.held))
        self.sync = start_sync(self.outputs, values, self._on_sync)   # None when sync_pin is -1

    def _on_sync(self, record: PulseRecord) -> None:
        """A sync pulse went out: recorded as a RewardEvent (name sync, output TTL)."""
        header = RewardCommand().header
        header.stamp = from_s(record.on_time_s)
        self._publish(record, header, 0, output=RewardCommand.OUTPUT_TTL)

    @property
    def rewards_delivered(self) -> int:
        return self.water.openings

    def _warn_in_session(self, subtype: str, text: str) -> None:
        """A warning row of the session's events.tsv (TaskEvent, time 0: at start) and the log."""
        msg = TaskEvent()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.time_s = 0.0
        msg.type, msg.subtype, msg.content = 'warning', subtype, text
        self.task_events.publish(msg)
        self.get_logger().warning(text)

    # -- commands -----------------------------------------------------------
    def on_command(self, cmd: RewardCommand) -> None:
        if cmd.output == RewardCommand.OUTPUT_TTL:
            self._ttl(cmd)
            return
        name = OUTPUT_NAMES.get(cmd.output)
        if name is None:
            self._publish(PulseRecord('unknown', cmd.duration_s, cmd.reason, False,
                                      note=f'unknown output code {cmd.output}'), cmd.header, cmd.frame_index)
            return
        default = self.valve_pulse_s if name == 'valve' else self.fail_pulse_s
        self.pulse(name, cmd.duration_s or default, cmd.reason, cmd.header, cmd.frame_index)

    def on_manual(self, request, response):
        header = RewardCommand().header
        header.stamp = self.get_clock().now().to_msg()
        record = self.pulse('valve', request.duration_s or self.valve_pulse_s,
                            request.reason or 'manual', header, 0)
        response.delivered = record.delivered
        response.message = record.note or f'valve open for {record.requested_s} s'
        return response

    def pulse(self, name, duration_s, reason, header, frame_index) -> PulseRecord:
        tag = (header, frame_index)
        if name != 'valve':
            return self.outputs.pulse(name, duration_s, reason, tag=tag, on_done=self._on_done)
        note = self.water.reserve()   # counted before it opens: two quick commands cannot pass the cap
        if note:
            record = PulseRecord(name, duration_s, reason, False, note=note)
            self._publish(record, header, frame_index)
            return record
        return self.outputs.pulse(name, duration_s, reason, tag=tag, on_open=self._on_open,
                                  on_done=self._on_valve_done)

    def _on_open(self, record: PulseRecord) -> None:
        header, frame_index = record.tag
        self._publish(record, header, frame_index, opened=True)

    def _on_output_failure(self, line: str) -> None:
        """A write to the outputs raised (an Arduino unplugged): no reward can be given."""
        if not self._closing:
            self.ender.end(f'reward outputs failed: {line}', error=True)

    def _on_valve_done(self, record: PulseRecord) -> None:
        if not record.delivered:
            self.water.cancel()
            self._on_done(record)
            return
        cap = self.water.closed(record.duration_s)
        self._on_done(record)
        if cap and not self._closing:
            self.ender.end(self.water.end_reason(), error=False)

    def _on_done(self, record: PulseRecord) -> None:
        header, frame_index = record.tag if record.tag else (RewardCommand().header, 0)
        self._publish(record, header, frame_index)

    def _ttl(self, cmd: RewardCommand) -> None:
        try:
            self.outputs.set_level(cmd.name, cmd.level)
            note = ''
        except OutputError as exc:
            note = str(exc)
        now = self.get_clock().now().nanoseconds * 1e-9
        record = PulseRecord(cmd.name, -1.0, cmd.reason, not note, note=note,
                             on_time_s=now if cmd.level else 0.0, off_time_s=0.0 if cmd.level else now)
        self._publish(record, cmd.header, cmd.frame_index, output=RewardCommand.OUTPUT_TTL)

    def _publish(self, record: PulseRecord, header, frame_index: int, output: int | None = None,
                 opened: bool = False) -> None:
        msg = RewardEvent()
        msg.header = header
        msg.frame_index = int(frame_index)
        msg.output = output if output is not None else {'valve': 0, 'fail': 1}.get(record.name, 2)
        msg.name = record.name
        msg.reason = record.reason
        msg.delivered = record.delivered
        msg.opened = opened
        msg.note = '' if opened else record.note
        if record.on_time_s:
            msg.on_time = from_s(record.on_time_s)
        if record.off_time_s and not opened:
            msg.off_time = from_s(record.off_time_s)
        msg.duration_s = 0.0 if opened else record.duration_s
        msg.rewards_delivered = self.water.openings
        msg.rewards_refused = self.water.refused
        msg.water_ul = self.water.water_ul
        self.events.publish(msg)
        if record.note and not opened:
            self.get_logger().warning(f'{record.name}: {record.note}')

    def close(self) -> None:
        self._closing = True
        if getattr(self, 'sync', None) is not None:
            self.sync.stop()
        outputs = getattr(self, 'outputs', None)
        if outputs is not None:
            outputs.close()


def main(args=None) -> int:
    return run_node(RewardNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
