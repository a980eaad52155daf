"""The recorder node's parameters (clopy_common.schema): declared by the node, applied
by the pre-flight check of `clopy run` and of the launch files. Plain Python, no rclpy."""
from clopy_common.schema import NodeSchema, Param

RECORDER = NodeSchema('recorder', [
    Param('session_dir', '', 'session folder to record into (empty: create one under out_dir)'),
    Param('out_dir', 'sessions', 'where session folders are created when session_dir is empty'),
    Param('mouse', 'sim-mouse', 'subject id'),
    Param('paradigm', 'clnf_1roi', 'paradigm name'),
    Param('task_file', '', 'task file of the session (archived, hash in the event log)'),
    Param('param_file', '', 'parameter file of the session (archived)'),
    Param('session_type', '', 'session type, for the event log'),
    Param('record_images', True, 'record image_raw (the raw frames) in the bag'),
    Param('flush_period_s', 1.0, 'cut the bag into a chunk at least this often', unit='s', gt=0.0, max=3600.0),
    Param('rerun_of', '', 'the recording this session re-runs (empty for a live session)'),
    Param('finish', True, 'after the bag is closed, make the per-frame table, the summary row and the '
          'summary figure (the session folder is then complete)'),
    Param('min_free_mb', 200, 'free space the session folder\'s file system must keep: below it the recorder '
          'closes the bag and the event log and ends the session (disk full, an error); 0: only a full disk '
          '(ENOSPC) stops it', unit='MB', min=0, max=10_000_000),
    Param('check_free_space', True, 'before start (clopy run, ros2 launch): refuse a session whose estimated '
          'recording (frame size x rate x planned duration x 1.5) plus min_free_mb does not fit; false skips '
          'the estimate (tests on a small file system)'),
    Param('summary_csv', '', 'sessions table the summary row goes to (empty: <out>/sessions_summary.csv '
          'beside the paradigm folder)'),
])
