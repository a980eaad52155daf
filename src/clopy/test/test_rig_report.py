"""The rig report (clopy.rig_check_report): its JSON and Markdown, and the copy a
session keeps of the newest report of its paradigm and mode (clopy.runner.prepare)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from clopy.rig_check_report import (FAIL, OK, SKIPPED, CheckResult, build_report, latest_report, markdown,
                                    report_stem, table, write_report)
from clopy.runner import RunOptions, prepare

ROWS = [CheckResult('camera', 'camera.source = synthetic', OK, '30 frames', 'never shown'),
        CheckResult('valve', 'reward.valve_pin = BCM 27', FAIL, 'no pulse', 'the valve driver'),
        CheckResult('latency tone', 'tone.backend = sounddevice', SKIPPED, 'no microphone', 'give --audio-input'),
        CheckResult('latency valve -> BCM 26', 'reward.valve_pin = 27', OK, 'p50 0.1 ms',
                    figures={'kind': 'latency', 'method': 'edges', 'n': 3, 'missed': 0, 'p50_ms': 0.1,
                             'p99_ms': 0.2, 'max_ms': 0.3, 'samples_ms': [0.1, 0.1, 0.3]})]


def test_report_has_host_zoned_date_versions_and_every_row(tmp_path):
    report = build_report('clnf_1roi', False, Path('config/clnf_1roi.yaml'), ROWS)
    assert report['format'] == 'clopy-rig-report/1' and report['ok'] is False
    assert datetime.fromisoformat(report['date']).utcoffset() is not None
    assert report['host'] and report['versions']['python']
    assert [r['device'] for r in report['checks']] == [r.device for r in ROWS]
    # what to check is given for failed and skipped rows only
    assert [r['check'] for r in report['checks']] == ['', 'the valve driver', 'give --audio-input', '']
    assert report['latency'] == {'latency valve -> BCM 26': ROWS[3].figures}
    json_path, md_path = write_report(report, tmp_path / 'rig_reports', 'stem')
    assert json.loads(json_path.read_text()) == report
    text = md_path.read_text()
    assert '| valve | reward.valve_pin = BCM 27 | FAIL | no pulse | the valve driver |' in text
    assert '| latency valve -> BCM 26 | edges | 3 | 0 | 0.1 | 0.2 | 0.3 |' in text
    assert 'never shown' not in text and 'never shown' not in table(ROWS)


def test_markdown_escapes_table_cells():
    report = build_report('clmf', True, Path('f.yaml'), [CheckResult('audio', 'a | b', OK, 'x\ny')])
    assert '| audio | a \\| b | ok | x y |  |' in markdown(report)


def write(out: Path, paradigm: str, sim: bool, when: datetime) -> Path:
    report = build_report(paradigm, sim, Path('p.yaml'), ROWS[:1], when)
    return write_report(report, out / 'rig_reports', report_stem(paradigm, sim, when))[0]


def test_latest_report_is_the_newest_of_the_paradigm_and_mode(tmp_path):
    base = datetime(2026, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    older = write(tmp_path, 'clnf_1roi', False, base)
    newest = write(tmp_path, 'clnf_1roi', False, base + timedelta(hours=1))
    write(tmp_path, 'clnf_1roi', True, base + timedelta(hours=2))    # a simulated check: not the rig's
    write(tmp_path, 'clmf', False, base + timedelta(hours=3))         # another paradigm
    (tmp_path / 'rig_reports' / 'broken.json').write_text('{')
    assert latest_report(tmp_path, 'clnf_1roi', False) == newest != older
    assert latest_report(tmp_path, 'clnf_2roi', False) is None


def test_a_session_keeps_the_newest_matching_rig_report(tmp_path):
    when = datetime.now(timezone.utc).astimezone()
    source = write(tmp_path, 'clnf_1roi', True, when)
    # two trials: the free-space estimate of a default session depends on this machine's disk
    session_dir, _, _ = prepare(RunOptions('clnf_1roi', sim=True, mouse='m1', trials=2, out_dir=tmp_path))
    assert json.loads((session_dir / 'rig_report.json').read_text()) == json.loads(source.read_text())
    assert (session_dir / 'rig_report.md').read_text() == source.with_suffix('.md').read_text()
    other, _, _ = prepare(RunOptions('clmf', sim=True, mouse='m1', trials=2, out_dir=tmp_path))
    assert not (other / 'rig_report.json').exists()
