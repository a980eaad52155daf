"""The rig check of the lick sensor: open it as the lick node does (clopy_reward's
backends: an MPR121 on I2C, or a digital lickometer on a GPIO pin; with --sim the
same backend on simulated hardware), read the electrode for READ_S and report its
state. At rest nobody touches the spout: an electrode that reads touched (a wet
spout, a threshold too low, a lickometer's active level the wrong way round) fails."""
from __future__ import annotations

import time

from clopy.rig_check_devices import RigContext
from clopy.rig_check_report import FAIL, OK, CheckResult, because

READ_S = 0.5


def describe(values: dict) -> str:
    if values['backend'] == 'mpr121':
        return (f"lick.backend = mpr121, i2c-{values['i2c_bus']} 0x{int(values['i2c_address']):02x}, "
                f"electrode {values['electrode']}")
    return f"lick.backend = gpio, BCM {values['gpio_pin']} (active {'high' if values['gpio_active_high'] else 'low'})"


def check_lick(ctx: RigContext) -> list[CheckResult]:
    """Empty when the paradigm has no lick sensor (no `lick:` block, e.g. CLMF)."""
    if 'lick' not in ctx.params:
        return []
    from clopy_common.plugins import LICK_SIMULATORS, PluginError, load_plugin
    from clopy_reward.lick_backends import LickSensorError, open_sensor
    from clopy_reward.lick_params import LICK
    values = ctx.values('lick', LICK.defaults())
    setting = describe(values) + (' (simulated)' if values['simulate'] else '')
    hint = ('the sensor board\'s power (3.3 V), SDA/SCL to GPIO2/GPIO3, its address jumper and '
            '`i2cdetect -y 1`' if values['backend'] == 'mpr121' else
            'the lickometer\'s wire to the pin, its ground and lick.gpio_active_high')
    try:
        simulation = (load_plugin(LICK_SIMULATORS, 'simulated', 'lick.simulate')(values['backend'], values)
                      if values['simulate'] else None)
        sensor = open_sensor(values, simulation)
    except (LickSensorError, PluginError, ValueError, OSError) as exc:
        return [CheckResult('lick', setting, FAIL, 'cannot open', because(exc, hint))]
    readings = []
    try:
        end = time.monotonic() + READ_S
        while time.monotonic() < end:
            readings.append(bool(sensor.read()))
            time.sleep(1.0 / float(values['poll_hz']))
    except (LickSensorError, OSError) as exc:
        return [CheckResult('lick', setting, FAIL, f'read failed after {len(readings)} readings', because(exc, hint))]
    finally:
        sensor.close()
    touched = sum(readings)
    measured = f'{len(readings)} readings in {READ_S:g} s, electrode ' + ('touched' if touched else 'released')
    return [CheckResult('lick', setting, FAIL if touched else OK, measured,
                        'the electrode reads touched with nobody at the spout: dry the spout, raise '
                        'lick.touch_threshold, or check lick.gpio_active_high',
                        {'readings': len(readings), 'touched': int(touched)})]
