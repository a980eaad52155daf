"""The latency self-test rows of `clopy rig check --latency` (clopy.selftest,
clopy.selftest_audio):

- outputs: ``--latency-output`` (default the valve) wired back to ``--latency-input``
  (a free BCM input pin, or a named input of INPUT_PROBES); under --sim the same code
  runs on gpiozero mock pins, the output pin linked to the input pin (default BCM 26);
- audio: tone bursts heard by ``--audio-input`` (a sounddevice input device) on a rig,
  the WAV sink's file under --sim; skipped on a rig without a microphone.

Each row keeps p50 / p99 / max and every sample in ms (``figures``, kind 'latency')
for the rig report. Plain Python, no rclpy.
"""
from __future__ import annotations

from typing import Callable

from clopy.rig_check_devices import RigContext, open_outputs, reward_values, wired_outputs
from clopy.rig_check_report import FAIL, OK, SKIPPED, CheckResult, because
from clopy.selftest import EdgeProbe, LatencyResult, SelfTestError, link_mock_pins, measure_output_latency

#: the input pin of the simulated loop-back when --latency-input is not given
SIM_INPUT_PIN = 26
#: named inputs for --latency-input: name -> make(ctx) -> a probe (clopy.selftest.PolledProbe
#: or EdgeProbe) with its own hardware; e.g. the lick sensor once it exists
INPUT_PROBES: dict[str, Callable[[RigContext], object]] = {}

WIRING_HINT = ('the wire from the output pin to the input pin, the common ground, that the input pin is free '
               '(docs/hardware.md: latency self-test)')


def _row(name: str, setting: str, result: LatencyResult) -> CheckResult:
    ok = result.missed == 0
    return CheckResult(name, setting, OK if ok else FAIL, result.summary(),
                       f'{result.missed} command(s) without an edge; check {WIRING_HINT}',
                       dict(kind='latency', **result.figures()))


def check_output_latency(ctx: RigContext) -> list[CheckResult]:
    opts = ctx.latency
    values = reward_values(ctx)
    keys = dict(wired_outputs(values))
    pins = {name: int(values[key]) for name, key in keys.items()}
    if opts.output not in pins:
        return [CheckResult('latency', f'--latency-output {opts.output}', FAIL, '',
                            f'allowed outputs: {", ".join(pins)}')]
    out_pin = pins[opts.output]
    source = f'reward.{keys[opts.output]} = {out_pin}'
    given = opts.input if opts.input is not None else (str(SIM_INPUT_PIN) if ctx.sim else None)
    if given is None:
        return [CheckResult(f'latency {opts.output}', source, FAIL, 'no input',
                            'give --latency-input PIN: the free BCM input pin the output is wired to')]
    if not given.isdigit():
        return _named_input_latency(ctx, given, values, source)
    in_pin = int(given)
    name = f'latency {opts.output} -> BCM {in_pin}'
    setting = f'{source} -> --latency-input {in_pin}' + (' (mock pins, linked)' if ctx.sim else '')
    if not 0 <= in_pin <= 27 or in_pin in pins.values():
        return [CheckResult(name, setting, FAIL, '', f'--latency-input {in_pin}: allowed: a BCM pin 0-27 that is '
                            f'no output of the reward node ({", ".join(f"{k} {v}" for k, v in pins.items())})')]
    from clopy_reward.outputs import make_pin_factory
    try:
        factory = make_pin_factory(ctx.sim)
        if ctx.sim:
            link_mock_pins(factory, out_pin, in_pin)
        probe = EdgeProbe(in_pin, factory)
    except Exception as exc:  # noqa: BLE001 - gpiozero's errors: a pin in use, no pin library
        return [CheckResult(name, setting, FAIL, 'cannot open the input', because(exc, WIRING_HINT))]
    return [_loopback(ctx, name, setting, values, probe)]


def _loopback(ctx: RigContext, name: str, setting: str, values: dict, probe) -> CheckResult:
    """Open the reward node's outputs (on the probe's pin factory, if it has one), run the
    loop-back and close both, whatever happens."""
    from clopy_reward.outputs import OutputError
    opts = ctx.latency
    # the outputs share the probe's pin factory (linked mock pins, or the Pi's own GPIO);
    # on an Arduino (reward.backend firmata) only the input is on the computer's GPIO
    shared = getattr(probe, 'factory', None) if ctx.sim or values['backend'] != 'firmata' else None
    try:
        bank = open_outputs(values, shared)
    except (OutputError, ValueError) as exc:
        probe.close()
        return CheckResult(name, setting, FAIL, 'cannot open the outputs', str(exc))
    try:
        result = measure_output_latency(bank, opts.output, probe, opts.repeats, opts.pulse_s, name=name)
    except SelfTestError as exc:
        return CheckResult(name, setting, FAIL, '', str(exc))
    finally:
        bank.close()
        probe.close()
    return _row(name, setting, result)


def _named_input_latency(ctx: RigContext, given: str, values: dict, source: str) -> list[CheckResult]:
    opts = ctx.latency
    name = f'latency {opts.output} -> {given}'
    setting = f'{source} -> --latency-input {given}'
    if given not in INPUT_PROBES:
        return [CheckResult(name, setting, FAIL, '', f'--latency-input {given!r}: allowed: a BCM pin number'
                            + ''.join(f', {n}' for n in INPUT_PROBES))]
    try:
        probe = INPUT_PROBES[given](ctx)
    except Exception as exc:  # noqa: BLE001 - the input's own error names the device
        return [CheckResult(name, setting, FAIL, 'cannot open the input', str(exc))]
    return [_loopback(ctx, name, setting, values, probe)]


def check_audio_latency(ctx: RigContext) -> list[CheckResult]:
    from clopy_feedback.audio import AudioDeviceError
    from clopy_feedback.tone_params import TONE

    from clopy.selftest_audio import measure_sounddevice_latency, measure_wav_latency
    opts = ctx.latency
    values = ctx.values('tone', TONE.defaults())
    rate, amplitude = int(values['sample_rate_hz']), float(values['amplitude'])
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    try:
        if values['backend'] == 'wav':
            path = ctx.report_dir / f'{ctx.stem}_latency_tone.wav'
            name, setting = 'latency tone -> WAV', f'tone.backend = wav ({path.name})'
            result = measure_wav_latency(path, opts.repeats, sample_rate_hz=rate, amplitude=amplitude)
        elif opts.audio_input is None:
            return [CheckResult('latency tone', 'tone.backend = sounddevice', SKIPPED, 'no microphone',
                                'give --audio-input DEVICE (a microphone at the speaker, or a loop cable)')]
        else:
            device = values['device'] or None
            name = f'latency tone -> input {opts.audio_input}'
            setting = f"tone.device = {values['device'] or '(default output)'} -> --audio-input {opts.audio_input}"
            audio_input = int(opts.audio_input) if opts.audio_input.isdigit() else opts.audio_input
            result = measure_sounddevice_latency(
                audio_input, device, opts.repeats, sample_rate_hz=rate, blocksize=int(values['blocksize']),
                amplitude=amplitude, save_to=ctx.report_dir / f'{ctx.stem}_latency_input.wav')
    except (AudioDeviceError, SelfTestError, OSError) as exc:
        return [CheckResult('latency tone', f"tone.backend = {values['backend']}", FAIL, '', str(exc))]
    return [_row(name, setting, result)]
