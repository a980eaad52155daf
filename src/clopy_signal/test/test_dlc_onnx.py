"""pose.runtime: onnxruntime runs dlclive's network from its ONNX export; the poses
equal dlclive's own (torch) within the stated tolerance, the export is cached per
model file, and a bad runtime is refused with the key named."""
import numpy as np
import pytest

from clopy_common.schema import SchemaError
from clopy_signal.dlc_backend import DlcLiveBackend
from clopy_signal.pose_backends import PoseBackendError, make_pose_backend
from clopy_signal.pose_params import POSE

# the stated tolerance (docs/clmf.md): positions within 0.5 px, likelihoods within 1e-3
POSITION_TOLERANCE_PX, LIKELIHOOD_TOLERANCE = 0.5, 1e-3
SETTINGS = {'model_path': 'm.pt', 'model_type': 'pytorch', 'device': 'cpu', 'resize': 1.0,
            'body_parts': ['fl_l'], 'logger': None}


def no_parameters(name, default, text=''):
    raise AssertionError(f'{name} declared')


class Log:
    def __init__(self) -> None:
        self.lines = []

    def info(self, text) -> None:
        self.lines.append(text)

    warning = info


def test_a_bad_runtime_is_refused_by_the_schema_with_the_key_named():
    with pytest.raises(SchemaError) as err:
        POSE.check({'runtime': 'tensorrt'}, 'f.yaml')
    assert str(err.value).startswith("f.yaml: pose.runtime = 'tensorrt': allowed: one of 'torch', 'onnxruntime'")
    assert POSE.defaults()['runtime'] == 'torch'


@pytest.mark.parametrize('change, message', [
    ({'runtime': 'tensorrt'}, "pose.runtime = 'tensorrt': allowed are ['torch', 'onnxruntime']"),
    ({'runtime': 'onnxruntime', 'device': 'cuda'},
     "pose.runtime = onnxruntime runs on the CPU, but pose.device = 'cuda'"),
    ({'runtime': 'onnxruntime', 'model_type': 'base'}, "pose.runtime = onnxruntime needs pose.model_type = pytorch"),
])
def test_the_backend_refuses_a_runtime_that_cannot_run_before_loading_anything(change, message):
    with pytest.raises(PoseBackendError) as err:
        make_pose_backend('dlclive', {'dlclive': DlcLiveBackend}, no_parameters, dict(SETTINGS, **change))
    assert message in str(err.value)


@pytest.fixture(scope='module')
def resnet(tmp_path_factory):
    from clopy_signal.dlc_backend import load_dlclive
    try:
        load_dlclive('pytorch')
    except PoseBackendError as exc:   # the --dlc extra is not installed here
        pytest.skip(str(exc))
    pytest.importorskip('onnxruntime')
    from clopy_signal.dlc_models import build_resnet_model
    from clopy_signal.speed import BODY_PARTS
    return build_resnet_model(tmp_path_factory.mktemp('model') / 'resnet10t.pt', list(BODY_PARTS), 'resnet10t')


@pytest.fixture(scope='module')
def frames():
    from clopy_sim.synthetic_behaviour import SyntheticBehaviourSource
    source = SyntheticBehaviourSource(seed=1)   # 640x320
    return [source.frame_at(i) for i in (0, 40, 80)]


@pytest.mark.parametrize('runtime', ['onnxruntime'])
@pytest.mark.parametrize('resize', [1.0, 0.5])
def test_the_runtimes_poses_equal_dlclives_torch_poses(tmp_path, monkeypatch, resnet, frames, resize, runtime):
    from clopy_signal.speed import BODY_PARTS
    monkeypatch.setenv('CLOPY_ONNX_CACHE', str(tmp_path / 'cache'))
    make = {r: DlcLiveBackend(str(resnet), 'pytorch', 'cpu', resize, list(BODY_PARTS), Log(), runtime=r)
            for r in ('torch', runtime)}
    network = make[runtime].dlc.runner.model
    assert type(network).__name__ == 'OnnxPoseNetwork' and network.runtime == runtime
    for k, frame in enumerate(frames):
        expected, got = make['torch'](frame, k), make[runtime](frame, k)
        assert got.shape == expected.shape == (len(BODY_PARTS), 3)
        assert np.abs(got[:, :2] - expected[:, :2]).max() < POSITION_TOLERANCE_PX
        assert np.abs(got[:, 2] - expected[:, 2]).max() < LIKELIHOOD_TOLERANCE


def test_the_export_is_done_once_per_model_file(tmp_path, monkeypatch, resnet, frames):
    from clopy_signal.dlc_models import build_resnet_model
    from clopy_signal.speed import BODY_PARTS
    cache = tmp_path / 'cache'
    monkeypatch.setenv('CLOPY_ONNX_CACHE', str(cache))
    logs = [Log(), Log()]
    for log in logs:
        DlcLiveBackend(str(resnet), 'pytorch', 'cpu', 0.5, list(BODY_PARTS), log, runtime='onnxruntime')
    assert any('exported the network' in line and ' s (' in line for line in logs[0].lines), logs[0].lines
    assert any('using the exported network' in line for line in logs[1].lines), logs[1].lines
    assert len(list(cache.glob('*.onnx'))) == 1
    other = build_resnet_model(tmp_path / 'resnet10t.pt', list(BODY_PARTS), 'resnet10t', seed=1)  # other weights
    log = Log()
    DlcLiveBackend(str(other), 'pytorch', 'cpu', 0.5, list(BODY_PARTS), log, runtime='onnxruntime')
    assert any('exported the network' in line for line in log.lines)
    assert len(list(cache.glob('*.onnx'))) == 2
