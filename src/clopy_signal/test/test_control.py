"""The pose -> control value seam: the speed and paw_distance processors, and making a
processor by name (built-in, package.module:Class) with errors naming the key."""
import math

import pytest

from clopy_signal.control import (BUILTIN_PROCESSORS, ControlProcessor, ControlValue, PawDistanceProcessor,
                                  PoseSample, ProcessorError, SpeedProcessor, make_processor)
from clopy_signal.speed import SpeedEstimator

SETTINGS = {'control_part': 'fl_l', 'px_per_mm': 3.5, 'likelihood_min': 0.5, 'smoothing_frames': 1,
            'units': 'px_per_frame', 'target_px': [100.0, 50.0]}


def pose(index, x, y, likelihood=1.0, t_s=None):
    return PoseSample(index / 30.0 if t_s is None else t_s, index,
                      {'fl_l': (x, y, likelihood), 'fl_r': (0.0, 0.0, 1.0)})


def test_paw_distance_is_the_distance_from_the_target_point():
    processor = make_processor('paw_distance', SETTINGS)
    assert isinstance(processor, PawDistanceProcessor) and isinstance(processor, ControlProcessor)
    assert processor.process(pose(0, 103.0, 54.0)) == ControlValue(5.0, 'px', True)
    assert processor.process(pose(1, 100.0, 50.0)) == ControlValue(0.0, 'px', True)
    far = processor.process(pose(2, 0.0, 0.0))
    assert far.valid and far.value == pytest.approx(math.hypot(100.0, 50.0))


def test_paw_distance_of_an_unusable_pose_is_invalid():
    processor = make_processor('paw_distance', SETTINGS)
    assert processor.process(pose(0, 103.0, 54.0, likelihood=0.2)) == ControlValue(0.0, 'px', False)
    assert not processor.process(pose(1, math.nan, 54.0)).valid
    with pytest.raises(ValueError, match="no 'fl_l'"):
        processor.process(PoseSample(0.1, 3, {'nose': (1.0, 2.0, 1.0)}))


@pytest.mark.parametrize('target', [[], [1.0], [1.0, 2.0, 3.0], [1.0, math.inf], ['a', 'b']])
def test_paw_distance_needs_a_target_point(target):
    with pytest.raises(ProcessorError, match=r'speed\.target_px = .*allowed is \[x, y\]'):
        make_processor('paw_distance', dict(SETTINGS, target_px=target))


def test_the_speed_processor_gives_the_speed_estimator_values():
    processor = make_processor('speed', dict(SETTINGS, likelihood_min=0.0))
    estimator = SpeedEstimator('fl_l', 3.5, 0.0, 1)
    track = [(0, 10.0, 10.0), (1, 13.0, 14.0), (3, 13.0, 24.0), (4, 13.0, 24.0)]
    for index, x, y in track:
        got = processor.process(pose(index, x, y))
        want = estimator.update(index / 30.0, index, {'fl_l': (x, y, 1.0)})
        assert got.valid == want.valid and got.units == 'px_per_frame'
        assert got.value == (want.px_per_frame if want.valid else 0.0)
    assert [processor.process(pose(5, 13.0, 27.0)).value] == [3.0]


def test_the_speed_processor_in_mm_per_s_and_its_reset():
    processor = make_processor('speed', dict(SETTINGS, units='mm_per_s', likelihood_min=0.0))
    processor.process(pose(0, 0.0, 0.0, t_s=0.0))
    assert processor.process(pose(1, 7.0, 0.0, t_s=0.5)) == ControlValue(4.0, 'mm_per_s', True)
    with pytest.raises(ValueError, match='not after'):
        processor.process(pose(1, 7.0, 0.0, t_s=0.6))
    processor.reset()
    assert not processor.process(pose(1, 7.0, 0.0, t_s=0.6)).valid   # a first pose again


def test_speed_processor_settings_are_checked_with_the_key_named():
    with pytest.raises(ProcessorError, match=r"speed\.units = 'furlongs'.*px_per_frame"):
        make_processor('speed', dict(SETTINGS, units='furlongs'))
    with pytest.raises(ProcessorError, match=r"speed\.processor = 'speed'.*px_per_mm=-1"):
        make_processor('speed', dict(SETTINGS, px_per_mm=-1))


def test_an_unknown_processor_is_named_with_the_allowed_ones():
    with pytest.raises(ProcessorError) as err:
        make_processor('acceleration', SETTINGS)
    message = str(err.value)
    assert "speed.processor = 'acceleration'" in message
    for name in BUILTIN_PROCESSORS:
        assert name in message
    assert 'package.module:ClassName' in message


@pytest.fixture
def lab_module(tmp_path, monkeypatch):
    (tmp_path / 'lab_control.py').write_text(
        'from clopy_signal.control import ControlValue\n\n'
        'class Height:\n'
        '    def __init__(self, settings):\n'
        '        self.part = settings["control_part"]\n'
        '    def process(self, pose):\n'
        '        return ControlValue(-pose.parts[self.part][1], "px", True)\n\n'
        'class NoProcess:\n'
        '    def __init__(self, settings):\n'
        '        pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    monkeypatch.delitem(__import__('sys').modules, 'lab_control', raising=False)


def test_a_lab_processor_is_loaded_by_module_and_class(lab_module):
    processor = make_processor('lab_control:Height', SETTINGS)
    assert processor.process(pose(0, 1.0, 40.0)) == ControlValue(-40.0, 'px', True)


@pytest.mark.parametrize('name, message', [
    ('lab_control:Missing', "module 'lab_control' has no 'Missing'"),
    ('lab_control:NoProcess', 'has no process'),
    ('no_such_lab_module:Thing', "module 'no_such_lab_module' does not import"),
])
def test_a_bad_lab_processor_is_refused_naming_the_key(lab_module, name, message):
    with pytest.raises(ProcessorError) as err:
        make_processor(name, SETTINGS)
    assert f'speed.processor = {name!r}' in str(err.value) and message in str(err.value)


def test_speed_is_the_first_implementation():
    assert BUILTIN_PROCESSORS['speed'] is SpeedProcessor


def test_an_invalid_control_value_says_why():
    paw = make_processor('paw_distance', SETTINGS)
    assert 'likelihood 0.2' in paw.process(pose(0, 103.0, 54.0, likelihood=0.2)).reason
    speed = make_processor('speed', SETTINGS)
    first = speed.process(pose(0, 1.0, 1.0))
    assert not first.valid and first.reason.startswith('warming up')
    low = speed.process(pose(1, 1.0, 1.0, likelihood=0.1))
    assert low.reason == 'fl_l: likelihood 0.1 below likelihood_min 0.5'
    assert speed.process(pose(2, 2.0, 1.0)).reason == ''
