"""Live camera sources: OpenCV devices (a real video file through OpenCV, a fake
capture for driver timestamps) and the Pi camera (a fake picamera2 module)."""
import sys
import types

import cv2
import numpy as np
import pytest
from acquisition_files import LEVELS, H, W, read_all

from clopy_acquisition.sources import OpenCvDeviceSource, PiCameraSource, SourceError


# --------------------------------------------------------- OpenCV devices

def test_opencv_device_that_cannot_open():
    with pytest.raises(SourceError, match='OpenCV camera 97 cannot be opened'):
        OpenCvDeviceSource(97, 256, 256, 15).open()


def test_opencv_device_reads_stamped_frames(avi_path):
    # OpenCV opens a file path like a device: a real capture backend.
    with OpenCvDeviceSource(str(avi_path), 2 * W, 2 * H, 15.0) as source:
        assert source.live is True
        frames = read_all(source)
    assert len(frames) == len(LEVELS)
    times = [f.capture_time_s for f in frames]
    assert all(t is not None for t in times)
    assert all(b > a for a, b in zip(times, times[1:]))
    assert all(f.dropped_before == 0 for f in frames)


def test_opencv_device_size_mismatch(avi_path):
    with pytest.raises(SourceError, match=r'delivers 32x24 px.*16x16.*resize'):
        OpenCvDeviceSource(str(avi_path), 16, 16, 15.0).open()
    with OpenCvDeviceSource(str(avi_path), 16, 16, 15.0, resize=True) as source:
        assert source.read().image.shape == (16, 16, 3)
        assert source.read().image.shape == (16, 16, 3)


class FakeCapture:
    """Stands in for cv2.VideoCapture with scripted driver timestamps."""

    def __init__(self, timestamps_ms):
        self.timestamps_ms = list(timestamps_ms)
        self.i = -1
        self.props = {}

    def isOpened(self):
        return True

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        if prop == cv2.CAP_PROP_POS_MSEC:
            return self.timestamps_ms[self.i] if self.i >= 0 else 0.0
        if prop == cv2.CAP_PROP_FPS:
            return self.props.get(cv2.CAP_PROP_FPS, 0.0)
        return 0.0

    def read(self):
        if self.i + 1 >= len(self.timestamps_ms):
            return False, None
        self.i += 1
        return True, np.full((8, 8, 3), self.i, np.uint8)

    def release(self):
        pass


def test_opencv_device_counts_drops_from_driver_timestamps(monkeypatch):
    period = 1000 / 15
    stamps = [1000 + period * k for k in (0, 1, 2, 4, 5, 9, 10)]
    fake = FakeCapture(stamps)
    monkeypatch.setattr(cv2, 'VideoCapture', lambda device: fake)
    with OpenCvDeviceSource('/dev/video9', 8, 8, 15.0) as source:
        frames = read_all(source)
    assert fake.props[cv2.CAP_PROP_FRAME_WIDTH] == 8
    assert fake.props[cv2.CAP_PROP_FPS] == 15.0
    assert [f.dropped_before for f in frames] == [0, 0, 0, 1, 0, 3, 0]
    assert frames[3].capture_time_s == pytest.approx(stamps[3] / 1000)
    assert [int(f.image[0, 0, 0]) for f in frames] == list(range(7))


def test_opencv_device_falls_back_to_host_clock(monkeypatch):
    fake = FakeCapture([0.0] * 4)     # backend gives no timestamps
    monkeypatch.setattr(cv2, 'VideoCapture', lambda device: fake)
    host_times = iter([10.0, 10.1, 10.3, 10.35])
    source = OpenCvDeviceSource(0, 8, 8, 10.0, clock=lambda: next(host_times))
    with source:
        frames = read_all(source)
    assert [f.capture_time_s for f in frames] == [10.0, 10.1, 10.3, 10.35]
    assert [f.dropped_before for f in frames] == [0, 0, 1, 0]


def test_opencv_device_bad_arguments():
    with pytest.raises(ValueError, match='fps'):
        OpenCvDeviceSource(0, 256, 256, 0)
    with pytest.raises(ValueError, match='width_px'):
        OpenCvDeviceSource(0, 0, 256, 15)


# --------------------------------------------------------------- Pi camera

class FakeRequest:
    def __init__(self, camera, image, metadata):
        self.camera, self.image, self.metadata = camera, image, metadata

    def make_array(self, name):
        assert name == 'main'
        return self.image

    def get_metadata(self):
        return dict(self.metadata)

    def release(self):
        self.camera.released += 1


class FakePicamera2:
    instances = []
    script = []          # (SensorTimestamp ns, FrameDuration us) per frame
    fail_open = False

    def __init__(self, camera_num=0):
        if FakePicamera2.fail_open:
            raise RuntimeError('Camera __init__ sequence did not complete.')
        self.camera_num = camera_num
        self.calls = []
        self.released = 0
        self.i = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main, controls):
        self.calls.append('create')
        return {'main': main, 'controls': controls}

    def configure(self, config):
        self.config = config
        self.calls.append('configure')

    def start(self):
        self.calls.append('start')

    def capture_request(self):
        ts, dur = FakePicamera2.script[self.i]
        w, h = self.config['main']['size']
        image = np.zeros((h, w + 8, 3), np.uint8)    # padded stride
        image[..., 0], image[..., 1], image[..., 2] = 11, 22, 33
        self.i += 1
        return FakeRequest(self, image, {'SensorTimestamp': ts,
                                         'FrameDuration': dur})

    def stop(self):
        self.calls.append('stop')

    def close(self):
        self.calls.append('close')


@pytest.fixture
def fake_picamera2(monkeypatch):
    module = types.ModuleType('picamera2')
    module.Picamera2 = FakePicamera2
    FakePicamera2.instances = []
    FakePicamera2.fail_open = False
    monkeypatch.setitem(sys.modules, 'picamera2', module)
    return FakePicamera2


def test_picamera_without_picamera2(monkeypatch):
    monkeypatch.setitem(sys.modules, 'picamera2', None)   # import fails
    with pytest.raises(SourceError, match='picamera2 package is not importable'):
        PiCameraSource().open()


def test_picamera_locks_exposure_and_gains(fake_picamera2):
    fake_picamera2.script = [(5_000_000_000, 66667)]
    with PiCameraSource(analogue_gain=2.0) as source:
        camera = fake_picamera2.instances[0]
        assert source.live is True and source.encoding == 'bgr8'
        controls = camera.config['controls']
        assert controls['AeEnable'] is False
        assert controls['AwbEnable'] is False
        assert controls['ExposureTime'] == 60000
        assert controls['AnalogueGain'] == 2.0
        assert controls['ColourGains'] == (1.0, 1.0)
        assert controls['FrameDurationLimits'] == (66667, 66667)
        assert camera.config['main'] == {'size': (256, 256), 'format': 'RGB888'}
        assert camera.calls == ['create', 'configure', 'start']
        frame = source.read()
    assert camera.calls[-2:] == ['stop', 'close']
    assert camera.released == 1
    assert frame.image.shape == (256, 256, 3)            # stride padding cut
    assert tuple(frame.image[0, 0]) == (11, 22, 33)      # passed through as BGR
    assert frame.capture_time_s == pytest.approx(5.0)


def test_picamera_counts_drops_from_sensor_timestamps(fake_picamera2):
    dur_us = 66667
    ks = [0, 1, 2, 5, 6, 8]
    fake_picamera2.script = [(1_000_000_000 + k * dur_us * 1000, dur_us)
                             for k in ks]
    with PiCameraSource() as source:
        frames = [source.read() for _ in ks]
    assert [f.dropped_before for f in frames] == [0, 0, 0, 2, 0, 1]


def test_picamera_that_cannot_open(fake_picamera2):
    fake_picamera2.fail_open = True
    with pytest.raises(SourceError, match='Pi camera 0 cannot be opened'):
        PiCameraSource().open()


def test_picamera_bad_exposure():
    with pytest.raises(ValueError, match='exposure_us=70000.*66667'):
        PiCameraSource(fps=15, exposure_us=70000)
