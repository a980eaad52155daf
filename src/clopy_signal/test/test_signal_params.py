"""The roi_dff, pose and speed parameter schemas (plain Python): the pre-flight check
and the nodes apply them; the pose backend's own parameters join the pose schema."""
import math

import pytest

from clopy_common.schema import SchemaError
from clopy_signal.pose_params import POSE, POSE_SCHEMAS
from clopy_signal.roi_dff_params import ROI_DFF
from clopy_signal.speed_params import SPEED


@pytest.mark.parametrize('schema', [ROI_DFF, POSE, SPEED])
def test_defaults_pass_their_own_schema(schema):
    assert schema.check(schema.defaults(), 'x') == schema.defaults()


@pytest.mark.parametrize('schema, key, value, line', [
    (ROI_DFF, 'roi_size', 0.3, 'f.yaml: roi_dff.roi_size = 0.3: unknown parameter; roi_dff has: '),
    (ROI_DFF, 'rois', 'M1_L', "f.yaml: roi_dff.rois = 'M1_L': allowed: a list of strings"),
    (ROI_DFF, 'dff_history_s', math.inf, 'f.yaml: roi_dff.dff_history_s = inf: allowed: a finite number > 0 s'),
    (ROI_DFF, 'dff_history_s', 0.0, 'f.yaml: roi_dff.dff_history_s = 0.0: allowed: a finite number > 0 s and <= 600 s'),
    (ROI_DFF, 'correction', 'red', "f.yaml: roi_dff.correction = 'red': allowed: one of 'green_minus_blue'"),
    (POSE, 'resize', 1.5, 'f.yaml: pose.resize = 1.5: allowed: a finite number > 0 and <= 1'),
    (POSE, 'model_type', 'onnx', "f.yaml: pose.model_type = 'onnx': allowed: one of 'pytorch'"),
    (SPEED, 'likelihood_min', math.nan, 'f.yaml: speed.likelihood_min = nan: allowed: a finite number >= 0 and <= 1'),
    (SPEED, 'smoothing_frames', 0, 'f.yaml: speed.smoothing_frames = 0: allowed: a whole number >= 1 frames'),
    (SPEED, 'units', 'cm', "f.yaml: speed.units = 'cm': allowed: one of 'px_per_frame', 'mm_per_s'"),
])
def test_bad_values_are_refused_with_one_line(schema, key, value, line):
    with pytest.raises(SchemaError) as err:
        schema.check({key: value}, 'f.yaml')
    assert str(err.value).startswith(line) and '\n' not in str(err.value)


def test_the_pose_schema_follows_the_chosen_backend():
    assert 'synthetic_behaviour.seed' in POSE_SCHEMAS.schema('synthetic')
    assert 'synthetic_behaviour.seed' not in POSE_SCHEMAS.schema('dlclive')
    block = {'backend': 'dlclive', 'synthetic_behaviour.width_px': 0}
    schema = POSE_SCHEMAS.for_values(block, lambda key: 'f.yaml')
    with pytest.raises(SchemaError, match=r'pose\.synthetic_behaviour\.width_px = 0: allowed: a whole number >= 16'):
        schema.check(block, 'f.yaml')
    with pytest.raises(SchemaError, match=r"f\.yaml: pose\.backend = 'openpose': allowed: one of 'dlclive'"):
        POSE_SCHEMAS.for_values({'backend': 'openpose'}, lambda key: 'f.yaml')
