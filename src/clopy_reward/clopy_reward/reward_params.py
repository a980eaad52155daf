"""The reward node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

from clopy_reward.limits import VALVE_OVERRIDE_MAX_S

_PIN = dict(min=0, max=27)   # BCM numbering of the Raspberry Pi header

REWARD = NodeSchema('reward', [
    Param('simulate', False, 'use gpiozero MockFactory pins (no hardware)'),
    Param('valve_pin', 27, 'BCM pin of the water valve', **_PIN),
    Param('fail_pin', 12, 'BCM pin of the fail signal', **_PIN),
    Param('behaviour_camera_pin', 17, 'BCM pin held high for the session (starts the behaviour camera)', **_PIN),
    Param('illumination_pin', 21, 'BCM pin held high while imaging', **_PIN),
    Param('valve_pulse_s', 0.3, 'default valve pulse', unit='s', gt=0.0, max=10.0),
    Param('fail_pulse_s', 0.5, 'default fail pulse', unit='s', gt=0.0, max=60.0),
    Param('max_valve_open_s', 1.0, 'hard limit on one valve opening (above the 2 s ceiling of '
          'clopy_reward.limits only with valve_ceiling_override_s)', unit='s', gt=0.0, max=VALVE_OVERRIDE_MAX_S),
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
    Param('imaging_ttl_pin', -1, 'BCM pin of the imaging trigger: HIGH from the start, LOW-HIGH-LOW at the end, '
          'as the original CLMF rig (-1 = none; docs/sync.md)', min=-1, max=27),
    Param('imaging_ttl_step_s', 0.1, 'length of each level of the end pattern', unit='s', gt=0.0, max=5.0),
])
