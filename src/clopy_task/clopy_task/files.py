"""Finding task files: a path, or the name of a packaged task (clopy_task/tasks)."""

from __future__ import annotations

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / 'tasks'


def packaged_task(name: str = 'clnf') -> Path:
    """The packaged task file ``name`` (with or without .py)."""
    path = TASKS_DIR / (name if name.endswith('.py') else f'{name}.py')
    if not path.is_file():
        available = sorted(p.stem for p in TASKS_DIR.glob('*.py'))
        raise FileNotFoundError(f'task {name!r}: no packaged task file {path}; '
                                f'allowed: a path or one of {available}')
    return path


def resolve_task_file(name: str) -> Path:
    """A task file given as a path, or by name from the packaged tasks (clnf, clmf).

    Raises FileNotFoundError naming the value and what is allowed.
    """
    path = Path(name).expanduser()
    if path.is_file():
        return path
    try:
        return packaged_task(Path(name).name)
    except FileNotFoundError:
        available = sorted(p.stem for p in TASKS_DIR.glob('*.py'))
        raise FileNotFoundError(f'task_file = {name!r}: no such file, and not a packaged task '
                                f'(looked in {TASKS_DIR}); allowed: a path or one of '
                                f'{available}') from None
