"""Frame sources with real small files, fake cameras and error cases."""
import sys
import types

import cv2
import h5py
import numpy as np
import pytest
import tifffile

from clopy_acquisition.sources import (BUILTIN_KINDS, Frame, Hdf5Source, OpenCvDeviceSource,
                                       PiCameraSource, SourceError, TiffSource, VideoFileSource, count_dropped,
                                       open_source, source_class, source_kinds)

N, H, W = 6, 12, 16


def bgr_stack(n=N, h=H, w=W):
    """Frames whose pixels encode (frame, channel) so mix-ups show."""
    stack = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        stack[i, ..., 0] = 10 + i      # blue
        stack[i, ..., 1] = 100 + i     # green
        stack[i, ..., 2] = 200 + i     # red
        stack[i, i % h, :, 0] = 0      # a per-frame stripe
    return stack


def read_all(source):
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


# ------------------------------------------------------------------- basics

def test_frame_defaults():
    frame = Frame(np.zeros((2, 2), np.uint8))
    assert frame.capture_time_s is None and frame.dropped_before == 0


@pytest.mark.parametrize('gap, expected', [
    (1.0, 0), (1.5, 0), (0.2, 0), (1.51, 1), (2.0, 1), (2.49, 1), (2.6, 2),
    (3.0, 2), (10.0, 9)])
def test_count_dropped(gap, expected):
    interval = 1 / 15
    assert count_dropped(gap * interval, interval) == expected


def test_count_dropped_ignores_bad_input():
    assert count_dropped(float('nan'), 0.1) == 0
    assert count_dropped(1.0, 0.0) == 0


def test_source_error_is_runtime_error():
    assert issubclass(SourceError, RuntimeError)


# --------------------------------------------------------------------- HDF5

@pytest.fixture
def hdf5_path(tmp_path):
    path = tmp_path / 'image_stream.hdf5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('raw_images', data=bgr_stack(), chunks=(1, H, W, 3))
        f.create_dataset('other/mono', data=bgr_stack()[..., 1])
        f.create_dataset('bad_shape', data=np.zeros((2, H, W, 4), np.uint8))
        f.create_dataset('bad_dtype', data=np.zeros((2, H, W, 3), np.uint16))
    return path


def test_hdf5_reads_every_frame_in_order(hdf5_path):
    expected = bgr_stack()
    with Hdf5Source(hdf5_path) as source:
        assert source.is_open
        assert (source.height_px, source.width_px) == (H, W)
        assert source.encoding == 'bgr8'
        assert source.frame_count == N
        assert source.live is False
        assert source.nominal_fps == 15.0
        frames = read_all(source)
        assert source.read() is None           # stays at the end
    assert not source.is_open
    assert len(frames) == N
    for i, frame in enumerate(frames):
        assert frame.image.dtype == np.uint8
        np.testing.assert_array_equal(frame.image, expected[i])
        assert frame.capture_time_s is None and frame.dropped_before == 0


def test_hdf5_mono_dataset(hdf5_path):
    with Hdf5Source(hdf5_path, dataset='/other/mono') as source:
        assert source.encoding == 'mono8'
        frames = read_all(source)
    assert frames[3].image.shape == (H, W)
    assert frames[3].image[5, 5] == 103


def test_hdf5_reopen_starts_over(hdf5_path):
    source = Hdf5Source(hdf5_path)
    with source:
        source.read()
        source.read()
    with source:
        assert source.read().image[0, 0, 1] == 100


def test_hdf5_missing_file(tmp_path):
    path = tmp_path / 'nope.hdf5'
    with pytest.raises(SourceError, match=r"HDF5 file '.*nope\.hdf5' does not exist"):
        Hdf5Source(path).open()


def test_hdf5_not_an_hdf5_file(tmp_path):
    path = tmp_path / 'text.hdf5'
    path.write_text('not hdf5')
    with pytest.raises(SourceError, match=r'text\.hdf5.*cannot be opened'):
        Hdf5Source(path).open()


def test_hdf5_missing_dataset_lists_present(hdf5_path):
    with pytest.raises(SourceError) as err:
        Hdf5Source(hdf5_path, dataset='/frames').open()
    message = str(err.value)
    assert "'/frames'" in message and '/raw_images' in message
    assert '/other/mono' in message


@pytest.mark.parametrize('dataset, match', [
    ('/bad_shape', r'shape \(2, 12, 16, 4\).*N x H x W x 3'),
    ('/bad_dtype', 'dtype uint16.*uint8'),
    ('/other', 'group'),
])
def test_hdf5_wrong_dataset(hdf5_path, dataset, match):
    source = Hdf5Source(hdf5_path, dataset=dataset)
    with pytest.raises(SourceError, match=match):
        source.open()
    assert not source.is_open


def test_read_before_open(hdf5_path):
    with pytest.raises(SourceError, match='before open'):
        Hdf5Source(hdf5_path).read()


def test_open_is_idempotent_and_close_repeatable(hdf5_path):
    source = Hdf5Source(hdf5_path)
    source.open()
    source.read()
    source.open()                         # no restart, no second handle
    assert source.read().image[0, 0, 1] == 101
    source.close()
    source.close()
    assert not source.is_open


# --------------------------------------------------------------------- TIFF

def test_tiff_rgb_pages_become_bgr(tmp_path):
    path = tmp_path / 'stack.tif'
    bgr = bgr_stack()
    tifffile.imwrite(path, bgr[..., ::-1], photometric='rgb')   # stored RGB
    with TiffSource(path) as source:
        assert (source.height_px, source.width_px) == (H, W)
        assert source.encoding == 'bgr8'
        assert source.live is False
        frames = read_all(source)
    assert len(frames) == N
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.image, bgr[i])
        assert frame.image.flags['C_CONTIGUOUS']


def test_tiff_mono_pages(tmp_path):
    path = tmp_path / 'mono.tif'
    stack = bgr_stack()[..., 1]
    tifffile.imwrite(path, stack)
    with TiffSource(path) as source:
        assert source.encoding == 'mono8'
        frames = read_all(source)
    assert [f.image[0, 5] for f in frames] == [100, 101, 102, 103, 104, 105]


def test_tiff_planar_rgb(tmp_path):
    path = tmp_path / 'planar.tif'
    bgr = bgr_stack(n=3)
    planar = np.moveaxis(bgr[..., ::-1], -1, 1)        # (N, 3, H, W) RGB
    tifffile.imwrite(path, planar, photometric='rgb', planarconfig='separate')
    with TiffSource(path) as source:
        frames = read_all(source)
    np.testing.assert_array_equal(frames[2].image, bgr[2])


def test_tiff_pages_read_lazily_and_checked(tmp_path):
    # Page 1 has another size: page 0 must still be delivered (pages are read
    # one at a time) and page 1 must fail with a clear message.
    path = tmp_path / 'mixed.tif'
    with tifffile.TiffWriter(path) as writer:
        writer.write(np.full((H, W), 7, np.uint8))
        writer.write(np.full((H + 1, W), 8, np.uint8))
    with TiffSource(path) as source:
        assert source.read().image[0, 0] == 7
        with pytest.raises(SourceError, match=r'page 1 has shape \(13, 16\)'):
            source.read()


def test_tiff_16_bit_rejected(tmp_path):
    path = tmp_path / 'deep.tif'
    tifffile.imwrite(path, np.zeros((2, H, W), np.uint16))
    with pytest.raises(SourceError, match='uint16.*uint8'):
        TiffSource(path).open()


def test_tiff_missing_and_garbage(tmp_path):
    with pytest.raises(SourceError, match='does not exist'):
        TiffSource(tmp_path / 'nope.tif').open()
    garbage = tmp_path / 'garbage.tif'
    garbage.write_bytes(b'\x00' * 100)
    with pytest.raises(SourceError, match=r'garbage\.tif.*cannot be opened'):
        TiffSource(garbage).open()
    with pytest.raises(SourceError, match='not a regular file'):
        TiffSource(tmp_path).open()


# -------------------------------------------------------------------- video

LEVELS = [20, 60, 100, 140, 180]


@pytest.fixture
def avi_path(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*'MJPG'), 15.0,
                             (W * 2, H * 2))
    assert writer.isOpened()
    for level in LEVELS:
        writer.write(np.full((H * 2, W * 2, 3), level, np.uint8))
    writer.release()
    return path


def test_video_file(avi_path):
    with VideoFileSource(avi_path) as source:
        assert (source.height_px, source.width_px) == (2 * H, 2 * W)
        assert source.encoding == 'bgr8'
        assert source.nominal_fps == pytest.approx(15.0)
        assert source.frame_count == len(LEVELS)
        assert source.live is False
        frames = read_all(source)
    assert len(frames) == len(LEVELS)
    for level, frame in zip(LEVELS, frames):
        assert frame.image.shape == (2 * H, 2 * W, 3)
        assert abs(frame.image.mean() - level) < 4     # MJPEG is lossy
        assert frame.capture_time_s is None


def test_video_errors(tmp_path):
    with pytest.raises(SourceError, match=r"video file '.*missing\.avi' does not exist"):
        VideoFileSource(tmp_path / 'missing.avi').open()
    bad = tmp_path / 'bad.avi'
    bad.write_bytes(b'this is not a video' * 10)
    with pytest.raises(SourceError, match=r'bad\.avi'):
        VideoFileSource(bad).open()


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


# ------------------------------------------------------------------ factory

def test_open_source_bad_parameters():
    with pytest.raises(SourceError, match=r"\['filename'\].*accepted.*'path'"):
        open_source('hdf5', filename='x.hdf5')
    with pytest.raises(SourceError, match="kind 'tiff'.*path"):
        open_source('tiff')


def test_an_unknown_kind_is_named_with_the_key_and_the_built_in_kinds():
    with pytest.raises(SourceError) as err:
        source_class('webcam', 'camera.source')
    message = str(err.value)
    assert "camera.source = 'webcam'" in message and 'clopy.frame_sources' in message
    for kind in BUILTIN_KINDS:
        assert kind in message
    assert set(BUILTIN_KINDS) <= set(source_kinds())
