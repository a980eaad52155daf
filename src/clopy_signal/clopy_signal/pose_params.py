"""The pose node's parameters (clopy_common.schema): declared by the node, applied by
the pre-flight check of `clopy run` and of the launch files. The chosen backend may
bring its own (a backend class's ``params``, e.g. clopy_sim's `synthetic_behaviour.*`):
the full schema depends on `pose.backend`. Plain Python, no rclpy."""
from __future__ import annotations

from clopy_common.plugins import POSE_BACKENDS, PluginError, load_plugin
from clopy_common.schema import ChosenSchema, NodeSchema, Param, SchemaError

from clopy_signal.dlc_backend import MODEL_TYPES, RUNTIMES, DlcLiveBackend
from clopy_signal.pose_backends import pose_backend_names
from clopy_signal.speed import BODY_PARTS

#: Backends this package provides itself (others: entry points of `clopy.pose_backends`).
BUILTIN_BACKENDS = {'dlclive': DlcLiveBackend}

POSE = NodeSchema('pose', [
    Param('backend', 'dlclive', 'pose backend', choices=pose_backend_names(BUILTIN_BACKENDS)),
    Param('model_path', '', 'exported DeepLabCut model (dlclive backend)'),
    Param('model_type', 'pytorch', 'pytorch (DeepLabCut 3 .pt export) or base, tensorrt, lite (TensorFlow '
          'export folder)', choices=MODEL_TYPES),
    Param('device', 'cpu', 'pytorch device: cpu or cuda'),
    Param('runtime', 'torch', 'what runs a pytorch model\'s network: torch (dlclive as it is), or onnxruntime '
          '(exported to ONNX once, cached; faster on a CPU, docs/clmf.md; pose.device cpu)',
          choices=RUNTIMES),
    Param('resize', 1.0, "dlclive: scale frames by this factor before the model; poses are given in the "
          "frame's pixels", gt=0.0, max=1.0),
    Param('body_parts', list(BODY_PARTS), "body-part names, in the model's order"),
])


def backend_params(name: str) -> tuple[Param, ...]:
    """The parameters backend ``name`` brings; SchemaError names pose.backend when the
    backend is unknown or cannot be loaded."""
    try:
        cls = load_plugin(POSE_BACKENDS, name, 'pose.backend', BUILTIN_BACKENDS)
    except PluginError as exc:
        raise SchemaError(str(exc)) from None
    return tuple(getattr(cls, 'params', ()))


#: The pose node's full schema for each `pose.backend` (the backend's own parameters join).
POSE_SCHEMAS = ChosenSchema(POSE, 'backend', backend_params, lambda: pose_backend_names(BUILTIN_BACKENDS))
