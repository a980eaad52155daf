"""`clopy plot`: the session summary figure.

One whole-graph test (a short simulated session, then `clopy plot` as a
subprocess); the others draw sessions written here as bags of known content, so
that each awkward case (2 ROIs, no rewards, a cut-short recording, no tone
events) is certain to occur and the numbers on the figure can be checked exactly.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clopy_data.bag import McapBagWriter, read_bag, typestore_with_clopy
from clopy_data.plots import figure_data, latency_label, make_figure, percentiles, session_figure

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; asserts the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f'{path} is not a PNG'
    assert data[12:16] == b'IHDR'
    assert data[-8:-4] == b'IEND', f'{path}: PNG not complete'
    return struct.unpack('>II', data[16:24])


def assert_reasonable_png(path: Path) -> None:
    assert path.is_file(), path
    width, height = png_size(path)
    assert 800 <= width <= 4000 and 600 <= height <= 4000, (width, height)
    assert 30_000 < path.stat().st_size < 5_000_000, path.stat().st_size


def legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def stamp_ns(t) -> int:
    t = getattr(t, 'stamp', t)
    return t.sec * 1_000_000_000 + t.nanosec


def latencies_from_bag(session: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame stamp -> tone output and frame stamp -> valve open, in ms, read here
    independently of clopy_data.plots."""
    # frame_info too: a topic list that matches nothing would make read_bag read all topics
    msgs = list(read_bag(session / 'bag', typestore_with_clopy(), topics=['frame_info', 'tone_event', 'reward_event']))
    tone = [(stamp_ns(m.msg.output_time) - stamp_ns(m.msg.header)) / 1e6 for m in msgs if m.topic == 'tone_event']
    # one valve opening has two records (opened, then closed) with the same on_time
    valve = {stamp_ns(m.msg.on_time): (stamp_ns(m.msg.on_time) - stamp_ns(m.msg.header)) / 1e6 for m in msgs
             if m.topic == 'reward_event' and m.msg.output == 0 and m.msg.delivered and m.msg.reason != 'manual'}
    return np.array(tone), np.array(list(valve.values()))


def check_latency_numbers(session: Path) -> None:
    """The latency percentiles in figure_data and in the drawn legend are those of the bag."""
    tone, valve = latencies_from_bag(session)
    d = figure_data(session)
    np.testing.assert_allclose(np.sort(d.tone_latency_ms), np.sort(tone), atol=1e-6)
    np.testing.assert_allclose(np.sort(d.valve_latency_ms), np.sort(valve), atol=1e-6)
    for name, values, got in (('tone', tone, d.tone_latency_p50_p99), ('valve', valve, d.valve_latency_p50_p99)):
        if len(values):
            expected = np.percentile(values, [50, 99])
            assert got == pytest.approx(tuple(expected), abs=1e-6)
            label = f'{name} (n={len(values)}): p50 {expected[0]:.1f} ms, p99 {expected[1]:.1f} ms'
        else:
            assert all(np.isnan(got))
            label = f'{name}: none recorded'
        assert label == latency_label(name, values)
        assert label in legend_texts(make_figure(d)), legend_texts(make_figure(d))


# ------------------------------------------------------------------ whole graph


def test_plot_command_on_a_simulated_session(tmp_path, ros_env):
    out = tmp_path / 'sessions'
    run = subprocess.run(
        [sys.executable, '-m', 'clopy.cli', 'run', 'clnf_1roi', '--sim', '--trials', '2', '--out', str(out),
         '--set', 'task.v.initial_rest_s=7.0', '--set', 'task.v.max_trial_s=3.0',
         '--set', 'task.v.fail_rest_s=2.0'],
        env=ros_env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    sessions = [p.parent for p in out.glob('*/*/parameters.yaml')]
    assert len(sessions) == 1, sessions
    session = sessions[0]

    plot = subprocess.run([sys.executable, '-m', 'clopy.cli', 'plot', str(session)],
                          env=ros_env, capture_output=True, text=True, timeout=120)
    assert plot.returncode == 0, plot.stdout + plot.stderr
    png = session / 'summary.png'
    assert plot.stdout.strip() == str(png)
    assert_reasonable_png(png)

    other = tmp_path / 'elsewhere' / 'fig.png'
    plot = subprocess.run([sys.executable, '-m', 'clopy.cli', 'plot', str(session), '--out', str(other)],
                          env=ros_env, capture_output=True, text=True, timeout=120)
    assert plot.returncode == 0, plot.stdout + plot.stderr
    assert_reasonable_png(other)

    assert session_figure(session) == png
    assert_reasonable_png(png)

    d = figure_data(session)
    assert d.n_trials == 2 and d.n_successes + d.n_timeouts == 2
    assert d.n_rewards == d.n_successes
    assert len(d.tone_latency_ms) > 0, 'a graded session plays tones'
    assert (d.tone_latency_ms > 0).all() and (d.tone_latency_ms < 1000).all()
    check_latency_numbers(session)


def test_plot_command_fails_cleanly_without_a_bag(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'clopy.cli', 'plot', str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'clopy plot:' in result.stderr and 'Traceback' not in result.stderr


# --------------------------------------------------------- sessions of known content

T0_NS = 1_700_000_000 * 10**9
FPS = 15.0
RUN_START = {'initial_rest_s': 2.0, 'max_trial_s': 3.0, 'threshold': 0.075, 'session_type': 'graded'}


class SessionWriter:
    """A session folder with a bag of the clopy topics, written message by message."""

    def __init__(self, root: Path, *, rois=('M1_L',), rule='M1_L', session_type='graded'):
        self.dir = root / 'clnf_test' / 'M9_20240102-030405'
        self.dir.mkdir(parents=True)
        self.store = typestore_with_clopy()
        self.writer = McapBagWriter(self.dir / 'bag', self.store)
        self.rois, self.rule, self.session_type = list(rois), rule, session_type
        self.conns = {}
        self.t = self.store.types
        (self.dir / 'events.tsv').write_text(
            'time\ttype\tsubtype\tcontent\n'
            '0.000000\tinfo\tsubject_id\tM9\n'
            '0.000000\tinfo\tparadigm\tclnf_test\n'
            f'0.000000\tinfo\tsession_type\t{session_type}\n'
            '0.000000\tinfo\tstart_time\t2024-01-02T03:04:05.000000+01:00\n'
            f'0.000000\tinfo\tframe_rate_hz\t{FPS}\n')

    # all times in integer ns since the epoch, so latencies are exact
    def time(self, ns: int):
        return self.t['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9)

    def header(self, ns: int):
        return self.t['std_msgs/msg/Header'](stamp=self.time(ns), frame_id='')

    def put(self, topic: str, type_name: str, at_ns: int, **fields):
        msgtype = f'clopy_interfaces/msg/{type_name}'
        if topic not in self.conns:
            self.conns[topic] = self.writer.add_topic(topic, msgtype)
        msg = self.t[msgtype](**fields)
        self.writer.write_raw(self.conns[topic], at_ns, self.store.serialize_cdr(msg, msgtype))

    def stamp(self, frame: int) -> int:
        return T0_NS + round(frame * 1e9 / FPS)

    def frame(self, i: int, dff: list[float], valid=True):
        s = self.stamp(i)
        rule_value = dff[0] - dff[1] if len(dff) > 1 else dff[0]
        self.put('frame_info', 'FrameInfo', s, header=self.header(s), frame_index=i, dropped_before=0,
                 dropped_total=0, interval_s=1 / FPS if i else 0.0)
        self.put('roi_signal', 'RoiSignal', s, header=self.header(s), frame_index=i, roi_names=self.rois,
                 dff=np.array(dff, dtype=np.float64), rule_value=rule_value, rule=self.rule, valid=valid)
        self.put('control_signal', 'ControlSignal', s, header=self.header(s), frame_index=i,
                 value=rule_value if valid else 0.0, units='dff', valid=valid, invalid_reason='')

    def task(self, i: int, type_: str, subtype: str, content: str):
        s = self.stamp(i)
        self.put('task_event', 'TaskEvent', s, header=self.header(s), frame_index=i, time_s=(s - T0_NS) / 1e9,
                 type=type_, subtype=subtype, content=content)

    def tone(self, i: int, hz: float, latency_ms: float | None):
        s = self.stamp(i)
        self.put('tone', 'ToneCommand', s, header=self.header(s), frame_index=i, frequency_hz=hz, amplitude=1.0)
        if latency_ms is not None:
            self.put('tone_event', 'ToneEvent', s, header=self.header(s), frame_index=i, frequency_hz=hz,
                     output_time=self.time(s + round(latency_ms * 1e6)), sample_index=0)

    def reward(self, i: int, output: int, reason: str, latency_ms: float, delivered=True, closed=True):
        """A command and what the output did: for a delivered valve pulse the opening
        record, then (``closed``) the closing record with the same on_time."""
        s = self.stamp(i)
        self.put('reward', 'RewardCommand', s, header=self.header(s), frame_index=i, output=output, name='',
                 duration_s=0.3, level=False, reason=reason)
        on = s + round(latency_ms * 1e6)
        off = on + 300_000_000
        if delivered and output == 0:
            self.put('reward_event', 'RewardEvent', on, header=self.header(s), frame_index=i, output=output,
                     name='valve', reason=reason, delivered=True, note='', on_time=self.time(on),
                     off_time=self.time(0), duration_s=0.0, rewards_delivered=0, opened=True,
                     rewards_refused=0, water_ul=0.0)
        if not closed:
            return
        self.put('reward_event', 'RewardEvent', off, header=self.header(s), frame_index=i, output=output,
                 name='valve' if output == 0 else 'fail', reason=reason, delivered=delivered, note='',
                 on_time=self.time(on if delivered else 0), off_time=self.time(off if delivered else 0),
                 duration_s=0.3 if delivered else 0.0, rewards_delivered=0, opened=False,
                 rewards_refused=0, water_ul=0.0)

    def close(self) -> Path:
        self.writer.close()
        return self.dir


def simulate(root: Path, *, frames=300, rois=('M1_L',), rule='M1_L', outcomes=('success', 'timeout', 'success'),
             tones=True, session_type='graded', thresholds=((0, 0.075),), warmup=30) -> tuple[SessionWriter, dict]:
    """Write a CLNF-like session: rest, then trials with the given outcomes (2 s rests).

    Returns the writer (still open) and what was written: trial starts and ends
    (frames), tone and valve latencies (ms).
    """
    w = SessionWriter(root, rois=rois, rule=rule, session_type=session_type)
    truth = {'trials': [], 'tone_ms': [], 'valve_ms': []}
    # state changes per frame: 2 s rest, then each trial: success after 1 s + k frames, timeout after 3 s
    events: dict[int, list[str]] = {0: ['initial_rest']}
    f = int(2 * FPS)
    for k, outcome in enumerate(outcomes):
        end = f + (int(FPS) + k if outcome == 'success' else int(3 * FPS))
        events.setdefault(f, []).append('trial')
        events.setdefault(end, []).append('success_rest' if outcome == 'success' else 'fail_rest')
        truth['trials'].append((f, end, outcome))
        f = end + int(2 * FPS)
    thresholds = dict(thresholds)
    in_trial = False
    for i in range(frames):
        dff = [0.05 * np.sin(i / 10) + 0.001 * r for r in range(len(rois))]
        w.frame(i, dff, valid=i >= warmup)
        if i == 0:
            w.task(0, 'info', 'start_time_s', repr(w.stamp(0) / 1e9))
            w.task(0, 'variable', 'run_start', json.dumps({**RUN_START, 'session_type': session_type,
                                                           'threshold': thresholds.pop(0, 0.075)}))
        if i in thresholds:
            w.task(i, 'variable', 'task', f'{{"threshold": {thresholds[i]}}}')
        for state in events.get(i, []):
            w.task(i, 'state', '', state)
            in_trial = state == 'trial'
            if state == 'success_rest' and session_type != 'no_reward':
                latency = 2.0 + 0.25 * len(truth['valve_ms'])
                w.reward(i, 0, 'success', latency)
                truth['valve_ms'].append(latency)
            elif state == 'fail_rest':
                w.reward(i, 1, 'timeout', 1.0)
            if tones and state != 'trial':
                latency = 4.0 + 0.5 * (len(truth['tone_ms']) % 9)
                w.tone(i, 0.0, latency)
                truth['tone_ms'].append(latency)
        if tones and in_trial and i % 3 == 0:
            latency = 4.0 + 0.5 * (len(truth['tone_ms']) % 9)
            w.tone(i, 1000.0 + 100 * (i % 20), latency)
            truth['tone_ms'].append(latency)
    return w, truth


def test_latencies_on_the_figure_are_those_of_the_bag(tmp_path):
    w, truth = simulate(tmp_path)
    session = w.close()
    d = figure_data(session)
    assert d.tone_latency_p50_p99 == pytest.approx(tuple(np.percentile(truth['tone_ms'], [50, 99])), abs=1e-5)
    assert d.valve_latency_p50_p99 == pytest.approx(tuple(np.percentile(truth['valve_ms'], [50, 99])), abs=1e-5)
    check_latency_numbers(session)
    # the rest of the page
    assert [t.outcome for t in d.trials] == ['success', 'timeout', 'success']
    for tr, (start, end, _) in zip(d.trials, truth['trials']):
        assert tr.start_s == pytest.approx(start / FPS) and tr.end_s == pytest.approx(end / FPS)
    assert d.n_rewards == 2 and len(d.fail_t) == 1
    assert d.frame_interval_ms == pytest.approx(np.full(299, 1e3 / FPS), abs=1e-3)
    assert d.dropped_frames == 0
    assert np.isnan(d.control[:30]).all() and np.isfinite(d.control[30:]).all()
    assert (d.mouse, d.paradigm, d.session_type) == ('M9', 'clnf_test', 'graded')
    assert_reasonable_png(session_figure(session))


def test_each_valve_opening_counts_once_even_without_its_closing_record(tmp_path):
    w, truth = simulate(tmp_path, outcomes=('success', 'timeout'))
    # a reward node killed mid-pulse: only the opening record of the last pulse is in the bag
    w.reward(280, 0, 'success', 3.0, closed=False)
    w.reward(285, 0, 'success', 3.0, delivered=False)
    session = w.close()
    d = figure_data(session)
    assert d.n_rewards == 2 and len(d.refused_t) == 1
    assert d.valve_t == pytest.approx([w.stamp(f) / 1e9 - w.stamp(0) / 1e9 + ms / 1e3
                                       for f, ms in ((truth['trials'][0][1], truth['valve_ms'][0]), (280, 3.0))],
                                      abs=1e-6)
    assert sorted(d.valve_latency_ms) == pytest.approx(sorted(truth['valve_ms'] + [3.0]), abs=1e-6)
    check_latency_numbers(session)


def test_two_roi_session_draws_the_rule_and_each_roi(tmp_path):
    w, _ = simulate(tmp_path, rois=('BC_L', 'BC_R'), rule='BC_L-BC_R', thresholds=((0, 0.1), (100, 0.098)))
    session = w.close()
    d = figure_data(session)
    assert d.roi_names == ['BC_L', 'BC_R'] and d.rule == 'BC_L-BC_R'
    ok = np.isfinite(d.control)
    np.testing.assert_allclose(d.control[ok], d.roi_dff['BC_L'][ok] - d.roi_dff['BC_R'][ok])
    assert list(d.threshold_v) == [0.1, 0.098]
    assert d.threshold_t[1] == pytest.approx(100 / FPS)
    fig = make_figure(d)
    labels = legend_texts(fig)
    assert 'ROI BC_L' in labels and 'ROI BC_R' in labels
    assert any('BC_L-BC_R' in label for label in labels)
    assert any('0.1 → 0.098' in label for label in labels)
    assert_reasonable_png(session_figure(session, tmp_path / 'two_roi.png'))


def test_session_without_rewards(tmp_path):
    w, _ = simulate(tmp_path, outcomes=('timeout', 'timeout'))
    session = w.close()
    d = figure_data(session)
    assert d.n_successes == 0 and d.n_timeouts == 2 and d.n_rewards == 0
    assert len(d.valve_latency_ms) == 0 and all(np.isnan(d.valve_latency_p50_p99))
    assert 'valve: none recorded' in legend_texts(make_figure(d))
    check_latency_numbers(session)
    assert_reasonable_png(session_figure(session))


def test_bag_without_tone_events(tmp_path):
    w, _ = simulate(tmp_path, tones=False, session_type='no_audio')
    session = w.close()
    d = figure_data(session)
    assert len(d.tone_t) == 0 and len(d.tone_latency_ms) == 0
    assert 'tone: none recorded' in legend_texts(make_figure(d))
    check_latency_numbers(session)
    assert_reasonable_png(session_figure(session))


def test_session_cut_short_by_a_killed_recorder(tmp_path):
    """A few frames, the first trial unfinished, and a bag that was never closed
    (no metadata.yaml, no MCAP footer): the figure is drawn from what is on disk."""
    w, _ = simulate(tmp_path, frames=45, warmup=10)
    w.writer.flush()
    mcap = w.writer.mcap_path
    size = mcap.stat().st_size
    session = w.close()
    (session / 'bag' / 'metadata.yaml').unlink()
    with mcap.open('r+b') as f:
        f.truncate(size)  # what a SIGKILL after the last chunk cut leaves
    d = figure_data(session)
    assert d.salvaged
    assert len(d.t_s) == 45
    assert [t.outcome for t in d.trials] == ['unfinished']
    assert d.trials[0].end_s == pytest.approx(44 / FPS)
    assert_reasonable_png(session_figure(session))


def test_session_with_a_handful_of_frames_and_no_trial(tmp_path):
    w, _ = simulate(tmp_path, frames=3, outcomes=(), tones=False)
    session = w.close()
    d = figure_data(session)
    assert len(d.t_s) == 3 and not d.trials
    assert np.isnan(d.control).all()
    assert_reasonable_png(session_figure(session))


def test_percentiles_of_nothing_are_nan():
    assert all(np.isnan(percentiles(np.zeros(0))))
    assert percentiles(np.arange(101.0)) == (50.0, 99.0)
