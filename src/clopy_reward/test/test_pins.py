"""Output pins per backend (clopy_reward.pins.check_output_pins, applied by the
pre-flight through clopy_reward.limits.check_reward_values and by the node): BCM 0-27
with gpio, Arduino 2-69 with firmata (never the serial lines 0 and 1), -1 for a TTL
that is not wired, one output per pin; the CLMF parameter file's reward block is the
original rig's Arduino pin map and passes."""
from pathlib import Path

import pytest
import yaml

from clopy_reward import limits
from clopy_reward.pins import check_output_pins, make_driver
from clopy_reward.reward_params import REWARD

CLMF_YAML = Path(__file__).resolve().parents[3] / 'config' / 'clmf.yaml'


def reward(**kw):
    return REWARD.defaults() | kw


def test_defaults_are_the_pi_header_pins():
    assert check_output_pins(reward()) == {'valve': 27, 'fail': 12, 'behaviour_camera': 17, 'illumination': 21}


def test_a_bcm_pin_past_the_header_is_refused_naming_file_key_and_range():
    with pytest.raises(limits.PinSettingError) as err:
        limits.check_reward_values(reward(valve_pin=28), 'f.yaml')
    assert str(err.value) == 'f.yaml: reward.valve_pin = 28: allowed with reward.backend = gpio: 0-27'


def test_firmata_pins_are_arduino_numbers_and_never_the_serial_lines():
    values = reward(backend='firmata', valve_pin=7, fail_pin=12, imaging_ttl_pin=13,
                    behaviour_camera_pin=-1, illumination_pin=-1)
    assert check_output_pins(values) == {'valve': 7, 'fail': 12, 'imaging_ttl': 13}
    with pytest.raises(limits.PinSettingError) as err:
        check_output_pins(values | {'imaging_ttl_pin': 1}, lambda key: '--set')
    assert str(err.value) == ('--set: reward.imaging_ttl_pin = 1: allowed with reward.backend = firmata: 2-69 '
                              '(0 and 1 are the serial lines Firmata talks through), or -1 (not wired)')
    with pytest.raises(limits.PinSettingError, match='reward.valve_pin = -1: allowed with reward.backend = firmata: 2-69'):
        check_output_pins(values | {'valve_pin': -1})


def test_two_outputs_on_one_pin_are_refused():
    with pytest.raises(limits.PinSettingError) as err:
        check_output_pins(reward(illumination_pin=27), lambda key: 'rig.yaml')
    assert str(err.value) == ('rig.yaml: reward.illumination_pin = 27: already the pin of valve '
                              '(reward.valve_pin); each output needs its own pin')


def test_the_clmf_rig_default_is_the_original_arduino_pin_map():
    block = yaml.safe_load(CLMF_YAML.read_text())['reward']['ros__parameters']
    values = REWARD.defaults() | REWARD.check(block, str(CLMF_YAML))
    assert (values['backend'], values['serial_port'], values['baud']) == ('firmata', '/dev/ttyACM0', 57600)
    assert limits.check_reward_values(values, str(CLMF_YAML))['valve'] == 1.0
    assert check_output_pins(values) == {'valve': 7, 'fail': 12, 'imaging_ttl': 13}
    assert values['valve_pulse_s'] == 0.1 and values['fail_pulse_s'] == 0.5
    assert values['imaging_ttl_end_pulse_s'] > 0   # LOW-HIGH-LOW at the end


def test_an_unknown_backend_is_an_error():
    from clopy_reward.errors import OutputError
    with pytest.raises(OutputError, match="reward.backend = 'serial': allowed: one of 'gpio', 'firmata'"):
        make_driver('serial')
