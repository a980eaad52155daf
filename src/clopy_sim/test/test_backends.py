"""clopy_sim's backends as the camera and pose nodes find them: entry points, their
parameter declarations, the learning mouse and the synthetic pose."""
import pytest

from clopy_acquisition.sources import SourceBackend, source_backend, source_class
from clopy_common.plugins import POSE_BACKENDS, load_plugin
from clopy_sim.learning_mouse import LearningMouse
from clopy_sim.pose_backend import SyntheticPoseBackend
from clopy_sim.synthetic import SyntheticCortexSource
from clopy_sim.synthetic_behaviour import BODY_PARTS, SyntheticBehaviourSource
from clopy_signal.pose_backends import PoseBackendError, make_pose_backend

COMMON = {'width_px': 256, 'height_px': 192, 'frame_rate_hz': 20.0}


class Parameters:
    """What a node's declare_parameter does for a backend: record, return the override or default."""

    def __init__(self, **overrides):
        self.overrides, self.declared = overrides, {}

    def __call__(self, name, default, text=''):
        assert name not in self.declared, f'{name} declared twice'
        self.declared[name] = text
        return self.overrides.get(name, default)


def test_the_entry_points_name_the_simulation_backends():
    assert source_class('synthetic') is SyntheticCortexSource
    assert source_class('synthetic_behaviour') is SyntheticBehaviourSource
    assert isinstance(source_backend('synthetic'), SourceBackend)
    assert load_plugin(POSE_BACKENDS, 'synthetic', 'pose.backend') is SyntheticPoseBackend


def test_the_synthetic_cortex_declares_its_parameters_under_its_kind():
    params = Parameters(**{'synthetic.activity': 'flat', 'synthetic.seed': 7})
    source = source_backend('synthetic').from_camera(params, COMMON)
    assert all(name.startswith('synthetic.') for name in params.declared)
    assert {'synthetic.initial_drive', 'synthetic.learning_per_reward', 'synthetic.target_regions'} <= set(
        params.declared)
    assert all(params.declared.values()), 'every parameter has a description'
    with source:
        assert source.read().image.shape == (192, 256, 3)
        assert (source.width_px, source.height_px, source.nominal_fps) == (256, 192, 20.0)
    assert source.cortex.seed == 7 and source.cortex.activity == 'flat'
    assert not source.wants_rewards


def test_the_learning_mouse_raises_its_activity_from_the_next_frame_on():
    cortex = SyntheticCortexSource(seed=3, max_drive=2.0)
    mouse = LearningMouse(cortex, initial_drive=1.0, learning_per_reward=0.75)
    assert mouse.wants_rewards
    with mouse:
        mouse.read()
        assert mouse.on_reward(False, 0) is None and mouse.drive == 1.0
        assert mouse.on_reward(True, 1) == 'simulated mouse: reward 1, activity level 1.750'
        assert cortex.drive == 1.0                       # applied by the next read
        mouse.read()
        assert cortex.drive == 1.75
        mouse.on_reward(True, 2)
        mouse.read()
        assert cortex.drive == 2.0 == mouse.drive        # capped at max_drive
    assert mouse.summary() == 'final activity level 2.000'


def test_the_learning_mouse_refuses_bad_levels_naming_the_keys():
    params = Parameters(**{'synthetic.initial_drive': 50.0})
    with pytest.raises(ValueError, match=r'synthetic\.initial_drive = 50\.0.*max_drive'):
        source_backend('synthetic').from_camera(params, COMMON)
    with pytest.raises(ValueError, match='learning_per_reward=-1'):
        LearningMouse(SyntheticCortexSource(seed=1), learning_per_reward=-1)


def test_camera_and_pose_node_render_the_same_mouse():
    overrides = {'synthetic_behaviour.seed': 5, 'synthetic_behaviour.bout_rate_hz': 0.5}
    camera = source_backend('synthetic_behaviour').from_camera(Parameters(**overrides), COMMON)
    pose = make_pose_backend('synthetic', {}, Parameters(**overrides), {'model_path': ''})
    assert pose.body_parts == list(BODY_PARTS)
    for index in (0, 40, 123):
        truth = camera.ground_truth(index)
        assert pose(None, index) == [(*truth[part], 1.0) for part in BODY_PARTS]


def test_bad_synthetic_behaviour_settings_stop_the_pose_backend():
    with pytest.raises(PoseBackendError, match='synthetic_behaviour: .*fps'):
        make_pose_backend('synthetic', {}, Parameters(**{'synthetic_behaviour.fps': -1.0}), {})
