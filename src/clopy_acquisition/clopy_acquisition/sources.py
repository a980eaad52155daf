"""Frame sources: cameras, recorded files and the synthetic cortex.

Every source yields ``Frame`` objects holding a uint8 image, (H, W, 3) BGR or
(H, W) mono. Two kinds exist:

* live sources (``live = True``: OpenCV devices, the Pi camera) pace
  themselves, stamp each frame with its capture time and count frames lost
  before it (from gaps in the capture timestamps);
* replay/simulated sources (``live = False``: HDF5, TIFF, video files, the
  synthetic cortex) return the next frame immediately with
  ``capture_time_s = None``; the caller paces them at ``nominal_fps``.

``capture_time_s`` is in seconds on the source's own monotonic clock: the
kernel's frame timestamp where the driver provides one (V4L2 buffer times
and libcamera's ``SensorTimestamp`` are CLOCK_MONOTONIC on Linux, the clock
of ``time.monotonic()``), otherwise ``time.monotonic()`` at arrival.
Differences between frames of one source are always meaningful; comparing
with ``time.monotonic()`` assumes the Linux clock above.

Usage::

    with open_source('hdf5', path='image_stream.hdf5') as source:
        while (frame := source.read()) is not None:
            ...
"""
from __future__ import annotations

import abc
import inspect
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


class SourceError(RuntimeError):
    """A frame source could not be opened or read.

    The message names the path/device and says what was wrong.
    """


@dataclass
class Frame:
    """One image from a source.

    Attributes:
        image: uint8, (H, W, 3) BGR or (H, W) mono.
        capture_time_s: capture time in s on the source's monotonic clock, or
            None when the source has no capture clock (files, synthetic).
        dropped_before: frames the source knows were lost between the
            previous frame and this one (0 for files).
        index: the frame's index in its original session (bag replay), else None.
        stamp_ns: the frame's original ROS stamp in ns (bag replay), else None.
    """

    image: np.ndarray
    capture_time_s: float | None = None
    dropped_before: int = 0
    index: int | None = None
    stamp_ns: int | None = None


def count_dropped(gap_s: float, interval_s: float) -> int:
    """Frames lost in a timestamp gap between two delivered frames.

    A gap longer than 1.5 frame intervals means at least one frame is
    missing; the count is ``round(gap / interval) - 1`` (a 2-interval gap is
    one lost frame). Gaps up to 1.5 intervals are ordinary jitter.

    Args:
        gap_s: time between consecutive delivered frames, s.
        interval_s: expected frame interval, s (> 0).
    """
    if not (interval_s > 0 and math.isfinite(gap_s)):
        return 0
    if gap_s <= 1.5 * interval_s:
        return 0
    return max(1, int(round(gap_s / interval_s)) - 1)


class FrameSource(abc.ABC):
    """Base class: open/read/close plus context-manager support.

    Attributes (valid after ``open()``):
        width_px, height_px: frame size in px.
        encoding: ``'bgr8'`` for (H, W, 3) BGR frames, ``'mono8'`` for (H, W).
        nominal_fps: expected frame rate in Hz, or None if unknown.
        live: True for cameras (self-paced, self-stamped), False for replay
            and synthetic sources (the caller paces them).
        frame_count: number of frames when known in advance (files), else
            None.
    """

    live: bool = False

    def __init__(self) -> None:
        self.width_px: int = 0
        self.height_px: int = 0
        self.encoding: str = 'bgr8'
        self.nominal_fps: float | None = None
        self.frame_count: int | None = None
        self._is_open = False

    @property
    def is_open(self) -> bool:
        """True between a successful ``open()`` and ``close()``."""
        return self._is_open

    def describe(self) -> str:
        """Short human-readable name for messages, e.g. the file path."""
        return type(self).__name__

    def open(self) -> None:
        """Acquire the file/device. Calling it again while open does nothing.

        Raises:
            SourceError: the source cannot be opened; the message says why.
        """
        if self._is_open:
            return
        self._open()
        self._is_open = True

    def read(self) -> Frame | None:
        """Next frame, or None at the end of a file/stream.

        Raises:
            SourceError: the source is not open or a read failed.
        """
        if not self._is_open:
            raise SourceError(f'{self.describe()}: read() before open()')
        return self._read()

    def close(self) -> None:
        """Release the file/device. Safe to call more than once."""
        if self._is_open:
            self._is_open = False
            self._close()

    def __enter__(self) -> 'FrameSource':
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @abc.abstractmethod
    def _open(self) -> None:
        """Open and set width_px/height_px/encoding/nominal_fps."""

    @abc.abstractmethod
    def _read(self) -> Frame | None:
        """Return the next frame or None at the end."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release resources."""


def _check_file(path: str, kind: str) -> str:
    """Fail early with a clear message; libraries report missing files
    inconsistently (OpenCV just says 'not opened')."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SourceError(f'{kind} file {path!r} does not exist')
    if not os.path.isfile(path):
        raise SourceError(f'{kind} path {path!r} is not a regular file')
    if not os.access(path, os.R_OK):
        raise SourceError(f'{kind} file {path!r} is not readable')
    return path


def _image_encoding(shape: tuple[int, ...]) -> str | None:
    """'bgr8' for (H, W, 3), 'mono8' for (H, W), else None."""
    if len(shape) == 3 and shape[2] == 3:
        return 'bgr8'
    if len(shape) == 2:
        return 'mono8'
    return None


class Hdf5Source(FrameSource):
    """Replay an original CLoPy ``image_stream.hdf5``.

    The dataset is N x H x W x 3 BGR uint8 (or N x H x W mono uint8); frames
    are read one at a time, so the file is never loaded whole.

    Args:
        path: HDF5 file.
        dataset: dataset path inside the file (``'/raw_images'`` in CLoPy).
        fps: replay rate to report as ``nominal_fps`` (15 Hz in CLNF).
    """

    live = False

    def __init__(self, path: str, dataset: str = '/raw_images',
                 fps: float | None = 15.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.dataset = dataset
        self.nominal_fps = fps
        self._file = None
        self._data = None
        self._index = 0

    def describe(self) -> str:
        return f'HDF5 {self.path!r}'

    def _open(self) -> None:
        import h5py

        _check_file(self.path, 'HDF5')
        try:
            handle = h5py.File(self.path, 'r')
        except OSError as exc:
            raise SourceError(
                f'HDF5 file {self.path!r} cannot be opened: {exc}') from exc
        try:
            if self.dataset not in handle:
                available = []
                handle.visit(lambda name: available.append('/' + name)
                             if isinstance(handle[name], h5py.Dataset)
                             else None)
                raise SourceError(
                    f'HDF5 file {self.path!r} has no dataset {self.dataset!r};'
                    f' datasets present: {available}')
            data = handle[self.dataset]
            if not isinstance(data, h5py.Dataset):
                raise SourceError(
                    f'HDF5 file {self.path!r}: {self.dataset!r} is a group, '
                    f'not an image dataset')
            encoding = _image_encoding(data.shape[1:])
            if data.ndim not in (3, 4) or encoding is None:
                raise SourceError(
                    f'HDF5 file {self.path!r}: dataset {self.dataset!r} has '
                    f'shape {data.shape}; expected N x H x W x 3 (BGR) or '
                    f'N x H x W (mono)')
            if data.dtype != np.uint8:
                raise SourceError(
                    f'HDF5 file {self.path!r}: dataset {self.dataset!r} has '
                    f'dtype {data.dtype}; expected uint8')
        except BaseException:
            handle.close()
            raise
        self._file, self._data = handle, data
        self.frame_count = int(data.shape[0])
        self.height_px, self.width_px = int(data.shape[1]), int(data.shape[2])
        self.encoding = encoding
        self._index = 0

    def _read(self) -> Frame | None:
        if self._index >= self.frame_count:
            return None
        try:
            image = self._data[self._index]
        except OSError as exc:
            raise SourceError(
                f'HDF5 file {self.path!r}: frame {self._index} cannot be read:'
                f' {exc}') from exc
        self._index += 1
        return Frame(np.ascontiguousarray(image))

    def _close(self) -> None:
        self._file.close()
        self._file = self._data = None


class TiffSource(FrameSource):
    """Replay a multi-page TIFF, one page per frame, read lazily.

    Pages must be uint8, either mono (H, W) or RGB (H, W, 3; converted to
    BGR). An RGBA page loses its alpha channel.

    Args:
        path: TIFF file.
        fps: replay rate to report as ``nominal_fps``.
    """

    live = False

    def __init__(self, path: str, fps: float | None = 15.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.nominal_fps = fps
        self._tif = None
        self._first: np.ndarray | None = None
        self._index = 0
        self._shape: tuple[int, ...] = ()

    def describe(self) -> str:
        return f'TIFF {self.path!r}'

    def _open(self) -> None:
        import tifffile

        _check_file(self.path, 'TIFF')
        try:
            tif = tifffile.TiffFile(self.path)
        except Exception as exc:   # tifffile raises several types
            raise SourceError(
                f'TIFF file {self.path!r} cannot be opened: {exc}') from exc
        try:
            # No page cache: only page offsets are kept, and only the page
            # being read has its pixels in memory. (TiffFrames are not used:
            # they assume every page has page 0's shape.)
            tif.pages.cache = False
            first = self._page_image(tif, 0)
            if first is None:
                raise SourceError(f'TIFF file {self.path!r} has no pages')
        except BaseException:
            tif.close()
            raise
        self._tif = tif
        self._shape = first.shape
        self.height_px, self.width_px = first.shape[:2]
        self.encoding = _image_encoding(first.shape)
        self._first = first
        self._index = 0

    def _page_image(self, tif, index: int) -> np.ndarray | None:
        try:
            page = tif.pages[index]
        except IndexError:
            return None
        try:
            image = page.asarray()
        except Exception as exc:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} cannot be decoded: '
                f'{exc}') from exc
        if image.dtype != np.uint8:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has dtype '
                f'{image.dtype}; only uint8 pages are supported (convert '
                f'16-bit stacks to 8 bit first)')
        if image.ndim == 3 and getattr(page, 'axes', '').startswith('S'):
            image = np.moveaxis(image, 0, -1)   # planar (S, H, W) -> (H, W, S)
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        if image.ndim == 3 and image.shape[2] == 3:
            image = np.ascontiguousarray(image[..., ::-1])   # RGB -> BGR
        elif image.ndim != 2:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has shape '
                f'{image.shape}; expected (H, W) mono or (H, W, 3) RGB')
        if self._shape and image.shape != self._shape:
            raise SourceError(
                f'TIFF file {self.path!r}: page {index} has shape '
                f'{image.shape}, but page 0 has {self._shape}')
        return image

    def _read(self) -> Frame | None:
        if self._index == 0:
            image = self._first
            self._first = None
        else:
            image = self._page_image(self._tif, self._index)
            if image is None:
                return None
        self._index += 1
        return Frame(image)

    def _close(self) -> None:
        self._tif.close()
        self._tif = None
        self._first = None


class VideoFileSource(FrameSource):
    """Replay a video file through OpenCV (frames arrive as BGR).

    Args:
        path: video file (AVI, MP4, ... whatever the OpenCV build decodes).
    """

    live = False

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._cap = None
        self._pending: np.ndarray | None = None

    def describe(self) -> str:
        return f'video {self.path!r}'

    def _open(self) -> None:
        import cv2

        _check_file(self.path, 'video')
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f'video file {self.path!r} cannot be opened by OpenCV (unknown '
                f'container/codec or not a video)')
        # Decode the first frame now so an undecodable file fails at open(),
        # and so the size is the real decoded size.
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise SourceError(
                f'video file {self.path!r} opened but no frame could be '
                f'decoded')
        self._cap = cap
        self._pending = image
        self.height_px, self.width_px = image.shape[:2]
        self.encoding = _image_encoding(image.shape) or 'bgr8'
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = float(fps) if fps and fps > 0 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        # Container frame counts can be estimates; report only positive ones.
        self.frame_count = count if count > 0 else None

    def _read(self) -> Frame | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return Frame(image)
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return Frame(image)

    def _close(self) -> None:
        self._cap.release()
        self._cap = None
        self._pending = None


class OpenCvDeviceSource(FrameSource):
    """Live camera through OpenCV (V4L2 on Linux, USB webcams etc.).

    Capture time is the driver's frame timestamp (``CAP_PROP_POS_MSEC``,
    the V4L2 buffer time, CLOCK_MONOTONIC) when the backend provides one
    (positive from the first frame on and increasing), otherwise the host's
    ``clock()`` (``time.monotonic()``) right after the grab. A frame whose
    driver time does not increase falls back to the host clock and is not
    used for drop counting.
    Gaps over 1.5 frame intervals are reported as dropped frames.

    Args:
        device: camera index (0) or device path/URL (``'/dev/video0'``).
        width_px, height_px: requested frame size.
        fps: requested frame rate, Hz.
        resize: if the camera delivers another size, resize to the requested
            one (INTER_AREA) instead of failing at open.
        clock: host clock in s used when the driver gives no timestamps
            (injectable for tests).
    """

    live = True

    def __init__(self, device: int | str = 0, width_px: int = 256,
                 height_px: int = 256, fps: float = 15.0,
                 resize: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if width_px < 1 or height_px < 1:
            raise ValueError(
                f'width_px={width_px}, height_px={height_px} must be >= 1')
        if not fps > 0:
            raise ValueError(f'fps={fps!r} must be > 0')
        self.device = device
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.nominal_fps = float(fps)
        self.resize = resize
        self._clock = clock
        self._cap = None
        self._interval_s = 1.0 / fps
        self._last_time_s: float | None = None
        self._last_clock = ''
        self._last_driver_ms = 0.0
        self._use_driver_clock = False
        self._pending: np.ndarray | None = None
        self._pending_time: tuple[float, str] = (0.0, '')

    def describe(self) -> str:
        return f'OpenCV camera {self.device!r}'

    def _open(self) -> None:
        import cv2

        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f'OpenCV camera {self.device!r} cannot be opened (no such '
                f'device, busy, or no permission)')
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width_px)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height_px)
        cap.set(cv2.CAP_PROP_FPS, self.nominal_fps)
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise SourceError(
                f'OpenCV camera {self.device!r} opened but delivered no frame')
        got_h, got_w = image.shape[:2]
        if (got_h, got_w) != (self.height_px, self.width_px) and not self.resize:
            cap.release()
            raise SourceError(
                f'OpenCV camera {self.device!r} delivers {got_w}x{got_h} px '
                f'frames, not the requested {self.width_px}x{self.height_px}; '
                f'choose a supported size or set resize=True')
        # Trust the camera's own rate for drop detection when it reports one.
        reported = cap.get(cv2.CAP_PROP_FPS)
        if reported and reported > 0:
            self._interval_s = 1.0 / reported
        self._cap = cap
        self._last_time_s = None
        self._last_clock = ''
        self._last_driver_ms = 0.0
        # Use driver timestamps only if the backend gives a real clock: V4L2
        # reports the buffer time (ms since boot, > 0) already for the first
        # frame, whereas backends without one report 0 or -1, and files the
        # position (0 ms for frame 0). Deciding once avoids mixing clocks.
        self._use_driver_clock = cap.get(cv2.CAP_PROP_POS_MSEC) > 0
        self._pending = self._fit(image)
        self._pending_time = self._capture_time()
        self.encoding = 'bgr8'

    def _fit(self, image: np.ndarray) -> np.ndarray:
        if image.shape[:2] == (self.height_px, self.width_px):
            return image
        import cv2
        return cv2.resize(image, (self.width_px, self.height_px),
                          interpolation=cv2.INTER_AREA)

    def _capture_time(self) -> tuple[float, str]:
        """(time_s, clock name) of the frame just grabbed."""
        import cv2
        if self._use_driver_clock:
            driver_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            if driver_ms > self._last_driver_ms:
                self._last_driver_ms = driver_ms
                return driver_ms / 1000.0, 'driver'
        return self._clock(), 'host'

    def _stamp(self, image: np.ndarray, stamp: tuple[float, str]) -> Frame:
        time_s, clock = stamp
        dropped = 0
        # Gaps are only meaningful between two stamps from the same clock; a
        # backend that stops giving driver times must not fake a huge gap.
        if self._last_time_s is not None and clock == self._last_clock:
            dropped = count_dropped(time_s - self._last_time_s,
                                    self._interval_s)
        self._last_time_s, self._last_clock = time_s, clock
        return Frame(image, time_s, dropped)

    def _read(self) -> Frame | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
            return self._stamp(image, self._pending_time)
        ok, image = self._cap.read()
        if not ok or image is None:
            # A live stream that stops delivering has ended (unplugged).
            return None
        return self._stamp(self._fit(image), self._capture_time())

    def _close(self) -> None:
        self._cap.release()
        self._cap = None


class PiCameraSource(FrameSource):
    """Raspberry Pi camera via picamera2 with CLoPy's fixed imaging settings.

    Exposure is fixed (``exposure_us``, 60 ms in CLoPy), auto-exposure and
    auto white balance are off and the gains are locked (``AnalogueGain``,
    ``ColourGains``), so intensity changes come from the cortex, not from the
    camera's control loops. The frame duration is fixed to ``1/fps``.
    Capture time is the sensor timestamp (``SensorTimestamp``, ns, start of
    exposure, CLOCK_MONOTONIC on Raspberry Pi OS); gaps over 1.5 frame
    durations (``FrameDuration`` metadata, us) count as dropped frames.

    Args:
        width_px, height_px: output size (the ISP scales to it).
        fps: frame rate, Hz; the exposure must fit in one frame.
        exposure_us: exposure time, us.
        analogue_gain: locked sensor gain.
        colour_gains: locked (red, blue) white-balance gains.
        camera_num: which camera on multi-camera boards.
    """

    live = True

    def __init__(self, width_px: int = 256, height_px: int = 256,
                 fps: float = 15.0, exposure_us: int = 60000,
                 analogue_gain: float = 1.0,
                 colour_gains: tuple[float, float] = (1.0, 1.0),
                 camera_num: int = 0) -> None:
        super().__init__()
        if width_px < 1 or height_px < 1:
            raise ValueError(
                f'width_px={width_px}, height_px={height_px} must be >= 1')
        if not fps > 0:
            raise ValueError(f'fps={fps!r} must be > 0')
        frame_us = int(round(1e6 / fps))
        if not 0 < exposure_us <= frame_us:
            raise ValueError(
                f'exposure_us={exposure_us!r} must be > 0 and fit in one frame '
                f'({frame_us} us at fps={fps})')
        if not analogue_gain > 0:
            raise ValueError(f'analogue_gain={analogue_gain!r} must be > 0')
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.nominal_fps = float(fps)
        self.exposure_us = int(exposure_us)
        self.analogue_gain = float(analogue_gain)
        self.colour_gains = (float(colour_gains[0]), float(colour_gains[1]))
        self.camera_num = camera_num
        self.encoding = 'bgr8'
        self._frame_us = frame_us
        self._camera = None
        self._last_time_s: float | None = None

    def describe(self) -> str:
        return f'Pi camera {self.camera_num}'

    def controls(self) -> dict[str, Any]:
        """libcamera controls applied at start: fixed exposure, locked gains."""
        return {
            'AeEnable': False,
            'AwbEnable': False,
            'ExposureTime': self.exposure_us,
            'AnalogueGain': self.analogue_gain,
            'ColourGains': self.colour_gains,
            'FrameDurationLimits': (self._frame_us, self._frame_us),
        }

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise SourceError(
                f'Pi camera {self.camera_num}: the picamera2 package is not '
                f'importable ({exc}); install python3-picamera2 on Raspberry '
                f'Pi OS or use another source kind') from exc
        try:
            camera = Picamera2(self.camera_num)
        except Exception as exc:   # picamera2 raises bare RuntimeError/IndexError
            raise SourceError(
                f'Pi camera {self.camera_num} cannot be opened: {exc}') from exc
        try:
            # 'RGB888' arrays are B, G, R byte order: already OpenCV BGR.
            config = camera.create_video_configuration(
                main={'size': (self.width_px, self.height_px),
                      'format': 'RGB888'},
                controls=self.controls())
            camera.configure(config)
            camera.start()
        except Exception as exc:
            camera.close()
            raise SourceError(
                f'Pi camera {self.camera_num} cannot be configured for '
                f'{self.width_px}x{self.height_px} at {self.nominal_fps} fps, '
                f'exposure {self.exposure_us} us: {exc}') from exc
        self._camera = camera
        self._last_time_s = None

    def _read(self) -> Frame | None:
        try:
            request = self._camera.capture_request()
        except Exception as exc:
            raise SourceError(
                f'Pi camera {self.camera_num}: capture failed: {exc}') from exc
        try:
            image = request.make_array('main')
            metadata = request.get_metadata()
        finally:
            # Buffers go back to the camera at once or it stalls.
            request.release()
        # Row stride can be padded beyond the requested width.
        image = np.ascontiguousarray(image[:self.height_px, :self.width_px, :3])
        timestamp_ns = metadata.get('SensorTimestamp')
        duration_us = metadata.get('FrameDuration') or self._frame_us
        time_s = timestamp_ns / 1e9 if timestamp_ns is not None else None
        dropped = 0
        if time_s is not None and self._last_time_s is not None:
            dropped = count_dropped(time_s - self._last_time_s,
                                    duration_us / 1e6)
        if time_s is not None:
            self._last_time_s = time_s
        return Frame(image, time_s, dropped)

    def _close(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()
            self._camera = None


def _synthetic_class() -> type[FrameSource]:
    # Imported lazily: synthetic.py depends on clopy_signal and numpy work
    # that file/camera users do not need.
    from .synthetic import SyntheticCortexSource
    return SyntheticCortexSource


class BagSource(FrameSource):
    """Frames of a recorded CLoPy session: `image_raw` paired with `frame_info`
    by stamp, in frame order, with their original stamps and indices (so a
    re-run sees exactly the times the session saw).

    Args:
        path: a session folder (holding ``bag/``) or a rosbag2 bag folder.
    """

    live = False
    IMAGE_TOPIC = 'image_raw'
    INFO_TOPIC = 'frame_info'

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._reader = None
        self._messages = None
        self._store = None
        self._pending_images: dict[int, Any] = {}
        self._pending_index: dict[int, int] = {}
        self._last_index: int | None = None

    def describe(self) -> str:
        return f'recording {self.path!r}'

    def _bag_dir(self) -> str:
        for candidate in (os.path.join(self.path, 'bag'), self.path):
            if os.path.isfile(os.path.join(candidate, 'metadata.yaml')):
                return candidate
        raise SourceError(f'recording {self.path!r}: no rosbag2 bag there (expected a session folder '
                          f'with bag/metadata.yaml, or a bag folder)')

    def _open(self) -> None:
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore
        bag_dir = self._bag_dir()
        try:
            reader = Reader(bag_dir)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds
            raise SourceError(f'recording {bag_dir!r} cannot be opened: {exc}') from exc
        store = get_typestore(Stores.ROS2_KILTED)
        conns = [c for c in reader.connections if c.topic in (self.IMAGE_TOPIC, self.INFO_TOPIC)]
        topics = {c.topic for c in conns}
        if topics != {self.IMAGE_TOPIC, self.INFO_TOPIC}:
            reader.close()
            raise SourceError(f'recording {bag_dir!r} has no {sorted({self.IMAGE_TOPIC, self.INFO_TOPIC} - topics)} '
                              f'topic: it was recorded without images (record_images: false)')
        for conn in conns:
            if conn.msgtype not in store.fielddefs:
                # our own types: their definitions are stored in the bag
                text = conn.msgdef.data.split('\n' + '=' * 80)[0]
                store.register(get_types_from_msg(text, conn.msgtype))
        self._reader, self._store = reader, store
        self._messages = reader.messages(connections=conns)
        self.nominal_fps = None
        first = self._peek_first()
        self.height_px, self.width_px = first.image.shape[:2]
        self.encoding = 'bgr8' if first.image.ndim == 3 else 'mono8'
        self._first = first

    def _peek_first(self) -> Frame:
        frame = self._next_frame()
        if frame is None:
            raise SourceError(f'recording {self.path!r} holds no complete frame')
        return frame

    def _next_frame(self) -> Frame | None:
        for conn, _, raw in self._messages:
            msg = self._store.deserialize_cdr(raw, conn.msgtype)
            key = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if conn.topic == self.INFO_TOPIC:
                image = self._pending_images.pop(key, None)
                if image is None:
                    self._pending_index[key] = int(msg.frame_index)
                    continue
                return self._frame(image, int(msg.frame_index), key)
            index = self._pending_index.pop(key, None)
            if index is None:
                self._pending_images[key] = msg
                continue
            return self._frame(msg, index, key)
        return None

    def _frame(self, image_msg, index: int, stamp_ns: int) -> Frame:
        channels = 3 if image_msg.encoding == 'bgr8' else 1
        image = np.frombuffer(bytes(image_msg.data), np.uint8).reshape(
            image_msg.height, image_msg.width, channels)
        if channels == 1:
            image = image[:, :, 0]
        dropped = 0 if self._last_index is None else max(0, index - self._last_index - 1)
        self._last_index = index
        return Frame(image, dropped_before=dropped, index=index, stamp_ns=stamp_ns)

    def _read(self) -> Frame | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        return self._next_frame()

    def _close(self) -> None:
        self._reader.close()
        self._reader = self._messages = None


_KINDS: dict[str, Callable[[], type[FrameSource]]] = {
    'synthetic': _synthetic_class,
    'synthetic_behaviour': lambda: __import__(  # lazy, like 'synthetic'
        f'{__package__}.synthetic_behaviour', fromlist=['_']).SyntheticBehaviourSource,
    'hdf5': lambda: Hdf5Source,
    'tiff': lambda: TiffSource,
    'video': lambda: VideoFileSource,
    'opencv': lambda: OpenCvDeviceSource,
    'picamera': lambda: PiCameraSource,
    'bag': lambda: BagSource,
}
SOURCE_KINDS: tuple[str, ...] = tuple(_KINDS)


def open_source(kind: str, **params: Any) -> FrameSource:
    """Construct a source by kind name; it is NOT opened yet.

    Call ``open()`` (or use ``with``) before reading. ``open()`` is
    idempotent, so ``with open_source(...) as s`` after an explicit
    ``open()`` is also fine.

    Args:
        kind: one of ``SOURCE_KINDS``.
        **params: constructor arguments of that source class.

    Raises:
        SourceError: unknown kind, or parameters the class does not accept.
        ValueError: accepted parameters with invalid values.
    """
    if kind not in _KINDS:
        raise SourceError(
            f'unknown source kind {kind!r}; allowed kinds: {list(SOURCE_KINDS)}')
    cls = _KINDS[kind]()
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
