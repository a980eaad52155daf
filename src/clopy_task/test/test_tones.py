"""Tone table and mapping: the original CLoPy lookup, pinned by its reference vectors."""

import math

import numpy as np
import pytest

from clopy_task.tones import ToneMapper, tone_table_hz

ORIGINAL_TABLE_HZ = [1000, 1189, 1414, 1681, 2000, 2378, 2828, 3363, 4000, 4756, 5656,
                     6727, 8000, 9513, 11313, 13454, 16000, 19027]


def test_tone_table_is_the_original_quarter_octave_table():
    assert tone_table_hz() == ORIGINAL_TABLE_HZ
    assert tone_table_hz(4, 500.0) == [500, 594, 707, 840]


@pytest.mark.parametrize('value, expected_hz', [
    (-0.01, 1189), (0.0, 1189), (0.004, 1414), (0.075, 16000), (0.0751, 19027), (5.0, 19027),
])
def test_clnf_reference_vectors_threshold_0_075(value, expected_hz):
    assert ToneMapper(threshold=0.075, mapping='clnf').frequency_hz(value) == expected_hz


@pytest.mark.parametrize('value, expected_hz', [
    (0.0, 1000), (0.01, 1189), (20.0, 16000), (20.01, 19027), (-3.0, 1000),
])
def test_clmf_reference_vectors_threshold_20(value, expected_hz):
    assert ToneMapper(threshold=20.0, mapping='clmf').frequency_hz(value) == expected_hz


def test_mapping_equals_numpy_searchsorted_left_over_many_values():
    for mapper in (ToneMapper(0.075), ToneMapper(0.075, tone_range='symmetric'),
                   ToneMapper(20.0, mapping='clmf')):
        table = np.array(tone_table_hz())
        xs = np.concatenate([np.linspace(-0.2, 0.2, 4001), np.linspace(-1, 30, 3101),
                             np.array(mapper.edges[1:-1])])
        expected = table[np.searchsorted(np.array(mapper.edges), xs, side='left')]
        got = np.array([mapper.frequency_hz(x) for x in xs])
        np.testing.assert_array_equal(got, expected)


def test_clnf_never_uses_the_lowest_tone_for_finite_values():
    mapper = ToneMapper(0.075)
    assert mapper.frequency_hz(-1e300) == 1189
    assert mapper.frequency_hz(-math.inf) == 1189


def test_symmetric_range_is_explicit_and_spreads_over_minus_to_plus_threshold():
    zero_based = ToneMapper(0.075)
    symmetric = ToneMapper(0.075, tone_range='symmetric')
    assert symmetric.edges[1] == pytest.approx(-0.075)
    assert symmetric.edges[-2] == pytest.approx(0.075)
    # A slightly negative value is the bottom tone in the default range but mid-table
    # in the symmetric one: the two ranges really differ.
    assert zero_based.frequency_hz(-0.01) == 1189
    assert symmetric.frequency_hz(-0.01) == 4000  # 8 edges below: -inf, -0.075..-0.015
    assert symmetric.frequency_hz(0.0751) == 19027


def test_nan_maps_like_zero_and_infinities_do_not_crash():
    clnf, clmf = ToneMapper(0.075), ToneMapper(20.0, mapping='clmf')
    assert clnf.frequency_hz(float('nan')) == clnf.frequency_hz(0.0) == 1189
    assert clmf.frequency_hz(float('nan')) == clmf.frequency_hz(0.0) == 1000
    assert clnf.frequency_hz(math.inf) == 19027
    assert clmf.frequency_hz(-math.inf) == 1000
    assert clnf.frequency_hz(np.float32('nan')) == 1189


def test_with_threshold_returns_a_new_mapper_with_moved_edges():
    mapper = ToneMapper(0.075)
    moved = mapper.with_threshold(0.077)
    assert mapper.threshold == 0.075 and moved.threshold == 0.077
    assert mapper.frequency_hz(0.076) == 19027
    assert moved.frequency_hz(0.076) == 16000


@pytest.mark.parametrize('kwargs, message', [
    ({'threshold': 0.0}, 'threshold=0.0'),
    ({'threshold': -0.1}, 'threshold=-0.1'),
    ({'threshold': float('nan')}, 'threshold=nan'),
    ({'threshold': 0.1, 'n_tones': 2}, 'n_tones=2'),
    ({'threshold': 0.1, 'mapping': 'clxf'}, "mapping='clxf'"),
    ({'threshold': 0.1, 'tone_range': 'wide'}, "tone_range='wide'"),
    ({'threshold': 20.0, 'mapping': 'clmf', 'tone_range': 'symmetric'}, "tone_range='symmetric'"),
])
def test_invalid_settings_raise_a_value_error_naming_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match='allowed') as info:
        ToneMapper(**kwargs)
    assert message in str(info.value)


def test_tone_table_rejects_bad_arguments():
    with pytest.raises(ValueError, match='n_tones=0'):
        tone_table_hz(0)
    with pytest.raises(ValueError, match='base_hz=-1'):
        tone_table_hz(18, -1.0)
