"""End reasons by exit status (clopy run and ros2 launch), and the disk wording."""
import errno

import pytest

from clopy_common.session_end import disk_error, disk_full, exit_reason


@pytest.mark.parametrize('name, code, reason, error', [
    ('task', 0, 'all trials done', False),
    ('camera', 0, 'end of the recording', False),
    ('reward', -9, 'node reward died (SIGKILL)', True),
    ('roi_dff', -15, 'node roi_dff died (SIGTERM)', True),
    ('tone', 0, 'node tone died (exit 0)', True),
    ('task', 1, 'task failed: exit 1', True),
])
def test_exit_reason(name, code, reason, error):
    assert exit_reason(name, code) == (reason, error)


def test_disk_full_wording_and_the_cause_behind_a_wrapped_error():
    assert disk_full(12.4, 200) == 'disk full: 12 MB free (limit 200 MB)'
    assert disk_full(cause='No space left on device') == 'disk full: No space left on device'
    try:
        try:
            raise OSError(errno.ENOSPC, 'No space left on device')
        except OSError as exc:
            raise RuntimeError('cannot close bag') from exc
    except RuntimeError as wrapped:
        assert disk_error(wrapped).errno == errno.ENOSPC
    assert disk_error(OSError(errno.EACCES, 'Permission denied')) is None
