"""TIFF and video file sources with real small files."""
import numpy as np
import pytest
import tifffile
from acquisition_files import LEVELS, H, N, W, bgr_stack, read_all

from clopy_acquisition.sources import SourceError, TiffSource, VideoFileSource


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
