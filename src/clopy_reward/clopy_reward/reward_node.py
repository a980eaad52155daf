"""Reward node: water valve, fail signal and TTL outputs.

Subscribes `reward` (RewardCommand), serves `manual_reward` (ManualReward) and
publishes `reward_event` (RewardEvent) for what the hardware actually did, with
the measured on and off times. Safety lives in clopy_reward.outputs: pulse
limits, a watchdog, and every output low on shutdown, signal or error.
"""
from __future__ import annotations

import threading

from clopy_common import qos
from clopy_common.node_main import StartupError, run_node
from clopy_common.stamps import from_s
from clopy_interfaces.msg import RewardCommand, RewardEvent
from clopy_interfaces.srv import ManualReward
from rclpy.node import Node

from clopy_reward.reward_params import REWARD
from clopy_reward.outputs import OutputBank, OutputError, OutputSpec, PulseRecord, make_pin_factory

OUTPUT_NAMES = {RewardCommand.OUTPUT_VALVE: 'valve', RewardCommand.OUTPUT_FAIL: 'fail'}


class RewardNode(Node):
    def __init__(self) -> None:
        super().__init__('reward')
        values = REWARD.declare(self)
        self.simulate = values['simulate']
        pins = {name: values[f'{name}_pin'] for name in ('valve', 'fail', 'behaviour_camera', 'illumination')}
        self.valve_pulse_s, self.fail_pulse_s = values['valve_pulse_s'], values['fail_pulse_s']
        max_valve_s, max_fail_s = values['max_valve_open_s'], values['max_fail_pulse_s']
        self.max_rewards = values['max_rewards']
        self.hold_ttl = values['hold_ttl_outputs']
        if self.valve_pulse_s > max_valve_s:
            raise StartupError(f'reward.valve_pulse_s = {self.valve_pulse_s} exceeds reward.max_valve_open_s = {max_valve_s}')

        try:
            self.outputs = OutputBank(
                [OutputSpec('valve', pins['valve'], max_valve_s),
                 OutputSpec('fail', pins['fail'], max_fail_s),
                 OutputSpec('behaviour_camera', pins['behaviour_camera'], 0.0),
                 OutputSpec('illumination', pins['illumination'], 0.0)],
                make_pin_factory(self.simulate))
        except OutputError as exc:
            raise StartupError(str(exc)) from exc

        self.rewards_delivered = 0
        self.linger_s = 0.3   # the last reward events reach the recorder
        self._count_lock = threading.Lock()
        self.events = self.create_publisher(RewardEvent, qos.REWARD_EVENT, qos.EVENT_QOS)
        self.create_subscription(RewardCommand, qos.REWARD, self.on_command, qos.VALVE_COMMAND_QOS)
        self.upstream_topics = (qos.REWARD,)  # on stop: until the task has gone (a pulse still finishes)
        self.create_service(ManualReward, qos.MANUAL_REWARD, self.on_manual)
        if self.hold_ttl:
            for name in ('behaviour_camera', 'illumination'):
                self.outputs.set_level(name, True)
        self.get_logger().info(
            f'outputs ready ({"simulated pins" if self.simulate else "GPIO"}): '
            f'valve BCM{pins["valve"]}, fail BCM{pins["fail"]}')

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
        if name == 'valve':
            with self._count_lock:
                if self.max_rewards and self.rewards_delivered >= self.max_rewards:
                    record = PulseRecord(name, duration_s, reason, False,
                                         note=f'session reward cap of {self.max_rewards} reached')
                    self._publish(record, header, frame_index)
                    return record
                # counted before it opens so two quick commands cannot pass the cap
                self.rewards_delivered += 1
        record = self.outputs.pulse(name, duration_s, reason, tag=(header, frame_index),
                                    on_done=self._on_done)
        if not record.delivered and name == 'valve':
            with self._count_lock:
                self.rewards_delivered -= 1
        return record

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

    def _publish(self, record: PulseRecord, header, frame_index: int, output: int | None = None) -> None:
        msg = RewardEvent()
        msg.header = header
        msg.frame_index = int(frame_index)
        msg.output = output if output is not None else {'valve': 0, 'fail': 1}.get(record.name, 2)
        msg.name = record.name
        msg.reason = record.reason
        msg.delivered = record.delivered
        msg.note = record.note
        if record.on_time_s:
            msg.on_time = from_s(record.on_time_s)
        if record.off_time_s:
            msg.off_time = from_s(record.off_time_s)
        msg.duration_s = record.duration_s
        msg.rewards_delivered = self.rewards_delivered
        self.events.publish(msg)
        if record.note:
            self.get_logger().warn(f'{record.name}: {record.note}')

    def close(self) -> None:
        outputs = getattr(self, 'outputs', None)
        if outputs is not None:
            outputs.close()


def main(args=None) -> int:
    return run_node(RewardNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
