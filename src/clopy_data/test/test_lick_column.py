"""The per-frame tables' lick column: 1 on frames a touch of the spout overlaps."""
import math

from clopy_data.tables import lick_column, touches_from_changes


def test_touches_from_changes_pairs_touch_and_release_and_keeps_an_open_one():
    changes = [(1.0, True), (1.05, False), (2.0, False), (3.0, True), (3.1, True), (3.2, False), (4.0, True)]
    assert touches_from_changes(changes) == [(1.0, 1.05), (3.0, 3.2), (4.0, math.inf)]
    assert touches_from_changes([]) == []


def test_a_touch_marks_every_frame_whose_interval_it_overlaps():
    frames = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    # inside frame 1; across frames 2-3; starting exactly at frame 5's stamp (the last: 0.1 s long)
    touches = [(0.12, 0.15), (0.28, 0.31), (0.5, 0.52)]
    assert lick_column(frames, touches) == [0, 1, 1, 1, 0, 1]


def test_a_touch_ending_at_a_frame_stamp_does_not_mark_that_frame_and_none_gives_zeros():
    frames = [0.0, 0.1, 0.2]
    assert lick_column(frames, [(0.05, 0.1)]) == [1, 0, 0]
    assert lick_column(frames, []) == [0, 0, 0]
    assert lick_column([], [(0.0, 1.0)]) == []
    assert lick_column(frames, [(-5.0, -4.0), (9.0, 10.0)]) == [0, 0, 0]
    assert lick_column(frames, [(0.15, math.inf)]) == [0, 1, 1]
