"""The valve's limits (clopy_reward.limits) and the session's water (clopy_reward.water):
plain Python, the same functions the pre-flight check and the reward node apply."""
import pytest

from clopy_reward import limits
from clopy_reward.limits import VALVE_CEILING_S, ValveLimitError
from clopy_reward.reward_params import REWARD
from clopy_reward.water import WaterLedger


def reward(**values):
    return REWARD.defaults() | values


def test_the_ceiling_is_two_seconds_and_the_defaults_are_under_it():
    assert VALVE_CEILING_S == 2.0
    assert limits.check_reward_values(reward(), 'f.yaml') == {'valve': 1.0, 'fail': 5.0}
    assert limits.override_warning(reward()) == ''


def test_max_valve_open_above_the_ceiling_is_refused_with_one_line():
    with pytest.raises(ValveLimitError) as err:
        limits.check_reward_values(reward(max_valve_open_s=5.0), 'f.yaml')
    line = str(err.value)
    assert line.startswith('f.yaml: reward.max_valve_open_s = 5.0: allowed: at most 2.0 s')
    assert 'reward.valve_ceiling_override_s >= 5.0' in line and '\n' not in line


def test_an_override_below_the_requested_limit_is_refused_naming_the_override():
    with pytest.raises(ValveLimitError) as err:
        limits.check_reward_values(reward(max_valve_open_s=5.0, valve_ceiling_override_s=4.0), 'f.yaml')
    assert str(err.value).startswith('f.yaml: reward.valve_ceiling_override_s = 4.0: allowed: at least '
                                     'reward.max_valve_open_s = 5.0')


def test_an_override_at_or_above_the_limit_is_accepted_and_says_so():
    values = reward(max_valve_open_s=5.0, valve_ceiling_override_s=5.0, valve_pulse_s=4.0)
    assert limits.check_reward_values(values)['valve'] == 5.0
    text = limits.override_warning(values)
    assert 'reward.valve_ceiling_override_s = 5.0' in text and 'reward.max_valve_open_s = 5.0' in text


def test_the_ceiling_itself_needs_no_override():
    assert limits.valve_limit_s(reward(max_valve_open_s=2.0)) == 2.0


def test_default_pulses_over_their_output_limit_are_refused():
    with pytest.raises(ValveLimitError, match=r'reward.valve_pulse_s = 1.5: allowed: at most reward.max_valve_open_s = 1.0'):
        limits.check_reward_values(reward(valve_pulse_s=1.5))
    with pytest.raises(ValveLimitError, match=r'reward.fail_pulse_s = 6.0: allowed: at most reward.max_fail_pulse_s = 5.0'):
        limits.check_reward_values(reward(fail_pulse_s=6.0))


def test_task_pulse_variables_map_to_their_outputs():
    declared = {'reward': 'valve_pulse_s', 'fail_signal': 'fail_pulse_s'}
    assert limits.task_pulse_outputs(declared, ['valve_pulse_s', 'threshold']) == {
        'valve_pulse_s': 'valve', 'fail_pulse_s': 'fail'}
    # a task that reads its own pulse variable explicitly is held to the limit too
    assert limits.task_pulse_outputs({}, ['big_valve_pulse_s', 'fail_pulse_long_s', 'pulse_count']) == {
        'big_valve_pulse_s': 'valve', 'fail_pulse_long_s': 'fail'}


def test_task_pulses_over_the_reward_limits_are_refused_naming_the_task_variable():
    out = limits.check_reward_values(reward())
    limits.check_task_pulses({'valve_pulse_s': (1.0, 'valve'), 'fail_pulse_s': (5.0, 'fail')}, out, 'f.yaml')
    with pytest.raises(ValveLimitError) as err:
        limits.check_task_pulses({'valve_pulse_s': (100.0, 'valve')}, out, lambda key: f'--set {key}')
    assert str(err.value).startswith('--set v.valve_pulse_s: task.v.valve_pulse_s = 100.0: allowed: at most '
                                     'reward.max_valve_open_s = 1.0')


def test_the_ledger_counts_openings_refusals_and_water():
    ledger = WaterLedger(max_rewards=0, flow_ul_per_ms=0.05)
    assert ledger.reserve() == ''
    assert not ledger.closed(0.1)
    assert ledger.reserve() == ''
    ledger.cancel()            # the output refused it
    ledger.refuse()
    assert (ledger.openings, ledger.refused) == (1, 2)
    assert ledger.water_ul == pytest.approx(5.0)


def test_the_pulse_reaching_the_opening_cap_ends_the_session_once():
    ledger = WaterLedger(max_rewards=2)
    assert ledger.reserve() == '' and not ledger.closed(0.1)
    assert ledger.reserve() == ''
    assert 'water cap reached' in ledger.reserve()   # while the second is still open
    assert ledger.closed(0.1) is True
    assert not ledger.closed(0.0)
    assert ledger.end_reason() == ('water cap reached: 2 valve openings, '
                                   'ml unknown (reward.valve_flow_ul_per_ms = 0: not calibrated)')
    assert (ledger.openings, ledger.refused) == (2, 1)


def test_the_ml_cap_applies_only_when_calibrated():
    uncalibrated = WaterLedger(max_rewards=0, flow_ul_per_ms=0.0, max_water_ml=0.001)
    for _ in range(5):
        assert uncalibrated.reserve() == '' and not uncalibrated.closed(1.0)
    ledger = WaterLedger(max_rewards=0, flow_ul_per_ms=1.0, max_water_ml=0.1)   # 100 µl
    assert ledger.reserve() == '' and not ledger.closed(0.06)     # 60 µl
    assert ledger.reserve() == '' and ledger.closed(0.06)         # 120 µl: the cap
    assert ledger.end_reason() == 'water cap reached: 2 valve openings, 0.120 ml'
    assert 'reward.max_water_ml' in ledger.reserve()
