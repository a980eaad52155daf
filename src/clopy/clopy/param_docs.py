"""docs/parameters.md, made from the nodes' parameter schemas (scripts/gen_param_docs.py
writes it; a test regenerates it and compares, so the reference cannot drift)."""
from __future__ import annotations

from typing import Iterable

from clopy_acquisition.camera_params import CAMERA, CAMERA_SCHEMAS
from clopy_common.schema import NodeSchema, Param
from clopy_feedback.task_params import TASK, task_schema
from clopy_signal.pose_params import POSE, POSE_SCHEMAS

from clopy.preflight import BASE_SCHEMAS

HEADER = '''# Node parameters

Generated from the parameter schemas by `python scripts/gen_param_docs.py`; do not edit
by hand. Each node declares these parameters with their description, unit and range
(`ros2 param describe /<node> <key>`), and `clopy run` and the launch files check a
parameter file, `--set` and launch arguments against them before anything starts
(exit 2, one line: `<file or --set>: node.key = value: allowed ...`). Parameters are
read-only while a node runs, except the task variables `v.*`
(`ros2 param set /task v.threshold 0.08`), which keep to the same limits.

Columns: **type** (str, int, float, bool; `[]` a list of them), **default** (the node's own
default; `config/<paradigm>.yaml` may set another), **unit** (`–`: none: a count, a name, a
flag or a ratio such as dF/F), **allowed** (the range or the choices, enforced before start).
'''


def _cell(value) -> str:
    text = value if isinstance(value, str) and not value == '' else repr(value)
    return text.replace('|', '\\|').replace('\n', ' ')


def table(params: Iterable[Param]) -> str:
    rows = ['| key | type | default | unit | allowed | description |',
            '|---|---|---|---|---|---|']
    for p in params:
        default = f'`{p.default!r}`'
        rows.append(f'| `{p.name}` | {p.type} | {_cell(default)} | {_cell(p.unit) if p.unit else "–"} | '
                    f'{_cell(p.allowed())} | {_cell(p.description)} |')
    return '\n'.join(rows) + '\n'


def _choice_sections(node: str, key: str, chosen, base: NodeSchema) -> list[str]:
    out = []
    for choice in chosen.choices():
        extra = [p for p in chosen.schema(choice) if p.name not in base]
        if extra:
            out.append(f'\n### {node}, {key} = {choice}\n\n' + table(extra))
    return out


def render() -> str:
    parts = [HEADER]
    for node, schema in BASE_SCHEMAS.items():
        parts.append(f'\n## {node}\n\n' + table(schema))
        if schema is CAMERA:
            parts += _choice_sections('camera', 'source', CAMERA_SCHEMAS, CAMERA)
        if schema is POSE:
            parts += _choice_sections('pose', 'backend', POSE_SCHEMAS, POSE)
        if schema is TASK:
            for task in ('clnf', 'clmf'):
                variables = [p for p in task_schema(task) if p.name not in TASK]
                parts.append(f'\n### task, task_file = {task}: the task variables\n\n'
                             'Typed by their default in the task file, limited by its `variable_limits`.\n\n'
                             + table(variables))
    return ''.join(parts)
