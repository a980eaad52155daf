"""Pose backends by name: the built-in dlclive one and the errors of an unknown name."""
import pytest

from clopy_signal.dlc_backend import DlcLiveBackend
from clopy_signal.pose_backends import PoseBackendError, make_pose_backend, pose_backend_names

BUILTIN = {'dlclive': DlcLiveBackend}
SETTINGS = {'model_path': '', 'model_type': 'pytorch', 'device': 'cpu', 'resize': 1.0,
            'body_parts': ['fl_l'], 'logger': None}


def no_parameters(name, default, text=''):
    raise AssertionError(f'{name} declared')


def test_an_unknown_pose_backend_names_the_key_and_the_allowed_ones():
    with pytest.raises(PoseBackendError) as err:
        make_pose_backend('openpose', BUILTIN, no_parameters, SETTINGS)
    message = str(err.value)
    assert "pose.backend = 'openpose'" in message and 'dlclive' in message
    assert 'clopy.pose_backends' in message


def test_dlclive_is_built_in_and_listed_first():
    assert pose_backend_names(BUILTIN)[0] == 'dlclive'


def test_dlclive_checks_its_settings_before_loading_anything(tmp_path):
    with pytest.raises(PoseBackendError, match='pose.model_path is empty'):
        make_pose_backend('dlclive', BUILTIN, no_parameters, SETTINGS)
    with pytest.raises(PoseBackendError, match=r"pose\.model_type = 'onnx': allowed are"):
        make_pose_backend('dlclive', BUILTIN, no_parameters, dict(SETTINGS, model_path='m.pt', model_type='onnx'))
    with pytest.raises(PoseBackendError, match=r"pose\.device = 'gpu'"):
        make_pose_backend('dlclive', BUILTIN, no_parameters, dict(SETTINGS, model_path='m.pt', device='gpu'))
    with pytest.raises(PoseBackendError, match=r'pose\.resize = 2\.0'):
        make_pose_backend('dlclive', BUILTIN, no_parameters, dict(SETTINGS, model_path='m.pt', resize=2.0))
    missing = str(tmp_path / 'missing.pt')
    with pytest.raises(PoseBackendError, match=r'pose\.model_path = .*missing\.pt.*no such file'):
        make_pose_backend('dlclive', BUILTIN, no_parameters, dict(SETTINGS, model_path=missing))
