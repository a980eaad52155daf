"""The simulated lick sensor: the hardware the lick node (clopy_reward) reads in a
``--sim`` session, driven by the simulated mouse (clopy_sim.licking).

* ``SimulatedMpr121``: an MPR121's register map behind the smbus2 calls the node's
  driver makes (reset, CONFIG2's reset value, thresholds, ECR, touch status from the
  filtered data and the baseline, an absent address answering with EREMOTEIO).
* ``SimulatedLickRig``: the mouse, and the register map (backend mpr121) or gpiozero
  MockFactory pins (backend gpio) whose electrode or pin it moves on every reading.

The lick node finds ``simulated_lick_rig`` through the entry-point group
``clopy.lick_simulators`` (setup.py), so clopy_reward never imports this package.
Plain Python (no rclpy).
"""
from __future__ import annotations

import errno
import threading

from .licking import LickModel

# the registers the simulation gives meaning to (NXP MPR121 data sheet)
_TOUCH_STATUS, _FILTERED, _BASELINE, _THRESHOLDS = 0x00, 0x04, 0x1E, 0x41
_CONFIG1, _CONFIG2, _ECR, _RESET = 0x5C, 0x5D, 0x5E, 0x80
_N = 12
UNTOUCHED_COUNTS = 720    # filtered reading of an electrode nobody touches (10 bits)
TOUCH_DROP_COUNTS = 60    # how far a tongue on the spout pulls the reading down


class SimulatedMpr121:
    """An MPR121 at `address` on a simulated I2C bus (smbus2's SMBus calls)."""

    def __init__(self, address: int = 0x5A) -> None:
        self.address = int(address)
        self.registers = bytearray(256)
        self._drop = [0] * _N
        self._touched = [False] * _N
        self._lock = threading.Lock()
        self.resets = 0
        self._reset()

    # -- the simulation's side -----------------------------------------------------
    def set_touch(self, electrode: int, touching: bool) -> None:
        """A tongue on (or off) the electrode: its filtered reading drops (or returns)."""
        with self._lock:
            self._drop[electrode] = TOUCH_DROP_COUNTS if touching else 0
            self._update()

    # -- smbus2's side ------------------------------------------------------------
    def write_byte_data(self, address: int, register: int, value: int) -> None:
        with self._lock:
            self._check(address)
            if register == _RESET:
                if value == 0x63:
                    self._reset()
                return
            self.registers[register] = value & 0xFF
            self._update()

    def read_byte_data(self, address: int, register: int) -> int:
        with self._lock:
            self._check(address)
            return self.registers[register]

    def read_i2c_block_data(self, address: int, register: int, length: int) -> list[int]:
        with self._lock:
            self._check(address)
            return list(self.registers[register:register + length])

    def close(self) -> None:
        pass

    # -- internals ---------------------------------------------------------------
    def _check(self, address: int) -> None:
        if address != self.address:
            raise OSError(errno.EREMOTEIO, f'no device at 0x{address:02x} (simulated MPR121 at 0x{self.address:02x})')

    def _reset(self) -> None:
        self.registers[:] = bytes(256)
        self.registers[_CONFIG1] = 0x10
        self.registers[_CONFIG2] = 0x24
        self._touched = [False] * _N
        self.resets += 1
        self._update()

    def _update(self) -> None:
        running = self.registers[_ECR] & 0x0F   # electrodes 0..running-1 measure
        status = 0
        for e in range(_N):
            filtered = UNTOUCHED_COUNTS - self._drop[e] if e < running else 0
            baseline = UNTOUCHED_COUNTS if e < running else 0
            self.registers[_FILTERED + 2 * e] = filtered & 0xFF
            self.registers[_FILTERED + 2 * e + 1] = filtered >> 8
            self.registers[_BASELINE + e] = baseline >> 2
            if e >= running:
                self._touched[e] = False
                continue
            delta = baseline - filtered
            touch, release = self.registers[_THRESHOLDS + 2 * e], self.registers[_THRESHOLDS + 2 * e + 1]
            if not self._touched[e] and delta > touch:
                self._touched[e] = True
            elif self._touched[e] and delta < release:
                self._touched[e] = False
            status |= int(self._touched[e]) << e
        self.registers[_TOUCH_STATUS] = status & 0xFF
        self.registers[_TOUCH_STATUS + 1] = status >> 8


class SimulatedLickRig:
    """The simulated mouse at a simulated lick sensor.

    backend 'mpr121': ``bus`` is a SimulatedMpr121 at `i2c_address`, the mouse on
    `electrode`; backend 'gpio': ``pin_factory`` is a gpiozero MockFactory, the mouse
    drives `gpio_pin` (touched = the active level). ``advance(now_s)`` puts the sensor
    in the state the mouse is in at `now_s`; ``on_reward(time_s)`` starts a bout."""

    def __init__(self, backend: str, values: dict) -> None:
        sim = {k[4:]: v for k, v in values.items() if k.startswith('sim.')}
        self.model = LickModel(**sim)
        self.backend = backend
        self.bus = self.pin_factory = None
        self._pin = None
        if backend == 'mpr121':
            self.electrode = int(values['electrode'])
            self.bus = SimulatedMpr121(int(values['i2c_address']))
        elif backend == 'gpio':
            from gpiozero.pins.mock import MockFactory
            self.pin_factory = MockFactory()
            self.gpio_pin = int(values['gpio_pin'])
            pull = values.get('gpio_pull', 'none')
            self.active_high = bool(values['gpio_active_high']) if pull == 'none' else pull == 'down'
        else:
            raise ValueError(f'lick.backend = {backend!r}: no simulation; allowed: mpr121, gpio')

    def on_reward(self, time_s: float) -> None:
        self.model.reward(time_s)

    def advance(self, now_s: float) -> bool:
        """Set the sensor to the mouse's state at `now_s`; returns that state."""
        touching = self.model.touching(now_s)
        if self.bus is not None:
            self.bus.set_touch(self.electrode, touching)
        else:
            if self._pin is None:
                self._pin = self.pin_factory.pin(self.gpio_pin)
            if touching == self.active_high:
                self._pin.drive_high()
            else:
                self._pin.drive_low()
        return touching


def simulated_lick_rig(backend: str, values: dict) -> SimulatedLickRig:
    """Entry point of ``clopy.lick_simulators``: the rig for the lick node's values."""
    return SimulatedLickRig(backend, values)
