"""Offline threshold simulation: what a session would have given at other thresholds.

``clopy threshold SESSION_OR_BAG_OR_TABLE [--thresholds LO:HI:STEP] [--target-rate R]
[--adaptive on|off] [--baseline-n N] [--out DIR]``

The recorded control signal (the ``control_signal`` topic of the session's bag, or
the rule / ROI dF/F column of a ``VideoTimestamp.txt`` table, ours or the original
CLoPy's) is replayed through the task logic once per threshold, with the session's
own task variables (``parameters.yaml``: rests, trial limit, reward delay,
``total_trials``, adaptive rule, ``session_type``). Frame stamps come from the
recording; the run starts at the first frame's stamp, as the task node does, and
camera stalls are taken out of task time by the same rule (clopy_task.stall, with
the session's ``task.stall_after_frames``, default 5).

The task logic is always the session's own task file run by the task engine
(:class:`clopy_task.engine.TaskEngine`), once per threshold (in worker processes when
there are several CPU cores), with ``run_signal``: the engine skips the frames where
nothing can happen (no timer due, no 'frame' event wanted, no armed signal watch true)
and finds the next watched crossing with numpy. The results are identical to feeding
every frame (``--exact`` does that; the tests compare both). A task that takes 'frame'
events in every state (e.g. CLMF's stillness tracking) or in the current one (CLNF's
random_reward trials) is run frame by frame there. Results come from the task's
``status_variables`` (trial, successes, failures, threshold).

Per threshold: trials, successes, failures, rewards (valve pulses), success rate
= successes / (successes + failures) (a trial cut by the end of the data counts
in neither), rewards per minute of simulated session time (run start to the end
of the task or of the data), and the supra-threshold frame rate of the signal.

Baseline (the original's offline rule): the first threshold of the grid, in
ascending order, at which the signal has at most N frames per minute strictly
above it (N = ``--baseline-n``, default 2). All frames count; the original
applied it to a spontaneous (no-feedback) recording. Minutes of signal = (last
stamp - first stamp + median frame interval) / 60.

Recommendation (``--target-rate R``): the threshold whose rewards per minute is
closest to R; ties go to the higher threshold.

Units: times in s, rates per minute, thresholds in the control signal's units
(dF/F for CLNF).
"""
from __future__ import annotations

from clopy_data.threshold_sim.command import add_command, main, run_command
from clopy_data.threshold_sim.inputs import (DEFAULT_BASELINE_N, DEFAULT_THRESHOLDS, FRAME_TABLE, OUT_NAME, Recording,
                                             ThresholdSimError, load_recording, packaged_task, signal_minutes,
                                             synthetic_recording)
from clopy_data.threshold_sim.report import (CSV_COLUMNS, baseline_threshold, format_table, parse_grid, recommend,
                                             supra_per_min, write_csv, write_plot)
from clopy_data.threshold_sim.simulation import (SimResult, TrialOutcome, simulate, simulate_engine,
                                                 simulate_engine_many)

__all__ = [
    'CSV_COLUMNS', 'DEFAULT_BASELINE_N', 'DEFAULT_THRESHOLDS', 'FRAME_TABLE', 'OUT_NAME', 'Recording', 'SimResult',
    'ThresholdSimError', 'TrialOutcome', 'add_command', 'baseline_threshold', 'format_table', 'load_recording',
    'main', 'packaged_task', 'parse_grid', 'recommend', 'run_command', 'signal_minutes', 'simulate',
    'simulate_engine', 'simulate_engine_many', 'supra_per_min', 'synthetic_recording', 'write_csv', 'write_plot',
]
