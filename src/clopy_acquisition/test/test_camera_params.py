"""The camera's parameter schema (plain Python): what the pre-flight check and the
node both apply; the chosen source kind's own parameters join it."""
import math

import pytest

from clopy_acquisition.camera_params import CAMERA, CAMERA_SCHEMAS
from clopy_common.schema import SchemaError


def test_defaults_pass_their_own_schema():
    assert CAMERA.check(CAMERA.defaults(), 'x') == CAMERA.defaults()


@pytest.mark.parametrize('key, value, line', [
    ('widht_px', 640, "f.yaml: camera.widht_px = 640: unknown parameter; camera has: "),
    ('width_px', 'abc', "f.yaml: camera.width_px = 'abc': allowed: a whole number >= 1 px and <= 8192 px"),
    ('frame_rate_hz', math.nan, 'f.yaml: camera.frame_rate_hz = nan: allowed: a finite number > 0 Hz and <= 1000 Hz'),
    ('width_px', 1_000_000, 'f.yaml: camera.width_px = 1000000: allowed: a whole number >= 1 px and <= 8192 px'),
    ('pace', 'fast', "f.yaml: camera.pace = 'fast': allowed: one of 'realtime', 'lockstep'"),
    ('crop_px', [0, -1, 0, 0], 'f.yaml: camera.crop_px = [0, -1, 0, 0]: allowed: a list of whole numbers >= 0 px'),
])
def test_bad_values_are_refused_with_one_line(key, value, line):
    with pytest.raises(SchemaError) as err:
        CAMERA.check({key: value}, 'f.yaml')
    assert str(err.value).startswith(line) and '\n' not in str(err.value)


def test_a_misspelt_key_is_told_the_close_name():
    with pytest.raises(SchemaError, match=r'did you mean width_px\?$'):
        CAMERA.check({'widht_px': 640}, 'f.yaml')


def test_the_schema_follows_the_chosen_kind():
    assert 'synthetic.activity' in CAMERA_SCHEMAS.schema('synthetic')
    assert 'synthetic.activity' not in CAMERA_SCHEMAS.schema('hdf5')
    assert 'synthetic_behaviour.fps' in CAMERA_SCHEMAS.schema('synthetic_behaviour')
    # a rig's file keeps `synthetic.*` for its --sim runs: checked, not the run's own
    assert 'synthetic.activity' in CAMERA_SCHEMAS.others('opencv')
    block = {'source': 'opencv', 'synthetic.activity': 'wild'}
    with pytest.raises(SchemaError, match=r"camera\.synthetic\.activity = 'wild': allowed: one of 'spontaneous'"):
        schema = CAMERA_SCHEMAS.for_values(block, lambda key: 'f.yaml')
        schema.check(block, 'f.yaml')


def test_an_unknown_kind_names_camera_source():
    with pytest.raises(SchemaError, match=r"f\.yaml: camera\.source = 'nocam': allowed: one of 'hdf5'"):
        CAMERA_SCHEMAS.for_values({'source': 'nocam'}, lambda key: 'f.yaml')
