"""Control-point speed and the stillness condition, against hand-computed values."""
import math

import pytest

from clopy_signal.speed import (BODY_PARTS, SpeedEstimator, SpeedResult,
                                StillnessDetector)

FPS = 30.0
DT = 1 / FPS


def pose(x, y, likelihood=1.0, **others):
    """A pose with the control part fl_l at (x, y) and a static snout."""
    parts = {'snout_front': (600.0, 80.0, 0.99), 'fl_l': (x, y, likelihood)}
    parts.update(others)
    return parts


def run(estimator, points, indices=None, times=None):
    """Feed (x, y[, likelihood]) points; returns the SpeedResults."""
    indices = list(range(len(points))) if indices is None else indices
    times = [i * DT for i in indices] if times is None else times
    return [estimator.update(t, i, pose(*p)) for t, i, p in zip(times, indices, points)]


def test_the_original_body_parts():
    assert len(BODY_PARTS) == 11 and 'fl_l' in BODY_PARTS and 'tailbase_top' in BODY_PARTS


def test_first_pose_is_invalid_then_euclidean_distance_per_frame():
    results = run(SpeedEstimator('fl_l'), [(100, 200), (103, 204), (103, 204), (91, 209)])
    assert not results[0].valid and math.isnan(results[0].px_per_frame)
    # 3-4-5 triangle, then no movement, then 12-5-13
    assert [r.px_per_frame for r in results[1:]] == [5.0, 0.0, 13.0]
    assert all(r.valid for r in results[1:])


def test_mm_per_s_uses_px_per_mm_and_the_real_time_between_poses():
    estimator = SpeedEstimator('fl_l', px_per_mm=3.5)
    results = run(estimator, [(0, 0), (7, 0), (7, 14)], times=[10.0, 10.05, 10.1])
    # 7 px = 2 mm in 0.05 s = 40 mm/s; 14 px = 4 mm in 0.05 s = 80 mm/s
    assert results[1].mm_per_s == pytest.approx(40.0)
    assert results[2].mm_per_s == pytest.approx(80.0)
    # the reference's "20 px/frame is about 171 mm/s at 3.5 px/mm and 30 fps"
    r = run(SpeedEstimator('fl_l'), [(0, 0), (20, 0)])[1]
    assert r.px_per_frame == 20.0 and r.mm_per_s == pytest.approx(20 / 3.5 * 30)


def test_a_dropped_frame_divides_the_distance_by_the_index_gap():
    # frames 0, 1, 3 (frame 2 lost): 10 px over 2 frames and 2 frame intervals
    results = run(SpeedEstimator('fl_l'), [(0, 0), (6, 8), (12, 16)], indices=[0, 1, 3])
    assert results[1].px_per_frame == 10.0
    assert results[2].px_per_frame == 5.0
    assert results[2].mm_per_s == pytest.approx(10 / 3.5 / (2 * DT))


def test_likelihood_gating_skips_poor_poses_and_compares_with_the_last_good_one():
    estimator = SpeedEstimator('fl_l', likelihood_min=0.6)
    results = run(estimator, [(0, 0, 0.9), (50, 50, 0.2), (9, 12, 0.95), (9, 12, 0.6)])
    assert [r.valid for r in results] == [False, False, True, True]
    # frame 2 is compared with frame 0: 15 px over 2 frames
    assert results[2].px_per_frame == 7.5
    assert results[2].mm_per_s == pytest.approx(15 / 3.5 / (2 * DT))
    assert results[3].px_per_frame == 0.0  # likelihood == likelihood_min is usable


def test_without_gating_low_likelihood_poses_count_as_in_the_original():
    results = run(SpeedEstimator('fl_l'), [(0, 0, 0.9), (30, 40, 0.01), (0, 0, 0.9)])
    assert [r.px_per_frame for r in results[1:]] == [50.0, 50.0]


def test_non_finite_coordinates_are_unusable_even_without_gating():
    results = run(SpeedEstimator('fl_l'), [(0, 0), (math.nan, 5), (3, 4)])
    assert [r.valid for r in results] == [False, False, True]
    assert results[2].px_per_frame == 2.5  # 5 px over 2 frames


def test_a_first_pose_that_is_unusable_keeps_the_next_one_invalid():
    results = run(SpeedEstimator('fl_l', likelihood_min=0.5), [(0, 0, 0.1), (3, 4, 0.9),
                                                             (6, 8, 0.9)])
    assert [r.valid for r in results] == [False, False, True]
    assert results[2].px_per_frame == 5.0


def test_moving_average_over_the_last_n_raw_speeds():
    # raw speeds: 3, 6, 9, 0 (steps along x)
    results = run(SpeedEstimator('fl_l', smoothing_frames=3),
                  [(0, 0), (3, 0), (9, 0), (18, 0), (18, 0)])
    assert [r.px_per_frame for r in results[1:]] == [3.0, 4.5, 6.0, 5.0]
    assert results[4].mm_per_s == pytest.approx(5.0 / 3.5 * FPS)


def test_smoothing_skips_invalid_poses():
    results = run(SpeedEstimator('fl_l', likelihood_min=0.5, smoothing_frames=2),
                  [(0, 0, 1), (4, 0, 1), (99, 99, 0.0), (4, 8, 1)])
    assert not results[2].valid
    # raw speeds 4 (frame 1) and 8 px / 2 frames = 4 (frame 3): mean 4
    assert results[3].px_per_frame == 4.0


def test_reset_makes_the_next_pose_a_first_pose():
    estimator = SpeedEstimator('fl_l')
    run(estimator, [(0, 0), (3, 4)])
    estimator.reset()
    assert estimator.update(0.0, 0, pose(100, 100)).valid is False
    assert estimator.update(DT, 1, pose(100, 103)).px_per_frame == 3.0


def test_other_parts_do_not_matter():
    estimator = SpeedEstimator('fl_r')
    estimator.update(0.0, 0, pose(0, 0, fl_r=(10.0, 10.0, 1.0)))
    result = estimator.update(DT, 1, pose(500, 500, fl_r=(10.0, 11.0, 1.0)))
    assert result == SpeedResult(1.0, pytest.approx(1 / 3.5 * FPS), True)


@pytest.mark.parametrize('kwargs, key', [
    ({'control_part': ''}, 'control_part'),
    ({'control_part': 'fl_l', 'px_per_mm': 0}, 'px_per_mm'),
    ({'control_part': 'fl_l', 'px_per_mm': math.inf}, 'px_per_mm'),
    ({'control_part': 'fl_l', 'likelihood_min': 1.5}, 'likelihood_min'),
    ({'control_part': 'fl_l', 'smoothing_frames': 0}, 'smoothing_frames'),
    ({'control_part': 'fl_l', 'smoothing_frames': 2.5}, 'smoothing_frames'),
])
def test_bad_settings_are_refused_naming_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        SpeedEstimator(**kwargs)


def test_bad_poses_are_refused_naming_the_key_and_value():
    estimator = SpeedEstimator('fl_l')
    with pytest.raises(ValueError, match=r"no 'fl_l'.*snout_front"):
        estimator.update(0.0, 0, {'snout_front': (1.0, 2.0, 1.0)})
    with pytest.raises(ValueError, match=r"parts\['fl_l'\]"):
        estimator.update(0.0, 0, {'fl_l': (1.0, 2.0)})
    estimator.update(1.0, 5, pose(0, 0))
    with pytest.raises(ValueError, match='frame_index=5'):
        estimator.update(2.0, 5, pose(0, 0))
    with pytest.raises(ValueError, match='t_s=1.0'):
        estimator.update(1.0, 6, pose(0, 0))


# --- stillness ----------------------------------------------------------------------

def feed(detector, speeds, fps=FPS, start_index=0):
    """Feed speeds at t = index / fps; returns ``still`` after each sample."""
    out = []
    for k, s in enumerate(speeds):
        detector.update((start_index + k) / fps, s)
        out.append(detector.still)
    return out


def test_still_needs_a_full_window_of_151_frames_at_30_fps():
    detector = StillnessDetector(window_s=5.0, level_px_per_frame=1.0)
    states = feed(detector, [0.0] * 152)
    # the window (t - 5 s .. t) is covered from frame 150 on (t = 5 s): 151 frames
    assert states.index(True) == 150 and all(states[150:])
    assert detector.n_samples == 151


def test_the_mean_over_the_window_must_be_strictly_below_the_level():
    detector = StillnessDetector(window_s=5.0, level_px_per_frame=1.0)
    feed(detector, [1.0] * 151)
    assert detector.mean_speed == 1.0 and not detector.still  # equal is not below
    detector = StillnessDetector(window_s=5.0, level_px_per_frame=1.0)
    # one 150 px/frame spike among 151 samples: mean 150/151 < 1 -> still
    feed(detector, [150.0] + [0.0] * 150)
    assert detector.mean_speed == pytest.approx(150 / 151) and detector.still


def test_a_movement_blocks_stillness_until_it_leaves_the_window():
    detector = StillnessDetector(window_s=5.0, level_px_per_frame=1.0)
    speeds = [0.0] * 200 + [30.0] * 10 + [0.0] * 400
    states = feed(detector, speeds)
    # mean < 1 while at most 5 of the 30 px/frame frames are in the window (151 / 30 = 5.03)
    assert states[204] and not any(states[205:355])
    first_still_again = states.index(True, 205)
    remaining = sum(1 for k in range(first_still_again - 150, first_still_again + 1)
                    if 200 <= k < 210)
    assert remaining == 5 and not states[first_still_again - 1]


def test_invalid_samples_are_left_out_and_too_many_forbid_stillness():
    detector = StillnessDetector(window_s=1.0, level_px_per_frame=1.0)
    feed(detector, [0.5, None, math.nan, 0.5], fps=3.0)  # 4 samples over 1 s, 2 valid
    assert detector.mean_speed == 0.5 and detector.still
    detector = StillnessDetector(window_s=1.0, level_px_per_frame=1.0)
    feed(detector, [None, None, None, 0.5], fps=3.0)  # 1 valid of 4 < half
    assert not detector.still


def test_the_window_uses_time_not_sample_count():
    # 10 fps: 5 s is 51 samples; a 2 s gap in the stream still counts as covered time
    detector = StillnessDetector(window_s=5.0, level_px_per_frame=1.0)
    for t in [0.0, 0.1, 2.1, 4.9]:
        detector.update(t, 0.0)
    assert not detector.full
    detector.update(5.0, 0.0)
    assert detector.full and detector.still and detector.n_samples == 5
    detector.update(5.2, 0.0)  # t = 0.0 and 0.1 fall out of the window
    assert detector.n_samples == 4


def test_stillness_reset_and_bad_input():
    detector = StillnessDetector()
    feed(detector, [0.0] * 151)
    assert detector.still
    detector.reset()
    assert not detector.still and detector.n_samples == 0
    detector.update(3.0, 0.0)
    with pytest.raises(ValueError, match='t_s=2.0'):
        detector.update(2.0, 0.0)
    with pytest.raises(ValueError, match="speed='fast'"):
        detector.update(4.0, 'fast')
    for key, kwargs in [('window_s', {'window_s': 0}),
                        ('level_px_per_frame', {'level_px_per_frame': -1}),
                        ('min_valid_fraction', {'min_valid_fraction': 0})]:
        with pytest.raises(ValueError, match=key):
            StillnessDetector(**kwargs)
