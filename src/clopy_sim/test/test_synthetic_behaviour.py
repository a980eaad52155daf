"""Synthetic behaviour camera: format, determinism, bouts, speeds and the drawn parts."""
import math

import numpy as np
import pytest

from clopy_acquisition.sources import SOURCE_KINDS, FrameSource, open_source
from clopy_sim.synthetic_behaviour import BODY_PARTS, LIMBS, SyntheticBehaviourSource

FPS = 30.0
SIDE_VIEW = {'snout_front', 'snout_top', 'fl_l_front', 'fl_r_front', 'tailbase_top'}


def track(source, part, n_frames):
    """Ground-truth positions of one part for frames 0..n-1, shape (n, 2)."""
    return np.array([source.ground_truth(i)[part] for i in range(n_frames)])


def per_frame_px(positions):
    """Displacement between consecutive frames, px/frame (entry k: frame k -> k+1)."""
    return np.hypot(*np.diff(positions, axis=0).T)


def in_bout(frame_k, bouts):
    """Frames k and k+1 both lie outside every bout -> False."""
    t0, t1 = frame_k / FPS, (frame_k + 1) / FPS
    return any(start <= t1 and t0 <= end for start, end, _ in bouts)


def test_frame_format_and_source_kind():
    source = SyntheticBehaviourSource(seed=0)
    assert isinstance(source, FrameSource) and source.live is False
    assert (source.width_px, source.height_px, source.nominal_fps) == (640, 320, 30.0)
    assert source.encoding == 'bgr8' and source.control_part == 'fl_l'
    frame = source.frame_at(0)
    assert frame.shape == (320, 640, 3) and frame.dtype == np.uint8
    assert 'synthetic_behaviour' in SOURCE_KINDS
    with open_source('synthetic_behaviour', seed=0, n_frames=3) as opened:
        frames = [opened.read() for _ in range(4)]
        assert frames[3] is None
        assert frames[1].image.tobytes() == source.frame_at(1).tobytes()
        assert frames[0].capture_time_s is None and frames[0].dropped_before == 0
        opened.close()
        opened.open()  # reopening restarts at frame 0
        assert opened.read().image.tobytes() == frames[0].image.tobytes()


def test_the_eleven_body_parts_stay_in_their_view():
    source = SyntheticBehaviourSource(seed=3, bout_rate_hz=1.0, other_bout_rate_hz=1.0,
                                      bout_speed_px_per_frame=60.0)
    assert sorted(source.ground_truth(0)) == sorted(BODY_PARTS) and len(BODY_PARTS) == 11
    for i in range(0, 3000, 2):  # 100 s with many fast bouts
        for part, (x, y) in source.ground_truth(i).items():
            assert 5 <= x <= 635, (i, part, x)
            if part in SIDE_VIEW:
                assert 5 <= y <= 155, (i, part, y)
            else:
                assert 165 <= y <= 315, (i, part, y)


def test_same_seed_gives_identical_frames_and_positions_in_any_order():
    a = SyntheticBehaviourSource(seed=42)
    b = SyntheticBehaviourSource(seed=42)
    indices = [0, 1, 2, 333, 1800, 1801, 9000]
    later = {i: (b.frame_at(i), b.ground_truth(i)) for i in reversed(indices)}
    for i in indices:
        assert a.frame_at(i).tobytes() == later[i][0].tobytes()
        assert a.ground_truth(i) == later[i][1]
    assert a.bout_schedule == b.bout_schedule


def test_different_seeds_differ():
    a, b = SyntheticBehaviourSource(seed=1), SyntheticBehaviourSource(seed=2)
    assert a.bouts_between(0, 300) != b.bouts_between(0, 300)
    assert a.ground_truth(10) != b.ground_truth(10)


def test_bout_schedule_durations_rates_and_no_overlap_per_limb():
    source = SyntheticBehaviourSource(seed=7, bout_rate_hz=0.5, other_bout_rate_hz=0.2,
                                      n_frames=int(2000 * FPS))
    schedule = source.bout_schedule
    assert schedule == sorted(schedule)
    assert all(start < 2000.0 for start, _, _ in schedule)
    assert {limb for _, _, limb in schedule} == set(LIMBS)
    for limb in LIMBS:
        mine = [(s, e) for s, e, part in schedule if part == limb]
        durations = np.array([e - s for s, e in mine])
        assert durations.min() >= 0.3 and durations.max() <= 1.5
        gaps = np.array([s2 - e1 for (_, e1), (s2, _) in zip(mine, mine[1:])])
        assert gaps.min() > 0  # one bout at a time per limb
        rate = 0.5 if limb == 'fl_l' else 0.2
        # exponential rests of mean 1 / rate (about 950 / 380 of them: a few % error)
        assert gaps.mean() == pytest.approx(1 / rate, rel=0.12)
        assert gaps.std() == pytest.approx(1 / rate, rel=0.2)  # exponential: sd == mean


def test_the_control_paw_is_fast_in_bouts_and_nearly_still_between():
    source = SyntheticBehaviourSource(seed=11, bout_rate_hz=0.3)
    n = int(120 * FPS)
    speed = per_frame_px(track(source, 'fl_l', n))
    bouts = [b for b in source.bouts_between(0, n / FPS) if b[2] == 'fl_l']
    assert len(bouts) >= 10
    resting = np.array([not in_bout(k, bouts) for k in range(n - 1)])
    assert speed[resting].max() < 0.2  # rest jitter 0.5 px: at most 0.1 px/frame
    for start, end, _ in bouts:
        if end > (n - 1) / FPS:
            continue
        frames = slice(int(start * FPS), int(end * FPS) + 1)
        # peak speed 40 px/frame; a frame averages, so the largest step is a bit lower
        assert 20.0 < speed[frames].max() <= 40.0, (start, end, speed[frames].max())


def test_other_limbs_bouts_do_not_move_the_control_paw():
    source = SyntheticBehaviourSource(seed=5, bout_rate_hz=0.0, other_bout_rate_hz=1.0)
    n = int(60 * FPS)
    assert source.bouts_between(0, 60) and all(b[2] != 'fl_l' for b in source.bout_schedule)
    assert per_frame_px(track(source, 'fl_l', n)).max() < 0.2
    assert per_frame_px(track(source, 'fl_r', n)).max() > 20.0


def test_bout_speed_and_jitter_are_configurable():
    slow = SyntheticBehaviourSource(seed=11, bout_rate_hz=0.3, bout_speed_px_per_frame=10.0,
                                    rest_jitter_px=0.0)
    n = int(60 * FPS)
    speed = per_frame_px(track(slow, 'fl_l', n))
    bouts = [b for b in slow.bouts_between(0, 60) if b[2] == 'fl_l']
    resting = np.array([not in_bout(k, bouts) for k in range(n - 1)])
    assert speed[resting].max() == 0.0  # no jitter: perfectly still between bouts
    assert 5.0 < speed.max() <= 10.0


def test_a_side_view_control_part_is_calibrated_in_its_own_view():
    source = SyntheticBehaviourSource(seed=2, bout_rate_hz=0.5, control_part='fl_l_front')
    n = int(40 * FPS)
    front = per_frame_px(track(source, 'fl_l_front', n))
    bottom = per_frame_px(track(source, 'fl_l', n))
    assert 20.0 < front.max() <= 40.0
    assert not np.allclose(front, bottom)  # the two views see different motion


def test_each_part_is_drawn_centred_on_its_ground_truth():
    source = SyntheticBehaviourSource(seed=11, bout_rate_hz=0.3)
    bout = next(b for b in source.bout_schedule if b[2] == 'fl_l')
    mid = int((bout[0] + bout[1]) / 2 * FPS)
    for index in (0, mid, mid + 1):
        image = source.frame_at(index).astype(np.float64)
        truth = source.ground_truth(index)
        for part, half in (('fl_l', slice(160, 320)), ('fl_l_front', slice(0, 160))):
            x, y = truth[part]
            # pixels of the paw's own colour (BGR 80, 80, 255), weighted: the blob's centroid
            view = image[half]
            redness = np.clip(view[..., 2] - np.maximum(view[..., 0], view[..., 1]) - 60, 0, None)
            rows, cols = np.nonzero(redness)
            weights = redness[rows, cols]
            cy = (rows * weights).sum() / weights.sum() + half.start
            cx = (cols * weights).sum() / weights.sum()
            assert math.hypot(cx - x, cy - y) < 0.5, (index, part, (cx, cy), (x, y))


def test_ground_truth_speed_feeds_the_speed_estimator_and_stillness_detector():
    from clopy_signal.speed import SpeedEstimator, StillnessDetector

    source = SyntheticBehaviourSource(seed=11, bout_rate_hz=0.3)
    estimator, stillness = SpeedEstimator('fl_l'), StillnessDetector()
    n = int(60 * FPS)
    speeds, still = [], []
    for i in range(n):
        parts = {p: (x, y, 1.0) for p, (x, y) in source.ground_truth(i).items()}
        result = estimator.update(i / FPS, i, parts)
        stillness.update(i / FPS, result.px_per_frame if result.valid else None)
        speeds.append(result.px_per_frame)
        still.append(stillness.still)
    bouts = [b for b in source.bouts_between(0, 60) if b[2] == 'fl_l']
    assert np.nanmax(speeds) > 20.0  # crosses the CLMF threshold
    # a bout that covers more than 151 px (mean > 1 px/frame over 151 frames) ends
    # stillness by its last frame
    long_bouts = 0
    for start, end, _ in bouts:
        first, last = int(start * FPS), int(end * FPS)
        if np.nansum(speeds[first:last + 1]) > 151:
            long_bouts += 1
            assert not still[last]
    assert long_bouts >= 5
    gaps = [(e1, s2) for (_, e1, _), (s2, _, _) in zip(bouts, bouts[1:]) if s2 - e1 > 6.0]
    assert gaps and all(still[int((s2 - 0.1) * FPS)] for _, s2 in gaps)


@pytest.mark.parametrize('kwargs, key', [
    ({'fps': 0}, 'fps'),
    ({'bout_rate_hz': -1}, 'bout_rate_hz'),
    ({'other_bout_rate_hz': math.nan}, 'other_bout_rate_hz'),
    ({'bout_duration_s': (1.5, 0.3)}, 'bout_duration_s'),
    ({'bout_duration_s': 1.0}, 'bout_duration_s'),
    ({'bout_speed_px_per_frame': 0}, 'bout_speed_px_per_frame'),
    ({'bout_speed_px_per_frame': 100}, 'bout_speed_px_per_frame'),
    ({'rest_jitter_px': 3}, 'rest_jitter_px'),
    ({'control_part': 'snout_top'}, 'control_part'),
    ({'width_px': 320}, 'width_px'),
    ({'n_frames': -1}, 'n_frames'),
])
def test_bad_parameters_are_refused_naming_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        SyntheticBehaviourSource(seed=0, **kwargs)
    with pytest.raises(ValueError, match='index'):
        SyntheticBehaviourSource(seed=0).frame_at(-1)
