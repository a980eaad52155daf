"""Whole-graph CLNF tests: the real node processes (camera on the synthetic
cortex, roi_dff, task, tone with the WAV sink, reward on mock pins, recorder)
started by `clopy run`, checked from what was recorded."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from clopy_data.bag import read_bag, typestore_with_clopy
from clopy_data.session import read_event_log
from clopy_data.tables import read_frame_table

FPS = 15.0
FAST = ['task.v.initial_rest_s=7.0', 'task.v.success_rest_s=2.0', 'task.v.fail_rest_s=2.0',
        'task.v.adaptive_threshold=false']


def clopy_run(out: Path, *args: str, sets=(), timeout=240, env=None, wait=True):
    cmd = [sys.executable, '-m', 'clopy.cli', 'run', *args, '--out', str(out)]
    for s in sets:
        cmd += ['--set', s]
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def session_dir(out: Path) -> Path:
    dirs = list(out.glob('*/*/parameters.yaml'))
    assert len(dirs) == 1, dirs
    return dirs[0].parent


def bag_messages(d: Path, topic: str):
    return [m.msg for m in read_bag(d / 'bag', typestore_with_clopy(), topics=[topic])]


def stamp_s(obj) -> float:
    """Seconds of a header's stamp, or of a Time."""
    t = getattr(obj, 'stamp', obj)
    return t.sec + t.nanosec * 1e-9


def assert_openings_recorded(events, n: int | None = None) -> None:
    """Valve records: every pulse has its opening record (opened, off_time zero) before its
    closing record with the same on_time; ``n``: how many pulses."""
    valve = [m for m in events if m.output == 0 and m.delivered]
    opened = [m for m in valve if m.opened]
    closed = [m for m in valve if not m.opened]
    if n is not None:
        assert len(opened) == len(closed) == n
    assert [stamp_s(m.on_time) for m in opened] == [stamp_s(m.on_time) for m in closed]
    assert all(m.off_time.sec == m.off_time.nanosec == 0 for m in opened)
    for k, m in enumerate(closed):
        assert valve.index(opened[k]) < valve.index(m)
        assert m.rewards_delivered == opened[k].rewards_delivered == k + 1


def states(d: Path):
    """[(state, frame_index, time_s)] from the recorded task events."""
    return [(m.content, m.frame_index, m.time_s) for m in bag_messages(d, 'task_event') if m.type == 'state']


def no_process_left(d: Path, marker: bytes | None = None) -> list[str]:
    """Processes still running on session `d` (or whose command line has `marker`)."""
    marker = marker or str(d / 'parameters.yaml').encode()
    left = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                if marker in Path(f'/proc/{pid}/cmdline').read_bytes():
                    left.append(pid)
            except OSError:
                pass
    return left


def test_signal_held_above_threshold_rewards_every_trial_within_the_delay(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', '--trials', '4', env=ros_env,
                       sets=FAST + ['task.v.max_trial_s=5.0', 'camera.synthetic.activity=ramp'])
    assert result.returncode == 0, result.stdout + result.stderr
    d = session_dir(tmp_path)
    st = states(d)
    trial_starts = [f for s, f, _ in st if s == 'trial']
    assert len(trial_starts) == 4
    valves = [m for m in bag_messages(d, 'reward') if m.output == 0]
    assert len(valves) == 4
    delay_frames = round(1.0 * FPS)
    for start, cmd in zip(trial_starts, valves):
        assert 0 <= cmd.frame_index - start <= delay_frames + 1
    # what the hardware did: four valve pulses of the configured 0.3 s
    events = [m for m in bag_messages(d, 'reward_event') if m.output == 0 and not m.opened]
    assert [e.delivered for e in events] == [True] * 4
    for e in events:
        assert stamp_s(e.off_time) - stamp_s(e.on_time) == pytest.approx(0.3, abs=0.03)
    # each opening was recorded as it happened, before its closing record, with the same on_time
    assert_openings_recorded(bag_messages(d, 'reward_event'), 4)
    assert not [m for m in bag_messages(d, 'reward') if m.output == 1], 'no fail pulse in a rewarded session'
    # per-frame table in the original columns: reward 1 on the success frames
    table = read_frame_table(d / 'VideoTimestamp.txt')
    assert list(table.columns) == ['frame', 'time', 'M1_Ldff', 'freq', 'rew_threshold', 'reward', 'trial',
                                   'audio', 'lick']
    assert sorted(table.loc[table.reward == 1, 'frame']) == [c.frame_index for c in valves]
    assert (table.loc[table.reward == 1, 'M1_Ldff'] > 0.075).all()
    # licks: the simulated mouse licks a bout after each valve opening, read by the lick node
    # through the MPR121 driver on the simulated register map; recorded, task input, table column
    licks = bag_messages(d, 'lick')
    touches = [m for m in licks if m.touching]
    assert len(touches) >= 4 and all(m.simulated and m.sensor.startswith('mpr121 i2c-1 0x5a') for m in licks)
    openings = [stamp_s(e.on_time) for e in events]
    after_reward = [m for m in touches if any(0.1 <= stamp_s(m.header) - o <= 3.5 for o in openings)]
    assert len(after_reward) >= 4, 'bouts follow the valve openings'
    log = read_event_log(d / 'events.tsv')
    lick_events = log[(log.type == 'event') & (log.subtype == 'input') & (log.content == 'lick')]
    assert len(lick_events) >= 1
    assert table.lick.isin([0, 1]).all() and table.lick.sum() >= 1
    assert not no_process_left(d)


def test_flat_signal_gives_timeouts_fail_pulses_rests_and_the_commanded_tones(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', '--trials', '3', env=ros_env,
                       sets=FAST + ['task.v.max_trial_s=3.0', 'task.v.fail_pulse_s=0.5',
                                    'camera.synthetic.activity=flat'])
    assert result.returncode == 0, result.stdout + result.stderr
    d = session_dir(tmp_path)
    st = states(d)
    names = [s for s, _, _ in st]
    assert names == ['initial_rest', 'trial', 'fail_rest', 'trial', 'fail_rest', 'trial', 'fail_rest', 'done']
    times = {i: t for i, (_, _, t) in enumerate(st)}
    for i, name in enumerate(names[:-1]):
        length = times[i + 1] - times[i]
        expected = {'initial_rest': 7.0, 'trial': 3.0, 'fail_rest': 2.0}[name]
        assert length == pytest.approx(expected, abs=1.5 / FPS), (name, length)
    assert not [m for m in bag_messages(d, 'reward') if m.output == 0], 'a flat signal never opens the valve'
    fails = [m for m in bag_messages(d, 'reward_event') if m.output == 1]
    assert len(fails) == 3 and all(f.delivered for f in fails)
    for f in fails:
        assert stamp_s(f.off_time) - stamp_s(f.on_time) == pytest.approx(0.5, abs=0.03)
    table = read_frame_table(d / 'VideoTimestamp.txt')
    assert (table.reward == -1).sum() == 3 and (table.reward == 1).sum() == 0

    # the WAV sink holds what was commanded: dF/F 0 -> 1189 Hz in trials, silence in rests
    commands = bag_messages(d, 'tone')
    t0 = stamp_s(commands[0].header)
    with wave.open(str(d / 'tones.wav')) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float)
    trial_frames = [(f, nxt) for (s, f, _), (_, nxt, _) in zip(st, st[1:]) if s == 'trial']
    stamp_of = {m.frame_index: stamp_s(m.header) for m in bag_messages(d, 'frame_info')}
    assert {c.frequency_hz for c in commands} == {0.0, 1189.0}
    for start, end in trial_frames:
        a, b = int((stamp_of[start] - t0 + 0.1) * rate), int((stamp_of[end] - t0 - 0.1) * rate)
        segment = audio[a:b]
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
        peak_hz = np.fft.rfftfreq(len(segment), 1 / rate)[spectrum.argmax()]
        assert peak_hz == pytest.approx(1189, abs=5)
        rest = audio[int((stamp_of[end] - t0 + 0.1) * rate):int((stamp_of[end] - t0 + 1.5) * rate)]
        assert np.abs(rest).max() == 0


def test_two_roi_rule_drives_the_control_signal(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_2roi', '--sim', '--trials', '2', env=ros_env,
                       sets=FAST + ['task.v.max_trial_s=3.0', 'camera.synthetic.activity=ramp',
                                    'camera.synthetic.target_regions=[BC_L]'])
    assert result.returncode == 0, result.stdout + result.stderr
    d = session_dir(tmp_path)
    rois = [m for m in bag_messages(d, 'roi_signal') if m.valid]
    assert rois and list(rois[0].roi_names) == ['BC_L', 'BC_R']
    for m in rois:
        assert m.rule_value == pytest.approx(m.dff[0] - m.dff[1])
    table = read_frame_table(d / 'VideoTimestamp.txt')
    assert list(table.columns[2:5]) == ['BC_Ldff', 'BC_Rdff', 'BC_L-BC_Rdff']
    assert (table.reward == 1).sum() == 2  # BC_L ramps, BC_R flat: rule above 0.1


@pytest.mark.parametrize('stop_signal', [signal.SIGINT, signal.SIGTERM])
def test_stopping_mid_session_leaves_a_closed_bag_and_event_log(tmp_path, ros_env, stop_signal):
    proc = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, wait=False,
                     sets=['task.v.initial_rest_s=2.0', 'camera.synthetic.activity=ramp',
                           'task.v.valve_pulse_s=0.9', 'reward.valve_pulse_s=0.9'])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob('*/*/events.tsv')):
        time.sleep(0.2)
    time.sleep(12)  # well into the session: trials and valve pulses running
    os.killpg(proc.pid, stop_signal)
    out, _ = proc.communicate(timeout=60)
    d = session_dir(tmp_path)
    assert (d / 'bag' / 'metadata.yaml').exists(), out
    assert bag_messages(d, 'control_signal')
    log = read_event_log(d / 'events.tsv')
    assert 'end_time' in set(log.loc[log.type == 'info', 'subtype'])
    assert 'run_end' in set(log.loc[log.type == 'variable', 'subtype'])
    # every valve opening was closed again
    for e in (m for m in bag_messages(d, 'reward_event') if m.output == 0 and m.delivered and not m.opened):
        assert stamp_s(e.off_time) > stamp_s(e.on_time)
    assert_openings_recorded(bag_messages(d, 'reward_event'))
    # the stop's tone-off is marked as caused by no frame; every other command names the camera
    tones = bag_messages(d, 'tone')
    marked = [i for i, m in enumerate(tones) if m.header.frame_id == 'session_end']
    assert all(m.header.frame_id == 'camera' for i, m in enumerate(tones) if i not in marked)
    assert tones[-1].frequency_hz == 0.0, 'silent after the stop'
    # a tone still playing at the stop is turned off by a marked command, the last one
    playing = tones[-1].frequency_hz if not marked else tones[-2].frequency_hz
    assert marked == ([len(tones) - 1] if playing > 0 else []), [(m.header.frame_id, m.frequency_hz)
                                                                 for m in tones[-3:]]
    last_frame = max(bag_messages(d, 'frame_info'), key=lambda m: m.frame_index)
    assert stamp_s(tones[-1].header) <= stamp_s(last_frame.header)
    assert not no_process_left(d)


def test_stopping_publishes_no_frame_before_its_slot(tmp_path, ros_env):
    """At 2 fps a stop lands inside the camera's wait for the next slot: the camera
    ends there, with no extra frame published early (every interval is ~0.5 s). The
    stop comes during a trial (flat activity: no success), so the tone is playing and
    the task's stop turns it off with a command marked as caused by no frame."""
    fps = 2.0
    proc = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, wait=False,
                     sets=[f'camera.frame_rate_hz={fps}', f'roi_dff.frame_rate_hz={fps}',
                           f'task.frame_rate_hz={fps}', 'task.v.initial_rest_s=1.0',
                           'camera.synthetic.activity=flat'])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(tmp_path.glob('*/*/events.tsv')):
        time.sleep(0.2)
    time.sleep(8.3)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    stamps = sorted(stamp_s(m.header) for m in bag_messages(session_dir(tmp_path), 'frame_info'))
    assert len(stamps) >= 4, out
    intervals = [b - a for a, b in zip(stamps, stamps[1:])]
    assert min(intervals) > 0.8 / fps, intervals
    tones = bag_messages(session_dir(tmp_path), 'tone')
    assert [m.header.frame_id for m in tones[-2:]] == ['camera', 'session_end'], out
    assert tones[-2].frequency_hz > 0 and tones[-1].frequency_hz == 0.0
    assert stamp_s(tones[-1].header) == pytest.approx(stamps[-1], abs=1e-6), 'the last frame\'s stamp'


def test_a_node_crash_ends_the_session_cleanly(tmp_path, ros_env):
    proc = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, wait=False,
                     sets=['task.v.initial_rest_s=2.0'])
    deadline = time.monotonic() + 60
    victim = None
    while time.monotonic() < deadline and victim is None:
        time.sleep(0.5)
        dirs = list(tmp_path.glob('*/*/parameters.yaml'))
        if dirs and (dirs[0].parent / 'logs' / 'camera.log').exists():
            time.sleep(3)
            for pid in no_process_left(dirs[0].parent):
                if b'__node:=roi_dff' in Path(f'/proc/{pid}/cmdline').read_bytes():
                    victim = int(pid)
    assert victim, 'roi_dff never started'
    os.kill(victim, signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert 'roi_dff stopped unexpectedly' in out
    d = session_dir(tmp_path)
    assert (d / 'bag' / 'metadata.yaml').exists()
    assert not no_process_left(d)


@pytest.mark.parametrize('sets, args, message', [
    (['roi_dff.rois=[box=250,250,20,20]'], ['clnf_1roi', '--sim'], 'box'),
    (['roi_dff.rule=BC_L-XX_R'], ['clnf_2roi', '--sim'], 'XX_R'),
    (['task.v.fail_rest_s=-1.0'], ['clnf_1roi', '--sim'], 'task.v.fail_rest_s = -1.0'),
    (['camera.source=hdf5', 'camera.path=/nonexistent/image_stream.hdf5'], ['clnf_1roi'], '/nonexistent/image_stream.hdf5'),
    ([], ['clnf_3roi', '--sim'], "unknown paradigm 'clnf_3roi'"),
    # every value against the node's schema, before any process or session folder
    (['task.v.treshold=1'], ['clnf_1roi', '--sim'], '--set: task.v.treshold = 1: unknown parameter; task has: '),
    (['camera.width_px=abc'], ['clnf_1roi', '--sim'],
     "--set: camera.width_px = 'abc': allowed: a whole number >= 1 px and <= 8192 px"),
    (['task.v.threshold=nan'], ['clnf_1roi', '--sim'], '--set: task.v.threshold = nan: allowed: a finite number > 0'),
    (['task.v.threshold=-1'], ['clnf_1roi', '--sim'], '--set: task.v.threshold = -1.0: allowed: a finite number > 0'),
    (['camera.width_px=1000000'], ['clnf_1roi', '--sim'],
     '--set: camera.width_px = 1000000: allowed: a whole number >= 1 px and <= 8192 px'),
    (['pose.synthetic_behaviour.fps=0'], ['clmf', '--sim'],
     '--set: pose.synthetic_behaviour.fps = 0: allowed: a finite number > 0 Hz and <= 1000 Hz'),
])
def test_invalid_configuration_stops_before_anything_runs(tmp_path, ros_env, sets, args, message):
    result = clopy_run(tmp_path, *args, sets=sets, env=ros_env, timeout=60)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not list(tmp_path.glob('*/*/bag')), 'no session was started'
    assert not list(tmp_path.rglob('parameters.yaml')), 'no session folder was made'
    assert not no_process_left(tmp_path, str(tmp_path).encode()), 'no node process was started'


def test_camera_that_cannot_open_stops_the_session_without_a_valve(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=120,
                       sets=['camera.source=opencv', 'camera.device=/dev/clopy-no-such-camera'])
    assert result.returncode != 0
    assert 'camera could not start' in result.stdout + result.stderr
    assert '/dev/clopy-no-such-camera' in result.stdout + result.stderr
    d = session_dir(tmp_path)
    assert not [m for m in bag_messages(d, 'reward_event') if m.output == 0]
    assert not no_process_left(d)


@pytest.mark.parametrize('sets,names', [
    (['lick.simulate=false', 'lick.i2c_bus=250'], ['lick sensor (mpr121)', 'i2c-250 0x5a']),
    (['lick.simulate=false', 'lick.backend=gpio', 'lick.gpio_pin=6'], ['lick sensor (gpio)', 'BCM pin 6']),
])
def test_a_session_whose_lick_sensor_is_missing_stops_naming_it(tmp_path, ros_env, sets, names):
    """Never a silent simulation: the rest of the graph simulated, the lick sensor real."""
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=120, sets=sets)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert 'lick stopped during start-up' in out and all(n in out for n in names), out
    assert not no_process_left(session_dir(tmp_path))


def test_task_variable_changed_during_the_run_is_applied_and_logged(tmp_path, ros_env):
    import rclpy
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    proc = clopy_run(tmp_path, 'clnf_1roi', '--sim', '--domain-id', ros_env['ROS_DOMAIN_ID'], env=ros_env,
                     wait=False, sets=['task.v.initial_rest_s=3.0'])
    rclpy.init()
    node = rclpy.create_node('test_param_client')
    try:
        client = node.create_client(SetParameters, '/task/set_parameters')
        assert client.wait_for_service(timeout_sec=60)
        deadline = time.monotonic() + 60
        result = None
        while time.monotonic() < deadline:
            request = SetParameters.Request(parameters=[Parameter(
                name='v.threshold', value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.09))])
            future = client.call_async(request)
            rclpy.spin_until_future_complete(node, future, timeout_sec=10)
            result = future.result().results[0]
            if result.successful:
                break
            assert 'has not started' in result.reason  # before the first frame
            time.sleep(0.5)
        assert result is not None and result.successful, result
        bad = SetParameters.Request(parameters=[Parameter(
            name='v.threshold', value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value='high'))])
        future = client.call_async(bad)
        rclpy.spin_until_future_complete(node, future, timeout_sec=10)
        assert not future.result().results[0].successful
        # the task file's limits hold during the run too (ros2 param set /task v.threshold -1)
        below = SetParameters.Request(parameters=[Parameter(
            name='v.threshold', value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=-1.0))])
        future = client.call_async(below)
        rclpy.spin_until_future_complete(node, future, timeout_sec=10)
        refused = future.result().results[0]
        assert not refused.successful and 'v.threshold' in refused.reason and '-1.0' in refused.reason
    finally:
        node.destroy_node()
        rclpy.shutdown()
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    log = read_event_log(session_dir(tmp_path) / 'events.tsv')
    changes = log[(log.type == 'variable') & (log.subtype == 'api')]
    assert list(changes.content) == ['{"threshold": 0.09}']
    run_end = log[(log.type == 'variable') & (log.subtype == 'run_end')].content.iloc[0]
    assert '"threshold": 0.09' in run_end


def test_a_misspelt_parameter_stops_the_session_naming_it(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', env=ros_env, timeout=120,
                       sets=['reward.valve_pulse=0.1', 'camera.frame_rate_hz=15'])  # 15: a whole number is fine
    # refused by the pre-flight check now, before any node or session folder (it was the
    # reward node's own refusal after the session had started)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith('clopy: --set: reward.valve_pulse = 0.1: unknown parameter; reward has: ')
    assert 'valve_pulse_s' in errors[0] and errors[0].endswith('did you mean valve_pulse_s?')
    assert not list(tmp_path.rglob('parameters.yaml')), 'no session folder was made'
    assert not no_process_left(tmp_path, str(tmp_path).encode())


def test_the_simulated_mouse_learns_from_its_rewards(tmp_path, ros_env):
    """Stretch of the CLNF issue: every delivered reward raises the synthetic cortex's
    target-region activity (scripts/simulate_days.py chains days on it)."""
    result = clopy_run(tmp_path, 'clnf_1roi', '--sim', '--trials', '3', env=ros_env,
                       sets=FAST + ['task.v.max_trial_s=5.0', 'camera.synthetic.target_rate_hz=1.0',
                                    'camera.synthetic.learning_per_reward=0.5'])
    assert result.returncode == 0, result.stdout + result.stderr
    d = session_dir(tmp_path)
    delivered = [m for m in bag_messages(d, 'reward_event') if m.output == 0 and m.delivered and m.opened]
    assert delivered, 'this seed rewards at least one trial'
    log = (d / 'logs' / 'camera.log').read_text()
    levels = [float(line.rsplit('activity level ', 1)[1]) for line in log.splitlines() if 'simulated mouse:' in line]
    assert levels == pytest.approx([1.0 + 0.5 * k for k in range(1, len(delivered) + 1)])
    assert f'final activity level {1.0 + 0.5 * len(delivered):.3f}' in log


def test_the_readme_demo_runs_and_ends_with_its_session_folder(tmp_path, ros_env):
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'demo', '--trials', '1', '--out', str(tmp_path)],
                            env=ros_env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    d = session_dir(tmp_path)
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == f'session folder: {d}'
    assert any(line.startswith('clnf_1roi graded: 1 trials') for line in lines)
    for name in ('bag/metadata.yaml', 'events.tsv', 'VideoTimestamp.txt', 'parameters.yaml', 'clnf.py',
                 'tones.wav', 'summary.png'):
        assert (d / name).is_file(), name
    assert (tmp_path / 'sessions_summary.csv').read_text().count('\n') == 2
