"""What a camera can deliver (frame size and rate) and once-per-pulse valve records."""
import pytest

from clopy_acquisition.camera_params import check_camera
from clopy_acquisition.limits import MAX_DATA_RATE_MB_S, MAX_FRAME_MB, ValvePulses, check_frame_budget
from clopy_common.schema import SchemaError


def test_ordinary_cameras_pass():
    check_frame_budget(256, 256, 15.0)
    check_frame_budget(1920, 1080, 30.0)
    check_frame_budget(4056, 3040, 5.0, max_size_px=(4056, 3040))


def test_a_huge_frame_is_refused_naming_key_value_and_range():
    with pytest.raises(ValueError, match=r'camera\.width_px = 8192: a 8192x8192 frame is 201 MB; allowed: at most '
                                         rf'{MAX_FRAME_MB:g} MB a frame \(width_px <= 2604 at height_px 8192\)'):
        check_frame_budget(8192, 8192, 15.0)


def test_a_rate_beyond_the_data_budget_is_refused():
    with pytest.raises(ValueError, match=rf'camera\.frame_rate_hz = 500: .* allowed: at most {MAX_DATA_RATE_MB_S:g} MB/s'):
        check_frame_budget(1024, 1024, 500.0)


def test_the_source_own_largest_frame_counts():
    with pytest.raises(ValueError, match=r'camera\.height_px = 4000: allowed: 1 to 3040 px for this source'):
        check_frame_budget(640, 4000, 1.0, max_size_px=(4056, 3040))


def test_the_preflight_check_uses_the_kind_and_defaults():
    check_camera({'source': 'synthetic'})
    check_camera({'source': 'hdf5', 'width_px': 8192, 'height_px': 8192})   # a file's size is the file's
    with pytest.raises(SchemaError, match=r'camera\.width_px = 8192'):
        check_camera({'source': 'synthetic', 'width_px': 8192, 'height_px': 8192})
    with pytest.raises(SchemaError, match=r'camera\.width_px = 5000: allowed: 1 to 4056 px for this source'):
        check_camera({'source': 'picamera', 'width_px': 5000, 'height_px': 100})
    with pytest.raises(SchemaError, match=r'^rig\.yaml: camera\.frame_rate_hz = 900: '):
        check_camera({'source': 'synthetic', 'width_px': 512, 'height_px': 512, 'frame_rate_hz': 900.0}, 'rig.yaml')


def test_one_reaction_per_valve_pulse():
    pulses = ValvePulses()
    assert pulses.take(True, True, (5, 100))        # the opening
    assert not pulses.take(True, False, (5, 100))   # its closing: already heard
    assert pulses.take(True, False, (6, 0))         # a closing without a seen opening (an older reward node)
    assert pulses.take(False, False, (0, 0))        # a refusal
    assert pulses.take(True, True, (7, 0)) and not pulses.take(True, False, (7, 0))
