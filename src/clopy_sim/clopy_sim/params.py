"""Parameters of the simulation backends: the schemas (name, default, unit, range) the
camera's ``synthetic`` / ``synthetic_behaviour`` kinds and the pose node's ``synthetic``
backend provide, and the constructor arguments made from their values. The values come
through a ``declare(name, default, description)`` function the node passes in (it
returns the value): the nodes stay the only place that touches rclpy. Plain Python.

The synthetic behaviour camera and the synthetic pose backend must render the same
mouse, so both have ``synthetic_behaviour.*``: put them in the parameter file's
``/**`` section so the camera and the pose node read the same values.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from clopy_common.schema import Param

Declare = Callable[..., Any]

_B = 'synthetic_behaviour.'
#: `synthetic_behaviour.*`: the synthetic behaviour camera and its ground-truth pose.
SYNTHETIC_BEHAVIOUR_PARAMS = (
    Param(_B + 'seed', 1, 'seed of the synthetic mouse', min=0),
    Param(_B + 'fps', 30.0, 'synthetic behaviour camera frame rate', unit='Hz', gt=0.0, max=1000.0),
    Param(_B + 'width_px', 640, 'synthetic behaviour frame width', unit='px', min=16, max=8192),
    Param(_B + 'height_px', 320, 'synthetic behaviour frame height', unit='px', min=16, max=8192),
    Param(_B + 'bout_rate_hz', 0.1, 'movement bouts of the control limb', unit='Hz', min=0.0, max=100.0),
    Param(_B + 'other_bout_rate_hz', 0.1, 'movement bouts of each other limb', unit='Hz', min=0.0, max=100.0),
    Param(_B + 'bout_speed_px_per_frame', 40.0, 'peak speed of a bout', unit='px/frame', min=0.0, max=1000.0),
    Param(_B + 'rest_jitter_px', 0.5, 'wobble at rest', unit='px', min=0.0, max=100.0),
    Param(_B + 'control_part', 'fl_l', 'the limb the bout rate is for'),
)

_C = 'synthetic.'
#: `synthetic.*`: the synthetic cortex and the learning mouse around it.
SYNTHETIC_CORTEX_PARAMS = (
    Param(_C + 'seed', 1, 'seed of the synthetic cortex', min=0),
    Param(_C + 'activity', 'spontaneous', 'activity of the synthetic cortex',
          choices=('spontaneous', 'flat', 'ramp')),
    Param(_C + 'target_regions', ['M1_L'], 'regions that get extra activity'),
    Param(_C + 'target_rate_hz', 0.1, 'extra transients per target region', unit='Hz', min=0.0, max=100.0),
    Param(_C + 'ramp_rate_per_s', 0.05, 'growth rate of the ramp activity', unit='1/s', min=0.0, max=100.0),
    Param(_C + 'bregma_row_px', 135.0, 'synthetic atlas bregma row', unit='px', min=0.0, max=8192.0),
    Param(_C + 'bregma_col_px', 128.0, 'synthetic atlas bregma column', unit='px', min=0.0, max=8192.0),
    Param(_C + 'px_per_mm', 25.6, 'synthetic atlas scale', unit='px/mm', gt=0.0, max=10000.0),
    Param(_C + 'initial_drive', 1.0, 'simulated mouse: target-region activity level at the start '
          '(1 = target_rate_hz)', min=0.0, max=1000.0),
    Param(_C + 'learning_per_reward', 0.0, 'simulated mouse: activity level gained per water reward '
          '(0 = a mouse that does not learn)', min=0.0, max=1000.0),
)


def _values(declare: Declare, params: Iterable[Param], prefix: str) -> dict:
    """{name without prefix: value} of every parameter, through ``declare``."""
    return {p.name[len(prefix):]: declare(p.name, p.default, p.description) for p in params}


def synthetic_behaviour_params(declare: Declare) -> dict:
    """Constructor arguments of SyntheticBehaviourSource, from `synthetic_behaviour.*`."""
    return _values(declare, SYNTHETIC_BEHAVIOUR_PARAMS, _B)


def synthetic_cortex_params(declare: Declare, common: dict) -> dict:
    """Constructor arguments of SyntheticCortexSource from `synthetic.*`, plus the
    learning mouse's `initial_drive` and `learning_per_reward` (under 'mouse').
    ``common`` holds the camera's width_px, height_px and frame_rate_hz."""
    values = _values(declare, SYNTHETIC_CORTEX_PARAMS, _C)
    mouse = {key: float(values.pop(key)) for key in ('initial_drive', 'learning_per_reward')}
    values['target_regions'] = list(values['target_regions'])
    return values | dict(width_px=common['width_px'], height_px=common['height_px'],
                         fps=common['frame_rate_hz'], mouse=mouse)
