"""`clopy align`: another system's record of the sync pulses mapped onto session time.

Synthetic pulse trains with Rsync intervals (uniform 0.1-1.9 x the mean) stand for the
session's pulses; the other system's record has a clock offset, a drift, timing
jitter, a missing and an extra pulse. The mapping must be within 1 ms of the truth.
The command runs on a session folder with a real bag (sync RewardEvents, frames)."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clopy_data.align import AlignError, align_pulses
from clopy_data.align_io import FrameRecord, led_onsets, read_brightness_csv, read_ttl_times
from clopy_data.commands import main as data_main

OFFSET_S, DRIFT = 2.5, 100e-6   # session_s = OFFSET_S + (1 + DRIFT) * other_s


def rsync_train(n: int, mean_s: float = 1.0, seed: int = 1, start_s: float = 3.0) -> np.ndarray:
    rng = random.Random(seed)
    t, out = start_s, []
    for _ in range(n):
        out.append(t)
        t += rng.uniform(0.1, 1.9) * mean_s
    return np.array(out)


def other_clock(session_s: np.ndarray, jitter_s: float = 0.0002, seed: int = 0) -> np.ndarray:
    return (session_s - OFFSET_S) / (1 + DRIFT) + np.random.default_rng(seed).normal(0, jitter_s, len(session_s))


def truth(other_s):
    return OFFSET_S + (1 + DRIFT) * np.asarray(other_s)


def missing_and_extra(other: np.ndarray, missing: int = 40, extra_after: int = 120) -> np.ndarray:
    out = np.delete(other, missing)
    return np.sort(np.append(out, out[extra_after] + 0.37))


def test_offset_drift_jitter_a_missing_and_an_extra_pulse_map_within_1_ms():
    session = rsync_train(600)
    other = missing_and_extra(other_clock(session))
    fit = align_pulses(session, other)
    probe = np.linspace(other[0], other[-1], 500)
    error_ms = np.abs(fit.map(probe) - truth(probe)) * 1e3
    assert error_ms.max() < 1.0
    assert fit.drift_ppm == pytest.approx(100.0, abs=5.0)
    assert fit.offset_s == pytest.approx(OFFSET_S, abs=0.001)
    assert fit.n_matched == 599 and fit.n_other == 600 and fit.n_session == 600
    summary = fit.summary()
    assert summary['unmatched_other'] == 1 and summary['unmatched_session'] == 1
    # the residuals are the jitter (0.2 ms SD), not the offset or the drift
    assert 0.1 < fit.rms_residual_ms < 0.35 and fit.max_residual_ms < 1.5
    # the extra pulse is not among the pairs, and every pair is a true one
    assert np.all(np.abs(truth(fit.other_s) - fit.session_s) < 0.002)


def test_a_record_that_covers_part_of_the_session_on_an_epoch_clock_in_ms():
    session = rsync_train(400, mean_s=2.0, seed=5)
    part = session[100:220]
    other_epoch_s = 1.7e9 + (part - OFFSET_S) / (1 + DRIFT)
    fit = align_pulses(session, other_epoch_s * 1000.0 / 1000.0)
    assert fit.n_matched == 120
    probe = np.linspace(other_epoch_s[0], other_epoch_s[-1], 50)
    expected = OFFSET_S + (1 + DRIFT) * (probe - 1.7e9)
    assert np.abs(fit.map(probe) - expected).max() < 1e-3


def test_too_few_pulses_and_no_match_are_errors_naming_the_record():
    session = rsync_train(200)
    with pytest.raises(AlignError, match=r'imaging\.csv: too few pulses: 3'):
        align_pulses(session, other_clock(session)[:3], other_what='imaging.csv')
    unrelated = rsync_train(200, seed=99)
    with pytest.raises(AlignError, match=r'imaging\.csv: no match'):
        align_pulses(session, unrelated, other_what='imaging.csv')


def test_ttl_files_plain_csv_and_units(tmp_path):
    plain = tmp_path / 'ttl.txt'
    plain.write_text('# imaging TTL log\n1.5\n2.25\n\n3.0\n')
    assert read_ttl_times(plain).tolist() == [1.5, 2.25, 3.0]
    table = tmp_path / 'ttl.csv'
    table.write_text('edge,timestamp\nrise,1500\nrise,2250\n')
    assert read_ttl_times(table, unit='ms').tolist() == [1.5, 2.25]
    bad = tmp_path / 'bad.csv'
    bad.write_text('time\n1.0\nabc\n')
    with pytest.raises(AlignError, match=r"bad\.csv: line 3: TTL time 'abc' is not a number"):
        read_ttl_times(bad)
    with pytest.raises(AlignError, match=r"ttl\.csv: no column 'when'"):
        read_ttl_times(table, column='when')


def video_of_led(session: np.ndarray, fps: float, pulse_s: float = 0.05, seed: int = 3) -> FrameRecord:
    """Frames at fps on the other clock; the LED is lit in a frame whose (session) time
    falls inside a pulse; camera noise on the grey level."""
    other = other_clock(session, jitter_s=0.0)
    frames = np.arange(int(other[0] * fps) - 30, int(other[-1] * fps) + 30)
    times = frames / fps
    t_session = truth(times)
    idx = np.searchsorted(session, t_session, 'right') - 1
    lit = (idx >= 0) & (t_session - session[np.clip(idx, 0, None)] < pulse_s)
    brightness = 20 + 180 * lit + np.random.default_rng(seed).normal(0, 3, len(frames))
    return FrameRecord(frames, times, brightness)


def test_led_frames_of_a_video_map_within_a_frame():
    session = rsync_train(300, mean_s=2.0)
    fps = 30.0
    video = video_of_led(session, fps)
    onsets, threshold = led_onsets(video)
    assert 90 < threshold < 130 and len(onsets) == 300
    fit = align_pulses(session, video.times_s[onsets], tolerance_s=1.2 / fps)
    assert fit.n_matched == 300
    probe = video.times_s[::50]
    # an onset frame comes up to one frame after the pulse: the mapping is within a frame
    assert np.abs(fit.map(probe) - truth(probe)).max() < 1.0 / fps
    assert fit.drift_ppm == pytest.approx(100.0, abs=50.0)


def test_a_video_without_the_led_is_an_error():
    flat = FrameRecord(np.arange(100), np.arange(100) / 30.0, np.full(100, 40.0))
    with pytest.raises(AlignError, match='cam.mp4: no LED pulses'):
        led_onsets(flat, what='cam.mp4')


# -- the command on a session folder with a real bag ------------------------------------


def write_session(folder: Path, pulses_epoch_s: np.ndarray, first_frame_epoch_s: float) -> None:
    from clopy_data.bag import McapBagWriter, typestore_with_clopy
    store = typestore_with_clopy()
    t = store.types

    def stamp(s: float):
        ns = int(round(s * 1e9))
        return t['builtin_interfaces/msg/Time'](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

    folder.mkdir(parents=True)
    with McapBagWriter(folder / 'bag', store) as writer:
        ctrl = writer.add_topic('control_signal', 'clopy_interfaces/msg/ControlSignal')
        for i in range(3):
            msg = t['clopy_interfaces/msg/ControlSignal'](
                header=t['std_msgs/msg/Header'](stamp=stamp(first_frame_epoch_s + i / 30), frame_id='camera'),
                frame_index=i, value=0.0, units='dff', valid=True, invalid_reason='')
            writer.write_raw(ctrl, i + 1, bytes(store.serialize_cdr(msg, 'clopy_interfaces/msg/ControlSignal')))
        rew = writer.add_topic('reward_event', 'clopy_interfaces/msg/RewardEvent')
        for k, on in enumerate(pulses_epoch_s):
            msg = t['clopy_interfaces/msg/RewardEvent'](
                header=t['std_msgs/msg/Header'](stamp=stamp(on), frame_id=''), frame_index=0, output=2,
                name='sync', reason='sync', delivered=True, note='', on_time=stamp(on), off_time=stamp(on + 0.1),
                duration_s=0.1, rewards_delivered=0, opened=False, rewards_refused=0, water_ul=0.0)
            writer.write_raw(rew, 10 + k, bytes(store.serialize_cdr(msg, 'clopy_interfaces/msg/RewardEvent')))


def test_the_command_writes_the_mapped_times_the_fit_and_the_figure(tmp_path, capsys):
    t0 = 1_780_000_000.0
    session = rsync_train(150, mean_s=1.0)
    write_session(tmp_path / 's1', t0 + session, t0)
    other = missing_and_extra(other_clock(session))
    ttl = tmp_path / 'imaging_ttl.csv'
    ttl.write_text('time_ms\n' + ''.join(f'{x * 1000:.4f}\n' for x in other))
    assert data_main(['align', str(tmp_path / 's1'), str(ttl), '--unit', 'ms']) == 0
    out = capsys.readouterr().out
    assert 'matched 149 of 150 pulses (150 sent)' in out
    fit = json.loads((tmp_path / 's1' / 'align_imaging_ttl.json').read_text())
    assert fit['drift_ppm'] == pytest.approx(100, abs=10) and fit['offset_s'] == pytest.approx(OFFSET_S, abs=1e-3)
    assert fit['session_zero_epoch_s'] == t0 and fit['max_residual_ms'] < 1.5
    rows = (tmp_path / 's1' / 'align_imaging_ttl.csv').read_text().splitlines()
    assert rows[0] == 'pulse,other_s,session_s,epoch_s,matched_session_s,residual_ms'
    mapped = np.array([float(r.split(',')[2]) for r in rows[1:]])
    assert len(mapped) == 150 and np.abs(mapped - truth(other)).max() < 1e-3
    unmatched = [r for r in rows[1:] if r.split(',')[4] == '']
    assert len(unmatched) == 1
    assert (tmp_path / 's1' / 'align_imaging_ttl.png').stat().st_size > 10_000


def test_the_command_reads_a_brightness_csv_and_names_a_bad_record(tmp_path, capsys):
    t0 = 1_780_000_000.0
    session = rsync_train(120, mean_s=1.5)
    write_session(tmp_path / 's1', t0 + session, t0)
    video = video_of_led(session, 30.0)
    csv_path = tmp_path / 'cam_led.csv'
    csv_path.write_text('frame,time,brightness\n' + ''.join(
        f'{f},{t:.6f},{b:.2f}\n' for f, t, b in zip(video.frames, video.times_s, video.brightness)))
    assert read_brightness_csv(csv_path).frames[0] == video.frames[0]
    out_dir = tmp_path / 'aligned'
    assert data_main(['align', str(tmp_path / 's1'), str(csv_path), '--out', str(out_dir)]) == 0
    rows = (out_dir / 'align_cam_led.csv').read_text().splitlines()
    assert rows[0].startswith('frame,other_s,session_s,epoch_s,brightness,led_onset')
    assert sum(r.split(',')[5] == '1' for r in rows[1:]) == 120
    few = tmp_path / 'few.txt'
    few.write_text('1.0\n2.0\n')
    assert data_main(['align', str(tmp_path / 's1'), str(few)]) == 1
    assert f'{few}: too few pulses: 2' in capsys.readouterr().err


def test_a_session_without_sync_pulses_says_how_it_ran(tmp_path):
    write_session(tmp_path / 's1', np.array([]), 1_780_000_000.0)
    ttl = tmp_path / 'ttl.txt'
    ttl.write_text('1.0\n')
    result = subprocess.run([sys.executable, '-m', 'clopy_data', 'align', str(tmp_path / 's1'), str(ttl)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'no sync pulses recorded' in result.stderr and 'sync_pin -1' in result.stderr


def test_the_command_reads_the_led_from_a_video_file(tmp_path, capsys):
    cv2 = pytest.importorskip('cv2')
    t0 = 1_780_000_000.0
    session = rsync_train(40, mean_s=1.0)
    write_session(tmp_path / 's1', t0 + session, t0)
    video = video_of_led(session, 30.0)
    path = tmp_path / 'behaviour.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 30.0, (64, 48))
    assert writer.isOpened()
    background = np.random.default_rng(0).integers(0, 60, (48, 64, 3), dtype=np.uint8)
    for b in video.brightness:
        frame = background.copy()
        frame[10:20, 40:50] = np.uint8(np.clip(b, 0, 255))   # the LED
        writer.write(frame)
    writer.release()
    # the ROI on the LED: every pulse found in the file
    assert data_main(['align', str(tmp_path / 's1'), str(path), '--roi', '40,10,10,10', '--fps', '30']) == 0
    assert 'matched 40 of 40 pulses (40 sent)' in capsys.readouterr().out
    rows = (tmp_path / 's1' / 'align_behaviour.csv').read_text().splitlines()[1:]
    other = np.array([float(r.split(',')[1]) for r in rows])
    mapped = np.array([float(r.split(',')[2]) for r in rows])
    # frame k of the file is frame video.frames[0] + k of the record: same clock up to that start
    expected = truth(other + video.times_s[0])
    # the LED comes on up to a frame before its first lit frame; taken as half a frame before it, the
    # mapping is unbiased and within half a frame
    assert np.abs(mapped - expected).max() < 0.5 / 30.0
    assert abs(np.median(mapped - expected)) < 0.004
    assert data_main(['align', str(tmp_path / 's1'), str(path), '--roi', '100,100,5,5', '--fps', '30']) == 1
    assert 'outside the 64x48 frame' in capsys.readouterr().err
