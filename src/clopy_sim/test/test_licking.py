"""The simulated mouse's licking (clopy_sim.licking) and the simulated lick rig that
moves the simulated sensor (clopy_sim.lick_sensor)."""
import numpy as np
import pytest

from clopy_sim.lick_sensor import SimulatedLickRig
from clopy_sim.licking import LickModel


def touches(model, start_s, end_s, step_s=0.005):
    """(on_s, off_s) of the touches seen sampling every step_s."""
    out, on = [], None
    for t in np.arange(start_s, end_s, step_s):
        now = model.touching(float(t))
        if now and on is None:
            on = float(t)
        elif not now and on is not None:
            out.append((on, float(t)))
            on = None
    return out


def test_a_reward_gives_a_bout_in_the_configured_ranges():
    for seed in range(5):
        m = LickModel(seed=seed, spontaneous_rate_hz=0.0)
        start, length, rate = m.reward(10.0)
        assert 10.1 <= start <= 10.3 and 1.0 <= length <= 3.0 and 6.0 <= rate <= 10.0
        seen = touches(m, 9.0, 15.0)
        assert seen[0][0] == pytest.approx(start, abs=0.006)
        assert seen[-1][0] <= start + length
        assert len(seen) == max(1, int(length * rate))
        intervals = np.diff([on for on, _ in seen])
        assert np.allclose(intervals, 1.0 / rate, atol=0.011)
        assert all(off - on == pytest.approx(0.04, abs=0.011) for on, off in seen)


def test_without_reward_or_spontaneous_rate_it_never_licks():
    m = LickModel(seed=1, spontaneous_rate_hz=0.0)
    assert touches(m, 0.0, 60.0, 0.01) == []


def test_spontaneous_licks_come_at_about_their_rate_and_repeat_with_the_seed():
    a = touches(LickModel(seed=7, spontaneous_rate_hz=0.5), 0.0, 400.0, 0.01)
    b = touches(LickModel(seed=7, spontaneous_rate_hz=0.5), 0.0, 400.0, 0.01)
    c = touches(LickModel(seed=8, spontaneous_rate_hz=0.5), 0.0, 400.0, 0.01)
    assert a == b and a != c
    assert 150 <= len(a) <= 250   # 200 expected; a Poisson count's sd is about 14


def test_rewards_do_not_shift_the_spontaneous_licks():
    plain = LickModel(seed=2, spontaneous_rate_hz=0.3)
    rewarded = LickModel(seed=2, spontaneous_rate_hz=0.3)
    rewarded.reward(50.0)
    spont = touches(plain, 0.0, 200.0, 0.01)
    both = touches(rewarded, 0.0, 200.0, 0.01)
    outside_bout = [t for t in both if not 50.0 <= t[0] <= 54.0]
    assert outside_bout == [t for t in spont if not 50.0 <= t[0] <= 54.0]


@pytest.mark.parametrize('kwargs,text', [
    (dict(bout_lick_rate_hz=[10.0, 6.0]), 'bout_lick_rate_hz'),
    (dict(bout_lick_rate_hz=[0.0, 6.0]), 'rates > 0'),
    (dict(spontaneous_rate_hz=-1.0), 'spontaneous_rate_hz'),
    (dict(touch_s=0.2), 'touch_s'),
    (dict(bout_latency_s=[0.3]), 'bout_latency_s'),
])
def test_bad_settings_are_refused_naming_them(kwargs, text):
    with pytest.raises(ValueError, match=text):
        LickModel(**kwargs)


def rig_values(**over):
    values = {'electrode': 0, 'i2c_address': 0x5A, 'gpio_pin': 5, 'gpio_active_high': True, 'gpio_pull': 'none',
              'sim.seed': 1, 'sim.spontaneous_rate_hz': 0.0, 'sim.bout_lick_rate_hz': [8.0, 8.0],
              'sim.bout_length_s': [1.0, 1.0], 'sim.bout_latency_s': [0.2, 0.2], 'sim.touch_s': 0.04}
    values.update(over)
    return values


def test_the_rig_moves_the_simulated_mpr121_electrode():
    rig = SimulatedLickRig('mpr121', rig_values(electrode=2))
    rig.bus.write_byte_data(0x5A, 0x41 + 4, 12)   # electrode 2's thresholds, then run electrodes 0-2
    rig.bus.write_byte_data(0x5A, 0x42 + 4, 6)
    rig.bus.write_byte_data(0x5A, 0x5E, 0x83)
    rig.on_reward(1.0)
    assert rig.advance(1.1) is False and rig.bus.read_byte_data(0x5A, 0x00) == 0
    assert rig.advance(1.21) is True and rig.bus.read_byte_data(0x5A, 0x00) == 0b100


def test_the_rig_drives_the_gpio_pin_at_the_active_level():
    from gpiozero import DigitalInputDevice
    rig = SimulatedLickRig('gpio', rig_values(gpio_pull='up'))   # pull-up: touched pulls low
    device = DigitalInputDevice(5, pull_up=True, pin_factory=rig.pin_factory)
    rig.on_reward(0.0)
    rig.advance(0.1)
    assert device.value == 0 and device.pin.state == 1
    rig.advance(0.21)
    assert device.value == 1 and device.pin.state == 0
    device.close()


def test_an_unknown_backend_has_no_simulation():
    with pytest.raises(ValueError, match="lick.backend = 'beam'"):
        SimulatedLickRig('beam', rig_values())
