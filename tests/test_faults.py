"""Fault injection (issue 11): real `clopy run` sessions of the simulated graph, hurt the
way a careless user or an unlucky rig would: out-of-range valve and signal settings,
a camera stopped (SIGSTOP) and continued, SIGKILL of each node and of `clopy run`,
SIGINT/SIGTERM during a valve pulse, a rule that divides by zero, a 20 MB output
filesystem. Each session is short; several tests assert on one session (module-scoped
fixtures). Every test checks what it can of: the valve closed within its limit, nothing
recorded lost beyond the last chunk, the end reason in every record, no process left."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from clopy.rosenv import DomainLease, apply_loopback, loopback_env
from clopy_data.bag import read_bag, readable_bag, typestore_with_clopy
from clopy_data.folder import SessionFolder
from clopy_data.tables import read_frame_table

from faults_support import (FPS, QUICK, GraphWatch, Run, assert_ended, assert_no_process_left, assert_no_traceback,
                            assert_pipeline_drained, assert_valve_closed, free_mb, log_times, mount_tmpfs, stamp_s,
                            unmount, valve_records, wait_until)


@contextlib.contextmanager
def leased_env():
    """A domain of its own, loopback-only, in this process (for the in-test graph watch) and
    for the children; the environment is restored afterwards."""
    saved = dict(os.environ)
    try:
        with DomainLease() as lease:
            apply_loopback(lease.domain_id)
            yield lease.domain_id, loopback_env(lease.domain_id)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def fault_run(tmp_path):
    """`fault_run(paradigm, *args, sets=..., watch=True)` starts a session on a domain of its
    own; everything it started is stopped at teardown."""
    with contextlib.ExitStack() as stack:
        def start(paradigm, *args, sets=(), watch=False, out=None):
            domain_id, env = stack.enter_context(leased_env())
            run = Run(out or tmp_path, paradigm, *args, sets=sets, env=env, domain_id=domain_id)
            stack.callback(run.close)
            graph = None
            if watch:
                graph = GraphWatch(domain_id)
                stack.callback(graph.close)
            return run, graph
        yield start


def session_line(run: Run) -> str:
    lines = [line for line in run.console().splitlines() if line.startswith('session ended:')]
    assert len(lines) == 1, run.console()[-3000:]
    return lines[0]


# -- refused before start ------------------------------------------------------------

@pytest.mark.parametrize('sets, args, words', [
    # the case: 100 s pulses; the ceiling (2 s) and the key that overrides it are named
    (['reward.max_valve_open_s=100', 'task.v.valve_pulse_s=100'], ['clnf_1roi', '--sim'],
     ['reward.max_valve_open_s', 'reward.valve_ceiling_override_s']),
    (['reward.max_valve_open_s=2.5', 'reward.valve_pulse_s=2.5', 'task.v.valve_pulse_s=2.5'], ['clnf_1roi', '--sim'],
     ['reward.max_valve_open_s = 2.5', 'reward.valve_ceiling_override_s']),
    # the task's pulses against the reward node's limit (every reward would be refused)
    (['task.v.valve_pulse_s=1.5'], ['clnf_1roi', '--sim'], ['task.v.valve_pulse_s', 'reward.max_valve_open_s']),
    (['task.v.threshold=nan'], ['clnf_1roi', '--sim'], ['task.v.threshold = nan']),
    (['task.v.threshold=-1'], ['clnf_1roi', '--sim'], ['task.v.threshold = -1']),
    (['camera.width_px=1000000'], ['clnf_1roi', '--sim'], ['camera.width_px = 1000000']),
], ids=['valve_100s', 'valve_above_ceiling', 'task_pulse_above_reward_limit', 'threshold_nan', 'threshold_negative',
        'camera_width'])
def test_refused_before_anything_runs(tmp_path, ros_env, sets, args, words):
    # short settings first: a session that is wrongly accepted ends soon (and fails here)
    sets = QUICK + ['task.v.max_trial_s=1.0', 'task.v.total_trials=1'] + sets
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'run', *args, '--out', str(tmp_path),
                             *[a for s in sets for a in ('--set', s)]],
                            capture_output=True, text=True, timeout=120, env=ros_env)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    if 'valve_ceiling_override_s' in ' '.join(words):
        assert '2.0 s' in errors[0] or '2 s' in errors[0], f'the ceiling is named: {errors[0]}'
    assert not list(tmp_path.rglob('parameters.yaml')), 'no session folder was made'


# -- valve: override, cap ----------------------------------------------------------------

OVERRIDE_S = 2.5
FLOW_UL_PER_MS = 0.01


@pytest.fixture(scope='module')
def capped(tmp_path_factory):
    """A session with the valve ceiling overridden to 2.5 s pulses and a cap of one reward
    (ramp activity: trials are rewarded; the first reward reaches the cap)."""
    out = tmp_path_factory.mktemp('capped')
    with leased_env() as (domain_id, env):
        run = Run(out, 'clnf_1roi', '--sim', '--trials', '3', env=env, domain_id=domain_id,
                  sets=QUICK + ['task.v.max_trial_s=5.0', 'camera.synthetic.activity=ramp',
                                # the rest outlasts the pulse: the cap ends the session before the next trial
                                f'task.v.success_rest_s={OVERRIDE_S + 1.5}', 'reward.valve_ceiling_override_s=3.0',
                                f'reward.max_valve_open_s={OVERRIDE_S}',
                                f'reward.valve_pulse_s={OVERRIDE_S}', f'task.v.valve_pulse_s={OVERRIDE_S}',
                                'reward.max_rewards=1', f'reward.valve_flow_ul_per_ms={FLOW_UL_PER_MS}'])
        try:
            run.rc = run.wait(150)
            yield run
        finally:
            run.close()


def test_valve_ceiling_override_is_accepted_and_logged_in_the_session(capped):
    warnings_ = capped.rows('warning', 'valve_ceiling_override')
    assert len(warnings_) == 1, capped.events().tail(30)
    assert '3.0' in warnings_[0], f'the override value is recorded: {warnings_}'
    log = capped.events()
    row = log[(log.type == 'warning') & (log.subtype == 'valve_ceiling_override')]
    assert row.time.iloc[0] == 0.0
    assert any('valve_ceiling_override' in line for line in capped.console().splitlines()), 'on the console too'
    closed = assert_valve_closed(capped, OVERRIDE_S)
    assert len(closed) == 1
    length = stamp_s(closed[0].off_time) - stamp_s(closed[0].on_time)
    assert length == pytest.approx(OVERRIDE_S, abs=0.05), 'the longer pulse was delivered whole'


def test_the_water_cap_ends_the_session_after_its_last_pulse(capped):
    assert capped.rc == 0, capped.console()[-3000:]
    assert_ended(capped, 'water cap reached: 1 valve openings', error=False)
    assert 'water cap reached' in session_line(capped)
    opened, closed = valve_records(capped)
    assert len(opened) == 1 and len(closed) == 1, 'no pulse after the cap'
    assert stamp_s(opened[0].on_time) == stamp_s(closed[0].on_time)
    row = capped.summary()
    assert row['valve_openings'] == 1 and row['rewards'] == 1 and row['rewards_refused'] == 0
    assert row['water_ul'] == pytest.approx(FLOW_UL_PER_MS * OVERRIDE_S * 1000, rel=0.05)
    assert (capped.dir / 'bag' / 'metadata.yaml').is_file()
    assert_no_process_left(capped, 0)


# -- one degraded session: refused reward, division by zero, a 3 s camera stall ----------

STALL_S = 3.0
TRIAL_S = 3.0


@pytest.fixture(scope='module')
def degraded(tmp_path_factory):
    """clnf_2roi with a rule that divides by zero on every frame (ramp activity would be
    rewarded), a manual reward longer than the valve limit during the first trial, then the
    camera stopped for 3 s and continued within that trial."""
    out = tmp_path_factory.mktemp('degraded')
    with leased_env() as (domain_id, env):
        run = Run(out, 'clnf_2roi', '--sim', '--trials', '2', env=env, domain_id=domain_id,
                  sets=QUICK + [f'task.v.max_trial_s={TRIAL_S}', 'camera.synthetic.activity=ramp',
                                'camera.synthetic.target_regions=[BC_L]', 'roi_dff.rule=BC_L/(BC_R-BC_R)'])
        watch = GraphWatch(domain_id)
        try:
            assert watch.manual.wait_for_service(timeout_sec=60), 'manual_reward service never appeared'
            run.wait_state('trial')
            run.manual = watch.manual_reward(5.0)
            time.sleep(0.3)
            run.stall_from = time.time()
            run.signal_node('camera', signal.SIGSTOP)
            time.sleep(STALL_S)
            run.signal_node('camera', signal.SIGCONT)
            run.stall_to = time.time()
            run.rc = run.wait(120)
            yield run
        finally:
            watch.close()
            run.close()


def test_a_refused_reward_is_an_error_the_session_reports(degraded):
    assert not degraded.manual.delivered
    refused = degraded.rows('error', 'reward_refused')
    assert len(refused) == 1, degraded.events().tail(30)
    assert 'frame' in refused[0]
    assert any('reward_refused' in line or 'refused' in line.lower()
               for line in degraded.console().splitlines() if not line.startswith('session ended')), \
        degraded.console()[-3000:]
    assert degraded.summary()['rewards_refused'] == 1
    assert [e.rewards_refused for e in degraded.bag('reward_event') if e.output == 0 and not e.delivered] == [1]
    assert degraded.rc == 1, 'a session with a refused reward does not exit 0'
    assert_ended(degraded, 'all trials done', error=False)
    assert_no_process_left(degraded, 0)


def test_a_rule_dividing_by_zero_is_reported_once_and_never_rewards(degraded):
    reports = [line for line in degraded.log('roi_dff').splitlines() if 'division by zero' in line]
    assert len(reports) == 1, reports
    assert 'BC_L=' in reports[0] and 'BC_R=' in reports[0]
    signals = degraded.bag('control_signal')
    assert signals and not any(m.valid for m in signals)
    assert all(m.invalid_reason.startswith('rule: division by zero') for m in signals[-10:])
    assert not [m for m in degraded.bag('reward') if m.output == 0], 'no valve command from the task'
    warned = degraded.rows('warning', 'invalid_signal')
    assert warned and 'division by zero' in warned[0], degraded.events().tail(30)
    row = degraded.summary()
    done = [m.frame_index for m in degraded.bag('task_event') if m.type == 'state' and m.content == 'done'][0]
    divided = [m for m in signals if m.invalid_reason.startswith('rule: division by zero') and m.frame_index <= done]
    assert divided and row['invalid_frames'] >= 0.8 * len(divided), (row['invalid_frames'], len(divided))
    assert row['valve_openings'] == 0 and row['rewards'] == 0
    assert 'invalid_signal' in degraded.console() or 'division by zero' in degraded.console()


def test_a_camera_stall_pauses_the_trial_and_the_session_goes_on(degraded):
    stalls, ends = degraded.rows('warning', 'stall'), degraded.rows('info', 'stall_end')
    assert len(stalls) == 1 and len(ends) == 1, degraded.events().tail(30)
    paused_s = float(ends[0].split('stall of ')[1].split(' s')[0])
    assert paused_s == pytest.approx(STALL_S, abs=0.6)
    assert degraded.summary()['stalled_s'] == pytest.approx(STALL_S, abs=0.6)
    # no trial ran on stale data: both trials ran their whole length in task time, on frames
    states = degraded.states()
    assert [s for _, s in states] == ['initial_rest', 'trial', 'fail_rest', 'trial', 'fail_rest', 'done']
    for (t0, s), (t1, _) in zip(states, states[1:]):
        if s == 'trial':
            assert t1 - t0 == pytest.approx(TRIAL_S, abs=2 / FPS), states
    bag_states = [(m.content, m.frame_index) for m in degraded.bag('task_event') if m.type == 'state']
    stamps = {m.frame_index: stamp_s(m.header) for m in degraded.bag('frame_info')}
    first_trial = [f for s, f in bag_states if s in ('trial', 'fail_rest')][:2]
    frames_in_trial = [f for f in stamps if first_trial[0] <= f < first_trial[1]]
    assert len(frames_in_trial) >= 0.8 * TRIAL_S * FPS, 'the trial ran on frames, not on one stale frame'
    wall_s = stamps[first_trial[1]] - stamps[first_trial[0]]
    assert wall_s >= TRIAL_S + STALL_S - 0.6, 'the trial timer was frozen during the stall'
    # the tone went off during the stall (before the camera was continued)
    tones = [m for m in read_bag(degraded.dir / 'bag', typestore_with_clopy(), topics=['tone'])
             if degraded.stall_from < m.timestamp_ns * 1e-9 < degraded.stall_to]
    assert tones and tones[0].msg.frequency_hz == 0.0, [(m.timestamp_ns, m.msg.frequency_hz) for m in tones]
    assert 'stall' in degraded.console()
    assert (degraded.dir / 'bag' / 'metadata.yaml').is_file()


# -- a stall longer than its limit ----------------------------------------------------------

def test_a_stall_longer_than_the_limit_ends_the_session(fault_run):
    run, _ = fault_run('clnf_1roi', '--sim', '--trials', '1',
                       sets=QUICK + ['task.v.max_trial_s=20.0', 'task.stall_limit_s=2.0',
                                     'camera.synthetic.activity=flat'])
    run.wait_state('trial')
    time.sleep(0.3)
    run.signal_node('camera', signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        wait_until(lambda: 'camera stalled' in run.log('task') + run.console(), 15, 'the stall ends the session')
    finally:
        run.signal_node('camera', signal.SIGCONT)
    assert time.monotonic() - stopped_at < 6
    assert run.wait(60) == 1, run.console()[-3000:]
    rec = assert_ended(run, 'camera stalled: no frame for', error=True)
    assert 'limit 2' in rec['tsv_reason'][0]
    assert 'camera stalled' in session_line(run)
    assert run.bag('tone')[-1].frequency_hz == 0.0, 'silent at the end'
    assert (run.dir / 'bag' / 'metadata.yaml').is_file()
    assert_valve_closed(run, 1.0)
    assert_no_process_left(run, 0)


# -- signals and kills during a valve pulse ------------------------------------------------

PULSE_S = 0.8
PULSE_SETS = QUICK + ['task.v.max_trial_s=5.0', 'camera.synthetic.activity=ramp', f'reward.max_valve_open_s={PULSE_S}',
                      f'reward.valve_pulse_s={PULSE_S}', f'task.v.valve_pulse_s={PULSE_S}']


def kill_mid_pulse(fault_run, target: str, sig: signal.Signals, *args: str) -> tuple[Run, float]:
    """A session (`args`: more clopy run options) killed (`target`: 'clopy', a node name or
    'hotpath') 0.15 s into its first valve pulse; (the run, the wall time of the signal)."""
    run, watch = fault_run('clnf_1roi', '--sim', '--trials', '3', *args, sets=PULSE_SETS, watch=True)
    opened = watch.wait_valve_open(90)
    time.sleep(max(0.0, opened + 0.15 - time.monotonic()))
    sent = time.time()
    if target == 'clopy':
        os.kill(run.proc.pid, sig)
    else:
        run.signal_node(target, sig)
    return run, sent


@pytest.mark.parametrize('sig, args', [(signal.SIGINT, ()), (signal.SIGTERM, ()), (signal.SIGINT, ('--composed',))],
                         ids=['SIGINT', 'SIGTERM', 'SIGINT-composed'])
def test_stopping_clopy_run_mid_pulse_lets_the_pulse_finish(fault_run, sig, args):
    run, _ = kill_mid_pulse(fault_run, 'clopy', sig, *args)
    assert run.wait(120) == 0, run.console()[-3000:]
    closed = assert_valve_closed(run, PULSE_S)
    assert closed, 'the closing record is there'
    assert stamp_s(closed[0].off_time) - stamp_s(closed[0].on_time) == pytest.approx(PULSE_S, abs=0.05)
    assert_ended(run, 'stopped by the user', error=False)
    assert (run.dir / 'bag' / 'metadata.yaml').is_file()
    assert read_frame_table(SessionFolder(run.dir).frame_table) is not None
    assert_pipeline_drained(run)
    assert_no_traceback(run)
    assert_no_process_left(run, 0)


def test_killing_clopy_run_mid_pulse_stops_the_graph_and_finishes_the_folder(fault_run):
    run, sent = kill_mid_pulse(fault_run, 'clopy', signal.SIGKILL)
    run.wait(10)
    assert_no_process_left(run, 40)
    folder = SessionFolder(run.dir)
    assert folder.bag_closed, 'the recorder closed the bag'
    assert_valve_closed(run, PULSE_S)
    assert valve_records(run)[1], 'the closing record of the pulse is there'
    # stopped in order: the camera first, the recorder's bag closed last, after the pipeline drained
    camera_end, bag_closed = log_times(run, 'camera', 'frames published'), log_times(run, 'recorder', 'bag closed')
    assert camera_end and bag_closed and camera_end[-1] < bag_closed[-1], (run.log('camera'), run.log('recorder'))
    assert_pipeline_drained(run)
    if run.summary() is None:   # marked unfinished: the next `clopy tables` finishes it
        result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'tables', str(run.dir)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and 'Traceback' not in result.stdout + result.stderr, result.stderr
    assert folder.frame_table.is_file() and run.summary() is not None
    assert_ended(run, 'clopy run died', error=True, in_bag=False)
    assert_no_traceback(run)


def test_killing_the_reward_node_mid_pulse_leaves_the_opening_on_record(fault_run):
    run, _ = kill_mid_pulse(fault_run, 'reward', signal.SIGKILL)
    assert run.wait(120) == 1, run.console()[-3000:]
    opened, _ = valve_records(run)
    assert opened, 'the opening is in the bag'
    row = run.summary()
    assert row['valve_openings'] >= 1 and row['rewards'] >= 1
    rec = assert_ended(run, 'node reward died', error=True)
    assert 'SIGKILL' in rec['tsv_reason'][0]
    assert 'node reward died' in session_line(run)
    assert (run.dir / 'bag' / 'metadata.yaml').is_file()
    assert_no_process_left(run, 0)


def test_killing_the_hot_path_process_mid_pulse_ends_the_session_naming_it(fault_run):
    """--composed: camera, roi_dff, task, tone and reward die together; the recorder still
    closes the record, with the opening of the pulse in it and the reason everywhere."""
    run, _ = kill_mid_pulse(fault_run, 'hotpath', signal.SIGKILL, '--composed')
    assert run.wait(120) == 1, run.console()[-3000:]
    opened, _ = valve_records(run)
    assert opened, 'the opening is in the bag'
    rec = assert_ended(run, 'node hotpath died', error=True)
    assert 'SIGKILL' in rec['tsv_reason'][0]
    assert 'node hotpath died' in session_line(run)
    assert (run.dir / 'bag' / 'metadata.yaml').is_file()
    assert run.summary()['valve_openings'] >= 1
    assert_no_process_left(run, 0)


# -- SIGKILL of a node ----------------------------------------------------------------------

@pytest.mark.parametrize('node', ['camera', 'roi_dff', 'task', 'tone'])
def test_a_killed_node_ends_the_session_naming_it(fault_run, node):
    run, _ = fault_run('clnf_1roi', '--sim', '--trials', '1',
                       sets=QUICK + ['task.v.max_trial_s=30.0', 'camera.synthetic.activity=flat'])
    run.wait_state('trial')
    run.signal_node(node, signal.SIGKILL)
    assert run.wait(90) == 1, run.console()[-3000:]
    rec = assert_ended(run, f'node {node} died', error=True)
    assert 'SIGKILL' in rec['tsv_reason'][0]
    assert f'node {node} died' in session_line(run)
    assert (run.dir / 'bag' / 'metadata.yaml').is_file()
    table = read_frame_table(SessionFolder(run.dir).frame_table)
    assert len(table) > 0
    assert_valve_closed(run, 1.0)
    assert_no_process_left(run, 0)


def test_a_killed_recorder_leaves_a_bag_that_clopy_tables_salvages(fault_run):
    run, _ = fault_run('clnf_1roi', '--sim', '--trials', '1',
                       sets=QUICK + ['task.v.max_trial_s=30.0', 'camera.synthetic.activity=flat'])
    run.wait_state('trial')
    time.sleep(2.5)
    killed_at = time.time()
    run.signal_node('recorder', signal.SIGKILL)
    assert run.wait(90) == 1, run.console()[-3000:]
    assert_no_process_left(run, 0)
    # clopy run finished the folder from the salvaged bag, saying so
    folder = SessionFolder(run.dir)
    assert 'salvag' in run.console().lower() and run.summary() is not None, run.console()[-3000:]
    first = read_frame_table(folder.frame_table)
    assert len(first) > 0
    # nothing lost beyond the last chunk (the recorder cuts one at least every flush_period_s = 1 s)
    bag, _ = readable_bag(folder.bag)
    last = max(stamp_s(m.msg.header) for m in read_bag(bag, typestore_with_clopy(), topics=['frame_info']))
    assert last >= killed_at - 1.0 - 0.5, (last, killed_at)
    # `clopy tables` makes the table again from the unclosed bag, reporting the salvage
    folder.frame_table.rename(folder.frame_table.with_suffix('.first'))
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'tables', str(run.dir)],
                            capture_output=True, text=True, timeout=120)
    out = result.stdout + result.stderr
    assert result.returncode == 0 and 'Traceback' not in out, out
    assert 'salvag' in out.lower(), out
    assert read_frame_table(folder.frame_table).equals(first)
    assert 'node recorder died' in session_line(run)
    # every record says how it ended, even with the recorder gone: clopy run knows why
    assert run.summary()['end_reason'].startswith('node recorder died'), run.summary()
    assert any(r.startswith('node recorder died') for r in run.rows('info', 'end_reason')), run.events().tail(5)


# -- a 20 MB output filesystem ---------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('a real small file system (tmpfs) needs root to mount')
    where = tmp_path / 'small'
    mount_tmpfs(where, 20)
    try:
        yield where
    finally:
        unmount(where)


def test_a_session_that_cannot_fit_is_refused_naming_the_folder(small_disk, ros_env):
    # 3 trials of at most 10 s with the images recorded: ~150 MB planned (and, if wrongly
    # accepted, a session that ends within a minute)
    sets = QUICK + ['task.v.max_trial_s=10.0', 'task.v.total_trials=3']
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--out', str(small_disk),
                             *[a for s in sets for a in ('--set', s)]],
                            capture_output=True, text=True, timeout=120, env=ros_env)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert str(small_disk) in errors[0] and 'MB' in errors[0], errors[0]
    assert not list(small_disk.rglob('bag')), 'no session was started'


def test_low_space_during_the_session_ends_it_with_a_closed_record(small_disk, fault_run):
    run, _ = fault_run('clnf_1roi', '--sim', '--trials', '1', out=small_disk,
                       sets=QUICK + ['task.v.max_trial_s=30.0', 'camera.synthetic.activity=flat',
                                     'recorder.record_images=false', 'recorder.min_free_mb=5'])
    run.wait_state('trial')
    filler = small_disk / 'filler.bin'
    with open(filler, 'wb') as f:   # the disk fills up: 2 MB left, below the 5 MB limit
        while free_mb(small_disk) > 2.0:
            f.write(b'\0' * 256 * 1024)
            f.flush()
    assert run.wait(90) == 1, run.console()[-3000:]
    # the recorder itself ends this session: the reason is in its event log and the summary
    rec = assert_ended(run, 'disk full', error=True, in_bag=False)
    assert 'limit 5' in rec['tsv_reason'][0]
    assert 'disk full' in session_line(run)
    assert (run.dir / 'bag' / 'metadata.yaml').is_file(), 'the bag is closed'
    assert run.rows('info', 'end_time'), 'the event log is closed'
    assert_no_traceback(run)
    assert_valve_closed(run, 1.0)
    assert_no_process_left(run, 0)
