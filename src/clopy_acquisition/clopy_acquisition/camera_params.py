"""The camera node's parameters (clopy_common.schema): the node declares them and the
pre-flight check of `clopy run` and of the launch files applies them. The chosen
source kind may bring its own (``<kind>.*``, a SourceBackend's ``params``): the full
schema depends on `camera.source`. Plain Python, no rclpy."""
from __future__ import annotations

from clopy_common.schema import ChosenSchema, NodeSchema, Param, SchemaError

from clopy_acquisition.limits import FILE_KINDS, check_frame_budget
from clopy_acquisition.sources import SourceBackend, SourceError, source_backend, source_class, source_kinds

CAMERA = NodeSchema('camera', [
    Param('source', 'synthetic', 'frame source kind', choices=source_kinds()),
    Param('path', '', 'file for the hdf5, tiff, video and bag sources'),
    Param('hdf5_dataset', '/raw_images', 'dataset of an original CLoPy image_stream.hdf5'),
    Param('device', '0', 'OpenCV device index or path'),
    Param('width_px', 256, 'frame width', unit='px', min=1, max=8192),
    Param('height_px', 256, 'frame height', unit='px', min=1, max=8192),
    Param('frame_rate_hz', 15.0, 'camera frame rate; replay and synthetic sources are paced at it',
          unit='Hz', gt=0.0, max=1000.0),
    Param('exposure_us', 60000, 'Pi camera fixed exposure', unit='us', min=1, max=10_000_000),
    Param('max_frames', 0, 'stop after this many frames (0 = no limit)', min=0),
    Param('frame_id', 'camera', 'header.frame_id of the images'),
    Param('wait_for_subscribers', 0, 'before the first frame, wait until image_raw and frame_info have this '
          'many matched subscriptions (0 = do not wait)', min=0, max=100),
    Param('wait_for_topics', [], "before the first frame, wait until each 'topic:count' has that many matched "
          "subscriptions (the paradigm's start condition; set by clopy run and the launch files); not all matched "
          "within wait_timeout_s stops the camera with an error naming them", type='str[]'),
    Param('wait_timeout_s', 30.0, 'longest wait for subscribers (wait_for_subscribers: then frames start anyway; wait_for_topics: the camera stops with an error)', unit='s',
          min=0.0, max=3600.0),
    Param('crop_px', [0, 0, 0, 0], '[x, y, width, height] region of the frame to publish (all 0: the whole '
          'frame)', unit='px', min=0, max=8192),
    Param('pace', 'realtime', "realtime: frames at frame_rate_hz; lockstep: as fast as the graph processes "
          "them, each frame after the previous one's control signal (offline re-runs: nothing dropped, "
          "deterministic)", choices=('realtime', 'lockstep')),
    Param('lockstep_timeout_s', 5.0, "lockstep: longest wait for a frame's control signal", unit='s',
          gt=0.0, max=3600.0),
    Param('first_frame_timeout_s', 30.0, 'no frame from the source this long after capture starts (after the '
          "wait for the graph) ends the session with an error ('no first frame within X s')", unit='s',
          gt=0.0, max=3600.0),
    Param('preview_rate_hz', 2.0, 'image_preview: the frame, at most this often, for viewers (the dashboard, '
          'rqt_image_view, Foxglove), published only while one subscribes, after the frame\'s own messages '
          '(0 = none)', unit='Hz', min=0.0, max=30.0),
])


def kind_params(kind: str) -> tuple[Param, ...]:
    """The parameters source ``kind`` brings (none for the built-in kinds).
    SchemaError names camera.source when the kind is unknown or cannot be loaded."""
    try:
        backend = source_backend(kind, 'camera.source')
    except SourceError as exc:
        raise SchemaError(str(exc)) from None
    return tuple(backend.params) if isinstance(backend, SourceBackend) else ()


#: The camera's full schema for each `camera.source` (the kind's own parameters join).
CAMERA_SCHEMAS = ChosenSchema(CAMERA, 'source', kind_params, source_kinds)


def check_camera(values: dict, file: str = '') -> None:
    """What no single parameter shows: the requested frame size and rate within what the
    source can deliver (clopy_acquisition.limits). ``values``: the camera block of a
    parameter file (defaults fill the rest); file kinds take their size from the file
    (checked by the node once it is open). SchemaError names the key, value and range."""
    merged = CAMERA.defaults() | dict(values)
    kind = merged['source']
    if kind in FILE_KINDS:
        return
    try:
        max_size = getattr(source_class(kind, 'camera.source'), 'max_size_px', None)
    except SourceError as exc:
        raise SchemaError(str(exc)) from None
    try:
        check_frame_budget(int(merged['width_px']), int(merged['height_px']), float(merged['frame_rate_hz']),
                           max_size_px=max_size)
    except ValueError as exc:
        raise SchemaError(f'{file}: {exc}' if file else str(exc)) from None
