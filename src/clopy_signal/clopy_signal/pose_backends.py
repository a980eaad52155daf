"""Pose backends by name: the built-in ``dlclive`` (clopy_signal.dlc_backend) and any
other package's, registered under the entry-point group ``clopy.pose_backends``
(clopy_sim's ``synthetic``, or a lab's own), which this package never imports.

A backend is a class with

* ``from_pose_node(declare, settings) -> backend``: ``declare(name, default,
  description)`` declares a parameter of its own on the pose node and returns its
  value; ``settings`` holds the pose node's model_path, model_type, device, resize,
  body_parts and logger;
* ``body_parts``: the names, in the order of its rows;
* ``__call__(frame, frame_index)``: one (x_px, y_px, likelihood) row per body part.

Plain Python (no rclpy).
"""
from __future__ import annotations

from typing import Any, Callable

from clopy_common.plugins import POSE_BACKENDS, PluginError, load_plugin, plugin_names


class PoseBackendError(ValueError):
    """A pose backend cannot start: the message names the key and the bad value."""


def pose_backend_names(builtin: dict[str, Any]) -> list[str]:
    """Built-in names, then the installed entry points (nothing is imported)."""
    return list(builtin) + [n for n in plugin_names(POSE_BACKENDS) if n not in builtin]


def make_pose_backend(name: str, builtin: dict[str, Any], declare: Callable[..., Any], settings: dict):
    """Construct the backend ``name`` (the value of ``pose.backend``).

    Raises:
        PoseBackendError: unknown name (allowed ones listed; for our own simulation
            backend, the package that provides it), no ``from_pose_node``, or the
            backend's own checks failed.
    """
    try:
        cls = load_plugin(POSE_BACKENDS, name, 'pose.backend', builtin)
    except PluginError as exc:
        raise PoseBackendError(str(exc)) from exc
    factory = getattr(cls, 'from_pose_node', None)
    if not callable(factory):
        raise PoseBackendError(f'pose.backend = {name!r}: {cls!r} has no from_pose_node(declare, settings); '
                               f'see clopy_signal.pose_backends for what a backend provides')
    return factory(declare, settings)
