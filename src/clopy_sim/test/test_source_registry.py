"""The frame-source registry with clopy_sim installed: every kind, built-in or from
clopy_sim's entry points, is made by open_source (moved from clopy_acquisition's
test_sources.py)."""
import numpy as np
import pytest
import tifffile

from clopy_acquisition.sources import (SOURCE_KINDS, FrameSource, Hdf5Source, PiCameraSource, SourceError,
                                       open_source)


@pytest.fixture
def hdf5_path(tmp_path):
    return tmp_path / 'image_stream.hdf5'   # only constructed here, never opened


@pytest.fixture
def avi_path(tmp_path):
    return tmp_path / 'clip.avi'


def test_open_source_kinds(hdf5_path, tmp_path, avi_path):
    tif = tmp_path / 'x.tif'
    tifffile.imwrite(tif, np.zeros((2, 4, 4), np.uint8))
    made = {
        'hdf5': open_source('hdf5', path=hdf5_path),
        'tiff': open_source('tiff', path=tif),
        'video': open_source('video', path=avi_path),
        'opencv': open_source('opencv', device=0),
        'picamera': open_source('picamera', fps=15),
        'synthetic': open_source('synthetic', seed=1, activity='flat'),
        'synthetic_behaviour': open_source('synthetic_behaviour', seed=1),
        'bag': open_source('bag', path=tmp_path),
        'genicam': open_source('genicam', device_id='127.0.0.1'),
    }
    assert set(made) == set(SOURCE_KINDS)
    assert isinstance(made['hdf5'], Hdf5Source)
    assert isinstance(made['picamera'], PiCameraSource)
    assert type(made['synthetic']).__name__ == 'SyntheticCortexSource'
    with pytest.raises(SourceError, match='no rosbag2 bag'):
        made['bag'].open()
    for source in made.values():
        assert isinstance(source, FrameSource)
        assert not source.is_open            # constructed, not opened
    with made['synthetic'] as source:
        assert source.read().image.shape == (256, 256, 3)


def test_open_source_unknown_kind():
    with pytest.raises(SourceError) as err:
        open_source('webcam')
    message = str(err.value)
    assert "'webcam'" in message
    for kind in ('synthetic', 'hdf5', 'tiff', 'video', 'opencv', 'picamera'):
        assert kind in message
