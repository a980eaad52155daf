"""Tone synthesis and audio sinks: continuity, pitch, and the WAV simulation backend."""

import math
import sys
import types
import wave

import numpy as np
import pytest

from clopy_feedback.audio import AudioDeviceError, SineSynth, SoundDeviceOutput, WavSink

SR = 44100


def dominant_frequency_hz(samples: np.ndarray, sample_rate_hz: int = SR) -> tuple[float, float]:
    """(peak frequency, FFT bin width) of a windowed block."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / sample_rate_hz)
    return float(freqs[int(np.argmax(spectrum))]), sample_rate_hz / len(samples)


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), 'rb') as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype='<i2')
        data = pcm.astype(np.float64) / 32767
        return data, wav.getframerate()


# --- SineSynth -------------------------------------------------------------------------

@pytest.mark.parametrize('frequency_hz', [1000.0, 1189.0, 5656.0, 19027.0])
def test_spectral_peak_is_the_set_frequency(frequency_hz):
    synth = SineSynth(SR, amplitude=0.5)
    synth.set_frequency(frequency_hz)
    block = synth.render(8192)
    assert block.dtype == np.float32 and block.shape == (8192,)
    peak_hz, bin_hz = dominant_frequency_hz(block)
    assert abs(peak_hz - frequency_hz) <= bin_hz


def test_no_jump_when_the_frequency_changes_between_blocks():
    # Low pitches keep the bound tight (at 19 kHz one sample step can span the whole
    # range, so no discontinuity would be visible).
    amplitude = 0.5
    synth = SineSynth(SR, amplitude=amplitude, ramp_s=0.005)
    synth.set_frequency(1189.0)
    synth.render(1000)  # past the fade-in: full amplitude from here on
    pieces = [synth.render(301)]
    for f in (2000.0, 1000.0, 1681.0, 1414.0, 2000.0, 1189.0):
        synth.set_frequency(f)
        pieces.append(synth.render(263))
    signal = np.concatenate(pieces).astype(np.float64)
    max_step = 2 * math.pi * 2000.0 / SR * amplitude + 1e-6
    assert np.max(np.abs(np.diff(signal))) <= max_step
    assert np.max(np.abs(signal)) > 0.49


def test_start_and_stop_fade_instead_of_clicking():
    amplitude, ramp_s = 0.5, 0.005
    synth = SineSynth(SR, amplitude=amplitude, ramp_s=ramp_s)
    silence_before = synth.render(100)
    synth.set_frequency(16000.0)
    tone = synth.render(2000)
    synth.set_frequency(0)
    fade_out = synth.render(2000)
    signal = np.concatenate([silence_before, tone, fade_out]).astype(np.float64)
    assert np.all(silence_before == 0)
    ramp_samples = round(ramp_s * SR)
    # the first sample of the tone is silent and the envelope grows linearly
    assert tone[0] == 0.0
    assert np.max(np.abs(tone[:ramp_samples // 2])) <= amplitude * 0.51
    bound = 2 * math.pi * 16000.0 / SR * amplitude + amplitude / ramp_samples + 1e-6
    assert np.max(np.abs(np.diff(signal))) <= bound
    # silent after the fade-out completes
    assert np.all(fade_out[ramp_samples:] == 0)
    assert np.max(np.abs(fade_out[:ramp_samples // 2])) > 0.1  # it did fade, not cut


def test_zero_ramp_switches_immediately():
    synth = SineSynth(SR, amplitude=1.0, ramp_s=0.0)
    synth.set_frequency(1000.0)
    block = synth.render(100)
    assert np.max(np.abs(block[:12])) > 0.5


def test_synth_rejects_bad_frequencies_and_settings():
    synth = SineSynth(SR)
    for bad in (-1.0, float('nan'), 30000.0, True):
        with pytest.raises(ValueError, match='frequency_hz'):
            synth.set_frequency(bad)
    with pytest.raises(ValueError, match='amplitude=2'):
        SineSynth(SR, amplitude=2)
    with pytest.raises(ValueError, match='sample_rate_hz=0'):
        SineSynth(0)


# --- WavSink ---------------------------------------------------------------------------

def test_wav_sink_writes_what_was_commanded(tmp_path):
    path = tmp_path / 'tone.wav'
    t0 = 1000.0  # e.g. a ROS stamp: any clock works, only differences matter
    segments = [(0.0, 0.0), (0.5, 1189.0), (1.0, 19027.0), (1.4, 0.0), (1.8, 4000.0)]
    t_end = 2.3
    sink = WavSink(path, SR, amplitude=0.5)
    sink.start(t0)
    starts = [sink.command(t0 + t, f) for t, f in segments]
    sink.close(t0 + t_end)
    sink.close(t0 + t_end + 5.0)  # second close is a no-op
    assert starts == [round(t * SR) for t, _ in segments]

    data, rate = read_wav(path)
    assert rate == SR
    assert len(data) == round(t_end * SR)
    bounds = [t for t, _ in segments] + [t_end]
    for (start_s, f), end_s in zip(segments, bounds[1:]):
        # skip 10 ms at each edge for the fades
        middle = data[round((start_s + 0.01) * SR):round((end_s - 0.01) * SR)]
        if f == 0:
            assert np.max(np.abs(middle)) < 1e-4
        else:
            peak_hz, bin_hz = dominant_frequency_hz(middle)
            assert abs(peak_hz - f) <= bin_hz
            assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.01)


def test_wav_sink_never_goes_back_in_time(tmp_path):
    sink = WavSink(tmp_path / 'late.wav', SR)
    sink.start(0.0)
    assert sink.command(1.0, 1000.0) == SR
    # a late command (stamped before the current position) starts now
    assert sink.command(0.5, 2000.0) == SR
    assert sink.position_samples == SR
    assert sink.time_of_sample_s(sink.position_samples) == 1.0
    sink.close(2.0)
    data, _ = read_wav(tmp_path / 'late.wav')
    assert len(data) == 2 * SR
    peak_hz, bin_hz = dominant_frequency_hz(data[SR + 500:])
    assert abs(peak_hz - 2000.0) <= bin_hz


def test_wav_sink_is_deterministic_and_written_incrementally(tmp_path):
    def run(path):
        sink = WavSink(path, SR)
        sink.start(5.0)
        for i in range(30):
            sink.command(5.0 + i / 15, 1000.0 * 2 ** ((i % 18) / 4))
            if i == 14:
                # header and data already on disk before close (a crash loses little)
                data, _ = read_wav(path)
                assert len(data) == round(14 / 15 * SR)
        sink.close(5.0 + 2.0)
        return path.read_bytes()

    assert run(tmp_path / 'a.wav') == run(tmp_path / 'b.wav')


def test_wav_sink_usage_errors(tmp_path):
    sink = WavSink(tmp_path / 'x.wav', SR)
    with pytest.raises(RuntimeError, match='before start'):
        sink.command(0.0, 1000.0)
    sink.start(0.0)
    with pytest.raises(ValueError, match='frequency_hz=-5'):
        sink.command(0.1, -5.0)
    sink.close(0.2)
    with pytest.raises(RuntimeError, match='after close'):
        sink.command(0.3, 1000.0)
    with pytest.raises(OSError, match='no_such_dir'):
        WavSink(tmp_path / 'no_such_dir' / 'x.wav').start(0.0)


# --- SoundDeviceOutput -----------------------------------------------------------------

def test_sound_device_output_on_this_machine_raises_helpfully_or_works():
    try:
        output = SoundDeviceOutput()
    except AudioDeviceError as exc:
        message = str(exc)
        assert 'SoundDeviceOutput' in message
        assert 'WavSink' in message and 'explicitly' in message
    else:
        # a machine with a sound card: the stream must be usable
        output.set_frequency(1000.0)
        output.start()
        output.close()


class _FakeStream:
    def __init__(self, samplerate, blocksize, device, channels, dtype, callback):
        self.callback, self.blocksize, self.time = callback, blocksize, 0.0
        self.started = self.closed = False

    def start(self):
        self.started = True

    def stop(self):
        pass

    def close(self):
        self.closed = True


def _fake_sounddevice(has_device=True):
    module = types.ModuleType('sounddevice')

    def query_devices(device, kind):
        if not has_device:
            raise ValueError('No output device matching None')
        return {'name': 'fake', 'max_output_channels': 2}

    module.query_devices = query_devices
    module.OutputStream = _FakeStream
    return module


def test_missing_output_device_raises_audio_device_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sounddevice', _fake_sounddevice(has_device=False))
    with pytest.raises(AudioDeviceError, match='no audio output device'):
        SoundDeviceOutput()


def test_callback_applies_changes_on_the_next_block_and_reports_when_reached(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sounddevice', _fake_sounddevice())
    reached = []
    output = SoundDeviceOutput(blocksize=128, on_reached=lambda f, t: reached.append((f, t)))
    stream = output._stream
    status = types.SimpleNamespace(output_underflow=False)

    def callback(dac_time_s):
        out = np.zeros((128, 1), dtype=np.float32)
        clock = types.SimpleNamespace(outputBufferDacTime=dac_time_s,
                                      currentTime=dac_time_s - 0.01)
        stream.callback(out, 128, clock, status)
        return out[:, 0]

    assert np.all(callback(1.0) == 0) and reached == []
    output.set_frequency(4000.0)
    first = callback(1.003)
    assert reached == [(4000.0, 1.003)]
    callback(1.006)
    assert reached == [(4000.0, 1.003)]  # reported once, when it started
    output.set_frequency(4000.0)  # a repeated command is a new command: reported again
    callback(1.009)
    assert len(reached) == 2
    output.set_frequency(0)
    callback(0.0)  # backend without DAC time: falls back to the callback's current time
    assert reached[-1] == (0.0, -0.01)
    assert np.max(np.abs(first)) > 0
    output.close()
    output.close()
    assert stream.closed
