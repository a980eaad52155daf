"""The Firmata backend (clopy_reward.firmata through pyfirmata2, a real serial port):
against a peer answering like StandardFirmata on an Uno (firmata_board.py), the valve
pulse the device sees is as long as asked, the safety rules of OutputBank hold, every
output is low after close, the imaging TTL ends LOW-HIGH-LOW, and a missing or silent
Arduino stops with an error naming the port and what to check."""
import time

import pytest
from firmata_board import FirmataPeer

from clopy_reward.errors import OutputError
from clopy_reward.firmata import FirmataDriver, output_pins
from clopy_reward.outputs import OutputBank, OutputSpec
from clopy_reward.pins import make_driver

CLMF_PINS = {'valve': 7, 'fail': 12, 'imaging_ttl': 13}


@pytest.fixture
def peer():
    p = FirmataPeer()
    yield p
    p.close()


def clmf_bank(peer, max_valve_s=1.0, end_pulse_s=0.0):
    driver = make_driver('firmata', serial_port=peer.path, baud=115200, connect_timeout_s=5.0)
    return OutputBank([OutputSpec('valve', 7, max_valve_s), OutputSpec('fail', 12, 2.0),
                       OutputSpec('imaging_ttl', 13, 0.0, end_pulse_s=end_pulse_s)], driver)


def wait_for(predicate, timeout_s=2.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)
    return predicate()


def test_the_board_is_identified_and_its_output_pins_read():
    p = FirmataPeer()
    try:
        driver = FirmataDriver(p.path, 115200, connect_timeout_s=5.0)
        assert driver.firmware == 'StandardFirmata.ino 2.5'
        assert driver.outputs == list(range(2, 20)) and driver.n_pins == 20
        assert driver.name == f'StandardFirmata.ino 2.5 on {p.path}'
        driver.close()
    finally:
        p.close()


def test_valve_pulse_on_arduino_pin_7_lasts_as_long_as_asked(peer):
    bank = clmf_bank(peer)
    assert [peer.modes[pin] for pin in CLMF_PINS.values()] == [1, 1, 1]   # SET_PIN_MODE OUTPUT
    done = []
    rec = bank.pulse('valve', 0.1, reason='success', on_done=done.append)
    assert rec.delivered and bank.is_on('valve')
    assert bank.wait_idle(2.0) and done == [rec]
    assert wait_for(lambda: len(peer.high_times_s(7)) == 1)
    assert peer.high_times_s(7)[0] == pytest.approx(0.1, abs=0.02)
    assert rec.duration_s == pytest.approx(0.1, abs=0.02)
    # the fail pulse on pin 12, nothing else moved
    bank.pulse('fail', 0.05)
    assert bank.wait_idle(2.0)
    assert wait_for(lambda: len(peer.high_times_s(12)) == 1)
    assert {pin for _, pin, _ in peer.changes} == {7, 12}
    bank.close()


def test_limits_and_the_watchdog_hold_on_the_arduino(peer):
    bank = clmf_bank(peer, max_valve_s=0.1)
    refused = bank.pulse('valve', 0.5)
    assert not refused.delivered and 'exceeds' in refused.note
    assert peer.edges(7) == []
    rec = bank.pulse('valve', 0.1)
    bank._active['valve'].timer.cancel()   # a lost timer: the watchdog closes the valve
    assert wait_for(lambda: not bank.is_on('valve'), 1.0)
    assert 'watchdog' in rec.note
    assert wait_for(lambda: len(peer.high_times_s(7)) == 1)
    assert peer.high_times_s(7)[0] < 0.15
    bank.close()


def test_close_drives_every_output_low_and_the_imaging_ttl_ends_low_high_low(peer):
    bank = clmf_bank(peer, end_pulse_s=0.05)
    bank.set_level('imaging_ttl', True)      # high from the start of the session
    bank.pulse('valve', 0.9)
    assert wait_for(lambda: peer.levels[7] == 1 and peer.levels[13] == 1)
    bank.close()
    assert wait_for(lambda: len(peer.edges(13)) == 4)
    assert peer.levels[7] == 0 and peer.levels[12] == 0 and peer.levels[13] == 0
    # the valve closed first, then the TTL: low, high, low
    valve_off = peer.edges(7)[-1][0]
    (t_high0, up0), (t_low, down), (t_high, up), (t_end, down2) = peer.edges(13)
    assert (up0, down, up, down2) == (1, 0, 1, 0)
    assert valve_off <= t_low and t_end - t_high == pytest.approx(0.05, abs=0.02)
    bank.close()   # idempotent


def test_a_missing_serial_device_is_an_error_naming_the_port_never_a_simulation():
    with pytest.raises(OutputError) as err:
        make_driver('firmata', simulate=False, serial_port='/dev/ttyACM99')
    text = str(err.value)
    assert "reward.serial_port = '/dev/ttyACM99': no such serial device" in text
    assert 'plugged in' in text and '--sim' in text


def test_a_device_without_firmata_is_an_error_naming_port_and_baud():
    silent = FirmataPeer(answer=False)
    try:
        t0 = time.monotonic()
        with pytest.raises(OutputError) as err:
            FirmataDriver(silent.path, 57600, connect_timeout_s=1.0)
        assert time.monotonic() - t0 < 3.0
        text = str(err.value)
        assert f"reward.serial_port = '{silent.path}': no Firmata answer within 1 s at reward.baud = 57600" in text
        assert 'StandardFirmata is flashed' in text
        # it did ask: version and firmware queries
        assert bytes([0xF9]) in silent.received and bytes([0xF0, 0x79, 0xF7]) in silent.received
    finally:
        silent.close()


def test_serial_pins_and_pins_the_board_lacks_are_refused(peer):
    driver = FirmataDriver(peer.path, 115200, connect_timeout_s=5.0)
    with pytest.raises(OutputError, match='serial lines'):
        OutputBank([OutputSpec('valve', 1, 1.0)], driver)
    driver = FirmataDriver(peer.path, 115200, connect_timeout_s=5.0)
    with pytest.raises(OutputError, match=r"cannot open output 'valve' on Arduino pin 20 on .*allowed: Arduino pins 2-19"):
        OutputBank([OutputSpec('valve', 20, 1.0)], driver)


def test_simulation_keeps_mock_pins_with_the_arduino_numbers():
    driver = make_driver('firmata', simulate=True)
    bank = OutputBank([OutputSpec('valve', 7, 1.0), OutputSpec('fail', 12, 1.0)], driver)
    assert driver.name == 'simulated pins'
    bank.pulse('valve', 0.02)
    assert bank.wait_idle(2.0)
    assert [s.state for s in bank.pin('valve').states][-2:] == [True, False]
    bank.close()


def test_capability_parsing():
    data = [0x7F, 0x7F, 0, 1, 1, 1, 0x7F, 2, 10, 0x7F]   # pins 0, 1 none; 2 output; 3 analog only
    assert output_pins(data) == (4, [2])


def test_an_arduino_unplugged_mid_session_refuses_pulses_and_reports_once(peer):
    bank = clmf_bank(peer)
    failures = []
    bank.on_failure = failures.append
    peer.unplug()                  # the device is gone: every write fails
    done = []
    rec = bank.pulse('valve', 0.1, on_done=done.append)
    assert not rec.delivered and done == [rec]
    assert rec.note.startswith(f'could not switch valve on (Arduino pin 7 on {peer.path}): ')
    assert not bank.pulse('fail', 0.1).delivered
    with pytest.raises(OutputError, match='could not switch imaging_ttl on'):
        bank.set_level('imaging_ttl', True)
    assert len(failures) == 1 and failures[0] == rec.note
    bank.close()                   # nothing to drive any more; closing still ends cleanly
