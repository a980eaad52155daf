"""The Firmata backend against the real StandardFirmata on an emulated Arduino Uno.

The firmware is the published StandardFirmata build for the Uno (StandardFirmata.ino,
version 2.4, 57600 baud) from the npm package avrgirl-arduino 5.0.1, fetched and
checked against pinned checksums by scripts/fetch_firmata_hex.sh (cached under
~/.cache/clopy/firmata; the same file docs/hardware-arduino.md flashes on the rig).
It runs in simavr (firmware/simavr_uno.c, libsimavr) with its UART on a
pseudo-terminal, and the reward outputs drive it through pyfirmata2 and a real serial
port. The pins are read from the emulated ATmega328P's port registers: the valve pulse
on Arduino pin 7 is as long as asked, every output is low after close, the imaging TTL
on pin 13 is high from the start and ends LOW-HIGH-LOW, and no other pin moves.

Needs the Debian packages of requirements/debian-test.txt ("Arduino outputs") and, the
first time, npm's registry; a hex that cannot be fetched or does not match its
checksums fails the test."""
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from clopy_reward.outputs import OutputBank, OutputSpec
from clopy_reward.pins import make_driver

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DEBIAN = 'simavr libsimavr-dev gcc npm (requirements/debian-test.txt)'
#: StandardFirmata's Firmata.begin(57600): the firmware's UART and the driver agree
BAUD = 57600


def _missing() -> list[str]:
    files = ['/usr/include/simavr/sim_hex.h', '/usr/include/simavr/parts/uart_pty.h']
    return (['cc'] if shutil.which('cc') is None else []) + [f for f in files if not Path(f).exists()]


def _fetch_hex() -> tuple[Path | None, str]:
    """(the verified StandardFirmata hex, '') or (None, why not)."""
    got = subprocess.run(['bash', str(REPO / 'scripts' / 'fetch_firmata_hex.sh')],
                         capture_output=True, text=True, timeout=300)
    if got.returncode != 0:
        return None, got.stderr.strip()[-3000:]
    return Path(got.stdout.strip().splitlines()[-1]), ''


@pytest.fixture(scope='module')
def uno_firmware(tmp_path_factory):
    """(StandardFirmata hex, simavr harness): fetched (cached) and built once per run."""
    t0 = time.monotonic()
    missing = _missing()
    hex_path, why = (None, '') if missing else _fetch_hex()
    if hex_path is None and shutil.which('npm') is None:
        missing.append('npm')
    if missing:
        message = f'the simavr Firmata test needs {DEBIAN}; missing: {missing}'
        if os.geteuid() != 0:
            pytest.skip(message + ' (install them as root: scripts/system_deps.sh)')
        pytest.fail(message)
    if hex_path is None:
        pytest.fail(f'the StandardFirmata hex could not be fetched: {why}')
    t1 = time.monotonic()
    harness = tmp_path_factory.mktemp('firmata') / 'simavr_uno'
    cc = subprocess.run(['cc', '-O2', '-o', str(harness), str(HERE / 'firmware' / 'simavr_uno.c'),
                         '-I/usr/include/simavr', '-lsimavr', '-lsimavrparts', '-lpthread', '-lutil'],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[-3000:]
    print(f'\n{hex_path} ready in {t1 - t0:.1f} s, simavr harness built in {time.monotonic() - t1:.1f} s')
    return hex_path, harness


class EmulatedUno:
    """The harness process: its pseudo-terminal and the pin changes it printed."""

    def __init__(self, firmware: Path, harness: Path) -> None:
        self.proc = subprocess.Popen([str(harness), str(firmware)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        while line and not line.startswith('pty '):
            line = self.proc.stdout.readline()
        assert line.startswith('pty '), 'simavr harness printed no pseudo-terminal'
        self.path = line.split()[1]
        self.lines: list[str] = []

    def stop(self) -> dict[int, list[tuple[int, float, float]]]:
        """{pin: [(level, avr time s, host time s)]} of every change, after stopping."""
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        changes: dict[int, list[tuple[int, float, float]]] = {}
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] == 'pin':
                pin, level, avr_ns, host_ns = map(int, parts[1:])
                seq = changes.setdefault(pin, [])
                if not seq or seq[-1][0] != level:
                    seq.append((level, avr_ns * 1e-9, host_ns * 1e-9))
        return changes


def high_periods(seq):
    """[(avr s, host s)] lengths of each completed high period."""
    out, rise = [], None
    for level, avr_s, host_s in seq:
        if level and rise is None:
            rise = (avr_s, host_s)
        elif not level and rise is not None:
            out.append((avr_s - rise[0], host_s - rise[1]))
            rise = None
    return out


def test_valve_pulse_and_close_on_standard_firmata_in_simavr(uno_firmware):
    firmware, harness = uno_firmware
    uno = EmulatedUno(firmware, harness)
    try:
        t0 = time.monotonic()
        driver = make_driver('firmata', serial_port=uno.path, baud=BAUD, connect_timeout_s=10.0)
        print(f'connected to {driver.name} (Firmata protocol {driver.board.firmata_version}) in '
              f'{time.monotonic() - t0:.2f} s')
        assert driver.firmware == 'StandardFirmata.ino 2.4'
        assert driver.outputs == list(range(2, 20))
        bank = OutputBank([OutputSpec('valve', 7, 1.0), OutputSpec('fail', 12, 2.0),
                           OutputSpec('imaging_ttl', 13, 0.0, end_pulse_s=0.05)], driver)
        bank.set_level('imaging_ttl', True)
        time.sleep(0.05)
        valve = bank.pulse('valve', 0.1, reason='success')
        assert valve.delivered and bank.wait_idle(3.0)
        refused = bank.pulse('valve', 1.5)
        assert not refused.delivered and 'exceeds' in refused.note
        fail = bank.pulse('fail', 0.05)
        assert fail.delivered
        time.sleep(0.01)
        bank.close()   # fail still on: closed early, then the imaging TTL's end mark
        assert 'closed early' in fail.note
        time.sleep(0.2)
    finally:
        changes = uno.stop()
    valve_periods = high_periods(changes[7])
    assert len(valve_periods) == 1, changes[7]
    avr_s, host_s = valve_periods[0]
    print(f'valve pulse 0.1 s asked: {host_s * 1000:.1f} ms on the emulated pin (host clock), '
          f'{avr_s * 1000:.1f} ms of AVR time; the node recorded {valve.duration_s * 1000:.1f} ms')
    assert host_s == pytest.approx(0.1, abs=0.03)
    assert valve.duration_s == pytest.approx(0.1, abs=0.03)
    assert len(high_periods(changes[12])) == 1
    # every output low at the end; the imaging TTL: high, then LOW-HIGH-LOW at close
    for pin in (7, 12, 13):
        assert changes[pin][-1][0] == 0, (pin, changes[pin])
    assert [level for level, _, _ in changes[13]][-4:] == [1, 0, 1, 0]
    assert changes[7][-1][2] <= changes[13][-3][2]      # the valve was low before the end mark began
    # nothing else moved after the firmware set its pins up
    moved = {pin for pin, seq in changes.items() if any(level for level, _, _ in seq)}
    assert moved == {7, 12, 13}
