"""End-to-end latency self-test of a rig's outputs: an output wired back to an input
(the valve's TTL, or a spare output, to a free GPIO input; later the lick input)
measures how long a command takes to become a voltage edge. Plain Python, no rclpy.

Method: for each repetition the time is read on the input's clock, the output is
pulsed through the same OutputBank the reward node uses (its limits apply), and the
first rising edge seen on the input gives the latency. Edges come from gpiozero's
pin callbacks with the pin library's own time stamp (lgpio: the kernel's time of the
edge, on the clock of ``factory.ticks()``), or from polling a ``read()`` function
(a sensor read over I2C) when the input has no edge callbacks. In simulation the same
code runs on gpiozero mock pins, the output pin linked to the input pin
(``link_mock_pins``): the figures are then the cost of the software path only.
"""
from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


class SelfTestError(RuntimeError):
    """The self-test cannot run or its wiring is wrong; the message says what to check."""


def latency_stats(samples_s: list[float]) -> dict:
    """{'n', 'p50_ms', 'p99_ms', 'max_ms', 'min_ms', 'mean_ms'} of latencies in s
    (percentiles interpolate linearly between samples; None when there are none)."""
    values = np.asarray(samples_s, dtype=float) * 1000.0
    if values.size == 0:
        return {'n': 0, 'p50_ms': None, 'p99_ms': None, 'max_ms': None, 'min_ms': None, 'mean_ms': None}
    return {'n': int(values.size), 'p50_ms': round(float(np.percentile(values, 50)), 4),
            'p99_ms': round(float(np.percentile(values, 99)), 4), 'max_ms': round(float(values.max()), 4),
            'min_ms': round(float(values.min()), 4), 'mean_ms': round(float(values.mean()), 4)}


@dataclass
class LatencyResult:
    """What one latency measurement found: each repetition's latency in s, and how many
    commands no input edge answered within the timeout."""

    name: str
    method: str
    samples_s: list[float] = field(default_factory=list)
    missed: int = 0

    def stats(self) -> dict:
        return dict(latency_stats(self.samples_s), missed=self.missed)

    def figures(self) -> dict:
        """The JSON form of the rig report: method, statistics, every sample in ms."""
        return dict(self.stats(), method=self.method,
                    samples_ms=[round(s * 1000.0, 4) for s in self.samples_s])

    def summary(self) -> str:
        s = self.stats()
        if not s['n']:
            return f'no edge seen in {self.missed} command(s)'
        text = f"p50 {s['p50_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms, max {s['max_ms']:.3f} ms (n={s['n']})"
        return text + (f', {self.missed} missed' if self.missed else '')


class EdgeProbe:
    """Edges of a gpiozero input pin, stamped by the pin library (``ticks`` of its
    factory, in s after ``factory.ticks_diff``)."""

    method = 'gpiozero edge callback, time stamped by the pin library'

    def __init__(self, pin: int, pin_factory, pull_up: bool = False) -> None:
        from gpiozero import DigitalInputDevice
        self.factory = pin_factory
        self.device = DigitalInputDevice(pin, pull_up=pull_up, pin_factory=pin_factory)
        self._edges: queue.Queue = queue.Queue()
        # gpiozero keeps a weak reference to a bound method: this object keeps it alive
        self.device.pin.edges = 'both'
        self.device.pin.when_changed = self._changed

    def _changed(self, ticks, state) -> None:
        self._edges.put((ticks, bool(state)))

    def level(self) -> bool:
        return bool(self.device.pin.state)

    def now(self):
        return self.factory.ticks()

    def clear(self) -> None:
        while not self._edges.empty():
            self._edges.get_nowait()

    def wait_edge(self, level: bool, since, timeout_s: float) -> float | None:
        """Seconds from ``since`` (a ``now()``) to the first edge to ``level``; None
        when none comes within ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                ticks, state = self._edges.get(timeout=left)
            except queue.Empty:
                return None
            if state == level:
                return self.factory.ticks_diff(ticks, since)

    def close(self) -> None:
        self.device.pin.when_changed = None
        self.device.close()


class PolledProbe:
    """An input read by polling ``read() -> bool`` (a sensor without edge callbacks,
    e.g. a touch register over I2C); stamps are time.monotonic() after the read that
    first saw the level, so the resolution is one read."""

    method = 'polled input read'

    def __init__(self, read: Callable[[], bool], close: Callable[[], None] | None = None,
                 period_s: float = 0.0002) -> None:
        self._read, self._close, self.period_s = read, close, period_s

    def level(self) -> bool:
        return bool(self._read())

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def clear(self) -> None:
        """Nothing buffered: each wait reads the input afresh."""

    def wait_edge(self, level: bool, since: float, timeout_s: float) -> float | None:
        end = since + timeout_s
        while time.monotonic() < end:
            if bool(self._read()) == level:
                return time.monotonic() - since
            time.sleep(self.period_s)
        return None

    def close(self) -> None:
        if self._close is not None:
            self._close()


def link_mock_pins(pin_factory, output_pin: int, input_pin: int) -> None:
    """Simulation: wire gpiozero mock pin ``output_pin`` to ``input_pin`` (the
    output's level drives the input). Call before anything opens either pin."""
    from gpiozero.pins.mock import MockConnectedPin
    target = pin_factory.pin(input_pin)
    pin_factory.pin(output_pin, pin_class=MockConnectedPin, input_pin=target)


def measure_output_latency(bank, output: str, probe, repeats: int = 20, pulse_s: float = 0.01,
                           gap_s: float = 0.05, timeout_s: float = 0.5, name: str = '') -> LatencyResult:
    """Pulse ``output`` of ``bank`` (an OutputBank) ``repeats`` times and time each
    command to the rising edge ``probe`` sees. SelfTestError when the input is high
    before a pulse or stays high after one (wrong pin, inverted or missing wiring),
    or when the bank refuses the pulse (its limits)."""
    if repeats < 1:
        raise SelfTestError(f'repetitions = {repeats}: allowed: 1 or more')
    result = LatencyResult(name or output, getattr(probe, 'method', type(probe).__name__))
    for i in range(repeats):
        if probe.level():
            raise SelfTestError(f'the input is already high before pulse {i + 1} of {output}: check that it is '
                                f'wired to {output} (and to nothing else), and its pull-down')
        probe.clear()
        since = probe.now()
        record = bank.pulse(output, pulse_s, reason='latency self-test')
        if not record.delivered:
            raise SelfTestError(f'{output} refused the {pulse_s:g} s test pulse: {record.note}')
        latency = probe.wait_edge(True, since, timeout_s)
        if latency is None:
            result.missed += 1
        else:
            result.samples_s.append(latency)
        bank.wait_idle(pulse_s + 1.0)
        if probe.wait_edge(False, probe.now(), timeout_s) is None and probe.level():
            raise SelfTestError(f'the input stays high after {output} went low: check the wiring and the pull-down')
        time.sleep(gap_s)
    if not result.samples_s:
        raise SelfTestError(f'no edge on the input in {repeats} pulses of {output}: check that {output} is wired to '
                            f'the input pin, the common ground, and the pin number')
    return result
