"""The pose node's ``synthetic`` backend (entry point of the group
``clopy.pose_backends``): the ground truth of the synthetic behaviour camera for each
frame's index, from the same ``synthetic_behaviour.*`` parameters the camera reads."""
from __future__ import annotations

from clopy_signal.pose_backends import PoseBackendError

from .params import SYNTHETIC_BEHAVIOUR_PARAMS, Declare, synthetic_behaviour_params
from .synthetic_behaviour import BODY_PARTS, SyntheticBehaviourSource


class SyntheticPoseBackend:
    """(x, y, likelihood 1) of every body part of the synthetic mouse at a frame index."""

    #: this backend's own parameters (joined to the pose node's schema when chosen)
    params = SYNTHETIC_BEHAVIOUR_PARAMS

    def __init__(self, params: dict) -> None:
        try:
            self.source = SyntheticBehaviourSource(**params)
        except (ValueError, TypeError) as exc:
            raise PoseBackendError(f'synthetic_behaviour: {exc}') from exc
        self.body_parts = list(BODY_PARTS)

    @classmethod
    def from_pose_node(cls, declare: Declare, settings: dict) -> 'SyntheticPoseBackend':
        """The pose node's constructor hook; ``settings`` (model_path etc.) are not used."""
        return cls(synthetic_behaviour_params(declare))

    def __call__(self, frame, frame_index: int):
        truth = self.source.ground_truth(frame_index)
        return [(*truth[part], 1.0) for part in self.body_parts]
