"""Paradigm parameter files: loading, `--set` overrides, simulation switches and
the start-up checks that stop a session before any node runs.

A parameter file is the standard ROS 2 form (`node: {ros__parameters: {...}}`),
the single source for `ros2 launch` and `clopy run`.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from clopy_data.folder import SessionFolderError, read_parameters
from clopy.paradigms import PARADIGMS as MANIFEST

PARADIGMS = tuple(MANIFEST)


NON_FINITE = ('nan', 'inf', '+inf', '-inf', 'infinity', '-infinity')


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the file, key and value."""


class Params(dict):
    """{node: {param: value}} of a parameter file, and where each value that did not
    come from the file came from (``origins[(node, param)]``: '--set', '--sim'), so an
    error names the `--set` that gave the bad value rather than the file."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.origins: dict[tuple[str, str], str] = {}


def _origin(params: dict, node: str, param: str, where: str) -> None:
    origins = getattr(params, 'origins', None)
    if origins is not None:
        origins[(node, param)] = where


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
    params = Params()
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
        # nan and inf as numbers (YAML spells them .nan, .inf), so the check names them as such
        value = float(text) if text.strip().lower() in NON_FINITE else yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f'{source} {assignment!r}: value is not valid YAML ({exc})') from exc
    old = params[node].get(param)
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)   # ROS parameters are typed: 30 for a float parameter means 30.0
    params[node][param] = value
    _origin(params, node, param, source)


def apply_simulation(params: dict, paradigm: str) -> None:
    """Simulation backends, chosen explicitly (the paradigm manifest's `sim`): synthetic
    camera (cortex, or behaviour with ground-truth pose for CLMF), WAV audio (tones.wav
    in the session folder), mock pins."""
    for node, values in MANIFEST[paradigm].sim.items():
        params.setdefault(node, {}).update(copy.deepcopy(values))
        for param in values:
            _origin(params, node, param, '--sim')


def validate(params: dict, path: Path) -> None:
    """Checks that need no ROS, before anything starts: every value of every node
    against the node's schema (clopy.preflight; values are converted in place, 30 ->
    30.0 for a float parameter), then what no single schema can see (the ROI rule,
    the pose backend's camera, files that must exist). The nodes repeat them, but
    here they stop the session with one message."""
    from clopy.preflight import check_params
    from clopy_common.schema import SchemaError
    try:
        check_params(params, str(path), getattr(params, 'origins', {}))
    except SchemaError as exc:
        raise ConfigError(str(exc)) from None
    roi = params.get('roi_dff')
    if roi is not None:
        from clopy_signal.roi import ConfigError as RoiConfigError
        from clopy_signal.roi import rois_from_config
        from clopy_signal.roi_dff_params import ROI_DFF
        from clopy_signal.rule import Rule
        r = ROI_DFF.defaults() | roi
        try:
            rois = rois_from_config(list(r['rois']), r['frame_height_px'], r['frame_width_px'],
                                    r['bregma_row_px'], r['bregma_col_px'], r['px_per_mm'], r['roi_size_mm'])
            names = [x.name for x in rois]
            Rule(r['rule'] or names[0], names)
        except RoiConfigError as exc:
            raise ConfigError(f'{path}: roi_dff: {exc}') from exc
    camera = params.get('camera', {})
    if params.get('pose', {}).get('backend') == 'synthetic' and camera.get('source') != 'synthetic_behaviour':
        raise ConfigError(f'{path}: pose.backend = synthetic needs camera.source = synthetic_behaviour '
                          f'(it publishes that camera\'s ground truth), not {camera.get("source")!r}')
    from clopy_acquisition.camera_params import check_camera
    try:
        origins = getattr(params, 'origins', {})
        size_from = next((origins[('camera', k)] for k in ('width_px', 'height_px', 'frame_rate_hz')
                          if ('camera', k) in origins), str(path))
        check_camera(camera, size_from)   # frame size and rate within what the source delivers
    except SchemaError as exc:
        raise ConfigError(str(exc)) from None
    if camera.get('source') in ('hdf5', 'tiff', 'video'):
        file = Path(str(camera.get('path', '')))
        if not file.is_file():
            raise ConfigError(f'{path}: camera.path = {str(file)!r}: no such file (camera.source = {camera["source"]})')
    check_valve_limits(params, path)


def check_valve_limits(params: dict, path: Path) -> None:
    """The valve's limits before start (clopy_reward.limits): the ceiling and its
    override, the reward node's default pulses, and every pulse length of the task
    (its pulse_variables and *valve*pulse* / *fail*pulse* variables: from --set, the
    parameter file, or the task file's default, which the error then names) within
    the reward node's limit of that output."""
    from clopy_reward import limits as valve
    from clopy_reward.reward_params import REWARD
    origins = getattr(params, 'origins', {})
    try:
        out = valve.check_reward_values(REWARD.defaults() | params.get('reward', {}),
                                        lambda key: origins.get(('reward', key), str(path)))
        task = params.get('task')
        if task is not None:
            task_file, pulses = _task_pulses(task)
            valve.check_task_pulses(pulses, out, lambda key: origins.get(('task', key), str(path)) if key in task
                                    else f'{task_file} (the task file\'s default)')
    except valve.ValveLimitError as exc:
        raise ConfigError(str(exc)) from None


def _task_pulses(task: dict) -> tuple[Path, dict[str, tuple[float, str]]]:
    """(task file, {variable: (pulse length s, output)}) of the task a task block runs
    (the block's v.<name> over the file's defaults)."""
    from clopy_feedback.task_params import TASK
    from clopy_reward.limits import task_pulse_outputs
    from clopy_task import files
    from clopy_task.engine import TaskEngine
    task_file = files.resolve_task_file(str(task.get('task_file', TASK['task_file'].default)))
    engine = TaskEngine(task_file, frame_rate_hz=float(task.get('frame_rate_hz', TASK['frame_rate_hz'].default)))
    values = {name: task.get(f'v.{name}', engine.variables[name]) for name in engine.variables}
    pulses = {}
    for name, output in task_pulse_outputs(engine.task.pulse_variables, values).items():
        value = values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            pulses[name] = (value, output)
    return task_file, pulses


def merged(params: dict) -> dict:
    """The parameter file form of `params`."""
    return {node: {'ros__parameters': copy.deepcopy(values)} for node, values in params.items()}


def write_params(params: dict, path: Path) -> None:
    path.write_text('# Parameters this session ran with (written by clopy run)\n'
                    + yaml.safe_dump(merged(params), sort_keys=False))


def get(params: dict, node: str, key: str, default: Any = None) -> Any:
    return params.get(node, {}).get(key, default)
