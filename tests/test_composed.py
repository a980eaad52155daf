"""Whole-graph tests of `clopy run --composed`: camera, signal, task, tone and reward in
one process (clopy.hotpath_node) on one executor, the recorder and the lick node in
their own. Behaviour only (the latency figures are scripts/bench_clnf.py's): the same
records as separate processes, the stop order kept inside the process, and
`--rt-priority` either granted to the hot path alone or refused in its log."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from clopy_data.tables import read_frame_table
from test_clnf_graph import (FAST, assert_openings_recorded, bag_messages, clopy_run, no_process_left, session_dir,
                             states, stamp_s)

HOT_PATH_NODES = ('reward', 'tone', 'task', 'roi_dff', 'camera')


def thread_policies(pid: int) -> set[int]:
    """The scheduling policy of every thread of process `pid` (/proc/<pid>/task/*/stat, field 41)."""
    policies = set()
    for task in Path(f'/proc/{pid}/task').iterdir():
        try:
            fields = (task / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        policies.add(int(fields[38]))   # field 41 of stat; the first two fields are before ')'
    return policies


def session_processes(out: Path, timeout_s: float = 90) -> dict[str, int]:
    """{'hotpath': pid, 'recorder': pid, 'lick': pid} of the running session under `out`."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, int] = {}
    while time.monotonic() < deadline and len(found) < 3:
        dirs = list(out.glob('*/*/parameters.yaml'))
        if dirs:
            for pid in no_process_left(dirs[0].parent):
                try:
                    cmdline = Path(f'/proc/{pid}/cmdline').read_bytes()
                except OSError:
                    continue
                for name, tag in (('hotpath', b'/hotpath_node\0'), ('recorder', b'__node:=recorder\0'),
                                  ('lick', b'__node:=lick\0')):
                    if tag in cmdline:
                        found[name] = int(pid)
        time.sleep(0.3)
    return found


@pytest.fixture(scope='module')
def composed_clnf(tmp_path_factory):
    """A composed CLNF 1-ROI session asking for real-time priority 10: three rewarded trials
    (ramp activity). Returns (session folder, console, {process: policies seen while it ran})."""
    from clopy.rosenv import DomainLease, loopback_env
    out = tmp_path_factory.mktemp('composed')
    with DomainLease() as lease:
        proc = clopy_run(out, 'clnf_1roi', '--sim', '--composed', '--rt-priority', '10', '--trials', '3',
                         env=loopback_env(lease.domain_id), wait=False,
                         sets=FAST + ['task.v.max_trial_s=5.0', 'camera.synthetic.activity=ramp'])
        try:
            pids = session_processes(out)
            log = next(out.glob('*/*/logs/hotpath.log'))
            deadline = time.monotonic() + 60   # running: its executor started after the priority was set
            while 'executor:' not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            policies = {name: thread_policies(pid) for name, pid in pids.items()}
            console, _ = proc.communicate(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, console
    return session_dir(out), console, policies


def test_composed_session_runs_the_hot_path_in_one_process(composed_clnf):
    d, console, policies = composed_clnf
    assert set(policies) == {'hotpath', 'recorder', 'lick'}, policies
    assert 'composed: reward, tone, task, roi_dff, camera in one process (hotpath)' in console
    # one log for the hot path, in which every one of its nodes speaks under its own name
    assert sorted(p.name for p in (d / 'logs').iterdir()) == ['hotpath.log', 'lick.log', 'recorder.log']
    log = (d / 'logs' / 'hotpath.log').read_text()
    assert '[reward+tone+task+roi_dff+camera] executor: EventsExecutor' in log
    for name in HOT_PATH_NODES:
        assert f'] [{name}]: ' in log, name
    assert 'Traceback' not in log and 'KeyboardInterrupt' not in log
    assert not no_process_left(d)


def test_composed_session_records_what_separate_processes_record(composed_clnf):
    d, _, _ = composed_clnf
    st = states(d)
    assert [s for s, _, _ in st].count('trial') == 3
    valves = [m for m in bag_messages(d, 'reward') if m.output == 0]
    assert len(valves) == 3
    events = [m for m in bag_messages(d, 'reward_event') if m.output == 0 and not m.opened]
    assert [e.delivered for e in events] == [True] * 3
    for e in events:
        assert stamp_s(e.off_time) - stamp_s(e.on_time) == pytest.approx(0.3, abs=0.03)
    assert_openings_recorded(bag_messages(d, 'reward_event'), 3)
    # every frame reached roi_dff and the task (the image carries its index: nothing to pair),
    # and the camera stopped first: the last frame has its control signal
    frames = [m.frame_index for m in bag_messages(d, 'frame_info')]
    controls = [m.frame_index for m in bag_messages(d, 'control_signal')]
    assert frames == sorted(frames) and len(frames) > 0
    assert set(controls) <= set(frames) and len(controls) >= 0.98 * len(frames), (len(controls), len(frames))
    assert max(frames) in controls
    images = bag_messages(d, 'image_raw')
    assert {m.header.frame_id for m in images} <= {f'camera#{i}' for i in frames}
    assert {m.header.frame_id for m in bag_messages(d, 'control_signal')} == {'camera'}
    table = read_frame_table(d / 'VideoTimestamp.txt')
    assert sorted(table.loc[table.reward == 1, 'frame']) == [c.frame_index for c in valves]
    summary = (d.parent.parent / 'sessions_summary.csv').read_text()
    assert d.name in summary and 'all trials done' in summary


def test_rt_priority_goes_to_the_hot_path_alone_or_is_refused_in_its_log(composed_clnf):
    d, _, policies = composed_clnf
    log = (d / 'logs' / 'hotpath.log').read_text()
    other = policies['recorder'] | policies['lick']
    assert other == {os.SCHED_OTHER}, policies   # never the recorder or the lick sensor
    if 'real-time priority 10 (SCHED_FIFO)' in log:
        assert policies['hotpath'] == {os.SCHED_FIFO}, policies   # every thread, DDS's included
    else:
        assert 'real-time priority 10 (SCHED_FIFO) not permitted' in log, log[:2000]
        assert policies['hotpath'] == {os.SCHED_OTHER}, policies


def test_composed_clmf_runs_pose_and_speed_on_the_hot_path(tmp_path, ros_env):
    result = clopy_run(tmp_path, 'clmf', '--sim', '--composed', '--trials', '2', env=ros_env, timeout=300,
                       sets=['task.v.initial_rest_s=2.0', 'task.v.max_trial_s=4.0', 'task.v.success_rest_s=1.0',
                             'task.v.fail_rest_s=1.0', 'task.v.stillness_window_s=0.5'])
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'composed: reward, tone, task, speed, pose, camera in one process (hotpath)' in result.stdout
    d = session_dir(tmp_path)
    assert sorted(p.name for p in (d / 'logs').iterdir()) == ['hotpath.log', 'recorder.log']
    frames = [m.frame_index for m in bag_messages(d, 'frame_info')]
    poses = [m.frame_index for m in bag_messages(d, 'pose')]
    controls = [m.frame_index for m in bag_messages(d, 'control_signal')]
    assert len(frames) > 60
    assert set(poses) <= set(frames) and len(poses) >= 0.95 * len(frames), (len(poses), len(frames))
    assert set(controls) <= set(poses) and max(frames) in poses
    assert [s for s, _, _ in states(d)].count('trial') == 2
    assert not no_process_left(d)
