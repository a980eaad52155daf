"""Live cameras: OpenCV devices (V4L2, USB webcams) and the Raspberry Pi camera
(picamera2). They pace and stamp their own frames and count the frames the driver lost."""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .frame_source import Frame, FrameSource, SourceError, check_size_rate, count_dropped


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
        check_size_rate(width_px, height_px, fps)
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
    max_size_px = (4056, 3040)   # the HQ camera's sensor; the ISP scales down, not up

    def __init__(self, width_px: int = 256, height_px: int = 256,
                 fps: float = 15.0, exposure_us: int = 60000,
                 analogue_gain: float = 1.0,
                 colour_gains: tuple[float, float] = (1.0, 1.0),
                 camera_num: int = 0) -> None:
        super().__init__()
        check_size_rate(width_px, height_px, fps)
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
