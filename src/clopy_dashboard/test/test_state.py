"""The live state: each page gets only what is new, outcomes follow the status counters."""
from __future__ import annotations

import math

from clopy_dashboard.param_text import parse_value
from clopy_dashboard.state import LiveState


def test_delta_gives_each_page_only_what_is_new():
    live = LiveState('M1', 'clnf_1roi', {'rois': []})
    live.set_status({'threshold': 0.08, 'successes': 0, 'failures': 0, 'trial': 1})
    for i in range(5):
        live.add_signal(1000.0 + i / 15, 0.01 * i, True, latency_s=0.002)
    first, cursor = live.delta(None)
    assert first['info'] == {'mouse': 'M1', 'paradigm': 'clnf_1roi', 'overlay': {'rois': []}}
    assert [round(p[0], 3) for p in first['signal']] == [round(i / 15, 3) for i in range(5)]
    assert all(p[2] == 0.08 for p in first['signal'])
    assert first['latency_ms']['n'] == 5 and math.isclose(first['latency_ms']['p50'], 2.0)
    live.add_signal(1000.4, 0.5, False)
    second, cursor = live.delta(cursor)
    assert 'info' not in second and second['signal'] == [[second['signal'][0][0], 0.5, 0.08, 0.0]]
    third, _ = live.delta(cursor)
    assert third['signal'] == []


def test_history_keeps_the_last_seconds_only():
    live = LiveState(history_s=10.0)
    for i in range(300):
        live.add_signal(i * 0.1, 0.0, True)
    update, _ = live.delta(None)
    assert update['signal'][0][0] >= 29.9 - 10.0 - 1e-9 and len(update['signal']) <= 101


def test_outcomes_come_from_the_status_counters():
    live = LiveState()
    live.set_status({'trial': 1, 'successes': 0, 'failures': 0})
    live.set_status({'trial': 1, 'successes': 1, 'failures': 0})
    live.set_status({'trial': 2, 'successes': 1, 'failures': 0})
    live.set_status({'trial': 2, 'successes': 1, 'failures': 1})
    live.set_status({'trial': 2, 'successes': 1, 'failures': 1})
    update, cursor = live.delta(None)
    assert update['outcomes'] == [{'trial': 1, 'outcome': 'success'}, {'trial': 2, 'outcome': 'fail'}]
    live.set_status({'trial': 3, 'successes': 2, 'failures': 1})
    assert live.delta(cursor)[0]['outcomes'] == [{'trial': 3, 'outcome': 'success'}]


def test_marks_count_and_frames_are_handed_once():
    live = LiveState()
    for kind in ('reward', 'lick', 'lick', 'fail', 'refused'):
        live.add_mark(5.0, kind)
    update, _ = live.delta(None)
    assert update['counts'] == {'rewards': 1, 'fails': 1, 'licks': 2, 'refused': 1}
    assert [m[1] for m in update['marks']] == [0, 2, 2, 1, 3]
    assert live.latest_frame(0) == (0, None)
    live.set_frame(b'jpeg', [256, 256])
    seq, data = live.latest_frame(0)
    assert data == b'jpeg' and live.latest_frame(seq) == (seq, None)


def test_a_typed_value_is_read_as_ros2_param_set_reads_it():
    assert parse_value('0.08') == ('double', 0.08)
    assert parse_value('3') == ('integer', 3)
    assert parse_value('-1') == ('integer', -1)
    assert parse_value('99999999999999999999') == ('string', '99999999999999999999')   # no ROS integer
    assert parse_value('true') == ('bool', True)
    assert parse_value('[1, 2]') == ('integer_array', [1, 2])
    assert parse_value('[1, 2.5]') == ('double_array', [1.0, 2.5])
    assert parse_value('high') == ('string', 'high')
    assert parse_value('{a: 1}') == ('string', '{a: 1}')
