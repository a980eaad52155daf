"""Parameters of the simulation backends, declared through a ``declare(name, default,
description)`` function the node passes in (it returns the value): the nodes stay the
only place that touches rclpy.

The synthetic behaviour camera and the synthetic pose backend must render the same
mouse, so both declare ``synthetic_behaviour.*``: put them in the parameter file's
``/**`` section so the camera and the pose node read the same values.
"""
from __future__ import annotations

from typing import Any, Callable

Declare = Callable[..., Any]


def synthetic_behaviour_params(declare: Declare) -> dict:
    """Constructor arguments of SyntheticBehaviourSource, from `synthetic_behaviour.*`."""
    d = declare
    return {
        'seed': d('synthetic_behaviour.seed', 1, 'seed of the synthetic mouse'),
        'fps': d('synthetic_behaviour.fps', 30.0, 'synthetic behaviour camera frame rate (Hz)'),
        'width_px': d('synthetic_behaviour.width_px', 640, 'synthetic behaviour frame width (px)'),
        'height_px': d('synthetic_behaviour.height_px', 320, 'synthetic behaviour frame height (px)'),
        'bout_rate_hz': d('synthetic_behaviour.bout_rate_hz', 0.1, 'movement bouts of the control limb (Hz)'),
        'other_bout_rate_hz': d('synthetic_behaviour.other_bout_rate_hz', 0.1,
                                'movement bouts of each other limb (Hz)'),
        'bout_speed_px_per_frame': d('synthetic_behaviour.bout_speed_px_per_frame', 40.0,
                                     'peak speed of a bout (px/frame)'),
        'rest_jitter_px': d('synthetic_behaviour.rest_jitter_px', 0.5, 'wobble at rest (px)'),
        'control_part': d('synthetic_behaviour.control_part', 'fl_l', 'the limb the bout rate is for'),
    }


def synthetic_cortex_params(declare: Declare, common: dict) -> dict:
    """Constructor arguments of SyntheticCortexSource from `synthetic.*`, plus the
    learning mouse's `initial_drive` and `learning_per_reward`. ``common`` holds the
    camera's width_px, height_px and frame_rate_hz."""
    d = declare
    cortex = dict(
        seed=d('synthetic.seed', 1, 'seed of the synthetic cortex'),
        width_px=common['width_px'], height_px=common['height_px'], fps=common['frame_rate_hz'],
        activity=d('synthetic.activity', 'spontaneous', 'spontaneous | flat | ramp'),
        target_regions=list(d('synthetic.target_regions', ['M1_L'], 'regions that get extra activity')),
        target_rate_hz=d('synthetic.target_rate_hz', 0.1, 'extra transients per target region (Hz)'),
        ramp_rate_per_s=d('synthetic.ramp_rate_per_s', 0.05, 'growth rate of the ramp activity (1/s)'),
        bregma_row_px=d('synthetic.bregma_row_px', 135.0, 'synthetic atlas bregma row (px)'),
        bregma_col_px=d('synthetic.bregma_col_px', 128.0, 'synthetic atlas bregma column (px)'),
        px_per_mm=d('synthetic.px_per_mm', 25.6, 'synthetic atlas scale (px/mm)'))
    mouse = dict(
        initial_drive=float(d('synthetic.initial_drive', 1.0, 'simulated mouse: target-region activity '
                                                              'level at the start (1 = target_rate_hz)')),
        learning_per_reward=float(d('synthetic.learning_per_reward', 0.0, 'simulated mouse: activity level '
                                    'gained per water reward (0 = a mouse that does not learn)')))
    return cortex | {'mouse': mouse}
