"""What a camera can deliver, checked before a frame is made, and the valve pulses the
camera's source hears about. Plain Python, no rclpy.

Frame size and rate (``check_frame_budget``): every frame is published on image_raw,
processed by roi_dff or the pose node and, by default, recorded. A size and rate no
source and no computer can keep up with (e.g. ``camera.width_px = 1000000``, or a
synthetic 8192 x 8192 frame that takes seconds and gigabytes to make) would leave the
session waiting for a first frame while memory grows; it is refused up front instead:

* one frame at most ``MAX_FRAME_MB`` MB (width x height x 3 bytes, BGR),
* at most ``MAX_DATA_RATE_MB_S`` MB/s (frame bytes x frame_rate_hz),
* within the source's own largest frame (a FrameSource class attribute
  ``max_size_px = (width, height)``, e.g. the Pi HQ camera's 4056 x 3040).
"""
from __future__ import annotations

MAX_FRAME_MB = 64.0          # one BGR frame, in MB (1e6 bytes): 4096 x 4096 x 3 is 50 MB
MAX_DATA_RATE_MB_S = 200.0   # frames per second x frame size: 1920 x 1080 BGR at 30 fps is 187 MB/s
#: kinds whose frame size comes from the file, not from width_px / height_px
FILE_KINDS = ('hdf5', 'tiff', 'video', 'bag')


def check_frame_budget(width_px: int, height_px: int, frame_rate_hz: float, channels: int = 3,
                       max_size_px: tuple[int, int] | None = None, where: str = 'camera') -> None:
    """ValueError naming the key, the value and the allowed range when a source of this
    size and rate cannot be delivered (module docstring)."""
    if max_size_px is not None:
        for key, value, most in (('width_px', width_px, max_size_px[0]), ('height_px', height_px, max_size_px[1])):
            if value > most:
                raise ValueError(f'{where}.{key} = {value}: allowed: 1 to {most} px for this source')
    frame_mb = width_px * height_px * channels / 1e6
    if frame_mb > MAX_FRAME_MB:
        most = int(MAX_FRAME_MB * 1e6 / (channels * height_px))
        raise ValueError(f'{where}.width_px = {width_px}: a {width_px}x{height_px} frame is {frame_mb:.0f} MB; '
                         f'allowed: at most {MAX_FRAME_MB:g} MB a frame (width_px <= {most} at height_px '
                         f'{height_px})')
    rate_mb_s = frame_mb * frame_rate_hz
    if rate_mb_s > MAX_DATA_RATE_MB_S:
        most_hz = MAX_DATA_RATE_MB_S / frame_mb
        raise ValueError(f'{where}.frame_rate_hz = {frame_rate_hz:g}: {width_px}x{height_px} frames at that rate '
                         f'are {rate_mb_s:.0f} MB/s; allowed: at most {MAX_DATA_RATE_MB_S:g} MB/s '
                         f'(frame_rate_hz <= {most_hz:.3g} at this size)')


class ValvePulses:
    """Once per valve pulse: the reward node publishes an opening record (opened=True)
    and then a closing record with the same on_time. ``take`` says whether a record is
    news for the source: an opening, a refusal, or a closing whose opening was never
    seen (a reward node that records only closings, or a lost opening)."""

    def __init__(self) -> None:
        self._opened: set[tuple[int, int]] = set()

    def take(self, delivered: bool, opened: bool, on_time: tuple[int, int]) -> bool:
        if not delivered:
            return True
        if opened:
            self._opened.add(on_time)
            return True
        if on_time in self._opened:
            self._opened.discard(on_time)
            return False
        return True
