"""Lick node: reads the lick sensor and publishes each debounced touch change on `lick`.

The sensor (clopy_reward.lick_backends: an MPR121 over I2C, or a digital lickometer
on a GPIO pin) is polled at `poll_hz` on the ROS clock; clopy_reward.lick debounces
the readings and stamps each change with the time it was first seen. A missing or
failing sensor on a rig stops the node with an error that names the bus and address
or the pin; simulation is chosen only by `simulate: true` (`--sim`): the same backend
code then reads simulated hardware (clopy_sim's MPR121 register map or gpiozero mock
pins) moved by the simulated mouse, which licks in bouts after each valve opening it
hears of on `reward_event`.
"""
from __future__ import annotations

from clopy_common import qos
from clopy_common.node_main import StartupError, run_node
from clopy_common.plugins import LICK_SIMULATORS, PluginError, load_plugin
from clopy_common.session_end import SessionEnder
from clopy_common.stamps import from_s, to_s
from clopy_interfaces.msg import Lick, RewardEvent
from rclpy.node import Node

from clopy_reward.lick import Debouncer, LickChange
from clopy_reward.lick_backends import LickSensorError, open_sensor
from clopy_reward.lick_params import LICK

FAILED_READS_S = 1.0   # a sensor failing this long without a good reading ends the session


class LickNode(Node):
    def __init__(self, **node_options) -> None:
        super().__init__('lick', **node_options)
        values = LICK.declare(self)
        if values['release_threshold'] >= values['touch_threshold']:
            raise StartupError(f'lick.release_threshold = {values["release_threshold"]}: allowed: below '
                               f'lick.touch_threshold ({values["touch_threshold"]})')
        self.simulation = None
        if values['simulate']:
            try:
                self.simulation = load_plugin(LICK_SIMULATORS, 'simulated', 'lick.simulate')(values['backend'], values)
            except (PluginError, ValueError) as exc:
                raise StartupError(str(exc)) from None
        try:
            self.sensor = open_sensor(values, self.simulation)
        except LickSensorError as exc:
            raise StartupError(f'lick sensor ({values["backend"]}): {exc}') from exc
        self.debouncer = Debouncer(values['debounce_s'])
        self.ender = SessionEnder(self)
        self.linger_s = 0.3
        self._failing_since_s: float | None = None
        self.pub = self.create_publisher(Lick, qos.LICK, qos.EVENT_QOS)
        if self.simulation is not None:
            self.create_subscription(RewardEvent, qos.REWARD_EVENT, self.on_reward_event, qos.EVENT_QOS)
        self.create_timer(1.0 / values['poll_hz'], self.poll)
        self.get_logger().info(f'lick sensor: {self.sensor.description}'
                               f'{" (simulated mouse)" if self.simulation else ""}, {values["poll_hz"]:g} Hz, '
                               f'debounce {values["debounce_s"]:g} s')

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_reward_event(self, event: RewardEvent) -> None:
        """Simulation: the mouse hears the valve open (the opening record) and licks."""
        if event.name == 'valve' and event.opened and event.delivered:
            self.simulation.on_reward(to_s(event.on_time))

    def poll(self) -> None:
        now_s = self._now_s()
        if self.simulation is not None:
            self.simulation.advance(now_s)
        try:
            raw = self.sensor.read()
        except LickSensorError as exc:
            self._failed(now_s, exc)
            return
        self._failing_since_s = None
        change = self.debouncer.sample(now_s, raw)
        if change is not None:
            self.publish(change)

    def _failed(self, now_s: float, exc: Exception) -> None:
        if self._failing_since_s is None:
            self._failing_since_s = now_s
            self.get_logger().warning(f'lick sensor: {exc}')
        elif now_s - self._failing_since_s > FAILED_READS_S:   # end() says it once
            self.ender.end(f'lick sensor failed: {exc}', error=True)

    def publish(self, change: LickChange) -> None:
        msg = Lick()
        msg.header.stamp = from_s(change.time_s)
        msg.header.frame_id = 'lick'
        msg.touching = change.touching
        msg.electrode = self.sensor.electrode
        msg.sensor = self.sensor.description
        msg.count = change.count
        msg.duration_s = change.duration_s
        msg.simulated = self.simulation is not None
        self.pub.publish(msg)

    def close(self) -> None:
        sensor = getattr(self, 'sensor', None)
        if sensor is None:
            return
        change = self.debouncer.finish(self._now_s())
        if change is not None:
            self.publish(change)
        sensor.close()


def main(args=None) -> int:
    return run_node(LickNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
