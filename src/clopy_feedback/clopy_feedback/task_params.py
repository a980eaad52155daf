"""The task node's parameters (clopy_common.schema): its own, and one `v.<name>` per
public variable of the task file, typed by the variable's default in the file and
limited by the file's ``variable_limits`` (clopy_task.library.VARIABLE_LIMITS for the
shared CLNF/CLMF variables). The node declares them (dynamic: `ros2 param set /task
v.threshold 0.08` during the run, refused outside the limits) and the pre-flight check
of `clopy run` and of the launch files applies them. Plain Python, no rclpy."""
from __future__ import annotations

from clopy_common.schema import NodeSchema, Param, SchemaError

from clopy_task import files
from clopy_task.engine import TaskEngine, TaskError

TASK = NodeSchema('task', [
    Param('task_file', 'clnf', 'task file: a path, or a packaged task name (clopy_task/tasks: clnf, clmf)'),
    Param('frame_rate_hz', 15.0, 'nominal camera frame rate (turns delays in s into frames)', unit='Hz',
          gt=0.0, max=1000.0),
    Param('paradigm', 'clnf_1roi', 'paradigm name, for status and records'),
    Param('status_period_s', 0.5, 'how often session_status is published', unit='s', gt=0.0, max=60.0),
    Param('stop_when_done', True, "end the session ('all trials done') when the task calls stop_framework()"),
    Param('stall_after_frames', 5, 'no frame for this many frame periods is a camera stall: the gap is taken out '
          'of task time (trial timers frozen, the trial resumes), the tone is off while it lasts', min=1, max=1000),
    Param('stall_limit_s', 10.0, 'a camera stall longer than this ends the session with an error', unit='s',
          gt=0.0, max=3600.0),
    Param('first_frame_timeout_s', 30.0, 'no control signal this long after the first frame_info (or after the '
          'start plus 60 s when no camera delivers) ends the session with an error', unit='s', gt=0.0, max=3600.0),
    Param('invalid_warn_frames', 15, 'more invalid control-signal frames in a row than this: one warning per run',
          min=1, max=1_000_000),
])


def variable_params(engine: TaskEngine) -> tuple[Param, ...]:
    """`v.<name>` of every public variable of a loaded task (variables without a
    value of a parameter type, such as None, are not parameters)."""
    limits = engine.task.variable_limits
    unknown = sorted(set(limits) - set(engine.variables))
    if unknown:
        raise SchemaError(f'{engine.task_path}: variable_limits names {unknown}, which the task does not '
                          f'define; its variables: {sorted(engine.variables)}')
    out = []
    for name, default in engine.variables.items():
        if default is None or isinstance(default, (dict, set)):
            continue
        try:
            out.append(Param(f'v.{name}', default, f'task variable {name}', dynamic=True, **limits.get(name, {})))
        except TypeError:
            continue
    return tuple(out)


def task_schema(task_file: str = 'clnf', frame_rate_hz: float = 15.0) -> NodeSchema:
    """The task node's full schema for a task file (its variables join the node's own).
    SchemaError names task.task_file when the file cannot be found or loaded."""
    try:
        path = files.resolve_task_file(str(task_file))
        engine = TaskEngine(path, frame_rate_hz=float(frame_rate_hz))
    except (FileNotFoundError, TaskError, ValueError, SyntaxError, OSError) as exc:
        text = str(exc)   # files.resolve_task_file's message already names task_file
        raise SchemaError('task.' + (text if text.startswith('task_file') else f'task_file = {task_file!r}: {text}')
                          ) from None
    return TASK.extended(variable_params(engine))
