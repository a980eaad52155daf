"""The lick sensor backends at register and pin level: the MPR121 driver against
clopy_sim's simulated MPR121 register map, the gpio backend on gpiozero mock pins,
and the errors a rig without its sensor gets."""

import pytest
from gpiozero.pins.mock import MockFactory

from clopy_reward import lick_backends as lb
from clopy_sim.lick_sensor import SimulatedMpr121


def sensor(chip, electrode=0, touch=12, release=6, address=0x5A):
    return lb.Mpr121Sensor(chip, address, electrode, touch, release, f'i2c-1 0x{address:02x}', close_bus=False)


def test_start_writes_thresholds_and_runs_the_electrodes_up_to_the_spout():
    chip = SimulatedMpr121()
    s = sensor(chip, electrode=3, touch=20, release=9)
    regs = chip.registers
    assert chip.resets == 2   # the simulated power-on, then the driver's soft reset
    assert [regs[lb.TOUCH_THRESHOLD + 2 * e] for e in range(12)] == [20] * 12
    assert [regs[lb.TOUCH_THRESHOLD + 2 * e + 1] for e in range(12)] == [9] * 12
    assert regs[lb.ECR] == 0x80 | 4   # electrodes 0-3, baseline tracking
    assert regs[lb.CONFIG2] == 0x20 and regs[lb.CONFIG1] == 0x10
    assert s.description == 'mpr121 i2c-1 0x5a electrode 3'


def test_touch_status_is_decoded_per_electrode():
    chip = SimulatedMpr121()
    s0 = sensor(chip, electrode=0)
    assert s0.read() is False
    chip.set_touch(0, True)
    assert s0.read() is True and s0.chip.touch_bits() == 0b1
    assert s0.chip.filtered(0) < s0.chip.baseline(0)
    chip.set_touch(0, False)
    assert s0.read() is False
    chip2 = SimulatedMpr121()
    s9 = sensor(chip2, electrode=9)
    chip2.set_touch(9, True)
    chip2.set_touch(2, True)
    assert s9.chip.touch_bits() == (1 << 9) | (1 << 2)
    assert s9.read() is True


def test_the_touch_threshold_decides_what_is_a_touch():
    chip = SimulatedMpr121()
    s = sensor(chip, touch=200, release=100)   # far above a tongue's drop in the simulation
    chip.set_touch(0, True)
    assert s.read() is False


def test_no_device_at_the_address_names_bus_address_and_what_to_check():
    chip = SimulatedMpr121(address=0x5B)
    with pytest.raises(lb.LickSensorError, match=r'no MPR121 answers at i2c-1 0x5a.*SDA.*i2cdetect'):
        sensor(chip, address=0x5A)


def test_another_chip_at_the_address_is_refused():
    class OtherChip(SimulatedMpr121):
        def _reset(self):
            super()._reset()
            self.registers[lb.CONFIG2] = 0x00

    with pytest.raises(lb.LickSensorError, match=r'not an MPR121 .*0x00.*i2c_address'):
        sensor(OtherChip())


def test_the_over_current_flag_is_an_error():
    chip = SimulatedMpr121()
    s = sensor(chip)
    chip.registers[lb.TOUCH_STATUS + 1] |= lb.OVCF
    with pytest.raises(lb.LickSensorError, match='over-current'):
        s.read()


def test_read_failure_is_a_lick_sensor_error():
    chip = SimulatedMpr121()
    s = sensor(chip)
    chip.address = 0x5D   # the wire came off: nothing answers at 0x5a any more
    with pytest.raises(lb.LickSensorError, match='check the I2C wires'):
        s.read()


def test_close_stops_the_electrodes():
    chip = SimulatedMpr121()
    s = sensor(chip)
    s.close()
    assert chip.registers[lb.ECR] == 0


def test_a_missing_i2c_bus_says_what_to_check():
    with pytest.raises(lb.LickSensorError, match=r'smbus2|/dev/i2c-250'):
        lb.open_i2c_bus(250)


@pytest.mark.parametrize('active_high,pull,touched_level', [(True, 'none', True), (False, 'none', False),
                                                            (False, 'up', False), (True, 'down', True)])
def test_gpio_lickometer_reads_its_active_level(active_high, pull, touched_level):
    factory = MockFactory()
    s = lb.GpioLickSensor(5, active_high, pull, factory)
    pin = factory.pin(5)
    (pin.drive_high if touched_level else pin.drive_low)()
    assert s.read() is True
    (pin.drive_low if touched_level else pin.drive_high)()
    assert s.read() is False
    assert s.description == 'gpio BCM5'
    s.close()


def test_gpio_contradictory_pull_and_level_and_a_busy_pin_are_refused():
    factory = MockFactory()
    with pytest.raises(lb.LickSensorError, match=r"gpio_pull = 'up' with lick.gpio_active_high = True"):
        lb.GpioLickSensor(5, True, 'up', factory)
    first = lb.GpioLickSensor(6, True, 'none', factory)
    with pytest.raises(lb.LickSensorError, match='BCM pin 6.*lick.gpio_pin'):
        lb.GpioLickSensor(6, True, 'none', factory)
    first.close()
