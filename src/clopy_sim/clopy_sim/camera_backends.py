"""The simulation cameras as the camera node finds them: entry points of the group
``clopy.frame_sources`` (see setup.py) naming the objects below, so clopy_acquisition
never imports this package.

* ``synthetic``: the synthetic cortex (``synthetic.*`` parameters), wrapped in the
  learning mouse (``synthetic.initial_drive``, ``synthetic.learning_per_reward``);
* ``synthetic_behaviour``: the synthetic behaviour camera (``synthetic_behaviour.*``,
  shared with the pose node's synthetic backend).
"""
from __future__ import annotations

from clopy_acquisition.sources import SourceBackend

from .learning_mouse import LearningMouse
from .params import (SYNTHETIC_BEHAVIOUR_PARAMS, SYNTHETIC_CORTEX_PARAMS, Declare, synthetic_behaviour_params,
                     synthetic_cortex_params)
from .synthetic import SyntheticCortexSource
from .synthetic_behaviour import SyntheticBehaviourSource


def cortex_from_camera(declare: Declare, common: dict) -> LearningMouse:
    kwargs = synthetic_cortex_params(declare, common)
    mouse = kwargs.pop('mouse')
    cortex = SyntheticCortexSource(**kwargs)
    try:
        return LearningMouse(cortex, **mouse)
    except ValueError as exc:
        raise ValueError(f"synthetic.initial_drive = {mouse['initial_drive']}, synthetic.learning_per_reward = "
                         f"{mouse['learning_per_reward']}: {exc}") from exc


def behaviour_from_camera(declare: Declare, common: dict) -> SyntheticBehaviourSource:
    return SyntheticBehaviourSource(**synthetic_behaviour_params(declare))


SYNTHETIC_CORTEX = SourceBackend(SyntheticCortexSource, cortex_from_camera, SYNTHETIC_CORTEX_PARAMS)
SYNTHETIC_BEHAVIOUR = SourceBackend(SyntheticBehaviourSource, behaviour_from_camera, SYNTHETIC_BEHAVIOUR_PARAMS)
