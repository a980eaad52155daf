"""The mouse profile: what carries over from one session of a mouse to its next.

One YAML file per mouse under the data root, ``<out_dir>/subjects/<mouse>/profile.yaml``
(the same ``--out`` folder its sessions go to)::

    mouse: M123
    updated: '2026-12-02T10:15:00+01:00'
    parameters:            # every paradigm whose graph has the node
      roi_dff.bregma_row_px: 140.0
      roi_dff.bregma_col_px: 126.5
    paradigms:             # one paradigm only
      clnf_1roi:
        task.v.threshold: 0.081

`clopy run` applies it after the paradigm's parameter file (and `--sim`) and before
`--set`, so an explicit setting still wins; the session's parameters.yaml names
`profile` as the origin of each value it set. The dashboard's alignment page writes the
alignment, the experiment manager the threshold a mouse ended with. Plain Python.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import yaml

from clopy_data.session import check_name

from clopy import config as cfg

SUBJECTS = 'subjects'
PROFILE = 'profile.yaml'
LOCK = '.profile.lock'
SECTIONS = ('parameters', 'paradigms')


def profile_path(out_dir: Path, mouse: str) -> Path:
    try:
        check_name('mouse', mouse)
    except ValueError as exc:
        raise cfg.ConfigError(f'--mouse: {exc}') from exc
    return Path(out_dir) / SUBJECTS / mouse / PROFILE


def load_profile(out_dir: Path, mouse: str) -> dict[str, Any]:
    """The mouse's profile ({} when it has none); ConfigError naming the file when it is
    not a profile."""
    path = profile_path(out_dir, mouse)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise cfg.ConfigError(f'{path}: not a readable mouse profile ({exc})') from exc
    if not isinstance(data, dict):
        raise cfg.ConfigError(f'{path}: expected a mapping with {" / ".join(SECTIONS)}, got {type(data).__name__}')
    for section in SECTIONS:
        if not isinstance(data.get(section, {}), dict):
            raise cfg.ConfigError(f'{path}: {section}: expected a mapping of node.param: value')
    return data


def update_profile(out_dir: Path, mouse: str, parameters: dict[str, Any] | None = None,
                   paradigm: str | None = None, paradigm_parameters: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """Merge settings into the mouse's profile (written atomically) and return it.
    `parameters` hold for every paradigm, `paradigm_parameters` for `paradigm` only."""
    for key in list(parameters or {}) + list(paradigm_parameters or {}):
        if '.' not in key:
            raise cfg.ConfigError(f'mouse profile of {mouse!r}: key {key!r}: expected node.param')
    path = profile_path(out_dir, mouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one writer at a time (the alignment page and the experiment manager may both write)
    with open(path.parent / LOCK, 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        profile = load_profile(out_dir, mouse)
        profile['mouse'] = mouse
        profile['updated'] = datetime.now(timezone.utc).astimezone().isoformat(timespec='seconds')
        profile.setdefault('parameters', {}).update(parameters or {})
        if paradigm_parameters:
            profile.setdefault('paradigms', {}).setdefault(paradigm, {}).update(paradigm_parameters)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.profile-', suffix='.yaml')
        try:
            with os.fdopen(fd, 'w') as fh:
                yaml.safe_dump(profile, fh, sort_keys=False)
                fh.flush()
                os.fsync(fh.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)   # readable by the lab as any file it writes (not mkstemp's 0600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return profile


def profile_settings(profile: dict[str, Any], paradigm: str, nodes: Iterable[str]) -> list[str]:
    """`node.param=value` settings of the profile for a paradigm whose graph has `nodes`
    (a setting for a node the paradigm lacks is left out: CLMF has no roi_dff)."""
    nodes = set(nodes)
    merged = dict(profile.get('parameters') or {})
    merged.update((profile.get('paradigms') or {}).get(paradigm) or {})
    return [f'{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()}'
            for key, value in merged.items() if key.split('.', 1)[0] in nodes]


def apply_profile(params: dict, out_dir: Path, mouse: str | None, paradigm: str) -> list[str]:
    """Apply the mouse's profile to a session's parameters; returns the settings applied."""
    if not mouse:
        return []
    path = profile_path(out_dir, mouse)
    settings = profile_settings(load_profile(out_dir, mouse), paradigm, params)
    for setting in settings:
        cfg.apply_set(params, setting, source=f'profile {path}')
    return settings
