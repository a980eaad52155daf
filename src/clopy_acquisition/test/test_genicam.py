"""camera.source: genicam against Aravis's fake GigE Vision camera (aravis-tools:
arv-fake-gv-camera-0.8) listening on 127.0.0.1, opened by its address: nothing is
broadcast, and a tcpdump on the real interfaces checks that no GigE Vision control
packet (UDP port 3956) leaves the machine while these tests run.

Needs the Debian packages of requirements/debian-test.txt ("GenICam cameras") and
PyGObject importable from .venv (scripts/setup.sh links the system's)."""
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy

from clopy_acquisition.camera_node import CameraNode
from clopy_acquisition.genicam_pixels import PIXEL_FORMAT_CODES, to_image
from clopy_acquisition.genicam_source import frames_between
from clopy_acquisition.sources import SourceError, open_source
from clopy_common.node_main import StartupError

from acquisition_files import camera_node, spin_listening

FAKE = 'arv-fake-gv-camera-0.8'
ADDRESS = '127.0.0.1'
ABSENT = '127.0.0.2'   # also on lo: nothing answers there
GVCP_PORT = 3956


def _aravis_missing() -> str:
    if shutil.which(FAKE) is None:
        return f'{FAKE} not installed (Debian aravis-tools; requirements/debian-test.txt)'
    try:
        import gi
        gi.require_version('Aravis', '0.8')
    except (ImportError, ValueError) as exc:
        return f'PyGObject with Aravis 0.8 not importable ({exc}): gir1.2-aravis-0.8, then scripts/setup.sh'
    return ''


def _real_interfaces() -> list[str]:
    names = []
    for path in Path('/sys/class/net').iterdir():
        state = (path / 'operstate').read_text().strip() if (path / 'operstate').exists() else ''
        if path.name != 'lo' and state in ('up', 'unknown'):
            names.append(path.name)
    return names


@pytest.fixture(scope='module')
def gvcp_watch(tmp_path_factory):
    """tcpdump of GigE Vision control packets on every real interface, for the module."""
    out = tmp_path_factory.mktemp('gvcp')
    procs = {}
    if shutil.which('tcpdump'):
        for name in _real_interfaces():
            procs[name] = subprocess.Popen(
                ['tcpdump', '-i', name, '-n', '-U', '-w', str(out / f'{name}.pcap'), 'udp', 'port', str(GVCP_PORT)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(1.0)   # tcpdump listening before the first camera packet
    watch = {'procs': procs, 'packets': None}
    yield watch
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(10)


def _stop_watch(watch) -> dict[str, list[str]]:
    seen = {}
    for name, proc in watch['procs'].items():
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
        pcap = Path(proc.args[proc.args.index('-w') + 1])
        seen[name] = subprocess.run(['tcpdump', '-r', str(pcap), '-n'], capture_output=True,
                                    text=True).stdout.splitlines()
    return seen


@pytest.fixture(scope='module')
def fake_camera(gvcp_watch):
    missing = _aravis_missing()
    if missing:
        pytest.fail(missing)
    proc = subprocess.Popen([FAKE, '-i', ADDRESS, '-s', 'CLOPY01'], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10.0
    while True:   # ready once it answers
        try:
            with open_source('genicam', device_id=ADDRESS, width_px=16, height_px=16, fps=30.0, exposure_us=1000.0):
                break
        except SourceError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.2)
    yield ADDRESS
    proc.terminate()
    proc.wait(10)


def genicam(**kw):
    params = dict(device_id=ADDRESS, width_px=320, height_px=240, fps=30.0, exposure_us=5000.0) | kw
    return open_source('genicam', **params)


def test_frames_have_the_size_settings_and_the_cameras_increasing_timestamps(fake_camera):
    with genicam(gain_db=3.0) as source:
        frames = [source.read() for _ in range(12)]
        settings = dict(source.settings)
        assert 'Aravis' in source.describe() and 'CLOPY01' in source.describe()
    assert settings['Width'] == 320 and settings['Height'] == 240 and settings['PixelFormat'] == 'Mono8'
    assert settings['ExposureTime'] == pytest.approx(5000.0)
    assert settings['Gain'] == pytest.approx(3.0)
    assert settings['AcquisitionFrameRate'] == pytest.approx(30.0, rel=0.01)
    assert settings['TriggerMode'] == 'Off'
    assert source.encoding == 'mono8' and (source.width_px, source.height_px) == (320, 240)
    assert all(f.image.shape == (240, 320) and f.image.dtype == np.uint8 for f in frames)
    device = [f.device_stamp_ns for f in frames]
    assert all(d > 0 for d in device) and all(b > a for a, b in zip(device, device[1:]))
    # the camera's own clock runs at the rate set: about 33 ms between frames
    assert statistics.median(np.diff(device)) / 1e6 == pytest.approx(1000 / 30, rel=0.5)
    host = [f.capture_time_s for f in frames]
    assert all(b > a for a, b in zip(host, host[1:])) and abs(host[-1] - time.monotonic()) < 5.0
    assert sum(f.dropped_before for f in frames) == source.frames_lost == 0


@pytest.mark.parametrize('pixel_format', ['RGB8', 'BayerRG8'])
def test_colour_formats_arrive_as_bgr(fake_camera, pixel_format):
    with genicam(width_px=64, height_px=48, pixel_format=pixel_format) as source:
        frame = source.read()
        assert source.settings['PixelFormat'] == pixel_format
    assert source.encoding == 'bgr8' and frame.image.shape == (48, 64, 3)


def test_the_software_trigger_gives_one_frame_per_trigger(fake_camera):
    with genicam(trigger=True, trigger_line='Software', frame_timeout_s=0.5) as source:
        assert source.settings['TriggerMode'] == 'On' and source.settings['TriggerSource'] == 'Software'
        assert source.settings['TriggerActivation'] == 'RisingEdge'
        with pytest.raises(SourceError, match=r"no complete frame for 0.5 s .*check pulses on Software"):
            source.read()
        stamps = []
        for _ in range(3):
            source.software_trigger()
            stamps.append(source.read().device_stamp_ns)
        assert all(b > a for a, b in zip(stamps, stamps[1:]))


@pytest.mark.parametrize('kw, message', [
    (dict(gain_db=50.0), "genicam.gain_db = 50 is outside the camera's Gain range 0 to 10"),
    (dict(exposure_us=2e7, trigger=True), "genicam.exposure_us = 2e\\+07 is outside the camera's ExposureTime range"),
    (dict(trigger=True, trigger_line='Line7'), "genicam.trigger_line = 'Line7' cannot be set .*"
                                               r"the camera allows TriggerSource \['Line0', 'Software'\]"),
    (dict(trigger=True, trigger_edge='falling'), "genicam.trigger_edge = 'falling' \\(TriggerActivation FallingEdge\\)"
                                                 r" cannot be set .*allows TriggerActivation \['RisingEdge'\]"),
    (dict(pixel_format='BGR8'), "genicam.pixel_format = 'BGR8': the camera offers"),
    (dict(width_px=4000), 'camera.width_px x camera.height_px = 4000x240 is larger than the sensor, 2048x2048 px'),
    (dict(fps=5000.0, exposure_us=100.0), 'camera.frame_rate_hz = 5000 is outside the camera\'s AcquisitionFrameRate'),
])
def test_a_setting_the_camera_refuses_names_the_device_and_the_setting(fake_camera, kw, message):
    with pytest.raises(SourceError, match=f"GenICam camera '{ADDRESS}' \\(Aravis .*\\): {message}"):
        genicam(**kw).open()


def test_a_missing_camera_names_its_address_and_what_to_check(fake_camera):
    with pytest.raises(SourceError, match=f"GenICam camera '{ABSENT}' \\(genicam.device_id\\) does not answer as a "
                                          "GigE Vision camera .*check that it is powered and cabled"):
        genicam(device_id=ABSENT).open()
    with pytest.raises(SourceError, match="GenICam camera 'Vendor-Model-0000' \\(genicam.device_id\\) cannot be "
                                          "opened .*genicam.gige_discovery: true"):
        genicam(device_id='Vendor-Model-0000').open()


_camera_node = camera_node


def test_a_missing_camera_stops_the_camera_node_naming_the_device(fake_camera):
    with pytest.raises(StartupError, match=f"camera.source = 'genicam': GenICam camera '{ABSENT}' "
                                           r"\(genicam.device_id\) does not answer"):
        _camera_node('source:=genicam', f'genicam.device_id:={ABSENT}')


def test_the_camera_node_publishes_the_cameras_timestamps(fake_camera):
    from clopy_common.qos import FRAME_INFO, IMAGE, IMAGE_QOS, STREAM_QOS
    from clopy_interfaces.msg import FrameInfo
    from sensor_msgs.msg import Image
    node = _camera_node('source:=genicam', f'genicam.device_id:={ADDRESS}', 'width_px:=64', 'height_px:=48',
                        'frame_rate_hz:=30.0', 'genicam.exposure_us:=2000.0', 'genicam.gain_db:=1.0',
                        'max_frames:=6', 'wait_for_subscribers:=1')
    infos, images = [], []
    try:
        spin_listening(node, [(FrameInfo, FRAME_INFO, STREAM_QOS, infos), (Image, IMAGE, IMAGE_QOS, images)],
                       lambda: node.finished and len(infos) >= node.frames_published, 30.0)
        assert node.finished and node.frames_published == 6
        assert node.source.settings['ExposureTime'] == pytest.approx(2000.0)
        assert node.source.settings['Gain'] == pytest.approx(1.0)
    finally:
        node.close()
        node.destroy_node()
        rclpy.shutdown()
    device = [i.device_stamp_ns for i in infos]
    assert len(infos) == 6 and all(d > 0 for d in device) and all(b > a for a, b in zip(device, device[1:]))
    assert [i.frame_index for i in infos] == list(range(6))
    assert all((m.width, m.height, m.encoding) == (64, 48, 'mono8') for m in images)


def test_no_gige_vision_packet_left_through_a_real_interface(gvcp_watch, fake_camera):
    """Runs last in this module: the watch covered every test above."""
    if not gvcp_watch['procs']:
        pytest.skip('tcpdump not installed or no real network interface up')
    seen = _stop_watch(gvcp_watch)
    assert seen and all(lines == [] for lines in seen.values()), seen


# --- pixel conversion, no camera -----------------------------------------------------
def _mosaic(bgr: np.ndarray, pattern: str) -> np.ndarray:
    """The raw sensor image of a Bayer camera with ``pattern`` (e.g. 'RG': R G / G B)."""
    h, w, _ = bgr.shape
    raw = np.zeros((h, w), np.uint8)
    channel = {'B': 0, 'G': 1, 'R': 2}
    bottom = {'RG': 'GB', 'GR': 'BG', 'GB': 'RG', 'BG': 'GR'}[pattern]
    for row, colours in ((0, pattern), (1, bottom)):
        for col, colour in enumerate(colours):
            raw[row::2, col::2] = bgr[row::2, col::2, channel[colour]]
    return raw


@pytest.mark.parametrize('pattern', ['RG', 'GR', 'GB', 'BG'])
def test_bayer_patterns_demosaic_to_the_right_colours(pattern):
    bgr = np.zeros((16, 16, 3), np.uint8)
    bgr[:] = (10, 100, 200)   # B, G, R
    image = to_image(_mosaic(bgr, pattern).tobytes(), PIXEL_FORMAT_CODES[f'Bayer{pattern}8'], 16, 16)
    assert image.shape == (16, 16, 3)
    assert tuple(image[4:12, 4:12].reshape(-1, 3).mean(axis=0).round()) == (10, 100, 200)


def test_rgb_lines_with_padding_become_bgr():
    rgb = np.array([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], np.uint8)
    padded = np.concatenate([rgb.reshape(2, 6), np.full((2, 2), 99, np.uint8)], axis=1)
    image = to_image(padded.tobytes(), PIXEL_FORMAT_CODES['RGB8'], 2, 2, padding_x_bytes=2)
    assert image.tolist() == rgb[:, :, ::-1].tolist()
    with pytest.raises(ValueError, match='pixel format 0x01100005 is not one of'):
        to_image(b'\0' * 8, 0x01100005, 2, 2)
    with pytest.raises(ValueError, match='Mono8 4x4 px needs 16 bytes, the buffer has 8'):
        to_image(b'\0' * 8, PIXEL_FORMAT_CODES['Mono8'], 4, 4)


def test_lost_frames_come_from_gaps_in_the_frame_ids():
    assert frames_between(None, 17) == 0
    assert frames_between(17, 18) == 0 and frames_between(17, 20) == 2
    assert frames_between(65534, 1) == 1 and frames_between(65535, 1) == 0 and frames_between(65530, 3) == 7
    assert frames_between(2**40, 2**40 + 5) == 4 and frames_between(2**40, 7) == 0
