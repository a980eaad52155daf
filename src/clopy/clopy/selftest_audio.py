"""Latency self-test of the feedback tone: tone bursts are commanded through the tone
backends of clopy_feedback.audio and their onsets found in what came out. Plain
Python, no rclpy.

- Rig (``measure_sounddevice_latency``): the speaker is heard by a microphone (or
  the sound card's output is looped into its input) read through a sounddevice
  input stream. Each command is stamped on the output stream's PortAudio clock, each
  recorded sample by the input stream's ADC time; both streams of one host API share
  that clock. Latency = onset time in the recording - command time.
- Simulation (``measure_wav_latency``): the WAV sink writes what a sound card would
  have played, driven by the command stamps; the onset found in the file against
  the command measures the software path (and the detector) only.

Bursts are hard-switched (no fade) so the onset is a step; ``tone_onsets`` finds it
as the 50 % crossing of the tone's amplitude at its frequency, averaged over a
centred window of whole periods (noise and other frequencies average out).
"""
from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from clopy.selftest import LatencyResult, SelfTestError

TEST_TONE_HZ = 1000.0


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(samples as float in [-1, 1], sample rate) of a 16-bit mono WAV file."""
    with wave.open(str(path), 'rb') as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise SelfTestError(f'{path}: expected a 16-bit mono WAV file')
        rate = wav.getframerate()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype='<i2')
    return data.astype(np.float64) / 32768.0, rate


def _window(sample_rate_hz: int, frequency_hz: float, window_s: float) -> int:
    """Samples in the shortest whole number of periods at least ``window_s`` long."""
    periods = max(1, int(np.ceil(window_s * frequency_hz)))
    return max(1, int(round(periods * sample_rate_hz / frequency_hz)))


def _ramp_middle(envelope: np.ndarray, index: int, target: float, width: int) -> float:
    """Where the onset ramp around ``index`` crosses ``target``, from a straight line
    fitted to the ramp's middle part (20-80 % of twice the target): a fraction of a
    sample, and far less noisy than the first sample above the target."""
    lo, hi = max(0, index - width), min(envelope.size, index + width)
    ramp = np.arange(lo, hi)
    part = ramp[(envelope[lo:hi] > 0.4 * target) & (envelope[lo:hi] < 1.6 * target)]
    if part.size < 3:
        return float(index)
    slope, offset = np.polyfit(part, envelope[part], 1)
    if slope <= 0:
        return float(index)
    return float((target - offset) / slope)


def tone_envelope(signal: np.ndarray, sample_rate_hz: int, frequency_hz: float, window_s: float = 0.005):
    """Amplitude of the ``frequency_hz`` component of ``signal`` at each sample, over a
    centred window of whole periods at least ``window_s`` long (a hard onset becomes a
    ramp over the window whose middle is the onset; the component at twice the
    frequency that mixing leaves cancels over whole periods)."""
    width = _window(sample_rate_hz, frequency_hz, window_s)
    n = np.arange(signal.size)
    mixed = signal * np.exp(-2j * np.pi * frequency_hz * n / sample_rate_hz)
    return 2.0 * np.abs(np.convolve(mixed, np.ones(width) / width, mode='same'))


def tone_onsets(signal: np.ndarray, sample_rate_hz: int, frequency_hz: float, level: float = 0.5,
                window_s: float = 0.005, min_contrast: float = 10.0) -> list[float]:
    """Sample positions (fractional) at which a burst of ``frequency_hz`` starts: rising crossings of
    ``level`` x the loudest burst's amplitude, re-armed once the amplitude has fallen
    below half of that again. None when the loudest burst is not ``min_contrast``
    times the amplitude of the quietest tenth (no tone, only noise)."""
    envelope = tone_envelope(np.asarray(signal, dtype=np.float64), sample_rate_hz, frequency_hz, window_s)
    width = _window(sample_rate_hz, frequency_hz, window_s)
    if envelope.size == 0:
        return []
    peak = float(np.percentile(envelope, 99.5))
    if peak <= 0 or peak < min_contrast * float(np.percentile(envelope, 10)):
        return []
    on, off = level * peak, 0.5 * level * peak
    onsets, armed = [], True
    above = envelope >= on
    below = envelope < off
    i = 0
    while i < envelope.size:
        if armed:
            hits = np.flatnonzero(above[i:])
            if hits.size == 0:
                break
            i += int(hits[0])
            onsets.append(_ramp_middle(envelope, i, on, width))
            armed = False
        else:
            lows = np.flatnonzero(below[i:])
            if lows.size == 0:
                break
            i += int(lows[0])
            armed = True
    return onsets


def match_onsets(command_times_s: list[float], onset_times_s: list[float], window_s: float,
                 early_s: float = 0.001) -> tuple[list[float], int]:
    """(latencies in s, commands missed): each command's first onset from ``early_s``
    before it (rounding to a sample) to ``window_s`` after it."""
    latencies, missed = [], 0
    onsets = sorted(onset_times_s)
    for t in command_times_s:
        found = [o for o in onsets if t - early_s <= o < t + window_s]
        if found:
            latencies.append(found[0] - t)
        else:
            missed += 1
    return latencies, missed


def measure_wav_latency(path: Path, repeats: int = 20, frequency_hz: float = TEST_TONE_HZ,
                        burst_s: float = 0.05, gap_s: float = 0.05, sample_rate_hz: int = 44100,
                        amplitude: float = 0.5) -> LatencyResult:
    """Simulation: ``repeats`` bursts through the WAV sink (clopy_feedback.audio.WavSink)
    stamped with time.monotonic(), then their onsets found in ``path``."""
    from clopy_feedback.audio import WavSink
    sink = WavSink(path, sample_rate_hz, amplitude, ramp_s=0.0)
    t0 = time.monotonic()
    sink.start(t0)
    commands = []
    try:
        for _ in range(repeats):
            time.sleep(gap_s)
            t = time.monotonic()
            sink.command(t, frequency_hz)
            commands.append(t)
            time.sleep(burst_s)
            sink.command(time.monotonic(), 0.0)
    finally:
        sink.close(time.monotonic() + gap_s)
    signal, rate = read_wav(path)
    onsets = [t0 + i / rate for i in tone_onsets(signal, rate, frequency_hz)]
    latencies, missed = match_onsets(commands, onsets, window_s=burst_s + gap_s)
    return LatencyResult(f'tone -> {path.name}', 'tone onset in the WAV sink\'s file against the command stamp',
                         latencies, missed)


def measure_sounddevice_latency(input_device, output_device=None, repeats: int = 20,
                                frequency_hz: float = TEST_TONE_HZ, burst_s: float = 0.05, gap_s: float = 0.15,
                                sample_rate_hz: int = 44100, blocksize: int = 128, amplitude: float = 0.5,
                                save_to: Path | None = None) -> LatencyResult:
    """Rig: bursts on the sound card (SoundDeviceOutput), recorded by ``input_device``
    (a sounddevice input: a microphone at the speaker, or a loop cable). The
    recording is written to ``save_to`` (WAV) when given. AudioDeviceError when a
    device cannot be opened; SelfTestError when no onset is heard."""
    from clopy_feedback.audio import AudioDeviceError, SoundDeviceOutput
    import sounddevice
    blocks: list[tuple[float, np.ndarray]] = []

    def recorded(indata, frames, time_info, status) -> None:
        adc = time_info.inputBufferAdcTime or (time_info.currentTime - frames / sample_rate_hz)
        blocks.append((float(adc), indata[:, 0].copy()))

    output = SoundDeviceOutput(sample_rate_hz, blocksize, output_device, amplitude=amplitude, ramp_s=0.0)
    try:
        stream = sounddevice.InputStream(samplerate=sample_rate_hz, blocksize=blocksize, device=input_device,
                                         channels=1, dtype='float32', callback=recorded)
    except Exception as exc:
        output.close()
        raise AudioDeviceError(f'no audio input device {input_device!r} for the tone self-test ({exc}); '
                               f'check the microphone and --audio-input') from exc
    commands = []
    try:
        stream.start()
        output.start()
        time.sleep(0.3)   # both streams running
        for _ in range(repeats):
            time.sleep(gap_s)
            t = output.stream_time_s
            output.set_frequency(frequency_hz)
            commands.append(t)
            time.sleep(burst_s)
            output.set_frequency(0.0)
        time.sleep(gap_s + 0.3)
    finally:
        output.close()
        stream.stop()
        stream.close()
    if not blocks:
        raise SelfTestError(f'the audio input {input_device!r} delivered no samples')
    signal = np.concatenate([b for _, b in blocks])
    starts = np.concatenate([t + np.arange(b.size) / sample_rate_hz for t, b in blocks])
    if save_to is not None:
        with wave.open(str(save_to), 'wb') as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(sample_rate_hz)
            wav.writeframes(np.clip(np.round(signal * 32767.0), -32768, 32767).astype('<i2').tobytes())
    onsets = [float(starts[i]) for i in tone_onsets(signal, sample_rate_hz, frequency_hz)]
    latencies, missed = match_onsets(commands, onsets, window_s=burst_s + gap_s)
    if not latencies:
        raise SelfTestError(f'no tone onset heard on input {input_device!r} in {repeats} bursts: check that the '
                            f'microphone hears the speaker (volume, mute) or the loop cable')
    return LatencyResult(f'tone -> input {input_device}', 'tone onset in the input stream (ADC time) against '
                         'the command on the output stream clock', latencies, missed)
