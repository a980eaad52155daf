"""Import DeepLabCut-Live for the pose node, with clear errors.

One compatibility step: PyPI's `torchvision` wheels are CUDA builds. Next to a
CPU-only `torch` their compiled operators do not load, and `import torchvision`
then stops at registering a fake kernel for `torchvision::nms`. dlclive's
PyTorch runner only needs torchvision's Python transforms, so when exactly that
failure happens the two operator schemas are declared (without kernels) and the
import is retried. Models that call torchvision operators (detector-based,
top-down models) still need a torchvision whose operators load; bottom-up
models, the usual single-mouse case, run.
"""
from __future__ import annotations

import sys

# declared operator schemas live as long as the process (torch keeps a reference too)
_TORCHVISION_SCHEMAS = None
OPERATOR_SCHEMAS = (
    'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
    'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
)


def _forget(package: str) -> None:
    for name in [m for m in sys.modules if m == package or m.startswith(package + '.')]:
        del sys.modules[name]


def import_torchvision() -> str:
    """Import torchvision; return 'native', or 'operators declared' when the
    compatibility step was needed. Raises ImportError when it cannot import."""
    global _TORCHVISION_SCHEMAS
    try:
        import torchvision  # noqa: F401
        return 'native'
    except OSError as exc:     # a compiled library of a mismatched torch / torchvision pair
        raise ImportError(f'torchvision does not import: {exc}') from exc
    except RuntimeError as exc:
        if 'torchvision::' not in str(exc) or _TORCHVISION_SCHEMAS is not None:
            raise ImportError(f'torchvision does not import: {exc}') from exc
    _forget('torchvision')
    import torch
    _TORCHVISION_SCHEMAS = torch.library.Library('torchvision', 'DEF')  # noqa: PLW0603
    for schema in OPERATOR_SCHEMAS:
        _TORCHVISION_SCHEMAS.define(schema)
    try:
        import torchvision  # noqa: F401
    except (RuntimeError, OSError) as exc:
        raise ImportError(f'torchvision does not import: {exc}') from exc
    return 'operators declared'


def import_dlclive(model_type: str):
    """Return (DLCLive class, a note on torchvision or '')."""
    note = ''
    if model_type == 'pytorch':
        try:
            note = import_torchvision()
        except ModuleNotFoundError as exc:
            raise ImportError(f'{exc.name} is not installed') from exc
    try:
        from dlclive import DLCLive
    except OSError as exc:
        raise ImportError(f'dlclive does not import: {exc}') from exc
    return DLCLive, note
