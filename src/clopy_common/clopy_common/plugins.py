"""Backends found by name through Python entry points, so that a node never imports
the package that provides one.

A package offers a backend by declaring an entry point in its setup.py, e.g.
clopy_sim's::

    entry_points={'clopy.frame_sources': [
        'synthetic = clopy_sim.cortex_source:SyntheticCortexSource']}

and a node asks for it by the name a parameter gives (``camera.source:
synthetic``). A lab adds its own camera or pose backend the same way, as a package
of its own. colcon (also with --symlink-install) installs each package's
``*.egg-info/entry_points.txt`` on the overlay's PYTHONPATH, where
``importlib.metadata`` finds it.

Plain Python (no rclpy).
"""
from __future__ import annotations

from importlib import metadata
from typing import Any

#: Entry-point groups of this project, and the package of ours that fills each.
FRAME_SOURCES = 'clopy.frame_sources'
POSE_BACKENDS = 'clopy.pose_backends'
LICK_SIMULATORS = 'clopy.lick_simulators'
PROVIDERS: dict[tuple[str, str], str] = {
    (FRAME_SOURCES, 'synthetic'): 'clopy_sim',
    (FRAME_SOURCES, 'synthetic_behaviour'): 'clopy_sim',
    (POSE_BACKENDS, 'synthetic'): 'clopy_sim',
    (LICK_SIMULATORS, 'simulated'): 'clopy_sim',
}


class PluginError(LookupError):
    """A backend is unknown, or its package is missing or does not load."""


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)   # the first on the path wins, as for imports
    return found


def plugin_names(group: str) -> list[str]:
    """Names of the backends installed in ``group`` (nothing is imported)."""
    return sorted(_entry_points(group))


def load_plugin(group: str, name: str, key: str, builtin: dict[str, Any] | None = None) -> Any:
    """The object registered as ``name`` in ``group`` (built-in ones first).

    Args:
        group: entry-point group, e.g. ``FRAME_SOURCES``.
        name: the backend name a parameter gave.
        key: that parameter, named in errors (``camera.source``).
        builtin: backends of the asking package itself, by name.

    Raises:
        PluginError: unknown name (the message lists the allowed ones and, for our
            own simulation backends, says which package provides it), or the
            package's module does not import.
    """
    builtin = builtin or {}
    if name in builtin:
        return builtin[name]
    entries = _entry_points(group)
    if name not in entries:
        allowed = sorted(set(builtin) | set(entries))
        provider = PROVIDERS.get((group, name))
        hint = (f'; {name!r} is provided by the package {provider}, which is not installed here '
                f'(build it into the workspace)' if provider else '')
        raise PluginError(f'{key} = {name!r}: no such backend{hint}; allowed here: {allowed} '
                          f'(a package adds one through the entry-point group {group!r})')
    entry = entries[name]
    try:
        return entry.load()
    except Exception as exc:  # noqa: BLE001 - any import failure of the providing package
        dist = getattr(entry.dist, 'name', None) or entry.value.split('.')[0]
        raise PluginError(f'{key} = {name!r}: the backend {entry.value!r} of the package {dist} does not '
                          f'load ({type(exc).__name__}: {exc})') from exc
