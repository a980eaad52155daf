"""Where the rig's digital outputs live: a pin driver gives OutputBank one line per
output (on(), off(), value, close()) and is closed with it. No rclpy here.

- GpioDriver: gpiozero pins (BCM numbers) on the rig computer's header, or gpiozero's
  MockFactory in simulation;
- FirmataDriver (clopy_reward.firmata): digital pins of an Arduino running
  StandardFirmata on a USB serial port.

The safety rules (limits, watchdog, all low on close) live once, in OutputBank; a
driver only switches pins.
"""
from __future__ import annotations

from clopy_reward.errors import OutputError, PinSettingError

#: reward.backend values
BACKENDS = ('gpio', 'firmata')
#: highest pin number of any backend (an Arduino Mega's A15 is digital pin 69)
MAX_PIN = 69
#: the pins each backend can drive: BCM 0-27 of the Pi header; Arduino 2-69 (0 and 1
#: are the serial lines Firmata talks through; the board itself says which exist)
PIN_RANGES = {'gpio': (0, 27), 'firmata': (2, MAX_PIN)}
#: reward parameter of each output's pin, in OutputBank order
PIN_KEYS = {'valve': 'valve_pin', 'fail': 'fail_pin', 'behaviour_camera': 'behaviour_camera_pin',
            'illumination': 'illumination_pin', 'imaging_ttl': 'imaging_ttl_pin'}


def check_output_pins(values, where=lambda key: 'reward') -> dict[str, int]:
    """{output: pin} of the wired outputs (pin -1: not wired), each within the backend's
    range and no two on one pin. ``values``: the reward node's parameters, defaults
    filled in; ``where(key)``: the file or --set a key came from. PinSettingError."""
    backend = values['backend']
    low, high = PIN_RANGES[backend]
    pins = {}
    for output, key in PIN_KEYS.items():
        pin = int(values[key])
        if pin == -1 and output not in ('valve', 'fail'):
            continue
        if not low <= pin <= high:
            extra = ' (0 and 1 are the serial lines Firmata talks through)' if backend == 'firmata' else ''
            raise PinSettingError(f'{where(key)}: reward.{key} = {pin}: allowed with reward.backend = '
                                  f'{backend}: {low}-{high}{extra}'
                                  + ('' if output in ('valve', 'fail') else ', or -1 (not wired)'))
        shared = [o for o, p in pins.items() if p == pin]
        if shared:
            raise PinSettingError(f'{where(key)}: reward.{key} = {pin}: already the pin of {shared[0]} '
                                  f'(reward.{PIN_KEYS[shared[0]]}); each output needs its own pin')
        pins[output] = pin
    return pins


def make_pin_factory(simulate: bool):
    """gpiozero pin factory: MockFactory when simulating, else the rig's own.

    Never falls back to mock pins on a rig: gpiozero's default search ends in
    BadPinFactory when no pin library works, and that is turned into an error
    that says what to do."""
    if simulate:
        from gpiozero.pins.mock import MockFactory
        return MockFactory()
    import warnings

    from gpiozero import Device
    from gpiozero.exc import BadPinFactory
    from gpiozero.pins.mock import MockFactory
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            factory = Device._default_pin_factory()
    except BadPinFactory as exc:
        raise OutputError(
            'no GPIO pin library works on this computer (gpiozero: %s). On a Raspberry Pi '
            'install python3-lgpio; elsewhere run in simulation (--sim or simulate: true)' % exc
        ) from exc
    if isinstance(factory, MockFactory):
        raise OutputError('GPIOZERO_PIN_FACTORY selects mock pins, but this is not a simulated '
                          'session: unset it or run with --sim')
    return factory


class GpioDriver:
    """gpiozero DigitalOutputDevice lines on a pin factory (a rig's, or MockFactory)."""

    def __init__(self, pin_factory, simulated: bool | None = None) -> None:
        from gpiozero.pins.mock import MockFactory
        self.factory = pin_factory
        self.simulated = isinstance(pin_factory, MockFactory) if simulated is None else simulated

    @property
    def name(self) -> str:
        return 'simulated pins' if self.simulated else 'GPIO'

    def describe(self, pin: int) -> str:
        return f'{"simulated " if self.simulated else ""}BCM pin {pin}'

    def line(self, pin: int, active_high: bool = True):
        from gpiozero import DigitalOutputDevice
        return DigitalOutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=self.factory)

    def close(self) -> None:
        """The factory stays: gpiozero's pins were released with their devices."""


def make_driver(backend: str = 'gpio', simulate: bool = False, serial_port: str = '/dev/ttyACM0',
                baud: int = 57600, connect_timeout_s: float = 10.0):
    """The pin driver of reward.backend. Simulation is explicit: gpiozero mock pins
    with the same pin numbers, whatever the backend; a real session whose device is
    missing stops with an OutputError (never a silent simulation)."""
    if backend not in BACKENDS:
        raise OutputError(f'reward.backend = {backend!r}: allowed: one of {", ".join(map(repr, BACKENDS))}')
    if simulate:
        return GpioDriver(make_pin_factory(True), simulated=True)
    if backend == 'firmata':
        from clopy_reward.firmata import FirmataDriver
        return FirmataDriver(serial_port, baud, connect_timeout_s)
    return GpioDriver(make_pin_factory(False), simulated=False)
