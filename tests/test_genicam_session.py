"""Whole-graph CLNF sessions on a GenICam camera: `clopy run clnf_1roi --sim` with
`camera.source=genicam` on Aravis's fake GigE Vision camera (arv-fake-gv-camera-0.8,
listening on 127.0.0.1 and opened by that address: nothing is broadcast), and a
session whose camera is missing. The camera's own timestamps reach the bag."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from test_clnf_graph import bag_messages, clopy_run, no_process_left, session_dir

from clopy_data.tables import read_frame_table

FAKE = 'arv-fake-gv-camera-0.8'
GENICAM = ['camera.source=genicam', 'camera.genicam.exposure_us=5000', 'camera.genicam.gain_db=2',
           'camera.genicam.pixel_format=RGB8']   # CLNF's green-minus-blue correction needs colour frames


@pytest.fixture
def fake_camera():
    if shutil.which(FAKE) is None:
        pytest.fail(f'{FAKE} not installed (Debian aravis-tools; requirements/debian-test.txt)')
    proc = subprocess.Popen([FAKE, '-i', '127.0.0.1', '-s', 'CLOPYGRAPH'], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)   # listening; the camera node retries nothing, so give it its moment
    yield '127.0.0.1'
    proc.terminate()
    proc.wait(10)


def test_a_session_records_the_genicam_cameras_frames_and_timestamps(tmp_path, ros_env, fake_camera):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=180,
                       sets=GENICAM + [f'camera.genicam.device_id={fake_camera}', 'camera.max_frames=30'])
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'end of the recording: camera.max_frames = 30 reached' in result.stdout
    d = session_dir(tmp_path)
    infos = bag_messages(d, 'frame_info')
    assert [m.frame_index for m in infos] == list(range(30))
    device = [m.device_stamp_ns for m in infos]
    assert all(s > 0 for s in device) and all(b > a for a, b in zip(device, device[1:]))
    log = (d / 'logs' / 'camera.log').read_text()
    assert "GenICam camera '127.0.0.1' (Aravis Fake serial CLOPYGRAPH): 256x256 bgr8 at 15.0 fps" in log
    assert 'PixelFormat RGB8' in log and 'ExposureTime 5000' in log and 'Gain 2' in log
    assert list(read_frame_table(d / 'VideoTimestamp.txt').frame) == list(range(30))
    assert not no_process_left(d)


def test_a_missing_genicam_camera_stops_the_session_naming_it(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=120,
                       sets=GENICAM + ['camera.genicam.device_id=127.0.0.2'])
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'camera could not start' in out
    assert "GenICam camera '127.0.0.2' (genicam.device_id) does not answer as a GigE Vision camera" in out
    d = session_dir(tmp_path)
    assert not bag_messages(d, 'frame_info')
    assert not [m for m in bag_messages(d, 'reward_event') if m.output == 0]
    assert not no_process_left(d)


def test_a_camera_that_sends_no_frame_ends_the_session_instead_of_waiting(tmp_path, ros_env, fake_camera):
    # hardware trigger on, and nothing wired to the trigger input: the camera never sends a frame
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=120,
                       sets=GENICAM + [f'camera.genicam.device_id={fake_camera}', 'camera.genicam.trigger=true',
                                       'camera.first_frame_timeout_s=3'])
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert 'session ended: no first frame within 3 s (error)' in out
    d = session_dir(tmp_path)
    assert not bag_messages(d, 'frame_info')
    ends = bag_messages(d, 'session_end')
    assert [(m.reason, m.node, m.error) for m in ends][:1] == [('no first frame within 3 s', 'camera', True)]
    events = (d / 'events.tsv').read_text()
    assert 'info\tend_reason\tno first frame within 3 s' in events and 'info\tend_error\ttrue' in events
    assert not no_process_left(d)
