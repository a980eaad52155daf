"""The device checks of `clopy rig check`: each opens one configured device the way its
node would, without the ROS graph, and returns result rows (clopy.rig_check_report).

- camera: the configured frame source grabs N frames: rate, size, exposure, lost frames;
- audio: a short test tone through the tone backend (the WAV file of --sim is read back);
- outputs: one pulse on the valve and the fail output (their default pulses, within the
  limits), each TTL output held high briefly; every output low after, and closed.
The lick sensor's check is clopy.rig_check_lick.

A device that is missing in a real check is a FAIL row naming the device and the
setting, never a simulation. Plain Python, no rclpy.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clopy.rig_check_report import FAIL, OK, CheckResult, because

TEST_TONE_HZ = 1000.0
TEST_TONE_S = 0.3
TTL_TEST_S = 0.1


@dataclass
class LatencyOptions:
    """The wiring of the latency self-test (`--latency-*` options)."""

    output: str = 'valve'
    input: str | None = None     # a BCM pin number, or a named input (rig_check_latency.INPUT_PROBES)
    repeats: int = 20
    pulse_s: float = 0.01
    audio_input: str | None = None


@dataclass
class RigContext:
    """What every check gets: the paradigm's parameters as `clopy run` reads them
    ({node: {param: value}}, --sim and --set applied, validated), where they came
    from, and where the report's files go (``report_dir / stem*``)."""

    paradigm: str
    params: dict
    params_path: Path
    sim: bool
    report_dir: Path
    stem: str
    frames: int = 30
    latency: LatencyOptions | None = None
    notes: list = field(default_factory=list)

    def values(self, node: str, defaults: dict) -> dict:
        """A node's parameters: the schema's defaults, the file's `/**` values of the
        node's parameters, then the node's own block (as ROS applies them)."""
        shared = {k: v for k, v in self.params.get('/**', {}).items() if k in defaults}
        return dict(defaults) | shared | dict(self.params.get(node, {}))


# -- camera --------------------------------------------------------------------------

CAMERA_HINTS = {
    'picamera': 'the ribbon cable and that `rpicam-hello --list-cameras` lists the camera; python3-picamera2',
    'opencv': 'camera.device (an index or /dev/videoN; `v4l2-ctl --list-devices`), the USB cable',
    'genicam': 'genicam.device_id, the cable or network, `arv-tool-0.8` lists the camera (docs/hardware-genicam.md)',
}


def camera_values(ctx: RigContext) -> tuple[str, dict]:
    from clopy_acquisition.camera_params import CAMERA, CAMERA_SCHEMAS
    kind = str(ctx.params.get('camera', {}).get('source', CAMERA['source'].default))
    return kind, ctx.values('camera', CAMERA_SCHEMAS.schema(kind).defaults())


def _grab(source, count: int, timeout_s: float) -> tuple[list, float, str]:
    """(frames, seconds it took, error) reading ``count`` frames in a worker thread;
    a source that hangs leaves the error 'no frame within ...'."""
    frames: list = []
    error: list[str] = []

    def work() -> None:
        try:
            while len(frames) < count:
                frame = source.read()
                if frame is None:
                    break
                frames.append(frame)
        except Exception as exc:  # noqa: BLE001 - reported as the camera's failure
            error.append(str(exc))

    start = time.monotonic()
    thread = threading.Thread(target=work, name='rig-check-camera', daemon=True)
    thread.start()
    thread.join(timeout_s)
    elapsed = time.monotonic() - start
    if thread.is_alive():
        return frames, elapsed, f'{len(frames)} of {count} frames within {timeout_s:g} s'
    return frames, elapsed, error[0] if error else ''


def _exposure(source, values: dict) -> str:
    settings = dict(getattr(source, 'settings', {}) or {})
    controls = source.controls() if hasattr(source, 'controls') else {}
    for key, text in (('ExposureTime', 'exposure'), ('exposure_us', 'exposure')):
        value = settings.get(key, controls.get(key))
        if value is not None:
            return f'{text} {value:g} us' if isinstance(value, (int, float)) else f'{text} {value}'
    return ''


def check_camera(ctx: RigContext) -> list[CheckResult]:
    from clopy_acquisition.source_setup import make_source
    from clopy_acquisition.sources import SourceError
    kind, values = camera_values(ctx)
    fps = float(values['frame_rate_hz'])
    setting = f"camera.source = {kind}, {values['width_px']}x{values['height_px']} px at {fps:g} Hz"
    hint = CAMERA_HINTS.get(kind, 'camera.path and that the file is readable' if values.get('path') else
                            'the camera settings')
    try:
        source = make_source(kind, values.__getitem__)
        source.open()
    except (SourceError, ValueError, OSError) as exc:
        return [CheckResult('camera', setting, FAIL, 'cannot open', because(exc, hint))]
    try:
        frames, elapsed, error = _grab(source, ctx.frames, 5.0 + 3.0 * ctx.frames / fps)
        exposure = _exposure(source, values)
    finally:
        source.close()
    if error or not frames:
        return [CheckResult('camera', setting, FAIL, f'{len(frames)} frames', because(error or 'no frames', hint))]
    height, width = frames[-1].image.shape[:2]
    lost = sum(int(f.dropped_before) for f in frames[1:])
    figures = {'frames': len(frames), 'width_px': width, 'height_px': height, 'lost': lost}
    stamps = [f.capture_time_s for f in frames if f.capture_time_s is not None]
    problems = []
    if source.live and len(stamps) >= 2:
        rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if stamps[-1] > stamps[0] else float('inf')
        figures['rate_hz'] = round(rate, 3)
        measured = f'{rate:.2f} Hz (camera time stamps)'
        if abs(rate - fps) > 0.1 * fps:
            problems.append(f'rate {rate:.2f} Hz is not camera.frame_rate_hz = {fps:g} (check the exposure '
                            f'fits in 1/{fps:g} s, the light, the USB/network bandwidth)')
        if (width, height) != (int(values['width_px']), int(values['height_px'])):
            problems.append(f'frames are {width}x{height} px, camera.width_px/height_px ask for '
                            f'{values["width_px"]}x{values["height_px"]}')
    else:
        figures['read_rate_hz'] = round(len(frames) / elapsed, 3) if elapsed > 0 else None
        measured = f'not live (the camera node paces it at {fps:g} Hz)'
    measured = f'{len(frames)} frames {width}x{height} px, {measured}' + (f', {exposure}' if exposure else '') + \
        (f', {lost} lost' if lost else '')
    if lost:
        problems.append(f'{lost} frames lost by the camera (check the bandwidth and the CPU load)')
    return [CheckResult('camera', setting, FAIL if problems else OK, measured,
                        '; '.join(problems), figures)]


# -- audio ---------------------------------------------------------------------------

def tone_frequency_hz(samples: np.ndarray, sample_rate_hz: int) -> float:
    """The strongest frequency of ``samples`` (Hz, to the FFT bin, refined by the
    neighbouring bins' parabola)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    k = int(np.argmax(spectrum[1:])) + 1
    if 1 <= k < spectrum.size - 1:
        a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
        denom = a - 2 * b + c
        k = k + (0.5 * (a - c) / denom if denom else 0.0)
    return float(k * sample_rate_hz / samples.size)


def check_audio(ctx: RigContext) -> list[CheckResult]:
    from clopy_feedback.tone_params import TONE
    values = ctx.values('tone', TONE.defaults())
    backend, rate = values['backend'], int(values['sample_rate_hz'])
    if backend == 'wav':
        return [_wav_tone(ctx, values)]
    device = values['device'] or None
    setting = (f"tone.backend = sounddevice, tone.device = {values['device'] or '(default output)'}, {rate} Hz, "
               f"blocksize {values['blocksize']}")
    hint = ('tone.device (`python3 -m sounddevice` lists the devices), that the sound card is connected and not '
            'in use, libportaudio2')
    from clopy_feedback.audio import AudioDeviceError, SoundDeviceOutput
    reached = threading.Event()
    try:
        out = SoundDeviceOutput(rate, int(values['blocksize']), device,
                                on_reached=lambda f, t: reached.set() if f > 0 else None,
                                amplitude=float(values['amplitude']))
    except AudioDeviceError as exc:
        return [CheckResult('audio', setting, FAIL, 'cannot open', because(exc, hint))]
    try:
        out.start()
        out.set_frequency(TEST_TONE_HZ)
        time.sleep(TEST_TONE_S)
        out.set_frequency(0.0)
        time.sleep(0.05)
    finally:
        out.close()
    if not reached.is_set():
        return [CheckResult('audio', setting, FAIL, 'no audio callback', f'the stream did not play; check {hint}')]
    measured = f'{TEST_TONE_HZ:g} Hz for {TEST_TONE_S:g} s played (listen for it), {out.underflows} underflows'
    return [CheckResult('audio', setting, FAIL if out.underflows else OK, measured,
                        'underflows: raise tone.blocksize or lower the CPU load', {'underflows': out.underflows})]


def _wav_tone(ctx: RigContext, values: dict) -> CheckResult:
    from clopy_feedback.audio import WavSink

    from clopy.selftest_audio import read_wav
    path = ctx.report_dir / f'{ctx.stem}_tone.wav'
    setting = f"tone.backend = wav, {int(values['sample_rate_hz'])} Hz"
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    try:
        sink = WavSink(path, int(values['sample_rate_hz']), float(values['amplitude']))
        sink.start(0.0)
        sink.command(0.0, TEST_TONE_HZ)
        sink.command(TEST_TONE_S, 0.0)
        sink.close(TEST_TONE_S + 0.05)
        samples, rate = read_wav(path)
    except (OSError, ValueError, RuntimeError) as exc:
        return CheckResult('audio', setting, FAIL, 'cannot write', f'{exc}; check that {ctx.report_dir} is writable')
    heard = samples[np.abs(samples) > 0]
    found = tone_frequency_hz(samples[: int(TEST_TONE_S * rate)], rate) if heard.size else 0.0
    figures = {'file': str(path), 'frequency_hz': round(found, 2), 'tone_s': round(heard.size / rate, 4)}
    ok = abs(found - TEST_TONE_HZ) < 0.01 * TEST_TONE_HZ
    return CheckResult('audio', setting, OK if ok else FAIL,
                       f'{figures["tone_s"]:g} s at {found:.1f} Hz in {path.name}',
                       f'the file holds {found:.1f} Hz, not {TEST_TONE_HZ:g} Hz', figures)


# -- outputs -------------------------------------------------------------------------

#: the reward node's outputs and their pin parameters
OUTPUT_HINTS = {
    'valve': 'the valve driver (transistor/relay) and its supply, the wire to the pin, the common ground',
    'fail': 'the wire to the pin and what listens to the fail signal',
}


def reward_values(ctx: RigContext) -> dict:
    from clopy_reward.reward_params import REWARD
    return ctx.values('reward', REWARD.defaults())


def wired_outputs(values: dict) -> list[tuple[str, str]]:
    """(output, its pin key) of every wired output (clopy_reward.pins: pin -1 is not wired)."""
    from clopy_reward.pins import PIN_KEYS, check_output_pins
    return [(name, PIN_KEYS[name]) for name in check_output_pins(values)]


def output_specs(values: dict) -> list:
    """The reward node's outputs (clopy_reward.outputs.OutputSpec) with their limits."""
    from clopy_reward.limits import check_reward_values
    from clopy_reward.outputs import OutputSpec
    from clopy_reward.pins import check_output_pins
    limits = check_reward_values(values, 'reward')
    end_pulse_s = {'imaging_ttl': float(values.get('imaging_ttl_end_pulse_s', 0.0))}
    return [OutputSpec(name, pin, limits.get(name, 0.0), end_pulse_s=end_pulse_s.get(name, 0.0))
            for name, pin in check_output_pins(values).items()]


def open_outputs(values: dict, pin_factory=None):
    """The reward node's OutputBank from its parameters; ``pin_factory``: one made
    already (the latency test links mock pins first), else the rig's backend
    (reward.backend: gpio, or firmata on reward.serial_port; mock pins with
    reward.simulate). OutputError when the outputs cannot be opened."""
    from clopy_reward.outputs import OutputBank
    from clopy_reward.pins import GpioDriver, make_driver
    if pin_factory is not None:
        driver = GpioDriver(pin_factory)
    else:
        driver = make_driver(values['backend'], bool(values['simulate']), values['serial_port'], values['baud'],
                             values['connect_timeout_s'])
    return OutputBank(output_specs(values), driver)


def describe_pins(values: dict) -> str:
    if values['simulate']:
        where = 'mock pins'
    elif values['backend'] == 'firmata':
        where = f"reward.backend = firmata on {values['serial_port']}, Arduino pins"
    else:
        where = 'reward.backend = gpio, BCM'
    return f"reward.simulate = {str(bool(values['simulate'])).lower()}, {where} " + \
        ', '.join(f'{name} {values[key]}' for name, key in wired_outputs(values))


def check_outputs(ctx: RigContext) -> list[CheckResult]:
    from clopy_reward.outputs import OutputError
    values = reward_values(ctx)
    try:
        bank = open_outputs(values)
    except OutputError as exc:
        hint = ('the Arduino: its USB cable, reward.serial_port and that StandardFirmata is flashed'
                if values['backend'] == 'firmata' else 'the pin numbers (BCM) and that nothing else holds the pins')
        return [CheckResult('outputs', describe_pins(values), FAIL, 'cannot open', because(exc, hint))]
    rows = []
    try:
        outputs = wired_outputs(values)
        for name, key in outputs:
            rows.append(_check_output(bank, name, key, values))
        bank.wait_idle(2.0)
        high = [name for name, _ in outputs if bank.is_on(name)]
    finally:
        bank.close()
    if high:
        rows.append(CheckResult('outputs', describe_pins(values), FAIL, f'still high: {", ".join(high)}',
                                'an output stayed on after its test: stop and check the wiring'))
    return rows


def _check_output(bank, name: str, key: str, values: dict) -> CheckResult:
    spec = bank.spec(name)
    kind = 'mock ' if values['simulate'] else 'Arduino pin ' if values['backend'] == 'firmata' else 'BCM '
    setting = f"reward.{key} = {kind}{spec.pin}"
    hint = OUTPUT_HINTS.get(name, 'the wire to the pin and the device it switches')
    if spec.max_on_s > 0:
        pulse_s = float(values[f'{name}_pulse_s'])
        done = threading.Event()
        record = bank.pulse(name, pulse_s, reason='rig check', on_done=lambda r: done.set())
        if not record.delivered or not done.wait(pulse_s + 2.0):
            return CheckResult(name, setting, FAIL, 'no pulse', because(record.note or 'the pulse did not end', hint))
        measured = f'pulse {pulse_s:g} s (on {record.duration_s:.4f} s), low after'
        figures = {'requested_s': pulse_s, 'on_s': round(record.duration_s, 6)}
        bad = bank.is_on(name)   # the on-time is reported, not judged: the timer is the reward node's
    else:
        bank.set_level(name, True)
        held = bank.is_on(name)
        time.sleep(TTL_TEST_S)
        bank.set_level(name, False)
        measured = f'held high {TTL_TEST_S:g} s, low after'
        figures = {'held_s': TTL_TEST_S}
        bad = not held or bank.is_on(name)
    return CheckResult(name, setting, FAIL if bad else OK, measured, f'the output did not switch; check {hint}',
                       figures)
