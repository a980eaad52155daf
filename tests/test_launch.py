"""The rig path, for real: `ros2 launch clopy <paradigm>.launch.py sim:=true` with the
upstream launch, launch_ros and ros2 CLI (../shared/ros2-cli installed by the set-up,
or a system ROS), started from outside the repository and from its root, stopped
with SIGINT like a person at the rig would, and the session folder checked against
what `clopy run` writes. While it runs: `ros2 topic hz` sees the camera rate,
`ros2 param set /task v.threshold` is applied and logged, an out-of-range value is
refused by the node, and `ros2 param describe` shows the range.

Skipped, with the reason, where no `ros2 launch` exists."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clopy_data.bag import read_bag, typestore_with_clopy
from clopy_data.session import read_event_log
from clopy_data.tables import read_frame_table
from test_clnf_graph import clopy_run, no_process_left, session_dir

REPO = Path(__file__).resolve().parents[1]
SHORT = ['task.v.initial_rest_s=1.0', 'task.v.success_rest_s=1.0', 'task.v.fail_rest_s=1.0',
         'task.v.max_trial_s=3.0']


def _launch_available() -> str:
    """'' when `ros2 launch` runs here, else why not."""
    if shutil.which('ros2') is None:
        return 'no ros2 command (no ../shared/ros2-cli beside the checkout and no system ROS)'
    probe = subprocess.run(['ros2', 'launch', '--help'], capture_output=True, text=True)
    if probe.returncode != 0:
        return f'`ros2 launch` is not available: {(probe.stderr or probe.stdout).strip()[:200]}'
    return ''


WHY_NOT = _launch_available()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)


@pytest.fixture
def ros2_daemon_stopped(ros_env):
    """Stop any ros2 daemon the test's CLI calls started (in the test's domain)."""
    yield
    subprocess.run(['ros2', 'daemon', 'stop'], env=ros_env, capture_output=True, timeout=30)


def launch(paradigm: str, out: Path, cwd: Path, env: dict, log: Path, *more: str) -> subprocess.Popen:
    args = ['ros2', 'launch', 'clopy', f'{paradigm}.launch.py', 'sim:=true', 'mouse:=L1', f'out_dir:={out}',
            'trials:=20', 'set:=' + ' '.join(SHORT), *more]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=log.open('w'), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(what: str, check, proc: subprocess.Popen, log: Path, timeout_s: float = 90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert proc.poll() is None, f'ros2 launch ended (exit {proc.returncode}) before {what}:\n{log.read_text()}'
        time.sleep(0.3)
    raise AssertionError(f'no {what} within {timeout_s} s:\n{log.read_text()[-3000:]}')


def topic_rate_hz(topic: str, env: dict, seconds: float = 6.0) -> float:
    hz = subprocess.Popen(['ros2', 'topic', 'hz', topic, '--window', '40'], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    time.sleep(seconds)
    os.killpg(hz.pid, signal.SIGINT)
    out, _ = hz.communicate(timeout=20)
    rates = [float(r) for r in re.findall(r'average rate: ([0-9.]+)', out)]
    assert rates, out
    return rates[-1]


def set_threshold(value: float, env: dict) -> str:
    """`ros2 param set /task v.threshold VALUE`, retried while the task has not started."""
    deadline = time.monotonic() + 60
    while True:
        r = subprocess.run(['ros2', 'param', 'set', '/task', 'v.threshold', str(value)], env=env,
                           capture_output=True, text=True, timeout=60)
        if 'Set parameter successful' in r.stdout or time.monotonic() > deadline:
            return r.stdout + r.stderr
        time.sleep(0.5)


def folder_contents(d: Path) -> set[str]:
    """What a session folder holds, by kind (node log file names differ by starter)."""
    names = set()
    for p in d.iterdir():
        if p.name == 'logs':
            assert any(p.iterdir()), 'logs/ is empty'
            names.add('logs/')
        elif p.is_dir():
            names.add(p.name + '/')
        else:
            names.add(p.name)
    return names


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory):
    """A `clopy run clnf_1roi --sim` session folder, for what a launched one must match."""
    from clopy.rosenv import DomainLease, loopback_env
    out = tmp_path_factory.mktemp('reference')
    with DomainLease() as lease:
        result = clopy_run(out, 'clnf_1roi', '--sim', '--trials', '1', env=loopback_env(lease.domain_id),
                           sets=SHORT)
    assert result.returncode == 0, result.stdout + result.stderr
    return session_dir(out)


CASES = [  # (paradigm, started from, camera rate, composed:=true)
    ('clnf_1roi', 'elsewhere', 15.0, False),
    ('clnf_2roi', 'repository root', 15.0, True),
    ('clmf', 'elsewhere', 30.0, True),
]


@pytest.mark.parametrize('paradigm,where,fps,composed', CASES,
                         ids=[f'{p}-from-{w.split()[-1]}{"-composed" if c else ""}' for p, w, _, c in CASES])
def test_ros2_launch_sim_session_is_complete(paradigm, where, fps, composed, tmp_path, ros_env, ros2_daemon_stopped,
                                             reference_run):
    out = tmp_path / 'sessions'
    cwd = REPO if where == 'repository root' else tmp_path
    log = tmp_path / 'launch.log'
    proc = launch(paradigm, out, cwd, ros_env, log, *(['composed:=true'] if composed else []))
    try:
        d = wait_for('session folder', lambda: next(iter(out.glob('*/*/parameters.yaml')), None), proc, log).parent
        wait_for('first frame', lambda: 'session started' in log.read_text(), proc, log)
        rate = topic_rate_hz('/control_signal', ros_env)
        assert rate == pytest.approx(fps, rel=0.15), f'control_signal at {rate} Hz, camera at {fps} fps'
        answer = set_threshold(0.05 if paradigm.startswith('clnf') else 15.0, ros_env)
        assert 'Set parameter successful' in answer, answer
        # out of range: refused by the node (the parameter's descriptor range, the task's limits)
        bad = subprocess.run(['ros2', 'param', 'set', '/task', 'v.threshold', '-1.0'], env=ros_env,
                             capture_output=True, text=True, timeout=60)
        assert 'Set parameter successful' not in bad.stdout, bad.stdout
        assert 'failed' in (bad.stdout + bad.stderr).lower(), bad.stdout + bad.stderr
        described = subprocess.run(['ros2', 'param', 'describe', '/task', 'v.threshold'], env=ros_env,
                                   capture_output=True, text=True, timeout=60).stdout
        assert 'Min value: 0.0' in described or 'from_value' in described or 'Range' in described, described
        time.sleep(1.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    # composed:=true: one process for camera, signal, task, tone and reward, each under its own name
    hot_path = ['reward', 'tone', 'task'] + (['speed', 'pose'] if paradigm == 'clmf' else ['roi_dff']) + ['camera']
    assert ('[hotpath_node-' in text) == composed, text[:3000]
    assert (f'[{"+".join(hot_path)}] executor: EventsExecutor' in text) == composed, text[:3000]
    # the same files as `clopy run` writes (the archived task file is the paradigm's)
    ref = folder_contents(reference_run) - {'clnf.py'}
    got = folder_contents(d) - {'clnf.py', 'clmf.py'}
    assert got == ref, (got, ref)
    assert (d / ('clmf.py' if paradigm == 'clmf' else 'clnf.py')).is_file()
    assert (d / 'bag' / 'metadata.yaml').is_file()
    assert not (cwd / 'tones.wav').exists(), 'tones.wav belongs in the session folder'
    summary = (out / 'sessions_summary.csv').read_text().splitlines()
    assert len(summary) == 2 and d.name in summary[1]
    # the table: one row per recorded frame, the columns clopy run writes for this paradigm
    table = read_frame_table(d / 'VideoTimestamp.txt')
    frames = [m for m in read_bag(d / 'bag', typestore_with_clopy(), topics=['frame_info'])]
    indices = {m.msg.frame_index for m in frames}
    assert set(table.frame) <= indices and len(frames) > 0
    # images are best effort (a loaded machine may lose one; roi_dff logs it) and the pose
    # node skips frames while its model is busy (NewestFrame)
    assert len(table) >= (0.95 if paradigm == 'clmf' else 0.98) * len(frames), (len(table), len(frames))
    if paradigm != 'clmf':  # stopped all at once by ros2 launch, the graph still processes the last frame
        assert table.frame.max() == max(indices), (table.frame.max(), max(indices))
    if paradigm == 'clnf_1roi':
        assert list(table.columns) == list(read_frame_table(reference_run / 'VideoTimestamp.txt').columns)
    # the threshold change was applied and logged; the run ended in the log
    events = read_event_log(d / 'events.tsv')
    changes = events[(events.type == 'variable') & (events.subtype == 'api')]
    assert any('"threshold"' in c for c in changes.content), changes
    assert 'run_end' in set(events.loc[events.type == 'variable', 'subtype'])
    # the valve: every opening closed again
    valve = [m.msg for m in read_bag(d / 'bag', typestore_with_clopy(), topics=['reward_event'])
             if m.msg.output == 0]
    def t(stamp):
        return stamp.sec + stamp.nanosec * 1e-9
    closed = [e for e in valve if not e.opened]
    assert all(t(e.off_time) >= t(e.on_time) > 0 for e in closed), valve
    assert sorted(t(e.on_time) for e in valve if e.opened) == sorted(t(e.on_time) for e in closed if e.delivered)
    # the sim backends ran, never the real ones
    params = (d / 'parameters.yaml').read_text()
    assert 'backend: wav' in params and 'simulate: true' in params
    assert not no_process_left(d)


def test_ros2_cli_sees_every_package_and_interface(ros_env, ros2_daemon_stopped):
    """`ros2 interface show` and `ros2 pkg list` in the project's environment (scripts/env.sh
    puts the PyPI ROS prefix on AMENT_PREFIX_PATH)."""
    shown = subprocess.run(['ros2', 'interface', 'show', 'clopy_interfaces/msg/ControlSignal'], env=ros_env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert 'std_msgs/Header header' in shown.stdout and 'builtin_interfaces/Time stamp' in shown.stdout
    listed = subprocess.run(['ros2', 'pkg', 'list'], env=ros_env, capture_output=True, text=True, timeout=60)
    packages = set(listed.stdout.split())
    ours = {p.parent.name for p in (REPO / 'src').glob('*/package.xml')}
    assert ours <= packages, ours - packages
    assert {'rclpy', 'std_msgs', 'sensor_msgs', 'launch_ros'} <= packages
