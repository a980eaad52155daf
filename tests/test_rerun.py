"""Re-run and replay from recordings: `clopy run --from` reproduces a session's
per-frame outputs exactly; `clopy replay` republishes what was recorded."""
from __future__ import annotations

import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from clopy_data.session import read_event_log
from clopy_data.tables import read_frame_table
from test_clnf_graph import bag_messages, clopy_run, session_dir

COLUMNS = ['time', 'M1_Ldff', 'freq', 'rew_threshold', 'reward', 'trial', 'audio']


@pytest.fixture(scope='module')
def recorded(tmp_path_factory):
    """A short simulated session with spontaneous activity and the adaptive threshold."""
    from clopy.rosenv import DomainLease, loopback_env
    out = tmp_path_factory.mktemp('recorded')
    with DomainLease() as lease:
        result = clopy_run(out, 'clnf_1roi', '--sim', '--trials', '3', env=loopback_env(lease.domain_id),
                           sets=['task.v.initial_rest_s=7.0', 'task.v.max_trial_s=4.0', 'task.v.success_rest_s=2.0',
                                 'task.v.fail_rest_s=2.0', 'task.v.adapt_window_s=5.0',
                                 'camera.synthetic.target_rate_hz=1.0'])
    assert result.returncode == 0, result.stdout + result.stderr
    return session_dir(out)


def same(a, b) -> bool:
    return bool(((a == b) | (a.isna() & b.isna())).all())


def test_rerun_of_a_session_reproduces_its_per_frame_outputs_exactly(recorded, tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--from', str(recorded), env=ros_env)
    assert result.returncode == 0, result.stdout + result.stderr
    rerun = session_dir(tmp_path)
    a = read_frame_table(recorded / 'VideoTimestamp.txt')
    b = read_frame_table(rerun / 'VideoTimestamp.txt')
    missing = sorted(set(a.frame) ^ set(b.frame))
    assert not missing, f'frames in only one of the two tables: {missing[:20]} ({len(missing)})'
    for column in COLUMNS:
        assert same(a[column], b[column]), column
    assert (a.reward != 0).any(), 'the recorded session had trial outcomes to reproduce'
    info = read_event_log(rerun / 'events.tsv')
    assert str(recorded) in set(info.loc[info.subtype == 'rerun_of', 'content'])
    summary = (tmp_path / 'sessions_summary.csv').read_text().splitlines()[-1]
    assert str(recorded) in summary
    # a re-run never opens a real valve and keeps no second copy of the frames
    assert not bag_messages(rerun, 'image_raw')
    params = (rerun / 'parameters.yaml').read_text()
    assert 'simulate: true' in params and 'record_images: false' in params and 'pace: lockstep' in params


def test_rerun_with_another_threshold_changes_the_outcome(recorded, tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--from', str(recorded), env=ros_env,
                       sets=['task.v.threshold=5.0', 'task.v.adaptive_threshold=false'])
    assert result.returncode == 0, result.stdout + result.stderr
    b = read_frame_table(session_dir(tmp_path) / 'VideoTimestamp.txt')
    a = read_frame_table(recorded / 'VideoTimestamp.txt')
    assert same(a['M1_Ldff'], b['M1_Ldff']), 'the signal does not depend on the threshold'
    assert (b.reward == 1).sum() == 0 and (b.reward == -1).sum() >= 1


def test_rerun_from_an_original_clopy_hdf5(tmp_path, ros_env):
    from clopy_acquisition.synthetic import SyntheticCortexSource
    frames = 150
    source = SyntheticCortexSource(seed=3, activity='ramp', target_regions=['M1_L'])
    path = tmp_path / 'image_stream.hdf5'
    with h5py.File(path, 'w') as f:
        f.create_dataset('raw_images', data=np.stack([source.frame_at(i) for i in range(frames)]))
    result = clopy_run(tmp_path / 'out', 'clnf_1roi', '--from', str(path), env=ros_env,
                       sets=['task.v.initial_rest_s=7.0', 'task.v.max_trial_s=2.0'])
    assert result.returncode == 0, result.stdout + result.stderr
    table = read_frame_table(session_dir(tmp_path / 'out') / 'VideoTimestamp.txt')
    assert list(table.frame) == list(range(frames)), 'every frame of the file, none dropped'
    assert table.time.iloc[-1] == pytest.approx((frames - 1) / 15.0)
    assert (table.reward == 1).sum() >= 1   # the ramped ROI crosses 0.075 after the 7 s rest


def test_replay_republishes_the_recording(recorded, ros_env):
    code = (
        'import time, rclpy\n'
        'from clopy_interfaces.msg import ControlSignal\n'
        'from clopy_common import qos\n'
        'rclpy.init(); n = rclpy.create_node("listener"); got = []\n'
        'n.create_subscription(ControlSignal, "control_signal", got.append, qos.STREAM_QOS)\n'
        'end = time.monotonic() + 40\n'
        'while time.monotonic() < end and (not got or got[-1].frame_index < LAST):\n'
        '    rclpy.spin_once(n, timeout_sec=0.1)\n'
        'print(len(got), got[0].frame_index, got[-1].frame_index, got[-1].value)\n')
    recorded_signal = bag_messages(recorded, 'control_signal')
    code = code.replace('LAST', str(recorded_signal[-1].frame_index))
    listener = subprocess.Popen([sys.executable, '-c', code], env=ros_env, stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'replay', str(recorded), '--rate', '10',
                             '--topics', 'control_signal', '--wait-for-subscribers', '1',
                             '--domain-id', ros_env['ROS_DOMAIN_ID']],
                            env=ros_env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    out, _ = listener.communicate(timeout=60)
    n, first, last, value = out.split()
    assert int(n) == len(recorded_signal)
    assert (int(first), int(last)) == (recorded_signal[0].frame_index, recorded_signal[-1].frame_index)
    assert float(value) == recorded_signal[-1].value
    duration_s = (recorded_signal[-1].header.stamp.sec - recorded_signal[0].header.stamp.sec)
    assert elapsed < duration_s / 2, 'at --rate 10 the replay is much faster than the session'


def test_every_recorded_topic_decodes_with_an_independent_reader(recorded):
    """mcap + mcap-ros2-support (not rosbags) read the session's bag, every topic."""
    from mcap_ros2.reader import read_ros2_messages
    counts: dict[str, int] = {}
    first: dict[str, object] = {}
    for m in read_ros2_messages(str(next((recorded / 'bag').glob('*.mcap')))):
        counts[m.channel.topic] = counts.get(m.channel.topic, 0) + 1
        first.setdefault(m.channel.topic, m.ros_msg)
    expected = {'image_raw', 'frame_info', 'roi_signal', 'control_signal', 'tone', 'tone_event', 'reward',
                'reward_event', 'task_event', 'session_status'}
    assert expected <= set(counts), sorted(expected - set(counts))
    ours = {t: len(bag_messages(recorded, t)) for t in expected}
    assert {t: counts[t] for t in expected} == ours
    image = first['image_raw']
    assert (image.width, image.height, image.encoding) == (256, 256, 'bgr8') and len(image.data) == 256 * 256 * 3
    assert first['frame_info'].frame_index == 0


def test_event_tsv_reads_back_into_the_recorded_task_stream(recorded):
    log = read_event_log(recorded / 'events.tsv')
    rows = log[log.type.isin(['state', 'event', 'variable', 'print'])]
    recorded_stream = [m for m in bag_messages(recorded, 'task_event')
                       if m.type in ('state', 'event', 'variable', 'print')]
    assert len(rows) == len(recorded_stream)
    for (_, row), msg in zip(rows.iterrows(), recorded_stream):
        assert (row.type, row.subtype if isinstance(row.subtype, str) else '', row.content) == \
            (msg.type, msg.subtype, msg.content)
        assert row.time == pytest.approx(msg.time_s, abs=1e-6)
    assert list(log.time) == sorted(log.time), 'time never goes back in the file'
    assert list(log.subtype).count('task_file') == 1


def test_a_recorder_killed_with_sigkill_leaves_a_recoverable_bag(tmp_path, ros_env):
    import os
    import signal as sig

    from clopy_data.bag import salvage_bag, topic_counts
    from test_clnf_graph import no_process_left
    proc = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, wait=False, sets=['task.v.initial_rest_s=2.0'])
    deadline = time.monotonic() + 60
    recorder = None
    while time.monotonic() < deadline and recorder is None:
        time.sleep(0.5)
        dirs = list(tmp_path.glob('*/*/parameters.yaml'))
        if dirs and (dirs[0].parent / 'logs' / 'camera.log').exists():
            time.sleep(8)  # several seconds of frames: chunks are cut at least once a second
            for pid in no_process_left(dirs[0].parent):
                if b'__node:=recorder' in open(f'/proc/{pid}/cmdline', 'rb').read():
                    recorder = int(pid)
    assert recorder, 'recorder never started'
    os.kill(recorder, sig.SIGKILL)
    proc.communicate(timeout=60)
    d = session_dir(tmp_path)
    assert not (d / 'bag' / 'metadata.yaml').exists(), 'a SIGKILLed recorder cannot finish its bag'
    counts = salvage_bag(d / 'bag', tmp_path / 'recovered')
    # at least the seconds before the last chunk cut are back (a loaded machine starts late)
    assert counts.get('image_raw', 0) >= 15 * 2 and counts.get('control_signal', 0) >= 15 * 2
    assert topic_counts(tmp_path / 'recovered') == counts
    recovered = [m.msg for m in __import__('clopy_data.bag', fromlist=['read_bag']).read_bag(
        tmp_path / 'recovered', topics=['control_signal'])]
    assert [m.frame_index for m in recovered] == sorted(m.frame_index for m in recovered)
