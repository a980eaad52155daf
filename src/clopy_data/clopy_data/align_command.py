"""``clopy align SESSION RECORD``: map another system's record of the sync pulses onto
session time (docs/sync.md).

Writes, next to the session (or under ``--out``), ``align_<record>.csv`` (every pulse,
or every frame of a video, with its session time), ``align_<record>.json`` (the fit)
and ``align_<record>.png`` (residuals over the session, matched pulses)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from clopy_data.align import MAX_DRIFT_PPM, TOLERANCE_S, WINDOW, AlignError, Alignment, align_pulses
from clopy_data.align_io import (VIDEO_SUFFIXES, FrameRecord, SessionPulses, frame_period_s, led_onsets,
                                 read_brightness_csv, read_ttl_times, read_video_brightness, session_pulses)

KINDS = ('ttl', 'brightness', 'video')


def guess_kind(path: Path) -> str:
    """video by the file's suffix, brightness for a CSV whose header names a brightness column, else ttl."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return 'video'
    try:
        with open(path, encoding='utf-8-sig') as f:
            first = f.readline().lower()
    except OSError:
        return 'ttl'
    return 'brightness' if 'brightness' in first else 'ttl'


def _parse_roi(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--roi {text!r}: give x,y,width,height in pixels, e.g. 10,20,32,32') from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f'--roi {text!r}: x, y >= 0 and width, height > 0')
    return x, y, w, h


def add_command(sub) -> None:
    p = sub.add_parser('align', help="map another system's sync-pulse record onto session time",
                       description='Match the sync pulses recorded by another system (a TTL log, a video that '
                                   "sees an LED on the sync line) with the session's own (reward.sync_pin), fit "
                                   'offset and drift, and map its times onto session time (docs/sync.md).')
    p.add_argument('session', type=Path, help='session folder (with bag/) that ran with the sync output on')
    p.add_argument('record', type=Path, help='the other record: TTL times (text/CSV), a per-frame brightness '
                                             'CSV, or a video file')
    p.add_argument('--kind', choices=KINDS, help='what RECORD is (default: video by suffix, brightness when the '
                                                 'CSV header names it, else ttl)')
    p.add_argument('--column', help='column (name or 0-based number) of the TTL times or the brightness')
    p.add_argument('--unit', default='s', choices=('s', 'ms', 'us', 'ns'), help='unit of the TTL times (default s)')
    p.add_argument('--fps', type=float, help='frame rate for frame times (video without a rate, CSV without time)')
    p.add_argument('--roi', type=_parse_roi, help='video: x,y,width,height of the LED in pixels (default: whole frame)')
    p.add_argument('--threshold', type=float, help='LED brightness threshold (default: halfway median-maximum)')
    p.add_argument('--tolerance-ms', type=float, help=f'timing tolerance (default {TOLERANCE_S * 1e3:g} ms; '
                                                      'video: 1.2 frame periods)')
    p.add_argument('--max-drift-ppm', type=float, default=MAX_DRIFT_PPM,
                   help=f'largest clock-rate difference searched (default {MAX_DRIFT_PPM:g})')
    p.add_argument('--window', type=int, default=WINDOW,
                   help=f'consecutive intervals that must agree for a match (default {WINDOW})')
    p.add_argument('--out', type=Path, help='folder for the outputs (default: the session folder)')
    p.set_defaults(func=_run)


def _write_csv(path: Path, header: list[str], columns: list) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        f.write(','.join(header) + '\n')
        for row in zip(*columns):
            f.write(','.join('' if (isinstance(v, float) and np.isnan(v)) else
                             (f'{v:.6f}' if isinstance(v, float) else str(v)) for v in row) + '\n')


def _matched(fit: Alignment, other_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per other pulse: the matched session time (NaN if none) and the residual in ms."""
    lookup = dict(zip(fit.other_s.tolist(), fit.session_s.tolist()))
    matched = np.array([lookup.get(t, np.nan) for t in other_s.tolist()])
    return matched, (matched - fit.map(other_s)) * 1e3


def write_outputs(fit: Alignment, pulses: SessionPulses, other_s: np.ndarray, frames: FrameRecord | None,
                  onsets: np.ndarray | None, stem: Path) -> list[Path]:
    """CSV of mapped times, JSON of the fit and the residual figure at ``stem`` + suffix."""
    csv_path, json_path, png_path = (stem.with_suffix(s) for s in ('.csv', '.json', '.png'))
    if frames is None:
        matched, resid = _matched(fit, other_s)
        session = fit.map(other_s)
        _write_csv(csv_path, ['pulse', 'other_s', 'session_s', 'epoch_s', 'matched_session_s', 'residual_ms'],
                   [list(range(len(other_s))), other_s.tolist(), session.tolist(),
                    (session + pulses.t0_epoch_s).tolist(), matched.tolist(), resid.tolist()])
    else:
        matched, resid = np.full(len(frames.times_s), np.nan), np.full(len(frames.times_s), np.nan)
        m, r = _matched(fit, other_s)   # the LED onsets (half a frame before their first lit frame)
        matched[onsets], resid[onsets] = m, r
        onset = np.zeros(len(frames.times_s), int)
        onset[onsets] = 1
        session = fit.map(frames.times_s)
        _write_csv(csv_path, ['frame', 'other_s', 'session_s', 'epoch_s', 'brightness', 'led_onset',
                              'matched_session_s', 'residual_ms'],
                   [frames.frames.tolist(), frames.times_s.tolist(), session.tolist(),
                    (session + pulses.t0_epoch_s).tolist(), frames.brightness.tolist(), onset.tolist(),
                    matched.tolist(), resid.tolist()])
    summary = dict(fit.summary(), session_zero_epoch_s=pulses.t0_epoch_s, session_zero=pulses.t0_from,
                   mapping='session_s = offset_s + slope * other_s')
    json_path.write_text(json.dumps(summary, indent=2) + '\n', encoding='utf-8')
    residual_figure(fit, pulses.times_s, other_s, png_path)
    return [csv_path, json_path, png_path]


def residual_figure(fit: Alignment, session_s: np.ndarray, other_s: np.ndarray, path: Path) -> Path:
    """Residuals of the matched pulses over the session (top) and both pulse trains on
    session time, matched and unmatched (bottom)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 5.5), layout='constrained')
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.plot(fit.session_s, fit.residuals_s * 1e3, '.', color='#0072B2', ms=4)
    top.axhline(0, color='#888888', lw=0.8)
    top.set_ylabel('residual (ms)\nsession - mapped')
    top.set_title(f'offset {fit.offset_s:.6f} s, drift {fit.drift_ppm:.1f} ppm; {fit.n_matched} of '
                  f'{fit.n_other} pulses matched ({fit.n_session} sent); residual max {fit.max_residual_ms:.3f} '
                  f'ms, RMS {fit.rms_residual_ms:.3f} ms', fontsize=9)
    mapped = fit.map(other_s)
    is_matched = np.isin(other_s, fit.other_s)
    sent_matched = np.isin(session_s, fit.session_s)
    bottom.vlines(session_s[sent_matched], 1.05, 1.95, color='#009E73', lw=0.8, label='sent, matched')
    bottom.vlines(session_s[~sent_matched], 1.05, 1.95, color='#D55E00', lw=1.5, label='sent, not seen')
    bottom.vlines(mapped[is_matched], 0.05, 0.95, color='#009E73', lw=0.8)
    bottom.vlines(mapped[~is_matched], 0.05, 0.95, color='#CC79A7', lw=1.5, label='seen, not sent')
    bottom.set_yticks([0.5, 1.5], ['other record', 'session'])
    bottom.set_xlabel('session time (s)')
    bottom.legend(loc='upper right', fontsize=7, ncols=3, framealpha=0.85)
    fig.savefig(path, dpi=110)
    return path


def align_session(args: argparse.Namespace) -> tuple[Alignment, list[Path]]:
    record = Path(args.record)
    kind = args.kind or guess_kind(record)
    pulses = session_pulses(Path(args.session))
    frames = onsets = None
    tolerance_s = args.tolerance_ms * 1e-3 if args.tolerance_ms else TOLERANCE_S
    if kind == 'ttl':
        if not record.is_file():
            raise AlignError(f'{record}: no such file')
        other_s = read_ttl_times(record, args.column, args.unit)
    else:
        frames = (read_video_brightness(record, args.roi, args.fps) if kind == 'video'
                  else read_brightness_csv(record, args.column, args.fps))
        onsets, _ = led_onsets(frames, args.threshold, str(record))
        period_s = frame_period_s(frames)
        # the LED came on somewhere in the frame period before its first lit frame: on average half of it
        other_s = frames.times_s[onsets] - period_s / 2
        if not args.tolerance_ms:
            tolerance_s = max(TOLERANCE_S, 1.2 * period_s)
    fit = align_pulses(pulses.times_s, other_s, tolerance_s, args.max_drift_ppm, args.window,
                       session_what=f'{args.session} (sync pulses)', other_what=str(record))
    out = Path(args.out) if args.out else Path(args.session)
    out.mkdir(parents=True, exist_ok=True)
    return fit, write_outputs(fit, pulses, np.unique(other_s), frames, onsets, out / f'align_{record.stem}')


def _run(args: argparse.Namespace) -> int:
    try:
        fit, paths = align_session(args)
    except (AlignError, OSError) as exc:
        print(f'clopy align: {exc}', file=sys.stderr)
        return 1
    s = fit.summary()
    print(f'matched {s["matched"]} of {s["other_pulses"]} pulses ({s["session_pulses"]} sent); '
          f'session_s = {s["offset_s"]:.6f} + {s["slope"]:.9f} x other_s (drift {s["drift_ppm"]:.1f} ppm); '
          f'residuals max {s["max_residual_ms"]:.3f} ms, RMS {s["rms_residual_ms"]:.3f} ms')
    for p in paths:
        print(p)
    return 0
