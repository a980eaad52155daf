"""Digital outputs on an Arduino running StandardFirmata, through pyfirmata2 (the
CLMF rig: valve, fail signal and imaging TTL on the Arduino's pins). A pin driver for
clopy_reward.outputs.OutputBank, which keeps the safety rules. No rclpy here.

Opening the board:
1. the serial port must exist (else: is the Arduino plugged in, which /dev/ttyACM*);
2. the firmware must answer Firmata's version and firmware queries within
   ``connect_timeout_s`` (an Uno resets when the port opens and needs 1-2 s to boot;
   no answer: is StandardFirmata flashed, does reward.baud match its Firmata.begin());
3. every pin the outputs use must be a digital output of that board (Firmata's
   capability report: an Uno has digital pins 2-19, 0 and 1 being the serial lines).
Each step fails with an OutputError naming the port, the setting and what to check.

Every pin is set to OUTPUT and driven low when it is opened (StandardFirmata also
drives its outputs low when it starts), and low again when the bank closes; the
serial port is drained before it is closed so the last "low" reaches the board.
"""
from __future__ import annotations

import os
import threading
import time

from clopy_reward.errors import OutputError

#: Firmata: pin mode OUTPUT in the capability report and SET_PIN_MODE
_OUTPUT_MODE = 1


def _board_class():
    """pyfirmata2's Board without its fixed 5 s busy wait after opening the port: the
    driver waits for the firmware's own answer instead (FirmataDriver._handshake)."""
    import pyfirmata2

    class Board(pyfirmata2.Board):
        def _Board__pass_time(self, t):   # noqa: N802 - pyfirmata2's private name
            pass

    return Board


def _layout(n_pins: int) -> dict:
    """A pyfirmata2 board layout of n_pins digital pins (ports of 8), nothing analog."""
    return {'digital': tuple(range(n_pins)), 'analog': (), 'pwm': (), 'disabled': ()}


def output_pins(capability: list[int]) -> tuple[int, list[int]]:
    """(number of pins, pins that can be digital outputs) from the data of Firmata's
    CAPABILITY_RESPONSE: per pin, (mode, resolution) pairs ended by 0x7F."""
    pins, current = [], []
    for byte in capability:
        if byte == 0x7F:
            pins.append(current)
            current = []
        else:
            current.append(byte)
    outputs = [i for i, modes in enumerate(pins) if _OUTPUT_MODE in modes[0::2]]
    return len(pins), outputs


class FirmataLine:
    """One output pin of the board; on()/off() are written at once (no buffering)."""

    def __init__(self, driver: 'FirmataDriver', pin: int, active_high: bool) -> None:
        self.driver, self.number, self.active_high = driver, pin, active_high
        self.pin = driver.board.digital[pin]
        self.value = False
        with driver.io_lock:
            self.pin.mode = _OUTPUT_MODE   # SET_PIN_MODE pin OUTPUT
        self.off()

    def _write(self, on: bool) -> None:
        level = 1 if on == self.active_high else 0
        with self.driver.io_lock:
            self.pin.value = None   # pyfirmata2 writes only changes: always send
            self.pin.write(level)
        self.value = on

    def on(self) -> None:
        self._write(True)

    def off(self) -> None:
        self._write(False)

    def close(self) -> None:
        """The pin stays an output, low (a floating valve driver input could switch on)."""


class FirmataDriver:
    """An Arduino with StandardFirmata on ``port`` (reward.serial_port) at ``baud``
    (reward.baud: the rate of the sketch's Firmata.begin())."""

    def __init__(self, port: str, baud: int = 57600, connect_timeout_s: float = 10.0) -> None:
        self.port, self.baud = port, int(baud)
        self.io_lock = threading.RLock()
        self.board = None
        if not os.path.exists(port):
            raise OutputError(
                f'reward.serial_port = {port!r}: no such serial device. Check that the Arduino is '
                f'plugged in (USB), which port it got (ls /dev/ttyACM* /dev/ttyUSB*; /dev/serial/by-id/ '
                f'names stay the same across reboots) and set reward.serial_port to it; without the '
                f'Arduino run with --sim')
        try:
            import pyfirmata2  # noqa: F401
            import serial
        except ImportError as exc:
            raise OutputError(f'reward.backend = firmata needs the pyfirmata2 package ({exc}): '
                              f'pip install -r requirements/rig.txt') from exc
        try:
            self.board = _board_class()(port, _layout(20), baudrate=self.baud, timeout=1.0)
        except (serial.SerialException, OSError) as exc:
            raise OutputError(
                f'reward.serial_port = {port!r}: cannot open it ({exc}). Check the permissions (the '
                f'user must be in the dialout group: sudo usermod -aG dialout $USER, then log in again) '
                f'and that no other program (Arduino IDE serial monitor) holds the port') from exc
        try:
            self._handshake(connect_timeout_s)
            self.n_pins, self.outputs = self._capabilities(connect_timeout_s)
            self.board.setup_layout(_layout(self.n_pins))
        except BaseException:
            self.close()
            raise

    # -- opening ---------------------------------------------------------------------
    def _pump(self, until, timeout_s: float, ask) -> bool:
        """Read and parse what the board sends until ``until()`` or the timeout; ``ask()``
        (re)sends the question every 0.5 s (the first ones may reach a booting board)."""
        end = time.monotonic() + timeout_s
        next_ask = 0.0
        while time.monotonic() < end:
            if until():
                return True
            if time.monotonic() >= next_ask:
                with self.io_lock:
                    ask()
                next_ask = time.monotonic() + 0.5
            if self.board.bytes_available():
                try:
                    self.board.iterate()
                except (TypeError, ValueError, IndexError):
                    continue   # a message cut short (the board was booting): the next question
            else:
                time.sleep(0.005)
        return until()

    def _handshake(self, timeout_s: float) -> None:
        from pyfirmata2 import REPORT_FIRMWARE, REPORT_VERSION
        board = self.board

        def ask():
            board.sp.write(bytearray([REPORT_VERSION]))
            board.send_sysex(REPORT_FIRMWARE, [])

        if not self._pump(lambda: board.firmware is not None and board.firmata_version is not None,
                          timeout_s, ask):
            raise OutputError(
                f'reward.serial_port = {self.port!r}: no Firmata answer within {timeout_s:g} s at '
                f'reward.baud = {self.baud}. Check that StandardFirmata is flashed on the Arduino '
                f'(docs/hardware-arduino.md) and that reward.baud is the rate in its '
                f'Firmata.begin() (the Arduino IDE\'s StandardFirmata uses 57600)')

    def _capabilities(self, timeout_s: float) -> tuple[int, list[int]]:
        from pyfirmata2 import CAPABILITY_QUERY, CAPABILITY_RESPONSE
        got: list[list[int]] = []

        def on_capability(*data):
            got.append(list(data))

        self.board.add_cmd_handler(CAPABILITY_RESPONSE, on_capability)
        if not self._pump(lambda: bool(got), timeout_s, lambda: self.board.send_sysex(CAPABILITY_QUERY, [])):
            raise OutputError(
                f'reward.serial_port = {self.port!r}: the firmware ({self.firmware}) answered but sent no '
                f'pin capabilities within {timeout_s:g} s: flash StandardFirmata (2.2 or later)')
        return output_pins(got[0])

    @property
    def firmware(self) -> str:
        """'StandardFirmata.ino 2.5' (name and version the board reported)."""
        b = self.board
        if b is None or b.firmware is None:
            return 'no firmware answer'
        major, minor = b.firmware_version or (0, 0)
        return f'{b.firmware} {major}.{minor}'

    # -- the pin driver interface ---------------------------------------------------
    @property
    def name(self) -> str:
        return f'{self.firmware} on {self.port}'

    def describe(self, pin: int) -> str:
        return f'Arduino pin {pin} on {self.port}'

    def line(self, pin: int, active_high: bool = True) -> FirmataLine:
        if pin in (0, 1):
            raise OutputError(f'Arduino pins 0 and 1 are the serial lines Firmata talks through; '
                              f'allowed: {self._allowed()}')
        if pin not in self.outputs:
            raise OutputError(f'not a digital output of this board ({self.firmware}); allowed: '
                              f'{self._allowed()}')
        return FirmataLine(self, pin, active_high)

    def _allowed(self) -> str:
        outs = [p for p in self.outputs if p > 1]
        if not outs:
            return 'none (the board reports no digital outputs)'
        return f'Arduino pins {outs[0]}-{outs[-1]}' if outs == list(range(outs[0], outs[-1] + 1)) \
            else f'Arduino pins {outs}'

    def close(self) -> None:
        """Drain what was written (the last "low" reaches the board), then close the port."""
        board, self.board = self.board, None
        if board is None or getattr(board, 'sp', None) is None:
            return
        with self.io_lock:
            try:
                board.sp.flush()
            finally:
                board.sp.close()
