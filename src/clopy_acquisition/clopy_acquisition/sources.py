"""Frame sources by kind name: the built-in ones (recorded files, cameras, a
session's bag) and those other packages register under the entry-point group
``clopy.frame_sources`` (clopy_sim's synthetic cortex and synthetic behaviour
cameras, or a lab's own camera), so this package never imports them.

Usage::

    with open_source('hdf5', path='image_stream.hdf5') as source:
        while (frame := source.read()) is not None:
            ...

The classes themselves live in ``frame_source`` (base class, Frame, SourceError),
``file_sources``, ``live_sources`` and ``bag_source``; they are re-exported here.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from clopy_common.plugins import FRAME_SOURCES, PluginError, load_plugin, plugin_names

from .bag_source import BagSource
from .file_sources import Hdf5Source, TiffSource, VideoFileSource
from .frame_source import Frame, FrameSource, SourceError, count_dropped
from .genicam_params import GENICAM_PARAMS, genicam_from_camera
from .genicam_source import GenicamSource
from .live_sources import OpenCvDeviceSource, PiCameraSource

__all__ = ['BUILTIN_KINDS', 'BagSource', 'SourceBackend', 'Frame', 'FrameSource', 'GenicamSource', 'Hdf5Source',
           'OpenCvDeviceSource',
           'PiCameraSource', 'SOURCE_KINDS', 'SourceError', 'TiffSource', 'VideoFileSource',
           'count_dropped', 'open_source', 'source_backend', 'source_class', 'source_kinds']

@dataclass(frozen=True)
class SourceBackend:
    """What another package registers under ``clopy.frame_sources`` when the camera
    node should build its source itself (an entry point may also name a plain
    FrameSource class: ``open_source`` only, parameters as the built-in kinds).

    Attributes:
        source_class: the FrameSource class (what ``open_source`` constructs).
        from_camera: ``from_camera(declare, common) -> FrameSource``: declares the
            kind's own parameters through ``declare(name, default, description)``
            (which returns the value) and builds the source, not opened; ``common``
            holds the camera's width_px, height_px and frame_rate_hz. The source may
            have ``wants_rewards``, ``on_reward(delivered, rewards_delivered) -> str |
            None`` (the camera then feeds it the valve's reward events) and
            ``summary() -> str`` (logged at the end).
        params: the kind's own parameters (clopy_common.schema.Param), the schema
            the camera node declares and the pre-flight check applies when the kind
            is chosen.
    """

    source_class: type[FrameSource]
    from_camera: Callable[..., FrameSource]
    params: tuple = ()


#: Kinds this package provides itself (`genicam` with its own `genicam.*` parameters).
BUILTIN_KINDS: dict[str, type[FrameSource] | SourceBackend] = {
    'hdf5': Hdf5Source,
    'tiff': TiffSource,
    'video': VideoFileSource,
    'opencv': OpenCvDeviceSource,
    'picamera': PiCameraSource,
    'bag': BagSource,
    'genicam': SourceBackend(GenicamSource, genicam_from_camera, GENICAM_PARAMS),
}


def source_kinds() -> tuple[str, ...]:
    """Every kind available here: built-in, then installed entry points (not imported)."""
    return tuple(BUILTIN_KINDS) + tuple(n for n in plugin_names(FRAME_SOURCES) if n not in BUILTIN_KINDS)


#: The kinds available when this module was imported.
SOURCE_KINDS: tuple[str, ...] = source_kinds()


def source_backend(kind: str, key: str = 'source') -> type[FrameSource] | SourceBackend:
    """What is registered as ``kind``: a FrameSource class or a SourceBackend.

    Raises:
        SourceError: unknown kind (the message lists the allowed ones and names the
            package that provides a known but missing one), a registered object that
            is not a FrameSource class, or a providing package that does not import.
    """
    try:
        cls = load_plugin(FRAME_SOURCES, kind, key, BUILTIN_KINDS)
    except PluginError as exc:
        raise SourceError(str(exc)) from exc
    source = cls.source_class if isinstance(cls, SourceBackend) else cls
    if not (isinstance(source, type) and issubclass(source, FrameSource)):
        raise SourceError(f'{key} = {kind!r}: the entry point of group {FRAME_SOURCES!r} gives {cls!r}, '
                          f'neither a FrameSource subclass nor a SourceBackend')
    return cls


def source_class(kind: str, key: str = 'source') -> type[FrameSource]:
    """The FrameSource class of ``kind``; ``key`` is the parameter named in errors."""
    cls = source_backend(kind, key)
    return cls.source_class if isinstance(cls, SourceBackend) else cls


def open_source(kind: str, **params: Any) -> FrameSource:
    """Construct a source by kind name; it is NOT opened yet.

    Call ``open()`` (or use ``with``) before reading. ``open()`` is
    idempotent, so ``with open_source(...) as s`` after an explicit
    ``open()`` is also fine.

    Args:
        kind: one of ``source_kinds()``.
        **params: constructor arguments of that source class.

    Raises:
        SourceError: unknown kind, or parameters the class does not accept.
        ValueError: accepted parameters with invalid values.
    """
    cls = source_class(kind)
    signature = inspect.signature(cls.__init__)
    accepted = [name for name in signature.parameters if name != 'self']
    unknown = [name for name in params if name not in accepted]
    if unknown:
        raise SourceError(
            f'source kind {kind!r} does not accept parameter(s) {unknown}; '
            f'accepted: {accepted}')
    try:
        return cls(**params)
    except TypeError as exc:   # e.g. a required argument is missing
        raise SourceError(f'source kind {kind!r}: {exc}; accepted parameters: '
                          f'{accepted}') from exc
