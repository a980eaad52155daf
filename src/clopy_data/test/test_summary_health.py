"""The summary's end reason and health columns, from a real bag and event log: valve
openings counted by distinct on_time (an opening whose closing record never came still
counts), refused rewards, water, and the end reason from the bag's first session_end
record, else the event log's end_reason row, else 'unknown'."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

from clopy_data.bag import McapBagWriter, typestore_with_clopy
from clopy_data.folder import SessionFolder
from clopy_data.postprocess import finish_session, read_summary_row
from clopy_data.session import SUMMARY_COLUMNS, EventLogWriter

START = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


@pytest.fixture(scope='module')
def store():
    return typestore_with_clopy()


def time_msg(store, ns: int):
    return store.types['builtin_interfaces/msg/Time'](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def reward_event(store, on_ns: int, off_ns: int, *, delivered=True, opened=False, refused=0, water=0.0, note=''):
    t = store.types
    header = t['std_msgs/msg/Header'](stamp=time_msg(store, on_ns), frame_id='camera')
    return t['clopy_interfaces/msg/RewardEvent'](
        header=header, frame_index=on_ns // 1_000_000, output=0, name='valve', reason='success',
        delivered=delivered, note=note, on_time=time_msg(store, on_ns), off_time=time_msg(store, off_ns),
        duration_s=(off_ns - on_ns) / 1e9 if off_ns else 0.0, rewards_delivered=0, opened=opened,
        rewards_refused=refused, water_ul=water)


def session_end(store, reason: str, error: bool):
    t = store.types
    return t['clopy_interfaces/msg/SessionEnd'](
        header=t['std_msgs/msg/Header'](stamp=time_msg(store, 0), frame_id=''), reason=reason, node='x', error=error)


def make_session(tmp_path: Path, store, ends=(), end_rows=None) -> SessionFolder:
    folder = SessionFolder(tmp_path / 'clnf_1roi' / 'm1_20260304-050607')
    folder.path.mkdir(parents=True)
    folder.parameters.write_text(yaml.safe_dump({'task': {'ros__parameters': {'v.threshold': 0.1}},
                                                 'recorder': {'ros__parameters': {'paradigm': 'clnf_1roi'}}}))
    with EventLogWriter(folder.events) as log:
        log.write_start_info(subject_id='m1', paradigm='clnf_1roi', start_time=START)
        for name, value in (end_rows or {}).items():
            log.info(name, value)
    s = 1_000_000_000
    events = [
        reward_event(store, 10 * s, 0, opened=True, water=0.0),            # opens ...
        reward_event(store, 10 * s, 10 * s + 300_000_000, water=12.0),     # ... and closes
        reward_event(store, 20 * s, 0, opened=True, water=12.0),           # killed mid-pulse: no closing record
        reward_event(store, 0, 0, delivered=False, refused=1, water=12.0, note='pulse too long'),
    ]
    t = store.types
    roi = t['clopy_interfaces/msg/RoiSignal'](
        header=t['std_msgs/msg/Header'](stamp=time_msg(store, 5 * s), frame_id='camera'), frame_index=0,
        roi_names=['M1_L'], dff=np.array([0.01]), rule_value=0.01, rule='M1_L', valid=True)
    with McapBagWriter(folder.bag, store) as writer:
        frames = writer.add_topic('roi_signal', 'clopy_interfaces/msg/RoiSignal')
        writer.write_raw(frames, 1, bytes(store.serialize_cdr(roi, 'clopy_interfaces/msg/RoiSignal')))
        rew = writer.add_topic('reward_event', 'clopy_interfaces/msg/RewardEvent')
        end = writer.add_topic('session_end', 'clopy_interfaces/msg/SessionEnd')
        for i, msg in enumerate(events):
            writer.write_raw(rew, i + 1, bytes(store.serialize_cdr(msg, 'clopy_interfaces/msg/RewardEvent')))
        for i, (reason, error) in enumerate(ends):
            writer.write_raw(end, 100 + i, bytes(store.serialize_cdr(session_end(store, reason, error),
                                                                     'clopy_interfaces/msg/SessionEnd')))
    return folder


def test_summary_columns_end_with_the_health_columns():
    assert SUMMARY_COLUMNS[-7:] == ('end_reason', 'end_error', 'stalled_s', 'rewards_refused', 'valve_openings',
                                    'water_ul', 'invalid_frames')


def test_openings_refusals_and_the_first_session_end(tmp_path, store):
    folder = make_session(tmp_path, store, ends=[('node reward died (SIGKILL)', True), ('stopped by the user', False)],
                          end_rows={'end_reason': 'stopped by the user', 'end_error': 'false'})
    folder.mark_unfinished()
    csv_path = folder.default_sessions_summary
    summary = finish_session(folder.path, csv_path)
    assert summary['valve_openings'] == 2 and summary['rewards'] == 2
    assert summary['rewards_refused'] == 1 and summary['water_ul'] == 12.0
    assert (summary['end_reason'], summary['end_error']) == ('node reward died (SIGKILL)', True)
    row = read_summary_row(csv_path, folder.path)
    assert row['end_reason'] == 'node reward died (SIGKILL)' and row['end_error'] == 1 and row['valve_openings'] == 2
    assert csv_path == tmp_path / 'sessions_summary.csv'
    assert not folder.unfinished_marker.exists(), 'the summary row written: the folder is finished'


def test_without_a_session_end_record_the_event_log_says(tmp_path, store):
    folder = make_session(tmp_path, store, end_rows={'end_reason': 'clopy run died', 'end_error': 'true'})
    summary = finish_session(folder.path, None)
    assert (summary['end_reason'], summary['end_error']) == ('clopy run died', True)


def test_a_recording_that_says_nothing_ended_unknown(tmp_path, store):
    folder = make_session(tmp_path, store)
    summary = finish_session(folder.path, None)
    assert (summary['end_reason'], summary['end_error']) == ('unknown', '')
