"""Valve, fail and TTL outputs on gpiozero mock pins: pulses are as long as
asked, never longer than the limit, and everything is low after close()."""
import threading
import time

import pytest

from clopy_reward.outputs import OutputBank, OutputError, OutputSpec, make_pin_factory


def bank(max_valve_s=1.0):
    return OutputBank([OutputSpec('valve', 27, max_valve_s), OutputSpec('fail', 12, 2.0),
                       OutputSpec('illumination', 21, 0.0)], make_pin_factory(simulate=True))


def high_time_s(pin):
    """Seconds between the last rising and falling edge in a MockPin's history."""
    states = pin.states
    rises = [s.timestamp for s in states if s.state]
    falls = [s.timestamp for s in states if not s.state]
    return falls[-1] - rises[-1]


def test_valve_pulse_lasts_as_long_as_asked_and_reports_it():
    b = bank()
    done = []
    rec = b.pulse('valve', 0.05, reason='success', on_done=done.append)
    assert rec.delivered and b.is_on('valve')
    assert b.wait_idle(2.0)
    assert not b.is_on('valve')
    assert done and done[0] is rec
    assert rec.duration_s == pytest.approx(0.05, abs=0.01)
    assert high_time_s(b.pin('valve')) == pytest.approx(0.05, abs=0.01)
    b.close()


def test_pulse_over_the_limit_is_refused_and_nothing_opens():
    b = bank(max_valve_s=0.5)
    rec = b.pulse('valve', 0.8)
    assert not rec.delivered and 'exceeds' in rec.note and '0.5' in rec.note
    assert not b.is_on('valve')
    assert not any(s.state for s in b.pin('valve').states)
    for bad in (0.0, -1.0, float('nan')):
        assert not b.pulse('valve', bad).delivered
    b.close()


def test_second_pulse_while_open_is_refused():
    b = bank()
    assert b.pulse('valve', 0.1).delivered
    second = b.pulse('valve', 0.1)
    assert not second.delivered and 'already on' in second.note
    b.wait_idle()
    b.close()


def test_close_shuts_an_open_valve_at_once():
    b = bank()
    done = []
    b.pulse('valve', 0.9, on_done=done.append)
    time.sleep(0.02)
    t0 = time.monotonic()
    b.close()
    assert time.monotonic() - t0 < 0.1
    assert not b.pin('valve').state
    assert done and 'closed early' in done[0].note
    b.close()  # idempotent


def test_watchdog_closes_a_valve_whose_timer_never_fires():
    b = bank(max_valve_s=0.1)
    rec = b.pulse('valve', 0.1)
    # simulate a lost timer: cancel it behind the bank's back
    b._active['valve'].timer.cancel()
    time.sleep(0.3)
    assert not b.is_on('valve')
    assert 'watchdog' in rec.note
    assert rec.duration_s < 0.15
    b.close()


def test_ttl_can_be_held_but_the_valve_cannot():
    b = bank()
    b.set_level('illumination', True)
    assert b.is_on('illumination')
    with pytest.raises(OutputError, match='only be pulsed'):
        b.set_level('valve', True)
    b.close()
    assert not b.pin('illumination').state


def test_unknown_output_and_shared_pins_are_errors():
    b = bank()
    with pytest.raises(OutputError, match="unknown output 'water'"):
        b.pulse('water', 0.1)
    b.close()
    with pytest.raises(OutputError, match='share a pin'):
        OutputBank([OutputSpec('valve', 27, 1.0), OutputSpec('fail', 27, 1.0)],
                   make_pin_factory(simulate=True))


def test_real_session_without_gpio_library_is_an_error_not_a_mock():
    with pytest.raises(OutputError, match='simulation'):
        make_pin_factory(simulate=False)


def test_concurrent_pulses_on_different_outputs():
    b = bank()
    threads = [threading.Thread(target=b.pulse, args=(n, 0.05)) for n in ('valve', 'fail')]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.wait_idle()
    assert high_time_s(b.pin('valve')) == pytest.approx(0.05, abs=0.015)
    assert high_time_s(b.pin('fail')) == pytest.approx(0.05, abs=0.015)
    b.close()


def test_on_open_comes_with_the_pin_high_and_before_on_done():
    b = bank()
    seen = []

    def on_open(record):
        seen.append(('open', b.is_on('valve'), record.on_time_s, record.off_time_s))
        time.sleep(0.05)   # a slow report: the pulse ends meanwhile, its closing report waits

    rec = b.pulse('valve', 0.005, on_open=on_open,
                  on_done=lambda r: seen.append(('done', b.is_on('valve'), r.on_time_s, r.off_time_s)))
    assert b.wait_idle(2.0)
    deadline = time.monotonic() + 2.0
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [s[0] for s in seen] == ['open', 'done']
    assert seen[0][1] is True and seen[0][3] == 0.0 and seen[0][2] == rec.on_time_s
    assert seen[1][1] is False and seen[1][2] == rec.on_time_s and seen[1][3] > rec.on_time_s
    # the pin's own timing did not wait for the slow report
    assert high_time_s(b.pin('valve')) < 0.04
    b.close()


def test_a_refused_pulse_is_never_reported_as_opened():
    b = bank(max_valve_s=0.5)
    opened, done = [], []
    rec = b.pulse('valve', 0.8, on_open=opened.append, on_done=done.append)
    assert not rec.delivered and opened == [] and done == [rec]
    b.close()
