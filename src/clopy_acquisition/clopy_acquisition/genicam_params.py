"""`camera.source: genicam`: the `genicam.*` parameters of the camera node and the
GenicamSource made from them (with the camera's width_px, height_px and
frame_rate_hz). Plain Python, no rclpy; docs/hardware-genicam.md describes them."""
from __future__ import annotations

from typing import Any, Callable

from clopy_common.schema import Param

from .genicam_pixels import PIXEL_FORMATS
from .genicam_source import TRIGGER_EDGES, GenicamSource

_G = 'genicam.'
#: `genicam.*`: the GenICam camera (Aravis).
GENICAM_PARAMS = (
    Param(_G + 'device_id', '', "the camera: its IPv4 address (GigE Vision, opened directly, nothing broadcast) "
          "or its Aravis device id or serial number (USB3 Vision)"),
    Param(_G + 'exposure_us', 10000.0, 'fixed exposure time (automatic exposure off)', unit='us', gt=0.0,
          max=10_000_000.0),
    Param(_G + 'gain_db', 0.0, "fixed gain (automatic gain off): the camera's Gain feature, dB on cameras "
          "following the GenICam naming convention; raw units on cameras with only GainRaw", unit='dB', min=0.0,
          max=100.0),
    Param(_G + 'pixel_format', 'Mono8', 'pixel format; Bayer and RGB formats are published as bgr8',
          choices=PIXEL_FORMATS),
    Param(_G + 'trigger', False, 'hardware trigger: one frame per edge on trigger_line (camera.frame_rate_hz '
          'is then the expected pulse rate)'),
    Param(_G + 'trigger_line', 'Line0', "the camera's trigger input (its TriggerSource entry, e.g. Line0, Line1)"),
    Param(_G + 'trigger_edge', 'rising', 'the edge that starts a frame', choices=tuple(TRIGGER_EDGES)),
    Param(_G + 'buffer_count', 8, 'frame buffers queued for the camera', min=2, max=1000),
    Param(_G + 'frame_timeout_s', 5.0, 'no complete frame for this long stops the camera with an error', unit='s',
          gt=0.0, max=3600.0),
    Param(_G + 'gige_discovery', False, "find GigE Vision cameras by name through Aravis's discovery, a broadcast "
          "on every network interface (off: give GigE cameras by address)"),
    Param(_G + 'packet_size_bytes', 0, 'GigE Vision stream packet size (0: negotiated by Aravis; 8000 and up need '
          'jumbo frames on the network interface)', unit='bytes', min=0, max=16384),
)


def genicam_from_camera(declare: Callable[..., Any], common: dict) -> GenicamSource:
    """The GenicamSource of `genicam.*` (read through ``declare(name, default,
    description)``) and the camera's width_px, height_px and frame_rate_hz."""
    values = {p.name[len(_G):]: declare(p.name, p.default, p.description) for p in GENICAM_PARAMS}
    return GenicamSource(width_px=common['width_px'], height_px=common['height_px'],
                         fps=common['frame_rate_hz'], **values)
