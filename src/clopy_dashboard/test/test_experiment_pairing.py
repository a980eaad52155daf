"""Pairing a central dashboard with a rig computer's: token files (made 0600, refused when
others may read them), `--rig-token RIG=FILE`, CLOPY_RIG; and `clopy dashboard` with them
(real processes: the token never printed, a bad token file refused naming it and its mode)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clopy_dashboard.experiment.pairing import (RIG_ENV, TOKENS_ENV, PairingError, local_rigs, read_token_file,
                                                rig_tokens, token_file)


def private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_new_token_file_is_made_readable_by_its_owner_only(tmp_path):
    old = os.umask(0)   # even with a umask that lets everyone read
    try:
        token, made = token_file(tmp_path / 'rig2.token')
    finally:
        os.umask(old)
    assert made and len(token) >= 32
    assert stat.S_IMODE((tmp_path / 'rig2.token').stat().st_mode) == 0o600
    assert token_file(tmp_path / 'rig2.token') == (token, False)   # the same token next time
    assert read_token_file(tmp_path / 'rig2.token') == token


@pytest.mark.parametrize('mode', [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_token_file_others_may_read_or_change_is_refused(tmp_path, mode):
    path = private(tmp_path / 'rig2.token', 'a' * 40 + '\n')
    path.chmod(mode)
    with pytest.raises(PairingError) as info:
        read_token_file(path)
    assert str(info.value).startswith(f'{path}: mode {mode:04o} lets others read or change the token')
    assert f'chmod 600 {path}' in str(info.value)
    with pytest.raises(PairingError, match='lets others read'):
        token_file(path)   # an existing file is never rewritten, and refused the same way


def test_a_missing_empty_or_odd_token_file_is_refused(tmp_path):
    with pytest.raises(PairingError, match=f'{tmp_path / "none"}: cannot read the token file'):
        read_token_file(tmp_path / 'none')
    with pytest.raises(PairingError, match='not a regular file'):
        read_token_file(tmp_path)
    for text in ('', 'short', 'two words here and more than sixteen', 'a' * 600):
        with pytest.raises(PairingError, match='holds no token'):
            read_token_file(private(tmp_path / 'odd.token', text))


def test_rig_tokens_from_options_and_the_environment(tmp_path):
    one = private(tmp_path / 'one', 'A' * 20)
    two = private(tmp_path / 'two', 'B' * 20)
    assert rig_tokens([f'rig2={one}']) == {'rig2': 'A' * 20}
    assert rig_tokens([f'rig2={two}'], f'rig2={one}, rig3={one}') == {'rig2': 'B' * 20, 'rig3': 'A' * 20}
    for bad in ('rig2', f'={one}', 'rig2='):
        with pytest.raises(PairingError, match=f"--rig-token '{bad}'; allowed: RIG=FILE"):
            rig_tokens([bad])
    with pytest.raises(PairingError, match=f"{TOKENS_ENV} 'rig2'; allowed: RIG=FILE"):
        rig_tokens([], 'rig2')


def test_the_rigs_this_computer_is_the_host_of():
    assert local_rigs({RIG_ENV: 'rig2, rig3,'}) == {'rig2', 'rig3'}
    assert local_rigs({}) == set()


def dashboard(*args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in (RIG_ENV, TOKENS_ENV)}
    return subprocess.Popen([sys.executable, '-m', 'clopy.cli', 'dashboard', '--port', '0', *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_clopy_dashboard_refuses_a_token_file_others_can_read(tmp_path):
    path = private(tmp_path / 'rig2.token', 'c' * 40)
    path.chmod(0o644)
    for option in (['--rig-token', f'rig2={path}'], ['--token-file', str(path)]):
        out, _ = dashboard('--out', str(tmp_path), *option).communicate(timeout=60)
        assert f'clopy: {path}: mode 0644 lets others read or change the token' in out, out
        assert 'c' * 40 not in out


def test_clopy_dashboard_makes_its_token_file_and_never_prints_the_token(tmp_path):
    path = tmp_path / 'rig2.token'
    proc = dashboard('--out', str(tmp_path), '--token-file', str(path), '--rig', 'rig2')
    lines = []
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith('token ') for line in lines):
            assert proc.poll() is None and time.monotonic() < deadline, ''.join(lines)
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    text = ''.join(lines) + out
    token = read_token_file(path)
    assert f'token made in {path}' in text and 'rig host of rig2' in text
    assert token not in text
