"""Atlas seed centres and ROI construction from config strings."""
import pytest

from clopy_signal.atlas import (SEEDS_MM, atlas_region_names, is_atlas_region,
                                seed_centre_px, split_region_name)
from clopy_signal.roi import ConfigError, Roi, roi_size_px, rois_from_config

BREGMA_ROW, BREGMA_COL, PPMM = 135, 128, 25.6

# (x_col, y_row) centres from the reference, left / right.
REFERENCE_CENTRES = {
    'M1': ((80, 118), (175, 118)),
    'BC': ((39, 179), (216, 179)),
    'HL': ((84, 164), (171, 164)),
    'V1': ((63, 231), (192, 231)),
    'M2': ((105, 98), (150, 98)),
    'RL': ((46, 207), (209, 207)),
}


def test_seed_table_matches_reference():
    assert len(SEEDS_MM) == 20
    assert SEEDS_MM['M1'] == (1.8603, 0.64181)
    assert SEEDS_MM['BC'] == (3.4569, -1.727)
    assert SEEDS_MM['M1FL_1'] == (2.2, -0.4)
    assert SEEDS_MM['RS'] == (0.62043, -2.8858)
    assert SEEDS_MM['ANT'] == (0, 3.525)
    assert SEEDS_MM['LAMBDA'] == (0, -3.9)
    assert SEEDS_MM['STROKE'] == (1.5, 0.5)


@pytest.mark.parametrize('seed', sorted(REFERENCE_CENTRES))
def test_reference_centres(seed):
    left, right = REFERENCE_CENTRES[seed]
    assert seed_centre_px(f'{seed}_L', BREGMA_ROW, BREGMA_COL, PPMM) == left
    assert seed_centre_px(f'{seed}_R', BREGMA_ROW, BREGMA_COL, PPMM) == right


def test_centre_truncates_instead_of_rounding():
    # M1_R x = 128 + 47.62 = 175.62: truncation gives 175, rounding 176.
    x, y = seed_centre_px('M1_R', BREGMA_ROW, BREGMA_COL, PPMM)
    assert (x, y) == (175, 118)
    assert isinstance(x, int) and isinstance(y, int)


def test_centre_follows_bregma_and_scale():
    x, y = seed_centre_px('BC_L', 100, 200, 10.0)
    assert (x, y) == (int(200 - 34.569), int(100 + 17.27))


def test_seed_with_underscore_in_name():
    assert split_region_name('M1FL_1_L') == ('M1FL_1', 'L')
    assert seed_centre_px('M1FL_1_R', 135, 128, 25.6) == (
        int(128 + 25.6 * 2.2), int(135 + 25.6 * 0.4))


@pytest.mark.parametrize('bad', ['XX_L', 'M1', 'M1_X', 'm1_L', '', '_L'])
def test_unknown_seed_lists_allowed(bad):
    with pytest.raises(ConfigError) as err:
        seed_centre_px(bad, 135, 128, 25.6)
    message = str(err.value)
    assert repr(bad) in message
    assert 'BC' in message and 'M1' in message and '_L' in message
    assert not is_atlas_region(bad)


def test_region_names_cover_both_sides():
    names = atlas_region_names()
    assert len(names) == 40
    assert 'M1_L' in names and 'M1_R' in names
    assert all(is_atlas_region(n) for n in names)


def test_roi_size_from_mm():
    assert roi_size_px(0.3, 25.6) == 8
    assert roi_size_px(0.5, 10.0) == 5
    with pytest.raises(ConfigError, match='roi_size_mm'):
        roi_size_px(0.01, 25.6)


def test_atlas_rois_are_8px_boxes_at_centre_minus_4():
    rois = rois_from_config(['M1_L', 'BC_R'], 256, 256)
    assert rois == [Roi('M1_L', 118 - 4, 80 - 4, 8, 8),
                    Roi('BC_R', 179 - 4, 216 - 4, 8, 8)]
    assert rois[0].rows == slice(114, 122)
    assert rois[0].cols == slice(76, 84)
    assert rois[0].n_pixels == 64


def test_atlas_roi_size_follows_roi_size_mm():
    (roi,) = rois_from_config(['M1_L'], 256, 256, roi_size_mm=0.5)
    assert (roi.height_px, roi.width_px) == (13, 13)   # round(12.8)
    assert (roi.row_px, roi.col_px) == (118 - 6, 80 - 6)


def test_explicit_rectangle():
    rois = rois_from_config([' spot = 10, 20, 5, 6 ', 'M2_L'], 128, 256)
    assert rois[0] == Roi('spot', 10, 20, 5, 6)
    assert rois[1].name == 'M2_L'


def test_single_string_is_one_spec():
    assert [r.name for r in rois_from_config('BC_L', 256, 256)] == ['BC_L']


def test_rectangle_touching_frame_edge_is_inside():
    (roi,) = rois_from_config(['edge=0,0,64,32'], 64, 32)
    assert roi.fits(64, 32)


@pytest.mark.parametrize('spec', ['r=60,0,5,5', 'r=0,30,5,5', 'r=-1,0,5,5',
                                  'r=0,-1,5,5'])
def test_rectangle_outside_frame(spec):
    with pytest.raises(ConfigError) as err:
        rois_from_config([spec], 64, 32)
    message = str(err.value)
    assert "'r'" in message and '64x32' in message and 'rows' in message


def test_atlas_roi_outside_small_frame_names_roi_and_frame():
    with pytest.raises(ConfigError, match=r"'V1_L'.*rows 227\.\.234.*128x128"):
        rois_from_config(['V1_L'], 128, 128)


@pytest.mark.parametrize('spec', ['r=0,0,0,5', 'r=0,0,5,-2'])
def test_non_positive_size(spec):
    with pytest.raises(ConfigError, match='positive'):
        rois_from_config([spec], 64, 64)


@pytest.mark.parametrize('spec', ['r=1,2,3', 'r=1,2,3,4,5', 'r=a,1,2,3',
                                  'r=1.5,1,2,3', '1r=1,2,3,4', '=1,2,3,4'])
def test_malformed_rectangle(spec):
    with pytest.raises(ConfigError, match='ROI'):
        rois_from_config([spec], 64, 64)


def test_duplicates_rejected():
    with pytest.raises(ConfigError, match="'M1_L'.*more than once"):
        rois_from_config(['M1_L', 'M1_L'], 256, 256)
    with pytest.raises(ConfigError, match="'x'.*more than once"):
        rois_from_config(['x=0,0,2,2', 'x=5,5,2,2'], 256, 256)


def test_unknown_atlas_spec_rejected():
    with pytest.raises(ConfigError, match='unknown atlas region'):
        rois_from_config(['XYZ_L'], 256, 256)


def test_empty_spec_list_rejected():
    with pytest.raises(ConfigError, match='at least one'):
        rois_from_config([], 256, 256)


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)
