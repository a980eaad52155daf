"""One graph per ROS domain: a second session on a domain in use is refused before
anything starts, naming the domain and the session that holds it."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from test_clnf_graph import FAST, clopy_run, session_dir


def test_a_second_session_on_a_domain_in_use_is_refused(tmp_path, ros_env):
    domain = ros_env['ROS_DOMAIN_ID']
    first_out, second_out = tmp_path / 'first', tmp_path / 'second'
    first = clopy_run(first_out, 'clnf_1roi', '--sim', '--domain-id', domain, env=ros_env, wait=False, sets=FAST)
    try:
        deadline = time.monotonic() + 60
        while not list(first_out.glob('*/*/parameters.yaml')):
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, 'the first session never created its folder'
            time.sleep(0.2)
        held = session_dir(first_out)
        second = clopy_run(second_out, 'clnf_1roi', '--sim', '--domain-id', domain, env=ros_env, timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        err = second.stderr
        assert f'ROS_DOMAIN_ID={domain} is in use by the session {held}' in err, err
        assert not second_out.exists() or not list(second_out.rglob('parameters.yaml'))
        # without --domain-id a free domain is taken and the session runs
        third = clopy_run(tmp_path / 'third', 'clnf_1roi', '--sim', '--trials', '1', env=ros_env, timeout=240,
                          sets=FAST + ['task.v.max_trial_s=1.0', 'task.v.initial_rest_s=0.5'])
        assert third.returncode == 0, third.stdout + third.stderr
        assert f'ROS_DOMAIN_ID={domain},' not in third.stdout
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode in (0, 1)


def test_a_second_camera_in_the_domain_stops_the_session_saying_why(tmp_path, ros_env):
    """A graph started around the lease (by hand, or a lab's own launch file) still cannot
    mix a second camera into a session: the camera and the recorder see it and stop."""
    from clopy.processes import executable
    domain = ros_env['ROS_DOMAIN_ID']
    out = tmp_path / 'sessions'
    run = clopy_run(out, 'clnf_1roi', '--sim', '--domain-id', domain, env=ros_env, wait=False,
                    sets=FAST + ['task.v.initial_rest_s=60.0'])
    stray = None
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob('*/*/bag/*.mcap')):
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(2.0)   # frames flowing
        stray = subprocess.Popen([str(executable('clopy_acquisition', 'camera_node')), '--ros-args',
                                  '-r', '__node:=stray_camera', '-p', 'source:=synthetic'],
                                 env=ros_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        output, _ = run.communicate(timeout=120)
    finally:
        if stray is not None:
            os.killpg(stray.pid, signal.SIGINT)
            stray.wait(timeout=30)
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode != 0, output
    assert 'stray_camera' in output or 'second camera' in output, output
    d = session_dir(out)
    assert (d / 'bag' / 'metadata.yaml').is_file(), 'the bag is closed'
