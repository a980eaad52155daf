"""Paradigm parameter files: loading, `--set` overrides, simulation switches and
the start-up checks that stop a session before any node runs.

A parameter file is the standard ROS 2 form (`node: {ros__parameters: {...}}`),
the single source for `ros2 launch` and `clopy run`.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from clopy_data.folder import TONES_WAV, SessionFolderError, read_parameters
from clopy.paradigms import PARADIGMS as MANIFEST

PARADIGMS = tuple(MANIFEST)


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the file, key and value."""


def config_dir() -> Path:
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory('clopy')) / 'config'
        if installed.is_dir():
            return installed
    except Exception:  # noqa: BLE001 - not installed: the checkout
        pass
    return Path(__file__).resolve().parents[3] / 'config'


def load_params(paradigm: str, path: Path | None = None) -> tuple[Path, dict]:
    """(file, {node: {param: value}}) for a paradigm, or for an explicit file."""
    if path is None:
        if paradigm not in PARADIGMS:
            raise ConfigError(f'unknown paradigm {paradigm!r}; allowed: {", ".join(PARADIGMS)}')
        path = config_dir() / f'{paradigm}.yaml'
    if not Path(path).is_file():
        raise ConfigError(f'{path}: cannot read the parameter file (no such file)')
    try:
        raw = read_parameters(path)
    except OSError as exc:
        raise ConfigError(f'{path}: cannot read the parameter file ({exc.strerror})') from exc
    except SessionFolderError as exc:
        raise ConfigError(str(exc)) from exc
    params = {}
    for node, body in raw.items():
        if not isinstance(body, dict) or not isinstance(body.get('ros__parameters'), dict):
            raise ConfigError(f'{path}: {node}: expected a "ros__parameters:" mapping')
        params[node] = dict(body['ros__parameters'])
    return Path(path), params


def apply_set(params: dict, assignment: str, source: str = '--set') -> None:
    """Apply one `node.param=value` (value parsed as YAML: 0.08, true, [BC_L, BC_R])."""
    if '=' not in assignment or '.' not in assignment.split('=', 1)[0]:
        raise ConfigError(f'{source} {assignment!r}: expected node.param=value, e.g. task.v.threshold=0.08')
    key, text = assignment.split('=', 1)
    node, param = key.split('.', 1)
    if node not in params:
        raise ConfigError(f'{source} {assignment!r}: no node {node!r}; nodes are {", ".join(params)}')
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f'{source} {assignment!r}: value is not valid YAML ({exc})') from exc
    old = params[node].get(param)
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)   # ROS parameters are typed: 30 for a float parameter means 30.0
    params[node][param] = value


def apply_simulation(params: dict, paradigm: str) -> None:
    """Simulation backends, chosen explicitly (the paradigm manifest's `sim`): synthetic
    camera (cortex, or behaviour with ground-truth pose for CLMF), WAV audio (tones.wav
    in the session folder), mock pins."""
    for node, values in MANIFEST[paradigm].sim.items():
        params.setdefault(node, {}).update(copy.deepcopy(values))


def validate(params: dict, path: Path) -> None:
    """Checks that need no ROS: the nodes repeat them, but here they stop the
    session before anything starts, with one message."""
    task = params.get('task', {})
    for key, value in task.items():
        if key.startswith('v.') and key.endswith('_s'):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ConfigError(f'{path}: task.{key} = {value!r}: must be a number of seconds >= 0')
    if 'v.total_trials' in task and (not isinstance(task['v.total_trials'], int) or task['v.total_trials'] < 1):
        raise ConfigError(f'{path}: task.v.total_trials = {task["v.total_trials"]!r}: must be a whole number >= 1')
    roi = params.get('roi_dff')
    if roi is not None:
        from clopy_signal.roi import ConfigError as RoiConfigError
        from clopy_signal.roi import rois_from_config
        from clopy_signal.rule import Rule
        try:
            rois = rois_from_config(list(roi.get('rois', [])), roi.get('frame_height_px', 256),
                                    roi.get('frame_width_px', 256), roi.get('bregma_row_px', 135.0),
                                    roi.get('bregma_col_px', 128.0), roi.get('px_per_mm', 25.6),
                                    roi.get('roi_size_mm', 0.3))
            names = [r.name for r in rois]
            Rule(roi.get('rule') or names[0], names)
        except RoiConfigError as exc:
            raise ConfigError(f'{path}: roi_dff: {exc}') from exc
        if roi.get('dff_history_s', 6.0) <= 0:
            raise ConfigError(f'{path}: roi_dff.dff_history_s = {roi["dff_history_s"]!r}: must be > 0 s')
    camera = params.get('camera', {})
    if params.get('pose', {}).get('backend') == 'synthetic' and camera.get('source') != 'synthetic_behaviour':
        raise ConfigError(f'{path}: pose.backend = synthetic needs camera.source = synthetic_behaviour '
                          f'(it publishes that camera\'s ground truth), not {camera.get("source")!r}')
    if camera.get('source') in ('hdf5', 'tiff', 'video'):
        file = Path(str(camera.get('path', '')))
        if not file.is_file():
            raise ConfigError(f'{path}: camera.path = {str(file)!r}: no such file (camera.source = {camera["source"]})')
    for node in ('camera', 'roi_dff', 'task'):
        rate = params.get(node, {}).get('frame_rate_hz')
        if rate is not None and not (isinstance(rate, (int, float)) and rate > 0):
            raise ConfigError(f'{path}: {node}.frame_rate_hz = {rate!r}: must be > 0')


def merged(params: dict) -> dict:
    """The parameter file form of `params`."""
    return {node: {'ros__parameters': copy.deepcopy(values)} for node, values in params.items()}


def write_params(params: dict, path: Path) -> None:
    path.write_text('# Parameters this session ran with (written by clopy run)\n'
                    + yaml.safe_dump(merged(params), sort_keys=False))


def get(params: dict, node: str, key: str, default: Any = None) -> Any:
    return params.get(node, {}).get(key, default)
