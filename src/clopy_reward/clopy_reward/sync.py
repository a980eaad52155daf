"""Sync pulses for aligning a session with other recordings (the imaging computer's TTL
log, a video that sees an LED on the sync line). No rclpy here.

The pulses come at random intervals, uniform between 0.1 and 1.9 times the mean
(as pyControl's Rsync does): the sequence of intervals is then unique, so another
system's record of the same pulses can be matched to the session's without a common
start, even when a few pulses are missing on either side (``clopy align``,
clopy_data.align). Each pulse goes out through the rig's OutputBank (a TTL output:
limited length, watchdog, low on close) and its on time is reported to a callback,
which the reward node turns into a recorded RewardEvent (name ``sync``).
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from clopy_reward.outputs import OutputSpec

#: intervals are uniform in [LOW, HIGH] x the mean (Rsync)
INTERVAL_LOW = 0.1
INTERVAL_HIGH = 1.9
#: the output's name in the OutputBank and in the recorded events
SYNC_OUTPUT = 'sync'
#: sync_pin value that turns the output off
SYNC_OFF = -1


class SyncError(ValueError):
    """Sync settings that cannot work (the message names the parameter and what is allowed)."""


@dataclass
class SyncSchedule:
    """Random pulse intervals (seconds between pulse onsets); ``seed`` None draws a fresh
    seed from the operating system."""

    mean_interval_s: float
    pulse_s: float
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_sync_settings(self.mean_interval_s, self.pulse_s)
        self._rng = random.Random(self.seed)

    def next_interval_s(self) -> float:
        return self._rng.uniform(INTERVAL_LOW, INTERVAL_HIGH) * self.mean_interval_s

    def onsets_s(self, duration_s: float, start_s: float = 0.0) -> list[float]:
        """Onset times from ``start_s`` (the first one interval after it) up to ``duration_s``."""
        times, t = [], start_s + self.next_interval_s()
        while t <= start_s + duration_s:
            times.append(t)
            t += self.next_interval_s()
        return times


def check_sync_settings(mean_interval_s: float, pulse_s: float, where: str = 'reward') -> None:
    """Refuse a pulse that is not shorter than the shortest interval (0.1 x the mean)."""
    if not mean_interval_s > 0:
        raise SyncError(f'{where}.sync_mean_interval_s: {mean_interval_s!r} must be > 0')
    if not pulse_s > 0:
        raise SyncError(f'{where}.sync_pulse_s: {pulse_s!r} must be > 0')
    shortest = INTERVAL_LOW * mean_interval_s
    if pulse_s >= shortest:
        raise SyncError(f'{where}.sync_pulse_s: {pulse_s!r} s must be shorter than the shortest interval, '
                        f'{INTERVAL_LOW} x sync_mean_interval_s = {shortest:g} s (lengthen the interval or '
                        'shorten the pulse)')


def sync_enabled(pin: int) -> bool:
    """sync_pin -1 (SYNC_OFF) means no sync output."""
    return pin != SYNC_OFF


def sync_output_specs(values: dict) -> list[OutputSpec]:
    """The sync output of the reward node's parameters (``sync_pin``, ``sync_pulse_s``,
    ``sync_mean_interval_s``): one OutputSpec limited to the pulse length, or none when
    sync_pin is -1. Raises SyncError for settings that cannot work."""
    if not sync_enabled(values['sync_pin']):
        return []
    check_sync_settings(values['sync_mean_interval_s'], values['sync_pulse_s'])
    return [OutputSpec(SYNC_OUTPUT, values['sync_pin'], values['sync_pulse_s'])]


def start_sync(bank, values: dict, on_pulse: Callable, seed: int | None = None) -> SyncPulser | None:
    """Start the pulses on ``bank`` when the parameters turn the sync output on."""
    if not sync_enabled(values['sync_pin']):
        return None
    schedule = SyncSchedule(values['sync_mean_interval_s'], values['sync_pulse_s'], seed)
    return SyncPulser(bank, schedule, on_pulse=on_pulse).start()


class SyncPulser:
    """Emits the schedule's pulses on ``bank``'s output ``name`` from its own thread.

    ``on_pulse(record)`` gets each pulse once it is off again (a PulseRecord with its
    on_time_s and off_time_s, UTC epoch seconds); ``emitted_s`` lists the on times of
    the pulses that went out. Onsets are kept on the schedule (monotonic clock), so a
    late wake-up does not shift the pulses after it."""

    def __init__(self, bank, schedule: SyncSchedule, name: str = SYNC_OUTPUT,
                 on_pulse: Callable | None = None) -> None:
        self.bank = bank
        self.schedule = schedule
        self.name = name
        self.on_pulse = on_pulse
        self.emitted_s: list[float] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name='sync-pulses', daemon=True)

    def start(self) -> 'SyncPulser':
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        """No more pulses after this returns (one already on still ends on time)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        due = time.monotonic() + self.schedule.next_interval_s()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            record = self.bank.pulse(self.name, self.schedule.pulse_s, reason='sync', on_done=self._done)
            if record.delivered:
                self.emitted_s.append(record.on_time_s)
            else:
                self.refused.append(record.note)
            due += self.schedule.next_interval_s()

    def _done(self, record) -> None:
        if self.on_pulse is not None and record.delivered:
            self.on_pulse(record)
