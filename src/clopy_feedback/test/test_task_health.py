"""The task node's watch over its inputs: stalls, the first frame, invalid signals, refusals."""

import pytest

from clopy_feedback.task_health import FIRST_FRAME_GRACE_S, MIN_WATCHDOG_S, TaskHealth

FPS = 10.0


def health(**kw):
    args = dict(frame_rate_hz=FPS, stall_after_frames=5, stall_limit_s=10.0, first_frame_timeout_s=30.0,
                invalid_warn_frames=3, start_s=0.0)
    args.update(kw)
    return TaskHealth(**args)


def frames(h, start_s, n, stamp0_s=None, valid=True, reason=''):
    """n frames at the frame rate, arriving in wall time as stamped; all notices."""
    out = []
    stamp0_s = start_s if stamp0_s is None else stamp0_s
    for i in range(n):
        out += h.frame(start_s + i / FPS, stamp0_s + i / FPS, valid, reason)[1]
    return out


def test_no_frame_for_the_watchdog_time_is_a_stall_and_the_next_frame_ends_it():
    h = health()
    assert frames(h, 100.0, 10) == []
    last = 100.9
    assert h.check(last + 0.4) == ([], None)                    # below the watchdog time: nothing
    notices, end = h.check(last + 0.6)
    assert end is None and [(n.type, n.subtype) for n in notices] == [('warning', 'stall')]
    assert notices[0].content == 'no frame for 0.60 s: task paused, tone off'
    assert h.stalled and h.warning == notices[0].content
    assert h.check(last + 0.7) == ([], None)                    # one warning per stall
    assert h.stalled_s(last + 2.0) == pytest.approx(2.0)
    task_s, notices = h.frame(last + 3.1, last + 3.1, True)     # stamped when it was taken: 3.1 s gap
    assert [(n.type, n.subtype, n.content) for n in notices] == [
        ('info', 'stall_end', 'stall of 3.00 s: task time paused, the trial resumes')]
    assert task_s == pytest.approx(last + 0.1)                  # one frame period after the last one
    assert not h.stalled and h.stalled_s(last + 10) == pytest.approx(3.0)


def test_a_stall_longer_than_the_limit_ends_the_session_with_the_reason():
    h = health(stall_limit_s=2.0)
    frames(h, 0.0, 3)
    h.check(1.0)
    notices, end = h.check(2.3)
    assert end == 'camera stalled: no frame for 2.10 s (limit 2 s)'


def test_the_watchdog_never_calls_a_short_hiccup_a_stall():
    h = health(frame_rate_hz=100.0)       # 5 periods = 0.05 s
    frames(h, 0.0, 1)
    assert h.watchdog_s == MIN_WATCHDOG_S
    assert h.check(0.3) == ([], None)


def test_a_stamp_gap_the_watchdog_did_not_see_is_recorded_too():
    h = health()
    frames(h, 0.0, 3)
    task_s, notices = h.frame(0.3, 4.2, True)    # a re-run: frames arrive at once, stamps have the gap
    assert [(n.subtype, n.content) for n in notices] == [
        ('stall', 'no frame for 4.00 s: task paused'), ('stall_end', 'stall of 3.90 s: task time paused, the trial resumes')]
    assert task_s == pytest.approx(0.3)


def test_no_first_frame_counts_from_the_first_frame_info():
    h = health(first_frame_timeout_s=5.0)
    h.camera_seen(10.0)
    h.camera_seen(12.0)                    # only the first one counts
    assert h.check(14.9) == ([], None)
    assert h.check(15.1) == ([], 'no first frame within 5 s')


def test_without_any_camera_the_first_frame_timeout_starts_after_the_grace():
    h = health(first_frame_timeout_s=5.0, start_s=0.0)
    assert h.check(FIRST_FRAME_GRACE_S + 4.0) == ([], None)
    assert h.check(FIRST_FRAME_GRACE_S + 5.5) == ([], f'no first frame within {FIRST_FRAME_GRACE_S + 5:g} s')


def test_after_the_first_frame_there_is_no_first_frame_timeout():
    h = health(first_frame_timeout_s=1.0)
    h.camera_seen(0.0)
    frames(h, 0.5, 1)
    assert h.check(0.9)[1] is None


def test_a_run_of_invalid_frames_warns_once_with_its_reason():
    h = health(invalid_warn_frames=3)
    assert frames(h, 0.0, 3, valid=False, reason='blank frame') == []
    notices = frames(h, 0.3, 4, valid=False, reason='blank frame')
    assert [(n.type, n.subtype, n.content) for n in notices] == [('warning', 'invalid_signal', 'blank frame for 4 frames')]
    assert h.invalid_frames == 7 and h.warning == 'blank frame for 4 frames'
    frames(h, 0.7, 1)                                                 # a valid frame ends the run
    again = frames(h, 0.8, 4, valid=False, reason='F0 below floor')
    assert [n.content for n in again] == ['F0 below floor for 4 frames']


def test_warming_up_is_not_a_fault():
    h = health(invalid_warn_frames=3)
    assert frames(h, 0.0, 100, valid=False, reason='warming up: F0 baseline 3 of 90 frames') == []
    assert h.invalid_frames == 0


def test_a_refused_reward_is_an_error_with_the_note_and_frame():
    h = health()
    notice = h.reward_refused('duration 100 s above max_valve_open_s 1 s', 42)
    assert (notice.type, notice.subtype, notice.content) == (
        'error', 'reward_refused', 'duration 100 s above max_valve_open_s 1 s (frame 42)')
    assert h.rewards_refused == 1 and h.warning == notice.content
