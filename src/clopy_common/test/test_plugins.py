"""Backend lookup through entry points: real distributions written to a temporary
folder on sys.path, found by importlib.metadata as colcon's egg-info is."""
import os
import subprocess
import sys

import pytest

from clopy_common.plugins import FRAME_SOURCES, POSE_BACKENDS, PluginError, load_plugin, plugin_names

GROUP = 'clopy.test_backends'


@pytest.fixture
def lab_package(tmp_path, monkeypatch):
    """A lab's package `lab_backends` registering `good` and `broken` in GROUP."""
    (tmp_path / 'lab_backends.py').write_text('class Good:\n    kind = "good"\n')
    (tmp_path / 'lab_broken.py').write_text('raise ImportError("needs the lab driver")\n')
    info = tmp_path / 'lab_backends-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: lab_backends\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(
        f'[{GROUP}]\ngood = lab_backends:Good\nbroken = lab_broken:Thing\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ('lab_backends', 'lab_broken'):
        sys.modules.pop(name, None)


def test_a_lab_package_registers_a_backend(lab_package):
    assert plugin_names(GROUP) == ['broken', 'good']
    assert load_plugin(GROUP, 'good', 'thing.backend').kind == 'good'


def test_builtin_backends_come_first(lab_package):
    assert load_plugin(GROUP, 'good', 'thing.backend', {'good': 'mine'}) == 'mine'


def test_an_unknown_backend_names_the_key_the_value_and_the_allowed_ones(lab_package):
    with pytest.raises(PluginError) as err:
        load_plugin(GROUP, 'webcam', 'thing.backend', {'builtin': object})
    message = str(err.value)
    assert "thing.backend = 'webcam'" in message
    assert "['broken', 'builtin', 'good']" in message
    assert GROUP in message


def test_a_backend_that_does_not_import_names_its_package(lab_package):
    with pytest.raises(PluginError) as err:
        load_plugin(GROUP, 'broken', 'thing.backend')
    message = str(err.value)
    assert "thing.backend = 'broken'" in message and 'lab_backends' in message
    assert 'needs the lab driver' in message


def test_a_missing_simulation_package_is_named():
    """Without clopy_sim on the path, asking for its backends says where they come from."""
    path = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if 'clopy_sim' not in p]
    code = ('from clopy_common.plugins import *\n'
            'for group, key in ((FRAME_SOURCES, "camera.source"), (POSE_BACKENDS, "pose.backend")):\n'
            '    try:\n'
            '        load_plugin(group, "synthetic", key)\n'
            '    except PluginError as exc:\n'
            '        print(exc)\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("camera.source = 'synthetic'") and 'clopy_sim' in lines[0]
    assert lines[1].startswith("pose.backend = 'synthetic'") and 'clopy_sim' in lines[1]
    assert FRAME_SOURCES in lines[0] and POSE_BACKENDS in lines[1]
