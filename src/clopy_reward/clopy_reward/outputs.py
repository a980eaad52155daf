"""Digital outputs of a training rig (water valve, fail signal, TTL lines) through
gpiozero, with the safety rules a valve needs. No rclpy here.

Safety rules:
- a pulse is never longer than `max_pulse_s` of its output (requests beyond it
  are refused, not clipped, so a config error is seen at once);
- a watchdog thread forces any output off that stays on past its limit, even if
  the timer that should have closed it never ran;
- `close()` (called on shutdown, signals and errors) drives every output low
  before releasing the pins; it is idempotent;
- what an output does is reported as it happens: `on_open` the moment the pin
  went high, `on_done` once it is low again (always in that order);
- simulation (gpiozero MockFactory) is chosen explicitly; a real rig whose pin
  library or Arduino cannot be opened stops with an error instead of falling back.

Where the pins are is the pin driver's business (clopy_reward.pins: gpiozero on the
rig computer's header, or an Arduino running StandardFirmata, clopy_reward.firmata);
the rules above hold for every driver.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from clopy_reward.errors import OutputError
from clopy_reward.pins import GpioDriver, make_pin_factory

__all__ = ['OutputBank', 'OutputError', 'OutputSpec', 'PulseRecord', 'make_pin_factory']


@dataclass(frozen=True)
class OutputSpec:
    """One digital output: pin number (as the driver numbers them: BCM on a Pi, the
    Arduino's digital pin number through Firmata) and the longest time it may stay on.

    max_on_s <= 0 means "may be held" (TTL levels such as illumination on).
    end_pulse_s > 0: a held TTL that marks the end of the session when the bank closes
    (after every output is low): low for end_pulse_s, high for end_pulse_s, low again
    (the original CLMF imaging TTL's LOW-HIGH-LOW)."""

    name: str
    pin: int
    max_on_s: float
    active_high: bool = True
    end_pulse_s: float = 0.0


@dataclass
class PulseRecord:
    """What an output actually did; times are time.time() seconds (UTC epoch)."""

    name: str
    requested_s: float
    reason: str
    delivered: bool
    note: str = ''
    on_time_s: float = 0.0
    off_time_s: float = 0.0
    tag: object = None

    @property
    def duration_s(self) -> float:
        return max(0.0, self.off_time_s - self.on_time_s) if self.off_time_s else 0.0


@dataclass(eq=False)   # compared by identity
class _Active:
    record: PulseRecord
    deadline_s: float           # time.monotonic() at which it must be off
    hard_limit_s: float         # watchdog limit, monotonic
    timer: threading.Timer | None = None
    on_done: Callable[[PulseRecord], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)   # on_open has returned


class OutputBank:
    """The rig's outputs, by name."""

    def __init__(self, specs: list[OutputSpec], pin_factory, watchdog_period_s: float = 0.005):
        """``pin_factory``: a pin driver (clopy_reward.pins: GpioDriver, FirmataDriver) or
        a gpiozero pin factory; the bank closes the driver with its outputs."""
        driver = pin_factory if hasattr(pin_factory, 'line') else GpioDriver(pin_factory)
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise OutputError(f'output names must be unique, got {names}')
        pins = [s.pin for s in specs]
        if len(set(pins)) != len(pins):
            raise OutputError(f'two outputs share a pin: {dict(zip(names, pins))}')
        self._specs = {s.name: s for s in specs}
        self._devices = {}
        self._pins = {}
        self._lock = threading.RLock()
        self._active: dict[str, _Active] = {}
        self._unreported: list[_Active] = []   # on, or off but not yet reported (on_done)
        self._closed = False
        #: called once, with one line, when the device fails (a write raises: an Arduino
        #: unplugged mid-session); the reward node ends the session with an error
        self.on_failure: Callable[[str], None] | None = None
        self._failure = ''
        self.driver = driver
        self.factory = getattr(driver, 'factory', None)   # gpiozero's, for a GpioDriver
        try:
            for s in specs:
                self._devices[s.name] = driver.line(s.pin, s.active_high)
                self._pins[s.name] = getattr(self._devices[s.name], 'pin', self._devices[s.name])
        except Exception as exc:
            self.close()
            raise OutputError(f'cannot open output {s.name!r} on {driver.describe(s.pin)}: {exc}') from exc
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, args=(watchdog_period_s,),
                                          name='output-watchdog', daemon=True)
        self._watchdog.start()

    # -- queries ---------------------------------------------------------------
    def spec(self, name: str) -> OutputSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise OutputError(f'unknown output {name!r}; outputs are {sorted(self._specs)}') from None

    def is_on(self, name: str) -> bool:
        return bool(self._devices[self.spec(name).name].value)

    def pin(self, name: str):
        """The driver's pin object (gpiozero's MockPin in simulation: has a state history)."""
        return self._pins[self.spec(name).name]

    # -- commands --------------------------------------------------------------
    def pulse(self, name: str, duration_s: float, reason: str = '',
              on_done: Callable[[PulseRecord], None] | None = None, tag: object = None,
              on_open: Callable[[PulseRecord], None] | None = None) -> PulseRecord:
        """Switch `name` on for `duration_s`, without blocking. `on_open` gets the
        record the moment the output is on (on_time_s set, off_time_s 0), `on_done`
        once it is off again (never before on_open has returned). A refused pulse
        returns a record with delivered False (on_done at once, no on_open)."""
        spec = self.spec(name)
        record = PulseRecord(name=name, requested_s=duration_s, reason=reason, delivered=False, tag=tag)
        refusal = None
        if self._closed:
            refusal = 'outputs are closed'
        elif not (duration_s > 0):
            refusal = f'pulse length {duration_s!r} s must be > 0'
        elif spec.max_on_s > 0 and duration_s > spec.max_on_s:
            refusal = f'pulse length {duration_s} s exceeds the {name} limit of {spec.max_on_s} s'
        with self._lock:
            if refusal is None and name in self._active:
                refusal = f'{name} is already on'
            if refusal is not None:
                record.note = refusal
                if on_done:
                    on_done(record)
                return record
            now = time.monotonic()
            hard = spec.max_on_s if spec.max_on_s > 0 else duration_s
            active = _Active(record, now + duration_s, now + hard + 0.010, on_done=on_done)
            try:
                self._devices[name].on()
                failed = ''
            except Exception as exc:  # noqa: BLE001 - the device failed: refused, reported, session ends
                failed = record.note = self._failed(name, 'on', exc)
            if not failed:
                self._start(name, active, record, duration_s)
        if failed:
            if on_done:
                on_done(record)
            self._report_failure()
            return record
        # outside the lock: the pin's timing does not wait for the report
        try:
            if on_open:
                on_open(record)
        finally:
            active.opened.set()
        return record

    def _start(self, name: str, active: _Active, record: PulseRecord, duration_s: float) -> None:
        """The output is on: its record, its timer and the watchdog (under the lock)."""
        record.on_time_s = time.time()
        record.delivered = True
        active.timer = threading.Timer(duration_s, self._finish, args=(name, active, ''))
        active.timer.daemon = True
        self._active[name] = active
        self._unreported.append(active)
        active.timer.start()
        self._wake.set()

    def set_level(self, name: str, level: bool) -> None:
        """Hold a TTL output high or low (outputs with max_on_s <= 0 only)."""
        spec = self.spec(name)
        if level and spec.max_on_s > 0:
            raise OutputError(f'{name} may only be pulsed (at most {spec.max_on_s} s), not held on')
        if self._closed:
            return
        with self._lock:
            try:
                if level:
                    self._devices[name].on()
                else:
                    self._devices[name].off()
                note = ''
            except Exception as exc:  # noqa: BLE001
                note = self._failed(name, 'on' if level else 'off', exc)
        if note:
            self._report_failure()
            raise OutputError(note)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Block until no pulse is running and every finished one has been reported
        (on_done returned); for shutdown and tests."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                pending = list(self._unreported)
            if not pending:
                return True
            pending[0].done.wait(max(0.0, end - time.monotonic()))
        with self._lock:
            return not self._unreported

    def close(self) -> None:
        """Every output low, then the end marks (OutputSpec.end_pulse_s), then release
        the pins and the driver. Safe to call more than once, from any thread, and from
        signal handlers' finally blocks."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            low = set()
            for name, dev in self._devices.items():
                try:
                    dev.off()
                    low.add(name)
                except Exception:  # noqa: BLE001 - keep closing the others
                    pass
            for name, active in list(self._active.items()):
                if active.timer:
                    active.timer.cancel()
                self._finish(name, active, 'closed early: outputs shut down')
            for name in low:
                self._end_mark(name)
            for dev in self._devices.values():
                try:
                    dev.close()
                except Exception:  # noqa: BLE001
                    pass
            close_driver = getattr(getattr(self, 'driver', None), 'close', None)
            if close_driver is not None:
                try:
                    close_driver()
                except Exception:  # noqa: BLE001 - the pins were driven low above
                    pass
        stop = getattr(self, '_stop', None)
        if stop is not None:
            stop.set()

    # -- internals -------------------------------------------------------------
    def _failed(self, name: str, what: str, exc: BaseException) -> str:
        """The line for a write that raised (kept for on_failure: the first one)."""
        line = (f'could not switch {name} {what} ({self.driver.describe(self._specs[name].pin)}): {exc}'
                + (' - the output may still be on' if what == 'off' else ''))
        with self._lock:
            if not self._failure and not self._closed:
                self._failure = line
        return line

    def _report_failure(self) -> None:
        """on_failure, once, outside the lock."""
        with self._lock:
            line, callback = self._failure, self.on_failure
            if not line or line == 'reported':
                return
            self._failure = 'reported'
        if callback:
            callback(line)

    def _end_mark(self, name: str) -> None:
        """LOW-HIGH-LOW on a TTL with an end pulse (the line is already low); it ends low
        whatever happens."""
        spec, dev = self._specs[name], self._devices[name]
        if spec.end_pulse_s <= 0 or spec.max_on_s > 0:
            return
        try:
            time.sleep(spec.end_pulse_s)
            dev.on()
            time.sleep(spec.end_pulse_s)
        except Exception:  # noqa: BLE001 - a broken line: nothing to mark
            pass
        finally:
            try:
                dev.off()
            except Exception:  # noqa: BLE001
                pass

    def _finish(self, name: str, active: _Active, note: str) -> None:
        with self._lock:
            if self._active.get(name) is not active:
                return
            try:
                self._devices[name].off()
            except Exception as exc:  # noqa: BLE001 - said in the record; the session ends
                note = self._failed(name, 'off', exc)
            finally:
                active.record.off_time_s = time.time()
                if note:
                    active.record.note = note
                del self._active[name]
        self._report_failure()
        try:
            # the opening is reported first (bounded wait: a stuck on_open never holds the closing record)
            active.opened.wait(1.0)
            if active.on_done:
                active.on_done(active.record)
        finally:
            active.done.set()   # wait_idle: off and reported
            with self._lock:
                if active in self._unreported:
                    self._unreported.remove(active)

    def _watch(self, period_s: float) -> None:
        while not self._stop.is_set():
            # idle: sleep until a pulse starts (no CPU spent); busy: check every period
            if not self._active:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if self._stop.wait(period_s):
                return
            now = time.monotonic()
            with self._lock:
                overdue = [(n, a) for n, a in self._active.items() if now > a.hard_limit_s]
            for name, active in overdue:
                self._finish(name, active, 'forced off by the watchdog')
