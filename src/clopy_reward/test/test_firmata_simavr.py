"""The Firmata backend against firmware running on an emulated Arduino Uno: the
firmware is built with Debian's AVR toolchain and Arduino core
(scripts/build_firmata.sh), runs in simavr (firmware/simavr_uno.c, libsimavr) with
its UART on a pseudo-terminal, and the reward outputs drive it through pyfirmata2 and
a real serial port. The pins are read from the emulated ATmega328P's port registers:
the valve pulse on Arduino pin 7 is as long as asked, every output is low after
close, and the imaging TTL on pin 13 is high from the start and ends LOW-HIGH-LOW.

The firmware is StandardFirmata when the Firmata and Servo libraries are installed
(ARDUINO_LIBRARIES; no Debian package ships them), else firmware/firmata_subset.cpp,
which answers the same part of the protocol as StandardFirmata on an Uno."""
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
DEBIAN = 'gcc-avr avr-libc arduino-core-avr simavr libsimavr-dev (requirements/debian-test.txt)'


def _missing() -> list[str]:
    need = [shutil.which(t) for t in ('avr-g++', 'avr-objcopy', 'cc')]
    files = ['/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h',
             '/usr/include/simavr/parts/uart_pty.h']
    return [str(x) for x in need if x is None] + [f for f in files if not Path(f).exists()]


@pytest.fixture(scope='module')
def uno_firmware(tmp_path_factory):
    """(firmware ELF, simavr harness): built once per test run."""
    if _missing():
        message = f'the simavr Firmata test needs {DEBIAN}; missing: {_missing()}'
        if os.geteuid() != 0:
            pytest.skip(message + ' (install them as root: scripts/system_deps.sh)')
        pytest.fail(message)
    out = tmp_path_factory.mktemp('firmata')
    t0 = time.monotonic()
    libs = Path(os.environ.get('ARDUINO_LIBRARIES', Path.home() / 'Arduino' / 'libraries'))
    sketch = [] if (libs / 'Firmata').is_dir() and (libs / 'Servo').is_dir() else \
        ['--sketch', str(HERE / 'firmware' / 'firmata_subset.cpp')]
    built = subprocess.run(['bash', str(REPO / 'scripts' / 'build_firmata.sh'), '--out', str(out), '--baud', '115200',
                            *sketch], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    elf = Path(built.stdout.strip().splitlines()[-1])
    harness = out / 'simavr_uno'
    cc = subprocess.run(['cc', '-O2', '-o', str(harness), str(HERE / 'firmware' / 'simavr_uno.c'),
                         '-I/usr/include/simavr', '-lsimavr', '-lsimavrparts', '-lpthread', '-lutil'],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr[-3000:]
    print(f'\nfirmware {elf.name} and simavr harness built in {time.monotonic() - t0:.1f} s')
    return elf, harness


class EmulatedUno:
    """The harness process: its pseudo-terminal and the pin changes it printed."""

    def __init__(self, elf: Path, harness: Path) -> None:
        self.proc = subprocess.Popen([str(harness), str(elf)], stdout=subprocess.PIPE,
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


def test_valve_pulse_and_close_on_an_emulated_uno(uno_firmware):
    elf, harness = uno_firmware
    uno = EmulatedUno(elf, harness)
    try:
        t0 = time.monotonic()
        driver = make_driver('firmata', serial_port=uno.path, baud=115200, connect_timeout_s=10.0)
        print(f'connected to {driver.name} in {time.monotonic() - t0:.2f} s')
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
