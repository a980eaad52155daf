"""Lick sensors, read at register or pin level. No rclpy here.

* ``mpr121``: the Adafruit MPR121 capacitive touch breakout of the original CLNF rig
  (I2C, address 0x5A, the spout on electrode 0), driven register by register through
  any object with the smbus2 calls ``write_byte_data`` / ``read_byte_data`` /
  ``read_i2c_block_data``: ``smbus2.SMBus`` on a rig, the simulated register map of
  clopy_sim in a ``--sim`` session. The chip's own touch detection is used (touch and
  release thresholds on the baseline-filtered capacitance), so the lick node reads
  two status bytes per poll.
* ``gpio``: a digital lickometer (a beam-break or contact circuit with a logic
  output) on a BCM pin through gpiozero: the rig's pin library, or the MockFactory
  pins of a ``--sim`` session that clopy_sim's simulated mouse drives.

A sensor that cannot be opened raises :class:`LickSensorError` whose message names
the bus and address or the pin and what to check; there is no fallback to simulation.
"""
from __future__ import annotations

import errno
import time
from typing import Protocol

MPR121_ADDRESS = 0x5A   # ADDR pin to GND (the breakout's default)

# MPR121 registers (NXP MPR121 data sheet)
TOUCH_STATUS = 0x00         # 2 bytes: ELE0-7, ELE8-11 | ELEPROX; bit 7 of the second = OVCF
FILTERED_DATA = 0x04        # 2 bytes per electrode, 10 bits, little endian
BASELINE = 0x1E             # 1 byte per electrode: the baseline's upper 8 bits
FILTER_MHD_RISING = 0x2B    # 0x2B..0x35: baseline filter (rising, falling, touched)
TOUCH_THRESHOLD = 0x41      # 0x41 + 2 e: touch threshold of electrode e; 0x42 + 2 e: release
DEBOUNCE = 0x5B
CONFIG1 = 0x5C              # FFI, CDC (charge current)
CONFIG2 = 0x5D              # CDT, SFI, ESI; reads 0x24 after a reset
ECR = 0x5E                  # electrode configuration: 0 = stop mode
SOFT_RESET = 0x80           # writing 0x63 resets the chip
RESET_VALUE = 0x63
CONFIG2_AFTER_RESET = 0x24
OVCF = 0x80                 # over-current flag (a short on REXT)
N_ELECTRODES = 12
# baseline filter settings of the Adafruit driver (fast rising, slow falling tracking)
_FILTER = (0x01, 0x01, 0x0E, 0x00, 0x01, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00)


class LickSensorError(RuntimeError):
    """A lick sensor cannot be opened or read; the message says what to check."""


class LickSensor(Protocol):
    """What the lick node reads: ``read()`` is True while the tongue touches."""

    description: str
    electrode: int

    def read(self) -> bool: ...

    def close(self) -> None: ...


class Mpr121:
    """The MPR121 at register level on an smbus2-like ``bus`` at ``address``."""

    def __init__(self, bus, address: int = MPR121_ADDRESS, where: str = '') -> None:
        self.bus, self.address = bus, int(address)
        self.where = where or f'I2C address 0x{self.address:02x}'

    def _write(self, register: int, value: int) -> None:
        self.bus.write_byte_data(self.address, register, value & 0xFF)

    def _read(self, register: int) -> int:
        return self.bus.read_byte_data(self.address, register)

    def start(self, electrodes: int, touch_threshold: int, release_threshold: int) -> None:
        """Reset, check that an MPR121 answers, set thresholds and the baseline filter,
        then run electrodes 0..electrodes-1 with baseline tracking."""
        if not 1 <= electrodes <= N_ELECTRODES:
            raise ValueError(f'electrodes={electrodes}; allowed: 1 to {N_ELECTRODES}')
        if not (0 <= release_threshold < touch_threshold <= 255):
            raise ValueError(f'touch_threshold={touch_threshold}, release_threshold={release_threshold}; '
                             'allowed: 0 <= release < touch <= 255')
        self._write(SOFT_RESET, RESET_VALUE)
        time.sleep(0.001)
        self._write(ECR, 0x00)   # stop mode: configuration registers may be written
        config2 = self._read(CONFIG2)
        if config2 != CONFIG2_AFTER_RESET:
            raise LickSensorError(
                f'the device at {self.where} is not an MPR121 (CONFIG2 reads 0x{config2:02x} after a reset, '
                f'an MPR121 gives 0x{CONFIG2_AFTER_RESET:02x}): check lick.i2c_address and the wiring')
        for e in range(N_ELECTRODES):
            self._write(TOUCH_THRESHOLD + 2 * e, touch_threshold)
            self._write(TOUCH_THRESHOLD + 2 * e + 1, release_threshold)
        for offset, value in enumerate(_FILTER):
            self._write(FILTER_MHD_RISING + offset, value)
        self._write(DEBOUNCE, 0x00)   # debouncing is the lick node's (debounce_s)
        self._write(CONFIG1, 0x10)    # 16 uA charge current
        self._write(CONFIG2, 0x20)    # 0.5 us charge time, 1 ms sampling
        self._write(ECR, 0x80 | electrodes)   # baseline tracking from the first reading, run

    def touch_bits(self) -> int:
        """The 12 electrodes' touch bits (bit e = electrode e touched)."""
        low, high = self.bus.read_i2c_block_data(self.address, TOUCH_STATUS, 2)
        if high & OVCF:
            raise LickSensorError(f'MPR121 at {self.where}: over-current flag set (a short on REXT, or '
                                  'the supply): check the breakout and its 3.3 V supply')
        return (low | high << 8) & 0x0FFF

    def filtered(self, electrode: int) -> int:
        """Electrode's filtered capacitance reading (10 bits)."""
        low, high = self.bus.read_i2c_block_data(self.address, FILTERED_DATA + 2 * electrode, 2)
        return (low | high << 8) & 0x03FF

    def baseline(self, electrode: int) -> int:
        """Electrode's baseline on the same 10-bit scale (the chip keeps its upper 8 bits)."""
        return self._read(BASELINE + electrode) << 2

    def stop(self) -> None:
        self._write(ECR, 0x00)


class Mpr121Sensor:
    """Electrode `electrode` of an MPR121 as a lick sensor."""

    def __init__(self, bus, address: int, electrode: int, touch_threshold: int, release_threshold: int,
                 where: str, close_bus: bool = True) -> None:
        self.description = f'mpr121 {where} electrode {electrode}'
        self.electrode = int(electrode)
        self._bus, self._close_bus = bus, close_bus
        self.chip = Mpr121(bus, address, where)
        try:
            self.chip.start(self.electrode + 1, touch_threshold, release_threshold)
        except OSError as exc:
            raise LickSensorError(_i2c_help(exc, where)) from exc

    def read(self) -> bool:
        try:
            return bool(self.chip.touch_bits() >> self.electrode & 1)
        except OSError as exc:
            raise LickSensorError(f'reading the MPR121 at {self.chip.where} failed ({exc}): '
                                  'check the I2C wires and the 3.3 V supply') from exc

    def close(self) -> None:
        try:
            self.chip.stop()
        except OSError:
            pass
        if self._close_bus:
            close = getattr(self._bus, 'close', None)
            if close:
                close()


def _i2c_help(exc: OSError, where: str) -> str:
    if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
        return (f'no MPR121 answers at {where} ({exc}): check the wiring (SDA to GPIO2 / pin 3, SCL to GPIO3 / '
                f'pin 5, VIN to 3.3 V, GND), the address (ADDR to GND gives 0x5a) and `i2cdetect -y <bus>`')
    return f'I2C at {where} failed ({exc}): check the wiring and lick.i2c_bus / lick.i2c_address'


def open_i2c_bus(bus: int):
    """smbus2.SMBus on /dev/i2c-<bus>; LickSensorError naming the bus and what to check."""
    try:
        from smbus2 import SMBus
    except ImportError as exc:
        raise LickSensorError('the mpr121 lick sensor needs the Python package smbus2 '
                              '(pip install "smbus2>=0.4,<0.7", or apt install python3-smbus2)') from exc
    try:
        return SMBus(int(bus))
    except FileNotFoundError as exc:
        raise LickSensorError(f'no I2C bus /dev/i2c-{bus}: enable I2C (Raspberry Pi: raspi-config, '
                              f'Interface Options, I2C; or dtparam=i2c_arm=on) or set lick.i2c_bus') from exc
    except PermissionError as exc:
        raise LickSensorError(f'no permission to open /dev/i2c-{bus}: add the user to the i2c group '
                              '(sudo adduser $USER i2c) and log in again') from exc
    except OSError as exc:
        raise LickSensorError(f'cannot open /dev/i2c-{bus}: {exc}') from exc


class GpioLickSensor:
    """A digital lickometer on BCM pin `pin` through gpiozero (`pin_factory`).

    pull: 'none' (the lickometer drives the line; `active_high` chooses the touched
    level), 'up' (touched pulls it low) or 'down' (touched pulls it high)."""

    def __init__(self, pin: int, active_high: bool, pull: str, pin_factory) -> None:
        from gpiozero import DigitalInputDevice
        if pull not in ('none', 'up', 'down'):
            raise ValueError(f"pull={pull!r}; allowed: 'none', 'up', 'down'")
        if pull != 'none' and active_high != (pull == 'down'):
            raise LickSensorError(f'lick.gpio_pull = {pull!r} with lick.gpio_active_high = {active_high}: a pull-{pull} '
                                  f'line is touched when {"low" if pull == "up" else "high"}; set gpio_active_high '
                                  f'{str(pull == "down").lower()} or gpio_pull none')
        self.description = f'gpio BCM{pin}'
        self.electrode = 0
        try:
            self.device = DigitalInputDevice(pin, pull_up=None if pull == 'none' else pull == 'up',
                                             active_state=active_high if pull == 'none' else None,
                                             pin_factory=pin_factory)
        except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds; all mean the same here
            raise LickSensorError(f'cannot open the lickometer input on BCM pin {pin} ({type(exc).__name__}: '
                                  f'{exc}): check lick.gpio_pin, that no other program or output uses it, '
                                  'and the pin library (python3-lgpio on a Raspberry Pi)') from exc
        self.pin = self.device.pin

    def read(self) -> bool:
        return bool(self.device.value)

    def close(self) -> None:
        self.device.close()


def open_sensor(values: dict, simulation=None):
    """The configured sensor: on the rig's hardware, or on `simulation`'s (a
    clopy_sim SimulatedLickRig). LickSensorError says which sensor and what to check."""
    if values['backend'] == 'mpr121':
        bus, address = values['i2c_bus'], values['i2c_address']
        where = f'i2c-{bus} 0x{address:02x}' + (' (simulated)' if simulation else '')
        try:
            handle = simulation.bus if simulation else open_i2c_bus(bus)
        except LickSensorError as exc:
            raise LickSensorError(f'I2C {where}: {exc}') from exc
        return Mpr121Sensor(handle, address, values['electrode'], values['touch_threshold'],
                            values['release_threshold'], where)
    from clopy_reward.errors import OutputError
    from clopy_reward.pins import make_pin_factory   # the rig's pins, never mock ones
    try:
        factory = simulation.pin_factory if simulation else make_pin_factory(False)
    except OutputError as exc:
        raise LickSensorError(f'lickometer on BCM pin {values["gpio_pin"]}: {exc}') from exc
    return GpioLickSensor(values['gpio_pin'], values['gpio_active_high'], values['gpio_pull'], factory)
