"""Pre-flight free-space check of `clopy run` and the launch files (runner.prepare):
refuse a session whose recording cannot fit on the output folder's file system.

Estimate (docs/recording.md):

    needed = frames x bytes per frame x MARGIN + recorder.min_free_mb
    frames = camera.frame_rate_hz x planned duration (at most camera.max_frames when set)
    bytes per frame = width x height x 3 (bgr8, the largest the camera publishes; the
                      crop when camera.crop_px sets one; 0 when recorder.record_images
                      is false) + OTHER_BYTES_PER_FRAME (the other topics)
    planned duration = v.initial_rest_s + v.total_trials x (v.max_trial_s
                       + the longer of v.success_rest_s and v.fail_rest_s
                       + v.stillness_window_s when the task has one, CLMF)

that is, every trial runs to its time-out and is followed by the longer rest: the
longest session the task variables allow. The recorder itself stops a session whose
free space falls below recorder.min_free_mb later on. `--set recorder.check_free_space=false`
skips this estimate (tests on a small file system reach the recorder's stop that way).
Plain Python, no rclpy.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from clopy.config import ConfigError

MARGIN = 1.5
BYTES_PER_PIXEL = 3
OTHER_BYTES_PER_FRAME = 4096   # frame_info, roi_signal, control_signal, status, tone, events, MCAP records
MB = 1e6

# the packaged task files' defaults (clopy_task/tasks/clnf.py), for a variable the parameters leave out
TASK_DEFAULTS = {'v.initial_rest_s': 30.0, 'v.total_trials': 60, 'v.max_trial_s': 30.0,
                 'v.success_rest_s': 10.0, 'v.fail_rest_s': 15.0, 'v.stillness_window_s': 0.0}
CAMERA_DEFAULTS = {'width_px': 256, 'height_px': 256, 'frame_rate_hz': 15.0}


@dataclass
class SpaceEstimate:
    duration_s: float
    frames: float
    bytes_per_frame: int
    min_free_mb: float

    @property
    def needed_mb(self) -> float:
        return self.frames * self.bytes_per_frame * MARGIN / MB + self.min_free_mb


def planned_duration_s(task: dict) -> float:
    """The longest session the task variables allow (see the module docstring)."""
    v = {k: float(task.get(k, default)) for k, default in TASK_DEFAULTS.items()}
    trial_s = v['v.max_trial_s'] + max(v['v.success_rest_s'], v['v.fail_rest_s']) + v['v.stillness_window_s']
    return v['v.initial_rest_s'] + v['v.total_trials'] * trial_s


def estimate(params: dict) -> SpaceEstimate:
    camera = CAMERA_DEFAULTS | params.get('camera', {})
    recorder = params.get('recorder', {})
    crop = list(camera.get('crop_px') or [0, 0, 0, 0])
    width, height = (crop[2], crop[3]) if len(crop) == 4 and crop[2] and crop[3] else \
        (camera['width_px'], camera['height_px'])
    image = int(width) * int(height) * BYTES_PER_PIXEL if recorder.get('record_images', True) else 0
    duration_s = planned_duration_s(params.get('task', {}))
    frames = float(camera['frame_rate_hz']) * duration_s
    if int(camera.get('max_frames') or 0) > 0:   # the camera ends the session there
        frames = min(frames, float(camera['max_frames']))
    return SpaceEstimate(duration_s, frames, image + OTHER_BYTES_PER_FRAME,
                         float(recorder.get('min_free_mb', 200)))


def existing_parent(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (the folder is created later)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free_space(params: dict, out_dir: Path) -> SpaceEstimate | None:
    """ConfigError (one line: the folder, the free and the needed MB) when the session's
    recording would not fit under `out_dir`; None when recorder.check_free_space is false."""
    if not params.get('recorder', {}).get('check_free_space', True):
        return None
    need = estimate(params)
    free_mb = shutil.disk_usage(existing_parent(out_dir)).free / MB
    if free_mb < need.needed_mb:
        raise ConfigError(
            f'--out {out_dir}: {free_mb:.0f} MB free, the session needs about {need.needed_mb:.0f} MB '
            f'({need.frames:.0f} frames of {need.bytes_per_frame} bytes over {need.duration_s:.0f} s planned, '
            f'x {MARGIN}, + recorder.min_free_mb {need.min_free_mb:.0f}); free space, record elsewhere (--out), '
            f'plan fewer trials (--trials) or skip the estimate (--set recorder.check_free_space=false)')
    return need
