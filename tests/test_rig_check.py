"""`clopy rig check` as a rig's user runs it (the `clopy` command, a real process): the
simulated rig passes every check and the latency self-test on linked mock pins and
the WAV sink; a real check whose devices are missing fails, naming each device and
its setting, and never simulates; a limit or a bad parameter stops it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from test_genicam_session import GENICAM, fake_camera  # noqa: F401 - the fixture

CLOPY = [shutil.which('clopy')] if shutil.which('clopy') else [sys.executable, '-m', 'clopy.cli']


def rig_check(*args: str, out: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict | None]:
    result = subprocess.run([*CLOPY, 'rig', 'check', *args, '--out', str(out)], capture_output=True, text=True,
                            timeout=120, env=env)
    reports = sorted((out / 'rig_reports').glob('*.json')) if (out / 'rig_reports').is_dir() else []
    return result, json.loads(reports[-1].read_text()) if reports else None


def rows(report: dict) -> dict[str, dict]:
    return {r['device']: r for r in report['checks']}


def test_simulated_rig_passes_every_check_and_the_latency_self_test(tmp_path):
    result, report = rig_check('clnf_1roi', '--sim', '--latency', '--latency-repeats', '5', out=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'all checks passed' in result.stdout
    assert result.stdout.count(' ok ') >= 8   # the table: one line per row
    found = rows(report)
    assert set(found) == {'camera', 'audio', 'valve', 'fail', 'behaviour_camera', 'illumination', 'lick',
                          'latency tone -> WAV', 'latency valve -> BCM 26'}
    assert found['lick']['setting'] == 'lick.backend = mpr121, i2c-1 0x5a, electrode 0 (simulated)'
    assert found['lick']['measured'].endswith('electrode released') and found['lick']['figures']['touched'] == 0
    assert all(r['result'] == 'ok' for r in found.values())
    assert report['ok'] is True and report['sim'] is True and report['paradigm'] == 'clnf_1roi'
    assert datetime.fromisoformat(report['date']).utcoffset() is not None
    assert found['camera']['figures']['width_px'] == 256 and found['camera']['figures']['frames'] == 30
    assert found['audio']['figures']['frequency_hz'] == pytest.approx(1000.0, abs=5.0)
    assert found['valve']['setting'] == 'reward.valve_pin = mock 27'
    for name in ('latency tone -> WAV', 'latency valve -> BCM 26'):
        figures = report['latency'][name]
        assert figures['n'] == 5 and figures['missed'] == 0 and len(figures['samples_ms']) == 5
        assert figures['p50_ms'] <= figures['p99_ms'] <= figures['max_ms']
    assert Path(found['audio']['figures']['file']).is_file()
    md = sorted((tmp_path / 'rig_reports').glob('*.md'))
    assert len(md) == 1 and '## Latency self-test' in md[0].read_text()


def test_simulated_clmf_rig_grabs_the_behaviour_camera(tmp_path):
    result, report = rig_check('clmf', '--sim', '--only', 'camera,outputs', out=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = rows(report)
    # the CLMF rig's outputs are the Arduino's: valve, fail and the imaging TTL (config/clmf.yaml)
    assert set(found) == {'camera', 'valve', 'fail', 'imaging_ttl'}
    assert found['camera']['setting'] == 'camera.source = synthetic_behaviour, 640x320 px at 30 Hz'
    assert (found['camera']['figures']['width_px'], found['camera']['figures']['height_px']) == (640, 320)


def test_missing_devices_fail_by_name_and_setting_and_nothing_is_simulated(tmp_path):
    env = dict(os.environ, GPIOZERO_PIN_FACTORY='mock')   # mock pins asked for outside --sim: refused
    result, report = rig_check('clnf_1roi', '--set', 'camera.source=opencv', '--set', 'camera.device=/dev/clopy-none',
                               '--set', 'tone.device=clopy-no-such-sound-card', out=tmp_path, env=env)
    assert result.returncode == 1
    found = rows(report)
    assert report['ok'] is False and report['sim'] is False
    assert found['camera']['result'] == 'FAIL'
    assert found['camera']['setting'].startswith('camera.source = opencv')
    assert '/dev/clopy-none' in found['camera']['check']
    assert found['audio']['result'] == 'FAIL'
    assert 'tone.device = clopy-no-such-sound-card' in found['audio']['setting']
    assert found['outputs']['result'] == 'FAIL'
    assert found['outputs']['setting'].startswith('reward.simulate = false, reward.backend = gpio, BCM valve 27')
    assert 'GPIOZERO_PIN_FACTORY selects mock pins' in found['outputs']['check']
    assert not any(r['result'] == 'ok' for r in found.values())
    assert 'check(s) failed: camera, audio, outputs' in result.stderr


def test_a_missing_lick_sensor_fails_naming_its_bus_and_address(tmp_path):
    result, report = rig_check('clnf_1roi', '--only', 'lick', '--set', 'lick.i2c_bus=7', out=tmp_path)
    assert result.returncode == 1
    found = rows(report)
    assert found['lick']['result'] == 'FAIL'
    assert found['lick']['setting'] == 'lick.backend = mpr121, i2c-7 0x5a, electrode 0'
    assert 'I2C i2c-7 0x5a: no I2C bus /dev/i2c-7' in found['lick']['check']


def test_a_missing_arduino_fails_naming_its_port(tmp_path):
    result, report = rig_check('clmf', '--only', 'outputs', '--set', 'reward.serial_port=/dev/clopy-no-arduino',
                               out=tmp_path)
    assert result.returncode == 1
    found = rows(report)
    assert found['outputs']['result'] == 'FAIL'
    assert found['outputs']['setting'].startswith('reward.simulate = false, reward.backend = firmata on '
                                                  '/dev/clopy-no-arduino, Arduino pins valve 7, fail 12')
    assert "reward.serial_port = '/dev/clopy-no-arduino': no such serial device" in found['outputs']['check']


def test_latency_self_test_keeps_the_valve_limit(tmp_path):
    result, report = rig_check('clnf_1roi', '--sim', '--only', 'outputs', '--latency', '--latency-pulse-s', '3',
                               out=tmp_path)
    assert result.returncode == 1
    row = rows(report)['latency valve -> BCM 26']
    assert row['result'] == 'FAIL'
    assert 'valve refused the 3 s test pulse: pulse length 3.0 s exceeds the valve limit of 1.0 s' in row['check']


def test_real_latency_self_test_needs_its_input_pin(tmp_path):
    env = dict(os.environ, GPIOZERO_PIN_FACTORY='mock')
    result, report = rig_check('clnf_1roi', '--only', 'outputs', '--latency', out=tmp_path, env=env)
    assert result.returncode == 1
    row = rows(report)['latency valve']
    assert row['result'] == 'FAIL' and '--latency-input PIN' in row['check']


def test_a_bad_parameter_stops_before_any_device(tmp_path):
    result, report = rig_check('clnf_1roi', '--sim', '--set', 'reward.valve_pin=99', out=tmp_path)
    assert result.returncode == 2
    assert 'reward.valve_pin = 99' in result.stderr and 'allowed' in result.stderr
    assert report is None


def test_live_genicam_camera_reports_rate_and_exposure(tmp_path, fake_camera):
    sets = [a for s in GENICAM + [f'camera.genicam.device_id={fake_camera}'] for a in ('--set', s)]
    result, report = rig_check('clnf_1roi', '--sim', '--only', 'camera', *sets, out=tmp_path)
    row = rows(report)['camera']
    assert row['setting'] == 'camera.source = genicam, 256x256 px at 15 Hz'
    assert row['figures']['frames'] == 30 and row['figures']['rate_hz'] > 0
    assert '(camera time stamps)' in row['measured'] and 'exposure 5000 us' in row['measured']
    # the rate is judged against camera.frame_rate_hz: a loaded test machine may miss it, and says so
    assert row['result'] == 'ok' or 'is not camera.frame_rate_hz = 15' in row['check'], row
    assert result.returncode == (0 if row['result'] == 'ok' else 1)


def test_missing_genicam_camera_fails_naming_its_setting(tmp_path):
    sets = [a for s in GENICAM + ['camera.genicam.device_id=127.0.0.2'] for a in ('--set', s)]
    result, report = rig_check('clnf_1roi', '--sim', '--only', 'camera', *sets, out=tmp_path)
    assert result.returncode == 1
    row = rows(report)['camera']
    assert row['result'] == 'FAIL' and row['measured'] == 'cannot open'
    assert "GenICam camera '127.0.0.2' (genicam.device_id) does not answer" in row['check']
    assert 'arv-tool-0.8' in row['check']
