"""One graph per ROS domain: a second session on a domain in use is refused before
anything starts, naming the domain and the session that holds it."""
from __future__ import annotations

import os
import signal
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
