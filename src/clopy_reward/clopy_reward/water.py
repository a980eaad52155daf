"""What the valve gave in a session, and the session's water cap. Plain Python, no
rclpy; thread-safe (valve commands arrive on the executor, pulses close on timers).

- openings: valve openings so far, counted the moment the valve opens (an opening is
  reserved before the pin goes high, so two quick commands cannot pass the cap, and
  given back if the output refuses it);
- refused: valve commands refused (cap, valve busy, pulse over the limit, closed);
- water_ul: ``valve_flow_ul_per_ms`` x the measured open time of each closed pulse
  (0 while the valve is not calibrated, flow 0).

The cap: ``max_rewards`` openings (0 = none) or, when calibrated, ``max_water_ml``
(0 = none). The pulse that reaches it is delivered in full; once it has closed,
``closed()`` says the session ends, and every later command is refused.
"""
from __future__ import annotations

import threading


class WaterLedger:
    def __init__(self, max_rewards: int = 0, flow_ul_per_ms: float = 0.0, max_water_ml: float = 0.0) -> None:
        self.max_rewards = int(max_rewards)
        self.flow_ul_per_ms = float(flow_ul_per_ms)
        self.max_water_ml = float(max_water_ml)
        self.openings = 0
        self.refused = 0
        self.water_ul = 0.0
        self._announced = False
        self._lock = threading.Lock()

    @property
    def calibrated(self) -> bool:
        return self.flow_ul_per_ms > 0

    def _cap_note(self) -> str:
        """Why no more water may be given ('' while it may)."""
        if self.max_rewards and self.openings >= self.max_rewards:
            return f'water cap reached: {self.max_rewards} valve openings (reward.max_rewards)'
        if self.calibrated and self.max_water_ml > 0 and self.water_ul >= self.max_water_ml * 1000.0:
            return f'water cap reached: {self.water_ul / 1000.0:.3f} ml (reward.max_water_ml = {self.max_water_ml:g})'
        return ''

    def reserve(self) -> str:
        """Count an opening about to happen; '' when it may, else the refusal note
        (the refusal is counted)."""
        with self._lock:
            note = self._cap_note()
            if note:
                self.refused += 1
                return note
            self.openings += 1
            return ''

    def cancel(self) -> None:
        """The output refused a reserved opening: not an opening, a refusal."""
        with self._lock:
            self.openings -= 1
            self.refused += 1

    def refuse(self) -> None:
        """A valve command refused before it reached the output."""
        with self._lock:
            self.refused += 1

    def closed(self, open_s: float) -> bool:
        """A valve pulse closed after ``open_s``: add its water. True once, for the
        pulse that reached the cap: the session ends."""
        with self._lock:
            self.water_ul += self.flow_ul_per_ms * max(0.0, float(open_s)) * 1000.0
            if self._announced or not self._cap_note():
                return False
            self._announced = True
            return True

    def end_reason(self) -> str:
        """``water cap reached: <n> valve openings, <x> ml``; without a calibration the
        ml are unknown: ``..., ml unknown (reward.valve_flow_ul_per_ms = 0: not calibrated)``."""
        with self._lock:
            water = (f'{self.water_ul / 1000.0:.3f} ml' if self.calibrated
                     else 'ml unknown (reward.valve_flow_ul_per_ms = 0: not calibrated)')
            return f'water cap reached: {self.openings} valve openings, {water}'
