"""One-page summary figure of a recorded session: `clopy plot SESSION [--out PNG]`.

Everything comes from the session's bag (and the subject / start time from
``events.tsv``), so any recording can be plotted again. The page, top to bottom:

1. the control signal (the 1-ROI dF/F0, or the 2-ROI rule value with each ROI
   drawn thinner) against session time, with the reward threshold as a step line
   (adaptive changes included), trials shaded by outcome, reward and timeout marks;
2. the feedback tone's frequency (0 during rests and silences);
3. per trial: time to success, or the time limit for a timeout;
4. the histogram of frame intervals (camera stamps), with dropped frames counted;
5. latency histograms: frame capture -> tone output (``tone_event.output_time``)
   and frame capture -> valve open (``reward_event.on_time``, delivered valve
   pulses only), in ms, with p50 / p99 in the legend.

Session time is seconds since the task's run start (``start_time_s``, the stamp of
the first frame), the clock of ``events.tsv``. The figure is drawn with
matplotlib's Agg canvas only: no display, no pyplot state.

:func:`figure_data` (in :mod:`clopy_data.plot_data`) returns the numbers the figure is drawn from (tests and
notebooks use it); :func:`make_figure` draws them; :func:`session_figure` writes
the PNG.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from clopy_data.bag import BagError
from clopy_data.folder import SUMMARY_FIGURE
from clopy_data.plot_data import FigureData, Trial, figure_data, percentiles

__all__ = ['FigureData', 'Trial', 'add_command', 'figure_data', 'latency_label', 'make_figure', 'percentiles',
           'session_figure']

LEGEND_BOX = {'frameon': True, 'framealpha': 0.85, 'edgecolor': 'none'}  # readable over lines

UNITS = {'dff': 'ΔF/F₀', 'px_per_frame': 'speed (px/frame)', 'mm_per_s': 'speed (mm/s)'}

# Colours (colour-blind safe: Okabe-Ito)
C_SIGNAL = '#000000'
C_THRESHOLD = '#D55E00'
C_SUCCESS = '#009E73'
C_TIMEOUT = '#CC0000'
C_OPEN = '#56B4E9'   # a trial the recording ended in
C_TONE = '#0072B2'
C_VALVE = '#E69F00'
C_ROIS = ('#56B4E9', '#CC79A7', '#F0E442', '#0072B2', '#E69F00')


# ----------------------------------------------------------------------- figure


def latency_label(name: str, values: np.ndarray) -> str:
    """Legend text of a latency histogram (p50 / p99 to 0.1 ms)."""
    if not len(values):
        return f'{name}: none recorded'
    p50, p99 = percentiles(values)
    return f'{name} (n={len(values)}): p50 {p50:.1f} ms, p99 {p99:.1f} ms'


def _n(count: int, noun: str) -> str:
    return f'{count} {noun}' + ('' if count == 1 else 's')


def _title(d: FigureData) -> str:
    when = d.start_time
    try:
        dt = datetime.fromisoformat(when)
        when = f'{dt:%Y-%m-%d %H:%M}' + (f' {dt:%Z}' if dt.tzinfo else '')
    except ValueError:
        when = when or '(start time unknown)'
    kind = d.session_type or 'session'
    head = f'Mouse {d.mouse or "?"}  ·  {d.paradigm or "?"}  ·  {kind}  ·  {when}'
    rewarded = f'{d.n_successes} rewarded' if d.session_type != 'no_reward' else f'{d.n_successes} crossings'
    unfinished = d.n_trials - d.n_successes - d.n_timeouts
    dur = d.duration_s
    length = f'{dur:.0f} s' if dur < 120 else f'{dur / 60:.1f} min'
    body = (f'{_n(d.n_trials, "trial")}: {rewarded}, {d.n_timeouts} timed out'
            + (f', {unfinished} unfinished' if unfinished else '')
            + f'  ·  {_n(d.n_rewards, "water reward")}  ·  {length}, {_n(len(d.t_s), "frame")}'
            + (f', {d.dropped_frames} dropped' if d.dropped_frames else ''))
    if d.salvaged:
        body += '  ·  bag salvaged (recorder did not close it)'
    return f'{head}\n{body}'


def _shade_trials(ax, d: FigureData, label: bool) -> None:
    colours = {'success': C_SUCCESS, 'timeout': C_TIMEOUT, 'unfinished': C_OPEN}
    names = {'success': 'trial, rewarded', 'timeout': 'trial, timed out',
             'unfinished': 'trial, unfinished (recording ended)'}
    done = set()
    for tr in d.trials:
        lab = names[tr.outcome] if label and tr.outcome not in done else None
        done.add(tr.outcome)
        ax.axvspan(tr.start_s, max(tr.end_s, tr.start_s + 1e-3), color=colours[tr.outcome], alpha=0.12,
                   lw=0, label=lab, zorder=0)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha='center', va='center', color='0.4', fontsize=11)


def _signal_panel(ax, d: FigureData) -> None:
    unit = UNITS.get(d.units, d.units)
    _shade_trials(ax, d, label=True)
    if not len(d.t_s):
        _empty(ax, 'no frames recorded')
    two = len(d.roi_names) > 1
    if two:
        for k, name in enumerate(d.roi_names):
            ax.plot(d.t_s, d.roi_dff.get(name, np.full(len(d.t_s), np.nan)), lw=0.7, alpha=0.85,
                    color=C_ROIS[k % len(C_ROIS)], label=f'ROI {name}')
        label = f'rule {d.rule} (control)'
    else:
        label = f'ROI {d.roi_names[0]}' if d.roi_names else 'control signal'
    ax.plot(d.t_s, d.control, lw=1.3 if two else 1.0, color=C_SIGNAL, label=label, zorder=3)
    invalid = ~np.isfinite(d.control)
    if len(d.t_s) and invalid.any() and invalid[0]:
        # baseline (F0) warm-up at the start: the signal counts as 0 for the task
        stop = int(np.argmax(~invalid)) if (~invalid).any() else len(d.t_s) - 1
        ax.axvspan(d.t_s[0], d.t_s[stop], facecolor='none', edgecolor='0.8', hatch='///', lw=0, zorder=0,
                   label='F₀ warm-up (no signal)')
    if len(d.threshold_t):
        end = d.end_s
        tx = np.append(d.threshold_t, end)
        ty = np.append(d.threshold_v, d.threshold_v[-1])
        changes = len(d.threshold_v) - 1
        tl = f'threshold {d.threshold_v[0]:g}' + (
            f' → {d.threshold_v[-1]:g} ({changes} change{"s" if changes > 1 else ""})' if changes else '')
        ax.step(tx, ty, where='post', color=C_THRESHOLD, lw=1.6, ls='--', label=tl, zorder=4)
    tr = ax.get_xaxis_transform()  # x in data, y in axes fraction
    succ = [t.end_s for t in d.trials if t.outcome == 'success']
    if succ:
        ax.plot(succ, [0.97] * len(succ), 'v', color=C_SUCCESS, ms=8, transform=tr, clip_on=False,
                label={'no_reward': 'threshold crossed (no reward session)',
                       'random_reward': 'success (random reward)'}.get(d.session_type,
                                                                       'success (threshold crossed)'), zorder=5)
    if len(d.valve_t):
        ax.plot(d.valve_t, [0.91] * len(d.valve_t), 'o', color=C_VALVE, ms=5, mec='k', mew=0.5,
                transform=tr, clip_on=False, label='water reward (valve open)', zorder=5)
    if len(d.refused_t):
        ax.plot(d.refused_t, [0.91] * len(d.refused_t), 'o', color='w', mec=C_VALVE, ms=6, mew=1.2,
                transform=tr, clip_on=False, label='reward refused', zorder=5)
    tmo = [t.end_s for t in d.trials if t.outcome == 'timeout']
    if tmo:
        ax.plot(tmo, [0.97] * len(tmo), 'X', color=C_TIMEOUT, ms=8, transform=tr, clip_on=False,
                label='timeout (fail signal)', zorder=5)
    ax.set_ylabel(f'control signal ({unit})' if d.units == 'dff' else unit)
    ax.set_title('Control signal and threshold' + (f'  (rule {d.rule})' if two else ''), loc='left',
                 fontsize=11, fontweight='bold')
    # headroom for the markers
    finite = np.concatenate([d.control[np.isfinite(d.control)], d.threshold_v]
                            + [v[np.isfinite(v)] for v in (d.roi_dff.values() if two else [])])
    if len(finite):
        lo, hi = min(float(finite.min()), 0.0), max(float(finite.max()), 0.0)
        pad = (hi - lo) * 0.08 or 0.01
        ax.set_ylim(lo - pad, hi + (hi - lo) * 0.25 + pad)
    ax.axhline(0, color='0.6', lw=0.6, zorder=1)
    ax.legend(loc='upper left', bbox_to_anchor=(1.005, 1.0), fontsize=8.5, frameon=False, borderaxespad=0)


def _tone_panel(ax, d: FigureData) -> None:
    _shade_trials(ax, d, label=False)
    if len(d.tone_t):
        end = d.end_s
        # silent before the first command
        tx = np.concatenate([[min(0.0, d.tone_t[0])], d.tone_t, [end]])
        ty = np.concatenate([[0.0], d.tone_hz, [d.tone_hz[-1]]]) / 1e3
        ax.step(tx, ty, where='post', color=C_TONE, lw=1.0, label='commanded tone')
        ax.set_ylim(0, max(1.0, float(ty.max()) * 1.1))
        ax.legend(loc='upper left', bbox_to_anchor=(1.005, 1.0), fontsize=8.5, frameon=False, borderaxespad=0)
    else:
        why = ' (no_audio session)' if d.session_type == 'no_audio' else ''
        _empty(ax, f'no tone commands recorded{why}')
        ax.set_ylim(0, 1)
    ax.set_ylabel('tone (kHz)')
    ax.set_xlabel('session time (s)')
    ax.set_title('Feedback tone (0 = silent)', loc='left', fontsize=11, fontweight='bold')


def _trial_panel(ax, d: FigureData) -> None:
    title = 'Trial outcomes'
    if not d.trials:
        _empty(ax, 'no trial started')
        ax.set_title(title, loc='left', fontsize=11, fontweight='bold')
        ax.set_xlabel('trial')
        ax.set_ylabel('time in trial (s)')
        return
    colours = {'success': C_SUCCESS, 'timeout': C_TIMEOUT, 'unfinished': C_OPEN}
    names = {'success': 'rewarded: time to success', 'timeout': 'timed out', 'unfinished': 'unfinished'}
    if d.session_type == 'no_reward':
        names['success'] = 'crossing: time to crossing'
    seen = set()
    for tr in d.trials:
        lab = names[tr.outcome] if tr.outcome not in seen else None
        seen.add(tr.outcome)
        ax.bar(tr.number, tr.duration_s, color=colours[tr.outcome], width=0.8, label=lab,
               hatch='//' if tr.outcome == 'timeout' else None, edgecolor='w' if tr.outcome == 'timeout' else None,
               lw=0)
    # a dot on each bar: a success at trial start (0 s) is still visible
    ax.scatter([t.number for t in d.trials], [t.duration_s for t in d.trials], s=14, zorder=3,
               c=[colours[t.outcome] for t in d.trials], edgecolors='k', linewidths=0.4)
    if np.isfinite(d.max_trial_s):
        ax.axhline(d.max_trial_s, color='0.3', ls=':', lw=1, label=f'time limit {d.max_trial_s:g} s')
    succ = [t.duration_s for t in d.trials if t.outcome == 'success']
    if succ:
        ax.axhline(float(np.median(succ)), color=C_SUCCESS, ls='--', lw=1,
                   label=f'median time to success {np.median(succ):.1f} s')
    finished = d.n_successes + d.n_timeouts
    rate = f'{d.n_successes}/{finished} rewarded ({100 * d.n_successes / finished:.0f}%)' if finished else ''
    ax.set_title(f'{title}: {rate}' if rate else title, loc='left', fontsize=11, fontweight='bold')
    ax.set_xlabel('trial')
    ax.set_ylabel('time in trial (s)')
    ax.set_xlim(0.4, len(d.trials) + 0.6)
    top = max([t.duration_s for t in d.trials] + ([d.max_trial_s] if np.isfinite(d.max_trial_s) else []))
    ax.set_ylim(0, top * 1.45 or 1)
    if len(d.trials) <= 20:
        ax.set_xticks(range(1, len(d.trials) + 1))
    else:
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    ax.legend(loc='upper left', fontsize=7.5, frameon=False, ncol=2)


def _frame_panel(ax, d: FigureData) -> None:
    iv = d.frame_interval_ms
    n = len(d.frame_stamps_s)
    ax.set_title(f'Frame intervals: {n} frames, {d.dropped_frames} dropped', loc='left', fontsize=11,
                 fontweight='bold', color=C_TIMEOUT if d.dropped_frames else 'k')
    ax.set_xlabel('interval between frames (ms)')
    ax.set_ylabel('frames')
    if not len(iv):
        _empty(ax, 'fewer than 2 frames')
        return
    nominal = 1e3 / d.nominal_fps if np.isfinite(d.nominal_fps) and d.nominal_fps > 0 else float(np.median(iv))
    hi = max(float(iv.max()), 2 * nominal) * 1.05
    width = max(0.5, hi / 150)  # ms; about 1 ms at 15 fps
    bins = np.arange(0, hi + width, width)
    late = int((iv > 1.5 * nominal).sum())
    ax.hist(iv, bins=bins, color='0.35', label=f'median {np.median(iv):.1f} ms, max {iv.max():.1f} ms')
    ax.plot([], [], ' ', label=f'{late} interval{"" if late == 1 else "s"} > 1.5 × nominal')
    ax.axvline(nominal, color=C_TONE, ls='--', lw=1,
               label=f'nominal {nominal:.1f} ms' + (f' ({d.nominal_fps:g} fps)' if np.isfinite(d.nominal_fps) else ''))
    ax.set_yscale('log')
    ax.set_ylim(0.7, len(iv) * 8)  # room for the legend above the tallest bar
    ax.legend(loc='upper right', fontsize=7.5, **LEGEND_BOX)


def _latency_panel(ax, d: FigureData) -> None:
    ax.set_title('Closed-loop latency from frame capture', loc='left', fontsize=11, fontweight='bold')
    ax.set_xlabel('frame capture → output (ms)')
    ax.set_ylabel('events')
    tone, valve = d.tone_latency_ms, d.valve_latency_ms
    both = np.concatenate([tone, valve])
    if not len(both):
        _empty(ax, 'no tone or valve events recorded')
        # keep the legend: it says which are missing
        ax.plot([], [], color=C_TONE, label=latency_label('tone', tone))
        ax.plot([], [], color=C_VALVE, label=latency_label('valve', valve))
        ax.legend(loc='upper right', fontsize=7.5, **LEGEND_BOX)
        ax.set_xlim(0, 20)
        ax.set_ylim(0, 1)
        return
    lo, hi = 0.0, float(np.percentile(both, 99.5)) * 1.15 if len(both) > 20 else float(both.max()) * 1.15
    hi = max(hi, float(both.max()) * 1.02, 1.0)
    bins = np.linspace(lo, hi, 50)
    for values, colour, name in ((tone, C_TONE, 'tone'), (valve, C_VALVE, 'valve')):
        lab = latency_label(name, values)
        if len(values):
            ax.hist(values, bins=bins, color=colour, alpha=0.55, label=lab)
            _, p99 = percentiles(values)
            ax.axvline(p99, color=colour, ls=':', lw=1)
        else:
            ax.plot([], [], color=colour, label=lab)
    if len(valve) and len(valve) < 20:
        # few pulses: show each one
        ax.plot(valve, np.zeros(len(valve)), '|', color=C_VALVE, ms=14, mew=2, clip_on=False)
    ax.set_xlim(lo, hi)
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top * 1.3)  # room for the legend
    ax.plot([], [], color='0.3', ls=':', lw=1, label='p99')
    ax.legend(loc='upper right', fontsize=7.5, **LEGEND_BOX)


def make_figure(d: FigureData):
    """Draw the summary figure of :func:`figure_data`'s numbers; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 11.5), dpi=110, layout='constrained')
    fig.get_layout_engine().set(h_pad=0.08, hspace=0.06)
    grid = fig.add_gridspec(3, 3, height_ratios=[1.8, 0.9, 1.25])
    ax_sig = fig.add_subplot(grid[0, :])
    ax_tone = fig.add_subplot(grid[1, :], sharex=ax_sig)
    ax_trials = fig.add_subplot(grid[2, 0])
    ax_frames = fig.add_subplot(grid[2, 1])
    ax_lat = fig.add_subplot(grid[2, 2])
    _signal_panel(ax_sig, d)
    _tone_panel(ax_tone, d)
    ax_sig.tick_params(labelbottom=True)
    ax_sig.set_xlim(min(0.0, float(d.t_s[0])) if len(d.t_s) else 0.0, d.end_s)
    _trial_panel(ax_trials, d)
    _frame_panel(ax_frames, d)
    _latency_panel(ax_lat, d)
    for ax in (ax_sig, ax_tone, ax_trials, ax_frames, ax_lat):
        ax.spines[['top', 'right']].set_visible(False)
        ax.grid(axis='y', color='0.92', lw=0.6)
        ax.set_axisbelow(True)
    fig.suptitle(_title(d), fontsize=13, x=0.01, ha='left')
    return fig


def session_figure(session_dir: Path, out: Path | None = None) -> Path:
    """Write the session's summary figure (default ``<session>/summary.png``); returns its path."""
    session_dir = Path(session_dir)
    out = Path(out) if out is not None else session_dir / SUMMARY_FIGURE
    fig = make_figure(figure_data(session_dir))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format='png')
    return out


# -------------------------------------------------------------------------- CLI


def add_command(sub) -> None:
    p = sub.add_parser('plot', help='summary figure of a session (PNG)',
                       description='One-page summary figure of a recorded session, from its bag.')
    p.add_argument('session', type=Path, help='session folder (with bag/)')
    p.add_argument('--out', type=Path, default=None, help=f'PNG to write (default SESSION/{SUMMARY_FIGURE})')
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        path = session_figure(args.session, args.out)
    except (BagError, OSError) as exc:
        print(f'clopy plot: {exc}', file=sys.stderr)
        return 1
    print(path)
    return 0
