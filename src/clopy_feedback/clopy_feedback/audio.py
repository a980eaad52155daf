"""Audio output for the feedback tone: a sine synthesiser and two sinks.

- ``SineSynth``: phase-continuous sine with short linear fades to and from silence,
  so neither a pitch change nor a tone start/stop clicks.
- ``WavSink``: simulation backend. Driven by command time stamps (never a clock), it
  writes exactly the samples a sound card would have played to a 16-bit mono WAV.
- ``SoundDeviceOutput``: real backend on a PortAudio stream (python-sounddevice).

Simulation is always chosen explicitly: if the sound card cannot be opened,
``SoundDeviceOutput`` raises ``AudioDeviceError`` instead of falling back.
"""

from __future__ import annotations

import math
import numbers
import wave
from pathlib import Path
from typing import Any, Callable

import numpy as np


class AudioDeviceError(RuntimeError):
    """The real audio output cannot be used (library or device missing)."""


def _check_frequency(where: str, frequency_hz: object, sample_rate_hz: int) -> float:
    nyquist_hz = sample_rate_hz / 2
    ok = isinstance(frequency_hz, numbers.Real) and not isinstance(frequency_hz, bool)
    if not ok or not math.isfinite(frequency_hz) or not 0 <= frequency_hz < nyquist_hz:
        raise ValueError(f'{where}: frequency_hz={frequency_hz!r}; allowed: 0 (silence) or a '
                         f'frequency in Hz below the Nyquist frequency {nyquist_hz:g} Hz')
    return float(frequency_hz)


class SineSynth:
    """Phase-continuous sine generator.

    Args:
        sample_rate_hz: output sample rate in Hz.
        amplitude: peak amplitude, 0..1 of full scale.
        ramp_s: duration of the linear fade to or from silence, in s (0 = hard switch).

    The phase accumulates across blocks and across frequency changes, so the waveform
    value never jumps when the pitch changes: the step between two samples is bounded
    by ``2*pi*f/sample_rate * amplitude`` (plus the fade slope while fading).
    """

    def __init__(self, sample_rate_hz: int = 44100, amplitude: float = 0.5, ramp_s: float = 0.005):
        if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, numbers.Integral) \
                or sample_rate_hz <= 0:
            raise ValueError(f'SineSynth: sample_rate_hz={sample_rate_hz!r}; '
                             'allowed: an integer > 0')
        if not isinstance(amplitude, numbers.Real) or not 0.0 <= amplitude <= 1.0:
            raise ValueError(f'SineSynth: amplitude={amplitude!r}; allowed: 0..1 of full scale')
        if not isinstance(ramp_s, numbers.Real) or not 0.0 <= ramp_s <= 1.0:
            raise ValueError(f'SineSynth: ramp_s={ramp_s!r}; allowed: 0..1 s')
        self.sample_rate_hz = int(sample_rate_hz)
        self.amplitude = float(amplitude)
        self._ramp_samples = max(1, round(ramp_s * self.sample_rate_hz)) if ramp_s > 0 else 0
        self._phase_rad = 0.0
        self._frequency_hz = 0.0  # pitch being rendered; kept during a fade-out
        self._gain = 0.0  # current fade gain, 0..1
        self._target_gain = 0.0

    @property
    def frequency_hz(self) -> float:
        """Commanded frequency in Hz (0 while silent or fading out)."""
        return self._frequency_hz if self._target_gain > 0 else 0.0

    def set_frequency(self, frequency_hz: float) -> None:
        """Switch to a new frequency in Hz from the next rendered sample; 0 = silence."""
        f = _check_frequency('SineSynth.set_frequency', frequency_hz, self.sample_rate_hz)
        if f > 0:
            self._frequency_hz = f
            self._target_gain = 1.0
        else:
            self._target_gain = 0.0  # fade out at the old pitch

    def render(self, n_samples: int) -> np.ndarray:
        """Render the next ``n_samples`` samples; float32 array of shape (n_samples,)."""
        n = int(n_samples)
        if n < 0:
            raise ValueError(f'SineSynth.render: n_samples={n_samples!r}; '
                             'allowed: an integer >= 0')
        if n == 0 or (self._gain == 0.0 and self._target_gain == 0.0):
            return np.zeros(n, dtype=np.float32)
        k = np.arange(n, dtype=np.float64)
        step_rad = 2 * math.pi * self._frequency_hz / self.sample_rate_hz
        wave_ = np.sin(self._phase_rad + step_rad * k)
        self._phase_rad = math.fmod(self._phase_rad + step_rad * n, 2 * math.pi)
        if self._gain == self._target_gain:
            gains: np.ndarray | float = self._gain
        elif self._ramp_samples == 0:
            gains = self._gain = self._target_gain
        else:
            direction = 1.0 if self._target_gain > self._gain else -1.0
            slope = direction / self._ramp_samples
            gains = np.clip(self._gain + slope * k, 0.0, 1.0)
            self._gain = float(np.clip(self._gain + slope * n, 0.0, 1.0))
        return (self.amplitude * gains * wave_).astype(np.float32)


class WavSink:
    """Simulated audio output: writes what a sound card would have played to a WAV file.

    Time comes only from the arguments (seconds on the same clock as the commands, e.g.
    frame stamps), so the file is identical for identical command sequences. Sample
    index ``i`` plays at ``t0_s + i / sample_rate_hz``.

    Args:
        path: WAV file to create (16-bit PCM, mono).
        sample_rate_hz, amplitude, ramp_s: as for ``SineSynth``.
    """

    _CHUNK_SAMPLES = 44100  # render long silent gaps in bounded pieces

    def __init__(self, path: str | Path, sample_rate_hz: int = 44100, amplitude: float = 0.5,
                 ramp_s: float = 0.005):
        self.path = Path(path)
        self._synth = SineSynth(sample_rate_hz, amplitude, ramp_s)
        self.sample_rate_hz = self._synth.sample_rate_hz
        self._t0_s: float | None = None
        self._position = 0
        self._file: Any = None
        self._wav: wave.Wave_write | None = None
        self._closed = False

    @property
    def position_samples(self) -> int:
        """Number of samples written so far."""
        return self._position

    @property
    def closed(self) -> bool:
        return self._closed

    def time_of_sample_s(self, index: int) -> float:
        """Time in s (command clock) at which sample ``index`` plays."""
        if self._t0_s is None:
            raise RuntimeError(f'WavSink {self.path}: start() has not been called')
        return self._t0_s + index / self.sample_rate_hz

    def start(self, t0_s: float) -> None:
        """Open the file; sample 0 plays at ``t0_s`` (s)."""
        if self._t0_s is not None:
            raise RuntimeError(f'WavSink {self.path}: start() called twice')
        if not math.isfinite(t0_s):
            raise ValueError(f'WavSink {self.path}: t0_s={t0_s!r}; allowed: a finite time in s')
        try:
            self._file = open(self.path, 'wb')
        except OSError as exc:
            raise OSError(f'WavSink: cannot create {self.path}: {exc}') from exc
        self._wav = wave.open(self._file, 'wb')
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(self.sample_rate_hz)
        self._t0_s = float(t0_s)

    def command(self, t_s: float, frequency_hz: float) -> int:
        """Play ``frequency_hz`` (0 = silence) from time ``t_s`` (s).

        Renders the old tone up to sample ``round((t_s - t0_s) * sample_rate_hz)``, then
        switches. A command stamped before the current position applies at the current
        position (the file never goes back in time). Returns the sample index at which
        the new frequency starts, i.e. when the command reached the output.
        """
        self._require_open('command')
        frequency_hz = _check_frequency(f'WavSink {self.path}: command', frequency_hz,
                                        self.sample_rate_hz)
        self._render_until(self._sample_index(t_s, 'command'))
        self._synth.set_frequency(frequency_hz)
        return self._position

    def close(self, t_end_s: float | None = None) -> None:
        """Render up to ``t_end_s`` (s; None = stop at the current position) and finalise.

        Safe to call twice, and safe before ``start()``.
        """
        if self._closed:
            return
        try:
            if self._wav is not None and t_end_s is not None:
                self._render_until(self._sample_index(t_end_s, 'close'))
        finally:
            self._closed = True
            try:
                if self._wav is not None:
                    self._wav.close()   # patches the header: can meet a full disk too
            finally:
                if self._file is not None:
                    self._file.close()

    def _sample_index(self, t_s: float, where: str) -> int:
        if not math.isfinite(t_s):
            raise ValueError(f'WavSink {self.path}: {where} t_s={t_s!r}; '
                             'allowed: a finite time in s')
        return round((t_s - self._t0_s) * self.sample_rate_hz)

    def _require_open(self, where: str) -> None:
        if self._closed:
            raise RuntimeError(f'WavSink {self.path}: {where}() after close()')
        if self._wav is None:
            raise RuntimeError(f'WavSink {self.path}: {where}() before start()')

    def _render_until(self, index: int) -> None:
        while self._position < index:
            n = min(index - self._position, self._CHUNK_SAMPLES)
            block = self._synth.render(n)
            pcm = np.clip(np.round(block * 32767.0), -32768, 32767).astype('<i2')
            self._wav.writeframes(pcm.tobytes())  # also patches the header's length
            self._position += n
        # flushed per command so that a crash loses at most the current block
        self._file.flush()


class SoundDeviceOutput:
    """Real tone output on a PortAudio stream.

    Args:
        sample_rate_hz: stream sample rate in Hz.
        blocksize: samples per callback (128 = 2.9 ms at 44.1 kHz, as the original).
        device: sounddevice device id or name; None = the system default output.
        on_reached: called as ``on_reached(frequency_hz, dac_time_s)`` from the audio
            thread when a new frequency starts playing; ``dac_time_s`` is on the PortAudio
            stream clock (``stream_time_s``; the callback's current time when the backend
            reports no DAC time). It must be cheap (e.g. put on a queue).
        amplitude, ramp_s: as for ``SineSynth``.

    Raises ``AudioDeviceError`` when PortAudio or an output device is missing.
    """

    def __init__(self, sample_rate_hz: int = 44100, blocksize: int = 128,
                 device: int | str | None = None,
                 on_reached: Callable[[float, float], None] | None = None, amplitude: float = 0.5,
                 ramp_s: float = 0.005):
        hint = ('Simulation must be chosen explicitly (the simulated sink writes a WAV file, '
                'WavSink); a real session never falls back to it.')
        try:
            import sounddevice
        except (OSError, ImportError) as exc:
            raise AudioDeviceError(
                f'SoundDeviceOutput: cannot load python-sounddevice / the PortAudio library '
                f'({exc}). Install PortAudio (e.g. apt install libportaudio2) and sounddevice. '
                f'{hint}') from exc
        try:
            sounddevice.query_devices(device, 'output')
        except Exception as exc:  # sounddevice raises ValueError or PortAudioError here
            raise AudioDeviceError(
                f'SoundDeviceOutput: no audio output device {device!r} ({exc}). '
                f'Check the sound card and the device setting. {hint}') from exc
        self._synth = SineSynth(sample_rate_hz, amplitude, ramp_s)
        self._on_reached = on_reached
        # The main thread replaces this tuple, the audio thread only reads it: a single
        # reference swap is atomic, so no lock is needed in the real-time callback.
        self._command: tuple[int, float] = (0, 0.0)
        self._applied_sequence = 0
        self.underflows = 0
        try:
            self._stream = sounddevice.OutputStream(
                samplerate=sample_rate_hz, blocksize=blocksize, device=device, channels=1,
                dtype='float32', callback=self._callback)
        except Exception as exc:
            raise AudioDeviceError(
                f'SoundDeviceOutput: cannot open an output stream on device {device!r} at '
                f'{sample_rate_hz} Hz, blocksize {blocksize} ({exc}). {hint}') from exc
        self._closed = False

    @property
    def stream_time_s(self) -> float:
        """Current time of the PortAudio stream clock in s (the clock of ``dac_time_s``)."""
        return float(self._stream.time)

    def start(self) -> None:
        self._stream.start()

    def set_frequency(self, frequency_hz: float) -> None:
        """Play ``frequency_hz`` (0 = silence) from the next audio callback on."""
        f = _check_frequency('SoundDeviceOutput.set_frequency', frequency_hz,
                             self._synth.sample_rate_hz)
        self._command = (self._command[0] + 1, f)

    def close(self) -> None:
        """Stop and close the stream; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stream.stop()
        self._stream.close()

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if getattr(status, 'output_underflow', False):
            self.underflows += 1
        sequence, frequency_hz = self._command
        changed = sequence != self._applied_sequence
        if changed:
            self._synth.set_frequency(frequency_hz)
            self._applied_sequence = sequence
        outdata[:, 0] = self._synth.render(frames)
        if changed and self._on_reached is not None:
            self._on_reached(frequency_hz, time.outputBufferDacTime or time.currentTime)
