"""The camera's frame source built from the camera node's parameters: shared by the
camera node and `clopy rig check` (which opens the camera without starting the ROS
graph). Plain Python, no rclpy."""
from __future__ import annotations

from typing import Any, Callable

from clopy_acquisition.sources import SourceBackend, SourceError, open_source, source_backend, source_kinds

Get = Callable[[str], Any]


def source_kwargs(kind: str, get: Get) -> dict:
    """Constructor arguments of a built-in source kind, from node parameters (`get(name)`)."""
    width, height, fps = get('width_px'), get('height_px'), get('frame_rate_hz')
    if kind == 'hdf5':
        return dict(path=get('path'), dataset=get('hdf5_dataset'))
    if kind == 'tiff':
        return dict(path=get('path'), fps=fps)
    if kind in ('video', 'bag'):
        return dict(path=get('path'))
    if kind == 'opencv':
        device = get('device')
        return dict(device=int(device) if device.isdigit() else device,
                    width_px=width, height_px=height, fps=fps)
    if kind == 'picamera':
        return dict(width_px=width, height_px=height, fps=fps, exposure_us=get('exposure_us'))
    raise SourceError(f'no parameters known for this kind; allowed sources are {list(source_kinds())}')


def make_source(kind: str, get: Get):
    """The source of `kind` (not opened): a built-in kind from the camera's own
    parameters, another package's through its SourceBackend (``get`` answers its
    `<kind>.*` parameters too). SourceError whose message starts with
    ``camera.source = <kind>:`` (unknown kind, who provides it, bad parameters)."""
    backend = source_backend(kind, 'camera.source')   # its errors name camera.source already
    try:
        if isinstance(backend, SourceBackend):
            def declare(name, default, text=''):   # the node declared them with its schema
                return get(name)

            common = {n: get(n) for n in ('width_px', 'height_px', 'frame_rate_hz')}
            return backend.from_camera(declare, common)
        return open_source(kind, **source_kwargs(kind, get))
    except (SourceError, ValueError) as exc:
        raise SourceError(f'camera.source = {kind!r}: {exc}') from exc
