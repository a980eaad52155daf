"""Results of `clopy rig check`: one row per device and setting, the console table, and
the rig report (JSON for programs, Markdown for people) in ``<out>/rig_reports/``; a
session started later with the same ``--out`` keeps a copy of the newest matching
report (``attach_latest_report``). Plain Python, no rclpy.

Report JSON (``format: clopy-rig-report/1``): paradigm, sim, host, date (ISO 8601 with
the UTC offset), params_file, versions, ok, checks (device, setting, result, measured,
check, figures) and latency ({row name: p50/p99/max ms, samples}).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import socket
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

OK, FAIL, SKIPPED = 'ok', 'FAIL', 'skipped'
FORMAT = 'clopy-rig-report/1'
REPORTS_DIR = 'rig_reports'
#: names of the copy in a session folder
SESSION_REPORT_JSON, SESSION_REPORT_MD = 'rig_report.json', 'rig_report.md'
VERSION_PACKAGES = ('clopy', 'gpiozero', 'sounddevice', 'numpy', 'opencv-python', 'pyfirmata2', 'smbus2')


@dataclass
class CheckResult:
    """One row: the device, the setting it was opened with, ok / FAIL / skipped, the
    measured figure, and what to check when it failed."""

    device: str
    setting: str
    result: str
    measured: str = ''
    check: str = ''
    figures: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.result == FAIL

    @property
    def advice(self) -> str:
        """What to check: for a failed or skipped row only."""
        return '' if self.result == OK else self.check


def now_local() -> datetime:
    """The current time with the computer's UTC offset."""
    return datetime.now(timezone.utc).astimezone()


def versions() -> dict[str, str]:
    """Python, ROS distribution and the versions of the packages a rig check touches."""
    found = {'python': platform.python_version(), 'platform': platform.platform()}
    if os.environ.get('ROS_DISTRO'):
        found['ros_distro'] = os.environ['ROS_DISTRO']
    for name in VERSION_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def table(results: list[CheckResult]) -> str:
    """The console table; the last column only says something for failed and skipped rows."""
    header = ('device', 'setting', 'result', 'measured', 'check on failure')
    rows = [(r.device, r.setting, r.result, r.measured, r.advice) for r in results]
    widths = [min(60, max(len(str(row[i])) for row in [header, *rows])) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[i]).ljust(widths[i]) for i in range(4)]
        lines.append('  '.join(cells + [str(row[4])]).rstrip())
    lines.insert(1, '  '.join('-' * w for w in widths) + '  ' + '-' * len(header[4]))
    return '\n'.join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def markdown(report: dict) -> str:
    lines = [f"# Rig report: {report['paradigm']}{' (simulation)' if report['sim'] else ''}", '',
             f"- result: **{'all checks passed' if report['ok'] else 'FAILED'}**",
             f"- host: {report['host']}", f"- date: {report['date']}",
             f"- parameter file: {report['params_file']}",
             '- versions: ' + ', '.join(f'{k} {v}' for k, v in report['versions'].items()), '',
             '| device | setting | result | measured | check on failure |', '|---|---|---|---|---|']
    for r in report['checks']:
        lines.append('| ' + ' | '.join(_md_cell(r[k]) for k in ('device', 'setting', 'result', 'measured', 'check'))
                     + ' |')
    if report['latency']:
        lines += ['', '## Latency self-test', '', '| path | method | n | missed | p50 ms | p99 ms | max ms |',
                  '|---|---|---|---|---|---|---|']
        for name, f in report['latency'].items():
            lines.append(f"| {_md_cell(name)} | {_md_cell(f['method'])} | {f['n']} | {f['missed']} | "
                         f"{f['p50_ms']} | {f['p99_ms']} | {f['max_ms']} |")
    return '\n'.join(lines) + '\n'


def build_report(paradigm: str, sim: bool, params_file: Path, results: list[CheckResult],
                 when: datetime | None = None) -> dict:
    when = when or now_local()
    return {'format': FORMAT, 'paradigm': paradigm, 'sim': sim, 'host': socket.gethostname(),
            'date': when.isoformat(timespec='seconds'), 'params_file': str(params_file), 'versions': versions(),
            'ok': not any(r.failed for r in results), 'checks': [dict(asdict(r), check=r.advice) for r in results],
            'latency': {r.device: r.figures for r in results if r.figures.get('kind') == 'latency'}}


def report_stem(paradigm: str, sim: bool, when: datetime) -> str:
    return f"{when.strftime('%Y%m%dT%H%M%S%z')}_{paradigm}{'_sim' if sim else ''}"


def write_report(report: dict, folder: Path, stem: str) -> tuple[Path, Path]:
    """(json, md) written into ``folder`` as ``<stem>.json`` / ``<stem>.md``."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / f'{stem}.json', folder / f'{stem}.md'
    json_path.write_text(json.dumps(report, indent=2) + '\n', encoding='utf-8')
    md_path.write_text(markdown(report), encoding='utf-8')
    return json_path, md_path


def latest_report(out_dir: Path, paradigm: str, sim: bool) -> Path | None:
    """The newest rig report (JSON) in ``<out_dir>/rig_reports`` of this paradigm and
    mode (a simulated check says nothing about the rig)."""
    best: tuple[datetime, Path] | None = None
    for path in Path(out_dir, REPORTS_DIR).glob('*.json'):
        try:
            report = json.loads(path.read_text(encoding='utf-8'))
            if report.get('format') != FORMAT or report.get('paradigm') != paradigm or report.get('sim') != sim:
                continue
            when = datetime.fromisoformat(report['date'])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if best is None or when > best[0]:
            best = (when, path)
    return best[1] if best else None


def attach_latest_report(out_dir: Path, session_dir: Path, paradigm: str, sim: bool) -> Path | None:
    """Copy the newest matching rig report (JSON and Markdown) into the session folder
    as rig_report.json / rig_report.md; the copy of the session folder is what the
    session ran with. Returns the report copied, or None when there is none."""
    source = latest_report(out_dir, paradigm, sim)
    if source is None:
        return None
    try:
        shutil.copyfile(source, Path(session_dir) / SESSION_REPORT_JSON)
        md = source.with_suffix('.md')
        if md.is_file():
            shutil.copyfile(md, Path(session_dir) / SESSION_REPORT_MD)
    except OSError:   # a copy for reference: the session's own files come first
        return None
    return source


def because(exc: BaseException | str, hint: str) -> str:
    """'<the error>; check <hint>' (the error's own full stop dropped)."""
    return f"{str(exc).rstrip('. ')}; check {hint}"
