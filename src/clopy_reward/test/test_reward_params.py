"""The reward node's parameter schema (plain Python): pins 0-69 (each backend's own
range: clopy_reward.pins.check_output_pins, test_pins.py), pulses > 0 s."""
import math

import pytest

from clopy_common.schema import SchemaError
from clopy_reward.reward_params import REWARD


def test_defaults_pass_their_own_schema():
    assert REWARD.check(REWARD.defaults(), 'x') == REWARD.defaults()


@pytest.mark.parametrize('key, value, line', [
    ('valve_pulse', 0.3, 'f.yaml: reward.valve_pulse = 0.3: unknown parameter; reward has: '),
    ('valve_pin', 70, 'f.yaml: reward.valve_pin = 70: allowed: a whole number >= 0 and <= 69'),
    ('valve_pin', '27', "f.yaml: reward.valve_pin = '27': allowed: a whole number >= 0 and <= 69"),
    ('illumination_pin', -2, 'f.yaml: reward.illumination_pin = -2: allowed: a whole number >= -1 and <= 69'),
    ('backend', 'serial', "f.yaml: reward.backend = 'serial': allowed: one of 'gpio', 'firmata'"),
    ('baud', 250000, 'f.yaml: reward.baud = 250000: allowed: one of 9600, 19200, 38400, 57600, 115200'),
    ('valve_pulse_s', math.nan, 'f.yaml: reward.valve_pulse_s = nan: allowed: a finite number > 0 s and <= 10 s'),
    ('valve_pulse_s', 0.0, 'f.yaml: reward.valve_pulse_s = 0.0: allowed: a finite number > 0 s and <= 10 s'),
    ('simulate', 'yes', "f.yaml: reward.simulate = 'yes': allowed: true or false"),
])
def test_bad_values_are_refused_with_one_line(key, value, line):
    with pytest.raises(SchemaError) as err:
        REWARD.check({key: value}, 'f.yaml')
    assert str(err.value).startswith(line) and '\n' not in str(err.value)
