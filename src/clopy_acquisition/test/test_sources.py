"""Frame sources: Frame, drop counting, the HDF5 source, the kind registry (real small
files; tiff/video in test_file_sources.py, cameras in test_live_sources.py)."""
import h5py
import numpy as np
import pytest
from acquisition_files import H, N, W, bgr_stack, read_all

from clopy_acquisition.sources import (BUILTIN_KINDS, Frame, Hdf5Source, SourceError, count_dropped, open_source,
                                       source_class, source_kinds)


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
