"""Running the task file over a recording, once per threshold, in the task engine."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from clopy_data.threshold_sim.inputs import Recording, ThresholdSimError
from clopy_task.engine import TaskEngine, TaskError
from clopy_task.stall import task_stamps

STATUS_NEEDED = ('trial', 'successes', 'failures', 'threshold')  # task status_variables used

# ---------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """One trial: number, start and end in s of run time, 'success' | 'timeout' | 'incomplete'
    (cut by the end of the data; end_s is then the end of the run), frame seen last at the end."""

    trial: int
    start_s: float
    end_s: float
    outcome: str
    frame_index: int


@dataclasses.dataclass
class SimResult:
    """Outcome of one simulated session at one starting threshold."""

    threshold: float
    trials: int
    successes: int
    failures: int
    rewards: int  # valve pulses (0 in no_reward sessions)
    duration_s: float  # run start to the end of the task or of the data
    final_threshold: float
    mode: str  # 'fast' | 'engine'
    outcomes: list[TrialOutcome] = dataclasses.field(default_factory=list)
    threshold_changes: list[tuple[float, float]] = dataclasses.field(default_factory=list)  # (s, value)

    @property
    def success_rate(self) -> float:
        done = self.successes + self.failures
        return self.successes / done if done else float('nan')

    @property
    def rewards_per_min(self) -> float:
        return self.rewards / (self.duration_s / 60.0) if self.duration_s > 0 else float('nan')


# ------------------------------------------------------------------ simulation


class _CountingOutputs:
    """Outputs that count reward and fail pulses and ignore tones."""

    def __init__(self) -> None:
        self.rewards = 0
        self.fails = 0

    def reward(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.rewards += 1

    def fail_signal(self, t_s: float, frame_index: int, duration_s: float, reason: str) -> None:
        self.fails += 1

    def tone(self, t_s: float, frame_index: int, frequency_hz: float) -> None:
        pass


def _variables_for(rec: Recording, threshold: float, adaptive: bool | None) -> dict[str, Any]:
    variables = dict(rec.variables)
    variables['threshold'] = float(threshold)
    if adaptive is not None:
        variables['adaptive_threshold'] = bool(adaptive)
    return variables


class _Outcomes:
    """Trials, outcomes and threshold changes from the task's records: the variables its
    status_variables name for trial, successes, failures and threshold."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.outcomes: list[TrialOutcome] = []
        self.changes: list[tuple[float, float]] = []
        self.current: tuple[int, float] | None = None  # (trial, start_s) of the open trial

    def __call__(self, record: Any) -> None:
        if record.type != 'variable' or record.subtype != 'task':
            return
        changed = json.loads(record.content)
        names = self.names
        for key, outcome in (('successes', 'success'), ('failures', 'timeout')):
            if names[key] in changed and self.current is not None:
                trial, start_s = self.current
                self.outcomes.append(TrialOutcome(trial, start_s, record.time_s, outcome,
                                                  record.frame_index))
                self.current = None
        if names['trial'] in changed:
            self.current = (int(changed[names['trial']]), record.time_s)
        if names['threshold'] in changed:
            self.changes.append((record.time_s, float(changed[names['threshold']])))


def _status_names(engine: TaskEngine) -> dict[str, str]:
    names = engine.task.status_variables
    missing = [key for key in STATUS_NEEDED if names.get(key) not in engine.variables]
    if missing:
        raise ThresholdSimError(f'{engine.task_path}: status_variables gives no task variable for '
                                f'{missing}; the simulation needs {list(STATUS_NEEDED)} '
                                "(e.g. status_variables = clopy_task.library.STATUS_VARIABLES)")
    return names


def simulate_engine(rec: Recording, threshold: float, adaptive: bool | None = None,
                    exact: bool = True) -> SimResult:
    """Run the task file in the engine over the recording at one starting threshold.

    exact=False: ``run_signal`` skips frames where nothing can happen ('fast');
    exact=True: every frame goes through ``process_frame`` ('engine'). Same results.
    """
    outputs = _CountingOutputs()
    sink = _Outcomes({})
    stamps = task_stamps(rec.stamps_s, rec.frame_rate_hz, rec.stall_after_frames)   # stalls out, as live
    try:
        engine = TaskEngine(rec.task_path, _variables_for(rec, threshold, adaptive),
                            frame_rate_hz=rec.frame_rate_hz, outputs=outputs, sink=sink)
        sink.names = _status_names(engine)
        engine.start(float(stamps[0]))
        engine.run_signal(stamps, rec.values, rec.valid, rec.frame_index, fast=not exact)
        engine.stop(float(stamps[-1]))
    except TaskError as exc:
        raise ThresholdSimError(f'threshold {threshold}: {exc}') from exc
    status = engine.status()
    if sink.current is not None:
        sink.outcomes.append(TrialOutcome(sink.current[0], sink.current[1], engine.time_s,
                                          'incomplete', -1))
    return SimResult(float(threshold), int(status['trial']), int(status['successes']),
                     int(status['failures']), outputs.rewards, engine.time_s,
                     float(status['threshold']), 'engine' if exact else 'fast', sink.outcomes,
                     sink.changes)


_WORKER: dict[str, Any] = {}


def _worker_init(rec: Recording, adaptive: bool | None, exact: bool) -> None:
    _WORKER.update(rec=rec, adaptive=adaptive, exact=exact)


def _worker_run(threshold: float) -> SimResult:
    return simulate_engine(_WORKER['rec'], threshold, _WORKER['adaptive'], _WORKER['exact'])


def simulate_engine_many(rec: Recording, thresholds: Sequence[float], adaptive: bool | None = None,
                         jobs: int | None = None, exact: bool = True) -> list[SimResult]:
    """simulate_engine for each threshold, in ``jobs`` worker processes (default: CPU count)."""
    jobs = (os.cpu_count() or 1) if jobs is None else jobs
    if jobs <= 1 or len(thresholds) <= 1:
        return [simulate_engine(rec, t, adaptive, exact) for t in thresholds]
    # fork: the workers inherit the recording; 'spawn' would re-run the `clopy` script (no main guard)
    with ProcessPoolExecutor(max_workers=min(jobs, len(thresholds)), mp_context=get_context('fork'),
                             initializer=_worker_init, initargs=(rec, adaptive, exact)) as pool:
        return list(pool.map(_worker_run, thresholds, chunksize=max(1, len(thresholds) // (4 * jobs))))


def _probe(rec: Recording, threshold: float, adaptive: bool | None) -> dict[str, Any]:
    """The task's variables for this threshold, checked by the task itself (run_start)."""
    try:
        engine = TaskEngine(rec.task_path, _variables_for(rec, threshold, adaptive),
                            frame_rate_hz=rec.frame_rate_hz, outputs=_CountingOutputs(), sink=lambda r: None)
        engine.start(0.0)
    except TaskError as exc:
        raise ThresholdSimError(f'threshold {threshold}: {exc}') from exc
    return engine.variables


def simulate(rec: Recording, thresholds: Sequence[float], *, adaptive: bool | None = None,
             exact: bool = False, jobs: int | None = None) -> tuple[list[SimResult], str]:
    """Simulate every threshold; returns the results and the mode used with its reason."""
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ThresholdSimError('no thresholds to simulate')
    for t in thresholds:
        _probe(rec, t, adaptive)
    results = simulate_engine_many(rec, thresholds, adaptive, jobs, exact)
    if exact:
        return results, 'engine: asked for (--exact), every frame through the task engine'
    return results, (f'fast: {rec.task_path.name} in the task engine, frames where nothing can '
                     'happen skipped')
