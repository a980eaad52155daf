"""The reward node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

from clopy_reward.limits import VALVE_CEILING_S, VALVE_OVERRIDE_MAX_S

from clopy_reward.pins import BACKENDS, MAX_PIN

# pin numbers: BCM on the rig computer's header (backend gpio: 0-27), the Arduino's
# digital pin numbers (backend firmata: 2-69); clopy_reward.pins.check_output_pins
# applies the backend's own range
_PIN = dict(min=0, max=MAX_PIN)
_OPTIONAL_PIN = dict(min=-1, max=MAX_PIN)   # -1: not wired

REWARD = NodeSchema('reward', [
    Param('simulate', False, 'use gpiozero MockFactory pins with the same numbers (no hardware)'),
    Param('backend', 'gpio', 'where the outputs are: gpio (the rig computer\'s header, BCM pins) or '
          'firmata (an Arduino running StandardFirmata on serial_port; Arduino pin numbers)', choices=BACKENDS),
    Param('serial_port', '/dev/ttyACM0', 'the Arduino\'s serial port (backend firmata)'),
    Param('baud', 57600, 'serial rate of the Arduino\'s Firmata.begin(): 57600 for StandardFirmata (backend firmata)',
          unit='baud',
          choices=(9600, 19200, 38400, 57600, 115200)),
    Param('connect_timeout_s', 10.0, 'how long the Arduino may take to answer after the port opens (it '
          'resets and boots; backend firmata)', unit='s', gt=0.0, max=60.0),
    Param('valve_pin', 27, 'pin of the water valve', **_PIN),
    Param('fail_pin', 12, 'pin of the fail signal', **_PIN),
    Param('behaviour_camera_pin', 17, 'pin held high for the session (starts the behaviour camera); -1: none',
          **_OPTIONAL_PIN),
    Param('illumination_pin', 21, 'pin held high while imaging; -1: none', **_OPTIONAL_PIN),
    Param('imaging_ttl_pin', -1, 'brain-imaging TTL: high from the start of the session; -1: none',
          **_OPTIONAL_PIN),
    Param('imaging_ttl_end_pulse_s', 0.0, 'end mark of the imaging TTL: low, high, low again for this long '
          'each when the session ends (the original CLMF\'s LOW-HIGH-LOW); 0: just low', unit='s',
          min=0.0, max=2.0),
    Param('valve_pulse_s', 0.3, 'default valve pulse', unit='s', gt=0.0, max=10.0),
    Param('fail_pulse_s', 0.5, 'default fail pulse', unit='s', gt=0.0, max=60.0),
    Param('max_valve_open_s', 1.0, 'hard limit on one valve opening (above the 2 s ceiling of '
          'clopy_reward.limits only with valve_ceiling_override_s)', unit='s', gt=0.0, max=VALVE_OVERRIDE_MAX_S,
          note=f'above the {VALVE_CEILING_S:g} s ceiling only with reward.valve_ceiling_override_s >= it'),
    Param('valve_ceiling_override_s', 0.0, 'explicit override of the 2 s valve ceiling: max_valve_open_s may go '
          'up to it (0 = no override; recorded in events.tsv when set)', unit='s', min=0.0, max=VALVE_OVERRIDE_MAX_S),
    Param('max_fail_pulse_s', 5.0, 'hard limit on one fail pulse', unit='s', gt=0.0, max=60.0),
    Param('max_rewards', 500, 'valve openings allowed per session; the one reaching it ends the session '
          '(0 = no cap)', min=0, max=100_000),
    Param('valve_flow_ul_per_ms', 0.0, 'valve calibration: water per ms open (0 = not calibrated: no ml '
          'accounting and no ml cap)', unit='ul/ms', min=0.0, max=10.0),
    Param('max_water_ml', 2.0, 'water allowed per session when calibrated; the pulse reaching it ends the '
          'session (0 = no ml cap)', unit='ml', min=0.0, max=50.0),
    Param('hold_ttl_outputs', True, 'hold behaviour_camera and illumination high while running'),
    Param('sync_pin', -1, 'BCM pin of the sync-pulse output, wired to the other systems\' TTL inputs '
          '(-1 = no sync pulses; docs/sync.md)', min=-1, max=27),
    Param('sync_mean_interval_s', 5.0, 'mean time between sync pulse onsets; each interval is uniform in '
          '0.1-1.9 x this', unit='s', gt=0.0, max=3600.0),
    Param('sync_pulse_s', 0.1, 'length of one sync pulse (shorter than 0.1 x sync_mean_interval_s)',
          unit='s', gt=0.0, max=10.0),
])
