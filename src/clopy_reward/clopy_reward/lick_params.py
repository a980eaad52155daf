"""The lick node's parameters (clopy_common.schema): declared by the node, checked by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy.

`sim.*` describe the simulated mouse's licking (clopy_sim.licking) and are used only
when `simulate` is true."""
from clopy_common.schema import NodeSchema, Param

_S = 'sim.'

LICK = NodeSchema('lick', [
    Param('backend', 'mpr121', 'the lick sensor: mpr121 (capacitive, I2C) or gpio (a digital lickometer)',
          choices=('mpr121', 'gpio')),
    Param('simulate', False, 'the same backend on simulated hardware (an MPR121 register map, gpiozero mock '
          'pins) driven by the simulated mouse; never chosen by itself when the sensor is missing'),
    Param('i2c_bus', 1, 'mpr121: I2C bus number (/dev/i2c-N; 1 on a Raspberry Pi header)', min=0, max=255),
    Param('i2c_address', 0x5A, 'mpr121: I2C address (0x5a = 90: ADDR to GND; 0x5b-0x5d with ADDR to 3.3 V, '
          'SDA, SCL)', min=0x5A, max=0x5D),
    Param('electrode', 0, 'mpr121: the electrode wired to the spout', min=0, max=11),
    Param('touch_threshold', 12, 'mpr121: counts below the baseline that make a touch', min=1, max=255),
    Param('release_threshold', 6, 'mpr121: counts below the baseline under which a touch ends '
          '(below touch_threshold)', min=0, max=254),
    Param('gpio_pin', 5, 'gpio: BCM pin of the lickometer\'s output', min=0, max=27),
    Param('gpio_active_high', True, 'gpio: the line is high while the tongue touches'),
    Param('gpio_pull', 'none', 'gpio: the pin\'s pull resistor (up: touched pulls low, down: touched pulls high)',
          choices=('none', 'up', 'down')),
    Param('poll_hz', 100.0, 'sensor readings per second', unit='Hz', min=10.0, max=1000.0),
    Param('debounce_s', 0.01, 'a change counts once it has held this long', unit='s', min=0.0, max=0.2),
    Param(_S + 'seed', 3, 'simulated mouse: seed of its licking', min=0),
    Param(_S + 'spontaneous_rate_hz', 0.05, 'simulated mouse: licks outside reward bouts', unit='Hz',
          min=0.0, max=20.0),
    Param(_S + 'bout_lick_rate_hz', [6.0, 10.0], 'simulated mouse: lick rate range within a bout', unit='Hz',
          gt=0.0, max=30.0),
    Param(_S + 'bout_length_s', [1.0, 3.0], 'simulated mouse: bout length range after a reward', unit='s',
          min=0.0, max=60.0),
    Param(_S + 'bout_latency_s', [0.1, 0.3], 'simulated mouse: delay range from the valve opening to the '
          'first lick', unit='s', min=0.0, max=10.0),
    Param(_S + 'touch_s', 0.04, 'simulated mouse: how long one lick touches the spout', unit='s',
          gt=0.0, max=1.0),
])
