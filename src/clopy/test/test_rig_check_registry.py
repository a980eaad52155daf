"""The registry of `clopy rig check` (clopy.rig_check): a check added with
register_check runs with the others, a latency check only with --latency, and a
check that raises becomes a FAIL row naming it while the others still run."""
from __future__ import annotations

import pytest

from clopy import rig_check
from clopy.rig_check_devices import RigContext
from clopy.rig_check_report import FAIL, OK, CheckResult


@pytest.fixture
def registry():
    saved = dict(rig_check.CHECKS), dict(rig_check.LATENCY_CHECKS)
    yield rig_check
    rig_check.CHECKS.clear()
    rig_check.CHECKS.update(saved[0])
    rig_check.LATENCY_CHECKS.clear()
    rig_check.LATENCY_CHECKS.update(saved[1])


def context(tmp_path) -> RigContext:
    path, params = rig_check.load_rig_params('clnf_1roi', True, ['camera.frame_rate_hz=30.0'], None)
    assert params['camera']['source'] == 'synthetic' and params['reward']['simulate'] is True
    return RigContext('clnf_1roi', params, path, True, tmp_path, 'stem', frames=3)


def test_registered_checks_run_in_order_and_a_crash_is_a_failed_row(registry, tmp_path):
    def broken(ctx):
        raise RuntimeError('bus error')

    registry.register_check('lick', lambda ctx: [CheckResult('lick', 'lick.electrode = 0', OK, 'released')])
    registry.register_check('sync', broken)
    registry.register_check('sync', lambda ctx: [CheckResult('sync latency', 's', OK)], latency=True)
    results = registry.run_checks(context(tmp_path), only=['camera', 'lick', 'sync'])
    assert [(r.device, r.result) for r in results] == [('camera', OK), ('lick', OK), ('sync', FAIL)]
    assert results[2].check == 'RuntimeError: bus error'
    assert results[0].setting == 'camera.source = synthetic, 256x256 px at 30 Hz'
    with_latency = registry.run_checks(context(tmp_path), only=['lick', 'sync'], latency=True)
    assert [r.device for r in with_latency] == ['lick', 'sync', 'sync latency']
