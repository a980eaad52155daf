"""The latency self-test (clopy.selftest, clopy.selftest_audio): statistics, the tone
onset detector on known signals, and the output loop-back on gpiozero mock pins
linked as a wire would link them (the real OutputBank and its limits)."""
from __future__ import annotations

import numpy as np
import pytest
from clopy_reward.outputs import OutputBank, OutputSpec, make_pin_factory

from clopy.selftest import (EdgeProbe, PolledProbe, SelfTestError, latency_stats, link_mock_pins,
                            measure_output_latency)
from clopy.selftest_audio import match_onsets, measure_wav_latency, read_wav, tone_onsets

RATE = 44100


def test_latency_stats_percentiles_in_ms():
    stats = latency_stats([0.001, 0.002, 0.003, 0.004, 0.010])
    assert stats['n'] == 5
    assert stats['p50_ms'] == pytest.approx(3.0)
    assert stats['max_ms'] == pytest.approx(10.0)
    assert stats['min_ms'] == pytest.approx(1.0)
    assert stats['p99_ms'] == pytest.approx(4.0 + 0.96 * 6.0)   # linear between the two largest
    assert latency_stats([])['p50_ms'] is None


def bursts(onsets: list[int], length: int, n: int, frequency_hz: float, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    signal = noise * rng.standard_normal(n)
    t = np.arange(n) / RATE
    signal += 0.2 * np.sin(2 * np.pi * 3000.0 * t)   # another tone all along: not the test tone
    for start in onsets:
        signal[start:start + length] += 0.5 * np.sin(2 * np.pi * frequency_hz * t[start:start + length] + 0.7)
    return signal


@pytest.mark.parametrize('noise, within_samples', [(0.0, 4), (0.05, 13)])   # 0.1 ms; 0.3 ms at 20 dB SNR
def test_tone_onsets_finds_each_hard_onset(noise, within_samples):
    onsets = [2000, 9000, 15555, 22001]
    for seed in range(5):
        signal = bursts(onsets, 2205, 30000, 1000.0, noise=noise, seed=seed)
        found = tone_onsets(signal, RATE, 1000.0)
        assert len(found) == len(onsets)
        assert np.max(np.abs(np.array(found) - onsets)) <= within_samples


def test_tone_onsets_ignores_other_frequencies_and_noise():
    signal = bursts([2000, 9000], 2205, 20000, 1000.0, noise=0.05)
    t = np.arange(4410) / RATE
    signal[15000:19410] += 0.5 * np.sin(2 * np.pi * 4000.0 * t)   # a burst at another frequency
    assert len(tone_onsets(signal, RATE, 1000.0)) == 2
    assert tone_onsets(bursts([], 2205, 20000, 1000.0, noise=0.05), RATE, 1000.0) == []
    assert tone_onsets(np.zeros(5000), RATE, 1000.0) == []


def test_match_onsets_pairs_commands_and_counts_the_missed():
    latencies, missed = match_onsets([1.0, 2.0, 3.0], [1.004, 3.010, 5.0], window_s=0.1)
    assert latencies == pytest.approx([0.004, 0.010])
    assert missed == 1


def test_wav_latency_finds_every_burst_at_its_command(tmp_path):
    result = measure_wav_latency(tmp_path / 'lat.wav', repeats=5, burst_s=0.02, gap_s=0.02)
    assert result.missed == 0 and len(result.samples_s) == 5
    # the WAV sink writes the onset at the command's own stamp: the detector must find it there
    assert max(abs(s) for s in result.samples_s) < 0.0005
    samples, rate = read_wav(tmp_path / 'lat.wav')
    assert rate == RATE and np.abs(samples).max() > 0.4


def linked_bank(out_pin: int = 27, in_pin: int = 26, link: bool = True, limit_s: float = 1.0):
    factory = make_pin_factory(True)
    if link:
        link_mock_pins(factory, out_pin, in_pin)
    probe = EdgeProbe(in_pin, factory)
    bank = OutputBank([OutputSpec('valve', out_pin, limit_s), OutputSpec('fail', 12, 1.0)], factory)
    return bank, probe


def test_loopback_on_linked_mock_pins_sees_every_pulse():
    bank, probe = linked_bank()
    try:
        result = measure_output_latency(bank, 'valve', probe, repeats=5, pulse_s=0.005, gap_s=0.005)
        assert result.missed == 0 and len(result.samples_s) == 5
        assert all(s >= 0 for s in result.samples_s)
        assert result.figures()['n'] == 5 and len(result.figures()['samples_ms']) == 5
        assert not bank.is_on('valve') and not probe.level()
    finally:
        bank.close()
        probe.close()


def test_loopback_without_a_wire_says_what_to_check():
    bank, probe = linked_bank(link=False)
    try:
        with pytest.raises(SelfTestError, match='no edge on the input in 2 pulses of valve'):
            measure_output_latency(bank, 'valve', probe, repeats=2, pulse_s=0.005, gap_s=0.0, timeout_s=0.05)
    finally:
        bank.close()
        probe.close()


def test_loopback_refuses_an_input_that_is_high_before_the_pulse():
    factory = make_pin_factory(True)
    probe = EdgeProbe(26, factory)
    bank = OutputBank([OutputSpec('valve', 27, 1.0)], factory)
    try:
        factory.pin(26).drive_high()
        with pytest.raises(SelfTestError, match='already high before pulse 1'):
            measure_output_latency(bank, 'valve', probe, repeats=1)
    finally:
        bank.close()
        probe.close()


def test_loopback_keeps_the_valve_limit():
    bank, probe = linked_bank(limit_s=0.05)
    try:
        with pytest.raises(SelfTestError, match='refused the 0.1 s test pulse: pulse length 0.1 s exceeds'):
            measure_output_latency(bank, 'valve', probe, repeats=1, pulse_s=0.1)
        assert not bank.is_on('valve')
    finally:
        bank.close()
        probe.close()


def test_polled_input_measures_the_same_loopback():
    factory = make_pin_factory(True)
    link_mock_pins(factory, 27, 26)
    from gpiozero import DigitalInputDevice
    device = DigitalInputDevice(26, pin_factory=factory)
    probe = PolledProbe(lambda: device.value == 1, device.close)
    bank = OutputBank([OutputSpec('valve', 27, 1.0)], factory)
    try:
        result = measure_output_latency(bank, 'valve', probe, repeats=3, pulse_s=0.005, gap_s=0.0)
        assert result.missed == 0 and len(result.samples_s) == 3
        assert result.method == 'polled input read'
    finally:
        bank.close()
        probe.close()
