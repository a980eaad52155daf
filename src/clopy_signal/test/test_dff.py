"""Rolling-baseline dF/F0: hand-computed cases and a naive cross-check."""
import math

import numpy as np
import pytest

from clopy_signal.dff import DffEstimator, DffResult, history_frames_for
from clopy_signal.roi import ConfigError, Roi

H, W = 16, 20
ROI_A = Roi('a', 2, 3, 4, 5)
ROI_B = Roi('b', 8, 10, 3, 3)


def bgr(green, blue, red=0.0, shape=(H, W)):
    """Frame with uniform channels (uint8 unless a float is needed)."""
    frame = np.empty(shape + (3,), np.float64)
    frame[..., 0], frame[..., 1], frame[..., 2] = blue, green, red
    if all(float(v).is_integer() for v in (green, blue, red)):
        return frame.astype(np.uint8)
    return frame


def feed(est, frames):
    return [est.update(f) for f in frames]


def test_history_frames_for():
    assert history_frames_for(6.0, 15.0) == 90
    assert history_frames_for(1.0, 30.0) == 30
    assert history_frames_for(0.1, 15.0) == 2      # 1.5 rounds half up
    assert history_frames_for(0.05, 15.0) == 1     # 0.75
    with pytest.raises(ConfigError, match='dff_history_s=0.01'):
        history_frames_for(0.01, 15.0)              # 0.15 frames
    with pytest.raises(ConfigError, match='frame_rate_hz'):
        history_frames_for(6.0, 0)
    with pytest.raises(ConfigError, match='dff_history_s'):
        history_frames_for(float('nan'), 15.0)


def test_invalid_until_history_full_then_valid():
    est = DffEstimator([ROI_A, ROI_B], history_frames=3)
    results = feed(est, [bgr(100, 50)] * 5)
    for r in results[:3]:
        assert r.valid is False
        assert r.values.shape == (2,)
        assert np.all(np.isnan(r.values))
    for r in results[3:]:
        assert r.valid is True
    assert est.frames_in_history == 3


def test_constant_frames_give_zero():
    est = DffEstimator([ROI_A, ROI_B], history_frames=4)
    results = feed(est, [bgr(120, 70)] * 10)
    for r in results[4:]:
        np.testing.assert_array_equal(r.values, [0.0, 0.0])


def test_step_gives_known_value_and_current_frame_excluded():
    # Baseline of 4 frames at 100, then 110: dF/F = 10/100 exactly. If the
    # current frame were included, F0 would be 102.5 and dF/F 0.0732.
    est = DffEstimator([ROI_A], history_frames=4, correction='green')
    results = feed(est, [bgr(100, 60)] * 4 + [bgr(110, 60)])
    assert results[-1].values[0] == pytest.approx(0.1, abs=1e-15)
    # Next frame, still 110: F0 = (3*100 + 110)/4 = 102.5.
    r = est.update(bgr(110, 60))
    assert r.values[0] == pytest.approx(110 / 102.5 - 1, abs=1e-15)


def test_no_zero_frame_bias():
    # The original's baseline started with an all-zero frame; with it the
    # first valid value after constant frames would be positive, not 0.
    est = DffEstimator([ROI_A], history_frames=2, correction='green')
    results = feed(est, [bgr(80, 40)] * 3)
    assert results[2].values[0] == 0.0


def test_green_minus_blue_per_pixel_then_mean():
    # Green steps +20 %, blue +5 %: corrected signal is 0.15.
    est = DffEstimator([ROI_A], history_frames=2)
    results = feed(est, [bgr(100, 80)] * 2 + [bgr(120, 84)])
    assert results[2].values[0] == pytest.approx(0.20 - 0.05, abs=1e-12)


def test_per_pixel_mean_not_ratio_of_means():
    # Two pixels with baselines 50 and 200 both rising by 10 counts:
    # per-pixel mean is (0.2 + 0.05)/2 = 0.125; a ratio of ROI means would
    # give 20/250 = 0.08.
    roi = Roi('p', 0, 0, 1, 2)
    base = np.zeros((1, 2), np.uint8)
    base[0] = [50, 200]
    est = DffEstimator([roi], history_frames=1, correction='mono')
    est.update(base)
    r = est.update(base + 10)
    assert r.values[0] == pytest.approx(0.125, abs=1e-12)


def test_zero_baseline_pixels_count_as_zero():
    roi = Roi('p', 0, 0, 1, 2)
    base = np.array([[0, 100]], np.uint8)
    est = DffEstimator([roi], history_frames=1, correction='mono')
    est.update(base)
    r = est.update(np.array([[7, 150]], np.uint8))
    # pixel 0: F0 == 0 -> 0; pixel 1: 0.5; mean 0.25.
    assert r.values[0] == pytest.approx(0.25, abs=1e-12)
    assert np.isfinite(r.values).all()


def test_rolling_window_forgets_old_frames():
    est = DffEstimator([ROI_A], history_frames=3, correction='green')
    feed(est, [bgr(200, 60)] * 3 + [bgr(100, 60)] * 3)
    # Window now holds only the three 100s.
    r = est.update(bgr(100, 60))
    assert r.values[0] == 0.0


def test_rois_are_independent_and_ordered():
    frame = bgr(100, 50)
    step = frame.copy()
    step[ROI_B.rows, ROI_B.cols, 1] = 150   # only ROI b's green rises 50 %
    est = DffEstimator([ROI_A, ROI_B], history_frames=2, correction='green')
    results = feed(est, [frame, frame, step])
    np.testing.assert_allclose(results[2].values, [0.0, 0.5], atol=1e-15)
    assert est.names == ['a', 'b']


def test_channel_choice():
    # Only blue changes: 'green' sees nothing, green-minus-blue sees -blue.
    frames = [bgr(100, 50)] * 2 + [bgr(100, 60)]
    green_only = feed(DffEstimator([ROI_A], 2, 'green'), frames)[2]
    corrected = feed(DffEstimator([ROI_A], 2, 'green_minus_blue'), frames)[2]
    assert green_only.values[0] == 0.0
    assert corrected.values[0] == pytest.approx(-0.2, abs=1e-12)
    # Red is never used.
    frames = [bgr(100, 50, 10)] * 2 + [bgr(100, 50, 200)]
    assert feed(DffEstimator([ROI_A], 2), frames)[2].values[0] == 0.0


def test_green_minus_blue_removes_shared_multiplicative_component():
    rng = np.random.default_rng(1)
    n = 300
    shared = 1 + 0.1 * np.sin(np.arange(n) / 7.0) + 0.05 * rng.standard_normal(n)
    green_base = rng.uniform(80, 120, (H, W))
    blue_base = rng.uniform(50, 90, (H, W))
    frames = []
    for s in shared:
        f = np.empty((H, W, 3))
        f[..., 0] = blue_base * s
        f[..., 1] = green_base * s
        f[..., 2] = 0
        frames.append(f)
    green = feed(DffEstimator([ROI_A], 30, 'green'), frames)
    corrected = feed(DffEstimator([ROI_A], 30, 'green_minus_blue'), frames)
    g = np.array([r.values[0] for r in green[30:]])
    c = np.array([r.values[0] for r in corrected[30:]])
    assert np.std(g) > 0.03          # the shared component is visible ...
    assert np.max(np.abs(c)) < 1e-12  # ... and cancels exactly per pixel


def naive_dff(history, frame, roi, channels):
    """Direct recomputation from the list of previous frames."""
    f0 = np.mean([h[roi.rows, roi.cols][..., channels].astype(np.float64)
                  for h in history], axis=0)
    f = frame[roi.rows, roi.cols][..., channels].astype(np.float64)
    d = np.zeros_like(f)
    np.divide(f - f0, f0, out=d, where=f0 != 0)
    signal = d[..., 0] - d[..., 1] if len(channels) == 2 else d[..., 0]
    return signal.mean()


@pytest.mark.parametrize('dtype', [np.uint8, np.float64])
def test_running_sum_matches_naive_over_500_frames(dtype):
    rng = np.random.default_rng(0)
    n_hist = 37
    rois = [ROI_A, ROI_B, Roi('overlap', 3, 4, 8, 8)]
    est = DffEstimator(rois, n_hist)
    frames = []
    for i in range(500):
        if dtype is np.uint8:
            f = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        else:
            f = rng.uniform(0.0, 1000.0, (H, W, 3)) * (1 + i / 100)
        frames.append(f)
        r = est.update(f)
        if i < n_hist:
            assert not r.valid
            continue
        history = frames[i - n_hist:i]
        expected = [naive_dff(history, f, roi, [1, 0]) for roi in rois]
        np.testing.assert_allclose(r.values, expected, rtol=0, atol=1e-9)


def test_mono_frames():
    roi = Roi('m', 1, 1, 2, 2)
    est = DffEstimator([roi], 2, correction='mono')
    frames = [np.full((6, 6), 40, np.uint8)] * 2 + [np.full((6, 6), 50,
                                                             np.uint8)]
    assert feed(est, frames)[2].values[0] == pytest.approx(0.25)


def test_result_type():
    est = DffEstimator([ROI_A], 1)
    est.update(bgr(10, 10))
    r = est.update(bgr(10, 10))
    assert isinstance(r, DffResult)
    assert r.values.dtype == np.float64


def test_reset_clears_history():
    est = DffEstimator([ROI_A], 2)
    feed(est, [bgr(10, 10)] * 3)
    est.reset()
    assert est.frames_in_history == 0
    assert not est.update(bgr(10, 10)).valid


@pytest.mark.parametrize('correction, frame, match', [
    ('green_minus_blue', np.zeros((H, W), np.uint8), r'\(H, W, 3\)'),
    ('green', np.zeros((H, W, 4), np.uint8), r'\(H, W, 3\)'),
    ('mono', np.zeros((H, W, 3), np.uint8), '2-D'),
    ('green', np.zeros((5, 5, 3), np.uint8), r"\['a'\].*5x5"),
])
def test_wrong_frame_shape(correction, frame, match):
    est = DffEstimator([ROI_A], 2, correction=correction)
    with pytest.raises(ValueError, match=match):
        est.update(frame)


def test_bad_constructor_arguments():
    with pytest.raises(ConfigError, match="correction='red'.*green_minus_blue"):
        DffEstimator([ROI_A], 2, correction='red')
    with pytest.raises(ConfigError, match='history_frames=0'):
        DffEstimator([ROI_A], 0)
    with pytest.raises(ConfigError, match='history_frames=2.5'):
        DffEstimator([ROI_A], 2.5)
    with pytest.raises(ConfigError, match='at least one ROI'):
        DffEstimator([], 2)
    with pytest.raises(ConfigError, match='unique'):
        DffEstimator([ROI_A, ROI_A], 2)
    with pytest.raises(ConfigError, match='negative'):
        DffEstimator([Roi('neg', -1, 0, 2, 2)], 2)


def test_update_cost_does_not_grow_with_history():
    # Work per frame must be O(ROI pixels): a 100x longer history may not make
    # updates anywhere near 100x slower (generous bound for noisy CI).
    import time
    frame = np.full((256, 256, 3), 100, np.uint8)
    rois = [Roi(f'r{i}', 8 * i, 8 * i, 8, 8) for i in range(4)]

    def per_update_s(n_hist):
        est = DffEstimator(rois, n_hist)
        for _ in range(n_hist + 5):
            est.update(frame)
        t0 = time.perf_counter()
        for _ in range(300):
            est.update(frame)
        return (time.perf_counter() - t0) / 300

    short, long_ = per_update_s(10), per_update_s(1000)
    print(f'update: {short * 1e6:.1f} us (10 frames), '
          f'{long_ * 1e6:.1f} us (1000 frames)')
    assert long_ < 10 * short + 20e-6
    assert math.isfinite(long_)
