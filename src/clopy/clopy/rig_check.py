"""`clopy rig check PARADIGM [--sim] [--set node.param=value ...] [--params-file F] [--out DIR]
[--frames N] [--only camera,audio,outputs] [--latency [--latency-output NAME] [--latency-input PIN]
[--latency-repeats N] [--latency-pulse-s S] [--audio-input DEVICE]]`

Opens each device the paradigm's parameters configure, without starting the ROS graph,
and tries it: the camera grabs frames, the tone backend plays a test tone, every output
gives one pulse (all low after), the lick sensor reports its electrode. The
parameters are read exactly as `clopy run` reads them (clopy.config: the file, --sim,
--set, the pre-flight check). Prints a table, writes a rig report to
<out>/rig_reports/ (JSON and Markdown, clopy.rig_check_report) and exits 1 when a check
failed (2: the parameters are wrong). With --latency the self-test measures the real
output latency of an output wired back to an input (clopy.rig_check_latency).

Checks are a registry: ``register_check(name, check)`` adds one (``check(ctx:
RigContext) -> list[CheckResult]``); ``latency=True`` registers a self-test that runs
with --latency. docs/hardware.md describes the wiring and every failure.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from clopy import config as cfg
from clopy.rig_check_devices import (LatencyOptions, RigContext, check_audio, check_camera,
                                     check_outputs)
from clopy.rig_check_latency import check_audio_latency, check_output_latency
from clopy.rig_check_lick import check_lick
from clopy.rig_check_report import (FAIL, REPORTS_DIR, CheckResult, build_report, now_local, report_stem, table,
                                    write_report)

Check = Callable[[RigContext], list[CheckResult]]

#: device checks, in the order they run: name -> check
CHECKS: dict[str, Check] = {'camera': check_camera, 'audio': check_audio, 'outputs': check_outputs,
                            'lick': check_lick}
#: latency self-tests (--latency), by the device check they belong to
LATENCY_CHECKS: dict[str, Check] = {'outputs': check_output_latency, 'audio': check_audio_latency}


def register_check(name: str, check: Check, latency: bool = False) -> None:
    """Add (or replace) the check ``name``; ``latency``: a self-test run with --latency."""
    (LATENCY_CHECKS if latency else CHECKS)[name] = check


def add_command(sub) -> None:
    rig = sub.add_parser('rig', help='rig hardware: check the devices before a session (docs/hardware.md)')
    rig_sub = rig.add_subparsers(dest='rig_command', required=True)
    p = rig_sub.add_parser('check', help='open each configured device, try it, print a table and write a rig '
                                         'report; exit 1 when a check fails')
    p.add_argument('paradigm', help=f'one of {", ".join(cfg.PARADIGMS)}')
    p.add_argument('--sim', action='store_true', help='simulation backends, as clopy run --sim')
    p.add_argument('--set', dest='sets', action='append', default=[], metavar='NODE.PARAM=VALUE',
                   help='override a parameter, as clopy run --set (repeatable)')
    p.add_argument('--params-file', type=Path, metavar='FILE', help='parameter file instead of config/<paradigm>.yaml')
    p.add_argument('--out', type=Path, default=Path('sessions'), metavar='DIR',
                   help=f'the sessions folder; the report goes to <out>/{REPORTS_DIR}/ (default: sessions)')
    p.add_argument('--frames', type=int, default=30, metavar='N', help='camera frames to grab (default 30)')
    p.add_argument('--only', type=_names, metavar='CHECK,CHECK', help=f'run only these checks ({", ".join(CHECKS)})')
    lat = p.add_argument_group('latency self-test (an output wired back to an input; docs/hardware.md)')
    lat.add_argument('--latency', action='store_true', help='measure the output and tone latency too')
    lat.add_argument('--latency-output', default='valve', metavar='NAME', help='the output wired back (default valve)')
    lat.add_argument('--latency-input', metavar='PIN',
                     help='BCM input pin the output is wired to (under --sim: a mock pin linked to it, default 26)')
    lat.add_argument('--latency-repeats', type=int, default=20, metavar='N', help='pulses / tone bursts (default 20)')
    lat.add_argument('--latency-pulse-s', type=float, default=0.01, metavar='S', help='test pulse length (default 0.01 s)')
    lat.add_argument('--audio-input', metavar='DEVICE',
                     help='sounddevice input (microphone at the speaker or a loop cable) for the tone latency')
    p.set_defaults(func=run_command)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(',') if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise argparse.ArgumentTypeError(f'unknown check(s) {", ".join(unknown)}; allowed: {", ".join(CHECKS)}')
    return names


def load_rig_params(paradigm: str, sim: bool, sets: list[str], params_file: Path | None) -> tuple[Path, dict]:
    """The parameters as `clopy run` reads them: the file, --sim, --set, the checks.
    ConfigError naming the file, key and value."""
    if paradigm not in cfg.PARADIGMS:
        raise cfg.ConfigError(f'unknown paradigm {paradigm!r}; allowed: {", ".join(cfg.PARADIGMS)}')
    path, params = cfg.load_params(paradigm, params_file)
    if sim:
        cfg.apply_simulation(params, paradigm)   # before --set: an explicit setting wins
    for assignment in sets:
        cfg.apply_set(params, assignment)
    cfg.validate(params, path)
    return path, params


def run_checks(ctx: RigContext, only: list[str] | None = None, latency: bool = False) -> list[CheckResult]:
    """Every registered check (or those named in ``only``), then the latency self-tests
    of those devices when ``latency``; a check that raises is a FAIL row naming it."""
    names = [n for n in CHECKS if only is None or n in only]
    plan = [(n, CHECKS[n]) for n in names]
    if latency:
        plan += [(f'{n} latency', LATENCY_CHECKS[n]) for n in names if n in LATENCY_CHECKS]
    results: list[CheckResult] = []
    for name, check in plan:
        try:
            results += check(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others' results
            results.append(CheckResult(name, '', FAIL, 'check crashed', f'{type(exc).__name__}: {exc}'))
    return results


def run_command(args) -> int:
    try:
        path, params = load_rig_params(args.paradigm, args.sim, args.sets, args.params_file)
        if args.frames < 1:
            raise cfg.ConfigError(f'--frames {args.frames}: allowed: 1 or more')
        if args.latency and args.latency_repeats < 1:
            raise cfg.ConfigError(f'--latency-repeats {args.latency_repeats}: allowed: 1 or more')
    except cfg.ConfigError as exc:
        print(f'clopy: {exc}', file=sys.stderr)
        return 2
    when = now_local()
    report_dir = Path(args.out) / REPORTS_DIR
    stem = report_stem(args.paradigm, args.sim, when)
    latency = LatencyOptions(args.latency_output, args.latency_input, args.latency_repeats, args.latency_pulse_s,
                             args.audio_input) if args.latency else None
    ctx = RigContext(args.paradigm, params, path, args.sim, report_dir, stem, args.frames, latency)
    print(f'rig check {args.paradigm}{" (simulation)" if args.sim else ""}: {path}', flush=True)
    results = run_checks(ctx, args.only, args.latency)
    print(table(results))
    report = build_report(args.paradigm, args.sim, path, results, when)
    try:
        json_path, md_path = write_report(report, report_dir, stem)
    except OSError as exc:
        print(f'clopy: cannot write the rig report to {report_dir}: {exc}', file=sys.stderr)
        return 1
    failed = [r for r in results if r.failed]
    print(f'rig report: {md_path} ({json_path.name})')
    if failed:
        print(f'{len(failed)} check(s) failed: {", ".join(r.device for r in failed)}', file=sys.stderr)
        return 1
    print('all checks passed')
    return 0
