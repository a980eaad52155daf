"""The pre-flight check of a session's parameters against every node's schema
(clopy_common.schema), before any process starts and before the session folder
exists: each node block of the parameter dict, and the `/**` section shared by every
node against the schemas that have those names. One error, one line:
``<file or --set>: node.key = value: allowed ...``. Plain Python, no rclpy.

The camera's and the pose node's schemas depend on the chosen source kind / backend
(their own parameters join the node's); a block may also keep the parameters of the
kinds not chosen (a rig's `synthetic.*` for its --sim runs): they are checked too.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from clopy_acquisition.camera_params import CAMERA, CAMERA_SCHEMAS
from clopy_common.schema import NodeSchema, SchemaError
from clopy_feedback.task_params import TASK, task_schema
from clopy_feedback.tone_params import TONE
from clopy_reward.lick_params import LICK
from clopy_reward.reward_params import REWARD
from clopy_signal.pose_params import POSE, POSE_SCHEMAS
from clopy_signal.roi_dff_params import ROI_DFF
from clopy_signal.speed_params import SPEED

from clopy.recorder_params import RECORDER

SHARED = '/**'

#: node name -> its schema with the defaults (the reference docs/parameters.md shows).
BASE_SCHEMAS: dict[str, NodeSchema] = {s.node: s for s in (CAMERA, ROI_DFF, POSE, SPEED, TASK, TONE, REWARD,
                                                             LICK, RECORDER)}


def _task(block: Mapping[str, Any], where: Callable[[str], str]) -> NodeSchema:
    base = {key: block.get(key, TASK[key].default) for key in ('task_file', 'frame_rate_hz')}
    for key in base:
        base[key] = TASK.check({key: base[key]}, where(key))[key]
    try:
        return task_schema(base['task_file'], base['frame_rate_hz'])
    except SchemaError as exc:
        raise SchemaError(f'{where("task_file")}: {exc}') from None


_CHOSEN = {'camera': CAMERA_SCHEMAS.for_values, 'pose': POSE_SCHEMAS.for_values, 'task': _task}


def node_schema(node: str, block: Mapping[str, Any], where: Callable[[str], str]) -> NodeSchema:
    """The schema a node's block is checked against: for the camera and the pose node,
    the chosen kind's full schema plus the other kinds' parameters."""
    if node in _CHOSEN:
        return _CHOSEN[node](block, where)
    if node not in BASE_SCHEMAS:
        raise SchemaError(f'{where("")}: {node}: no such node; nodes with parameters: '
                          f'{", ".join(BASE_SCHEMAS)}')
    return BASE_SCHEMAS[node]


def check_params(params: dict, default_where: str, origins: Mapping[tuple[str, str], str] | None = None) -> None:
    """Check every value of ``params`` ({node: {key: value}}, '/**' for the shared
    section) and convert it in place (30 -> 30.0 for a float parameter). ``origins``:
    (node, key) -> where the value came from ('--set'); otherwise ``default_where``.
    SchemaError with one line on the first value not allowed."""
    origins = origins or {}
    full_schemas: list[NodeSchema] = []
    for node, block in params.items():
        if node == SHARED:
            continue

        def where(key: str, node: str = node) -> str:
            return origins.get((node, key), default_where)

        full = node_schema(node, block, where)
        for key, value in list(block.items()):
            block[key] = full.check({key: value}, where(key))[key]
        full_schemas.append(full)
    shared = params.get(SHARED) or {}
    for key, value in list(shared.items()):
        where = origins.get((SHARED, key), default_where)
        sharing = [s for s in full_schemas if key in s]
        if not sharing:   # the message lists every name a node of this file has
            NodeSchema(SHARED, {p.name: p for s in full_schemas for p in s}.values()).check({key: value}, where)
        for schema in sharing:
            shared[key] = NodeSchema(SHARED, [schema[key]]).check({key: value}, where)[key]
