"""Synthetic cortex: determinism, activity modes and dF/F behaviour."""
import time

import numpy as np
import pytest

from clopy_signal.dff import DffEstimator, history_frames_for
from clopy_signal.roi import ConfigError, rois_from_config

from clopy_acquisition.sources import FrameSource
from clopy_sim.synthetic import ACTIVITIES, SyntheticCortexSource, expected_ramp_dff

HISTORY = history_frames_for(6.0, 15.0)   # 90 frames


def dff_series(source, roi_names, n_frames, correction='green_minus_blue'):
    """ROI dF/F for frames 0..n-1, shape (n, n_rois); NaN while filling."""
    rois = rois_from_config(roi_names, source.height_px, source.width_px)
    estimator = DffEstimator(rois, HISTORY, correction)
    return np.array([estimator.update(source.frame_at(i)).values
                     for i in range(n_frames)])


def test_frame_format_and_geometry():
    source = SyntheticCortexSource(seed=0)
    assert isinstance(source, FrameSource)
    assert (source.width_px, source.height_px) == (256, 256)
    assert source.nominal_fps == 15.0
    assert source.encoding == 'bgr8'
    assert source.live is False
    assert (source.bregma_row_px, source.bregma_col_px) == (135, 128)
    assert source.px_per_mm == 25.6
    frame = source.frame_at(0)
    assert frame.shape == (256, 256, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize('activity', ACTIVITIES)
def test_same_seed_gives_byte_identical_frames(activity):
    a = SyntheticCortexSource(seed=42, activity=activity,
                              target_regions=['M1_L'])
    b = SyntheticCortexSource(seed=42, activity=activity,
                              target_regions=['M1_L'])
    # b is visited out of order: frames must not depend on visiting order.
    indices = [0, 1, 2, 77, 150, 151, 900]
    later = {i: b.frame_at(i) for i in reversed(indices)}
    for i in indices:
        assert a.frame_at(i).tobytes() == later[i].tobytes()


def test_different_seeds_differ():
    a = SyntheticCortexSource(seed=1).frame_at(10)
    b = SyntheticCortexSource(seed=2).frame_at(10)
    assert not np.array_equal(a, b)


def test_unseeded_source_records_its_seed():
    a = SyntheticCortexSource()
    b = SyntheticCortexSource(seed=a.seed)
    assert a.frame_at(33).tobytes() == b.frame_at(33).tobytes()


def test_read_returns_consecutive_frames_without_timestamps():
    source = SyntheticCortexSource(seed=5, n_frames=4)
    with source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
    assert len(frames) == 4
    for i, frame in enumerate(frames):
        assert frame.capture_time_s is None and frame.dropped_before == 0
        np.testing.assert_array_equal(frame.image, source.frame_at(i))
    with source:                           # reopening starts at frame 0
        np.testing.assert_array_equal(source.read().image, source.frame_at(0))


def test_consecutive_spontaneous_frames_change():
    source = SyntheticCortexSource(seed=5)
    assert not np.array_equal(source.frame_at(0), source.frame_at(1))


def test_intensities_stay_inside_uint8():
    source = SyntheticCortexSource(seed=3, target_regions=['M1_L'],
                                   hemodynamic_amplitude=0.1)
    cortex = source.brain_mask >= 1.0
    for i in range(0, 1500, 37):
        frame = source.frame_at(i)
        assert frame.max() < 250 and frame.min() > 0
        assert 80 < frame[cortex, 1].mean() < 120       # green
        assert 60 < frame[cortex, 0].mean() < 90        # blue


def test_atlas_rois_lie_on_the_cortex():
    source = SyntheticCortexSource(seed=0)
    names = [f'{s}_{side}' for s in ('M1', 'M2', 'BC', 'HL', 'V1', 'RL', 'ALM')
             for side in 'LR']
    for roi in rois_from_config(names, 256, 256):
        assert source.brain_mask[roi.rows, roi.cols].min() == 1.0, roi.name


def test_flat_frames_are_identical_and_dff_exactly_zero():
    source = SyntheticCortexSource(seed=9, activity='flat')
    first = source.frame_at(0)
    for i in (1, 2, 500):
        assert source.frame_at(i).tobytes() == first.tobytes()
    values = dff_series(source, ['M1_L', 'BC_R', 'V1_L'], HISTORY + 20)
    assert np.all(values[HISTORY:] == 0.0)


def test_ramp_gives_steady_positive_dff_on_target_only():
    source = SyntheticCortexSource(seed=9, activity='ramp',
                                   target_regions=['M1_L'])
    n = 600                                  # 40 s, before saturation
    values = dff_series(source, ['M1_L', 'M1_R', 'BC_L'], n)
    target = values[HISTORY:, 0]
    expected = expected_ramp_dff(0.05, HISTORY, 15.0)
    assert expected == pytest.approx(0.1594, abs=1e-4)
    assert np.all(target > 0.1)
    np.testing.assert_allclose(target, expected, atol=0.01)
    assert np.all(values[HISTORY:, 1:] == 0.0)  # other regions stay flat
    # Only green changes: blue dF/F alone is zero.
    green_only = dff_series(source, ['M1_L'], HISTORY + 5, 'green')[HISTORY:]
    np.testing.assert_allclose(green_only, values[HISTORY:HISTORY + 5, :1],
                               atol=1e-12)


def test_ramp_intensity_grows_exponentially_from_start():
    source = SyntheticCortexSource(seed=1, activity='ramp',
                                   target_regions=['BC_R'], ramp_start=30.0,
                                   ramp_rate_per_s=0.05)
    (roi,) = rois_from_config(['BC_R'], 256, 256)
    mean_at = [source.frame_at(int(t * 15))[roi.rows, roi.cols, 1].mean()
               for t in (0, 20, 40)]
    np.testing.assert_allclose(mean_at, [30, 30 * np.e, 30 * np.e ** 2],
                               rtol=0.01)


def test_spontaneous_correction_beats_green_only_with_strong_shared_signal():
    source = SyntheticCortexSource(seed=11, hemodynamic_amplitude=0.1,
                                   motion_rate_hz=0.1, motion_amplitude=0.05)
    rois = ['M1_L', 'BC_R', 'V1_L']
    green = dff_series(source, rois, 900, 'green')[HISTORY:]
    corrected = dff_series(source, rois, 900, 'green_minus_blue')[HISTORY:]
    print('std green', green.std(0), 'corrected', corrected.std(0))
    assert np.all(corrected.var(0) < 0.5 * green.var(0))


def test_spontaneous_transients_are_a_few_percent():
    source = SyntheticCortexSource(seed=4, hemodynamic_amplitude=0.0,
                                   motion_rate_hz=0.0)
    values = dff_series(source, ['M1_L', 'BC_L', 'HL_R'], 1200)[HISTORY:]
    peaks = values.max(0)
    assert np.all(peaks > 0.005) and np.all(peaks < 0.3)


def test_drive_adds_target_transients_only():
    def run(level):
        source = SyntheticCortexSource(seed=21, target_regions=['M1_L'],
                                       target_rate_hz=0.2)
        source.set_drive(level)
        return source, [source.frame_at(i) for i in range(0, 1800, 3)]

    quiet, quiet_frames = run(0.0)
    busy, busy_frames = run(8.0)
    (m1,) = rois_from_config(['M1_L'], 256, 256)
    (bc,) = rois_from_config(['BC_R'], 256, 256)
    quiet_m1 = [f[m1.rows, m1.cols, 1].mean() for f in quiet_frames]
    busy_m1 = [f[m1.rows, m1.cols, 1].mean() for f in busy_frames]
    assert np.mean(busy_m1) > np.mean(quiet_m1) + 1.0
    # Far from the target, frames are untouched by the drive.
    for q, b in zip(quiet_frames, busy_frames):
        np.testing.assert_array_equal(q[bc.rows, bc.cols], b[bc.rows, bc.cols])


def test_drive_schedule_is_reproducible():
    def run():
        source = SyntheticCortexSource(seed=8, target_regions=['M2_R'],
                                       n_frames=400)
        frames = []
        with source:
            while (frame := source.read()) is not None:
                if source.frame_index == 150:
                    source.set_drive(6.0)
                if source.frame_index == 300:
                    source.set_drive(0.5)
                frames.append(frame.image)
        return source, frames

    source, frames = run()
    _, again = run()
    assert source.drive == 0.5
    for i in (0, 149, 151, 250, 399):
        assert frames[i].tobytes() == again[i].tobytes()
        # Random access after the run reproduces the streamed frames.
        assert source.frame_at(i).tobytes() == frames[i].tobytes()


def test_set_drive_rejects_bad_levels():
    source = SyntheticCortexSource(seed=0, max_drive=4.0)
    for bad in (-0.1, 4.5, float('nan')):
        with pytest.raises(ValueError, match='drive level'):
            source.set_drive(bad)


def test_bad_parameters():
    with pytest.raises(ValueError, match="activity='noisy'.*spontaneous"):
        SyntheticCortexSource(activity='noisy')
    with pytest.raises(ValueError, match='ramp.*target_regions'):
        SyntheticCortexSource(activity='ramp')
    with pytest.raises(ConfigError, match="'XX_L'"):
        SyntheticCortexSource(target_regions=['XX_L'])
    with pytest.raises(ValueError, match='fps'):
        SyntheticCortexSource(fps=0)
    with pytest.raises(ValueError, match='frame index'):
        SyntheticCortexSource(seed=0).frame_at(-1)


def test_render_time():
    timings = {}
    for activity in ACTIVITIES:
        source = SyntheticCortexSource(seed=0, activity=activity,
                                       target_regions=['M1_L'])
        source.frame_at(0)
        start = time.perf_counter()
        for i in range(1, 301):
            source.frame_at(i)
        timings[activity] = (time.perf_counter() - start) / 300 * 1e3
    print('render ms/frame:', {k: round(v, 3) for k, v in timings.items()})
