"""A serial peer that answers like StandardFirmata 2.5 on an Arduino Uno, byte for byte
(the Firmata protocol's version report, firmware report and capability response), on
a pseudo-terminal; it applies the host's SET_PIN_MODE and digital port messages to
its 20 pins and records every pin change with its arrival time. For the tests of
clopy_reward.firmata (pyfirmata2 and a real serial port on the host side)."""
from __future__ import annotations

import os
import select
import threading
import time
import tty

REPORT_VERSION = bytes([0xF9, 2, 5])
FIRMWARE_NAME = 'StandardFirmata.ino'
REPORT_FIRMWARE = (bytes([0xF0, 0x79, 2, 5]) + b''.join(bytes([ord(c), 0]) for c in FIRMWARE_NAME)
                   + bytes([0xF7]))
PWM_PINS = (3, 5, 6, 9, 10, 11)


def uno_capabilities() -> bytes:
    """CAPABILITY_RESPONSE of StandardFirmata on an Uno: pins 0-1 none (serial), 2-19
    input (0), pull-up (11), output (1); PWM (3) on 3, 5, 6, 9, 10, 11; servo (4) on
    the digital pins; analog (2) on 14-19; I2C (6) on 18-19."""
    out = bytearray([0xF0, 0x6C])
    for pin in range(20):
        if pin >= 2:
            out += bytes([0, 1, 11, 1, 1, 1])
            if pin in PWM_PINS:
                out += bytes([3, 8])
            out += bytes([4, 14])
            if pin >= 14:
                out += bytes([2, 10])
            if pin in (18, 19):
                out += bytes([6, 1])
        out.append(0x7F)
    out.append(0xF7)
    return bytes(out)


class FirmataPeer:
    """``answer``: False for a silent device (no firmware)."""

    def __init__(self, answer: bool = True) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.answer = answer
        self.levels = [0] * 20
        self.modes = [1] * 20          # StandardFirmata starts with every digital pin an output
        self.changes: list[tuple[float, int, int]] = []   # (time.monotonic(), pin, level)
        self.received = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """The device goes away (as a USB serial port does): the host's writes fail."""
        self._stop = True
        self._thread.join(2.0)
        os.close(self.master)
        self.master = -1
        time.sleep(0.05)   # the kernel hangs the terminal up

    def close(self) -> None:
        self._stop = True
        self._thread.join(2.0)
        for fd in (self.master, self.slave):
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError:
                pass

    # -- what the pins did ---------------------------------------------------------
    def edges(self, pin: int) -> list[tuple[float, int]]:
        with self._lock:
            return [(t, level) for t, p, level in self.changes if p == pin]

    def high_times_s(self, pin: int) -> list[float]:
        """Length of each completed high period of ``pin`` (seconds, as the device saw them)."""
        out, rise = [], None
        for t, level in self.edges(pin):
            if level and rise is None:
                rise = t
            elif not level and rise is not None:
                out.append(t - rise)
                rise = None
        return out

    # -- the device ----------------------------------------------------------------
    def _run(self) -> None:
        buf = bytearray()
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self.master, 1024)
            except OSError:
                continue
            now = time.monotonic()
            self.received += data
            buf += data
            buf = self._handle(buf, now)

    def _reply(self, data: bytes) -> None:
        if self.answer:
            os.write(self.master, data)

    def _handle(self, buf: bytearray, now: float) -> bytearray:
        while buf:
            cmd = buf[0]
            if cmd == 0xF9:
                self._reply(REPORT_VERSION)
                del buf[:1]
            elif cmd == 0xF0:
                if 0xF7 not in buf:
                    return buf
                end = buf.index(0xF7)
                sysex = buf[1]
                if sysex == 0x79:
                    self._reply(REPORT_FIRMWARE)
                elif sysex == 0x6B:
                    self._reply(uno_capabilities())
                del buf[:end + 1]
            elif cmd == 0xF4:
                if len(buf) < 3:
                    return buf
                self.modes[buf[1]] = buf[2]
                del buf[:3]
            elif 0x90 <= cmd <= 0x9F:
                if len(buf) < 3:
                    return buf
                self._port(cmd & 0x0F, buf[1] | (buf[2] << 7), now)
                del buf[:3]
            else:
                del buf[:1]    # bytes this firmware ignores
        return buf

    def _port(self, port: int, mask: int, now: float) -> None:
        """StandardFirmata's digitalWriteCallback: only output pins change, 0 and 1 never."""
        with self._lock:
            for bit in range(8):
                pin = port * 8 + bit
                if pin < 2 or pin >= 20 or self.modes[pin] != 1:
                    continue
                level = (mask >> bit) & 1
                if level != self.levels[pin]:
                    self.levels[pin] = level
                    self.changes.append((now, pin, level))
