"""DeepLabCut-Live PyTorch exports built without training.

An export is what DeepLabCut 3 writes for dlclive: one ``.pt`` file holding
``config`` (the model's pytorch_config: method, metadata.bodyparts, model
backbone and heads, data.inference) and ``pose`` (the weights). dlclive loads it
with ``DLCLive(path, model_type='pytorch')`` and runs its own preprocessing,
network and heatmap predictor on every frame.

Two kinds are built (``clopy pose-model``):

* ``synthetic`` (built by clopy_sim.marker_model; its backbone is registered here so
  the pose node can load it): finds the synthetic behaviour camera's body-part markers. The
  backbone is set by hand (a colour match of each part's marker colour within its
  view, side or mirror-bottom, smoothed over the marker's size); the head and the
  predictor are DeepLabCut's own. It tracks the synthetic mouse to within a pixel,
  so the whole dlclive path can be run and checked against the ground truth.
* ``resnet`` (here): DeepLabCut's own bottom-up architecture (a timm ResNet backbone with
  a heatmap and location-refinement head) with random weights. Its poses mean
  nothing; it measures what a real network of that size costs per frame.
"""
from __future__ import annotations

import copy
from pathlib import Path

SYNTHETIC_BACKBONE = 'ClopySyntheticMarkers'
LOCREF_STD = 7.2801          # DeepLabCut's default location-refinement scale
_MARKER_WINDOW_PX = 9         # smoothing window: about a marker's diameter
_COLOUR_WIDTH = 0.1           # colour-match width (RGB in [0, 1])

_registered = False


def register_backbones() -> None:
    """Register the synthetic-marker backbone with dlclive's backbone registry
    (call after dlclive imports; idempotent)."""
    global _registered  # noqa: PLW0603
    if _registered:
        return
    import torch
    from dlclive.pose_estimation_pytorch.models.backbones.base import BACKBONES, BaseBackbone

    class ClopySyntheticMarkers(BaseBackbone):
        """Heatmap of part k: exp(-|rgb - colour_k|^2 / width^2) in part k's view
        (top or bottom half of the frame), averaged over a marker-sized window."""

        def __init__(self, n_parts: int = 11, **kwargs) -> None:
            kwargs.pop('pretrained', None)
            super().__init__(stride=1, **kwargs)
            self.colours = torch.nn.Parameter(torch.zeros(n_parts, 3), requires_grad=False)
            self.top_view = torch.nn.Parameter(torch.zeros(n_parts), requires_grad=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) RGB in [0, 1]
            # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, as one 1x1 convolution per part
            cross = torch.nn.functional.conv2d(x, self.colours[:, :, None, None])
            distance2 = (x * x).sum(1, keepdim=True) - 2 * cross + (self.colours ** 2).sum(1)[None, :, None, None]
            heat = torch.exp(-distance2.clamp_min(0) / _COLOUR_WIDTH ** 2)
            rows = torch.arange(x.shape[2], device=x.device)[None, None, :, None]
            in_top = (rows < x.shape[2] // 2).to(x.dtype)
            top = (self.top_view[None, :, None, None] > 0.5).to(x.dtype)   # 0/1 masks, in floats (ONNX
            heat = heat * (top * in_top + (1 - top) * (1 - in_top))         # Runtime has no Where on bools)
            k, pad = _MARKER_WINDOW_PX, _MARKER_WINDOW_PX // 2   # a separable box filter
            heat = torch.nn.functional.avg_pool2d(heat, (k, 1), stride=1, padding=(pad, 0))
            return torch.nn.functional.avg_pool2d(heat, (1, k), stride=1, padding=(0, pad))

    BACKBONES.register_module(ClopySyntheticMarkers)
    _registered = True


def export_model(path: Path, config: dict, weights: dict) -> Path:
    import torch
    path = Path(path)
    if path.suffix != '.pt':
        raise ValueError(f'{path}: a DeepLabCut-Live PyTorch export is one .pt file')
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'config': config, 'pose': weights}, path)
    return path


def heatmap_head(in_channels: int, n_parts: int, kernel_size: list, strides: list,
                  locref_final_conv: bool) -> dict:
    hidden = [in_channels] + [n_parts] * len(kernel_size)
    locref = [in_channels] + [2 * n_parts] * len(kernel_size)
    head = {
        'type': 'HeatmapHead',
        'predictor': {'type': 'HeatmapPredictor', 'apply_sigmoid': False, 'clip_scores': True,
                      'location_refinement': True, 'locref_std': LOCREF_STD},
        'heatmap_config': {'channels': hidden, 'kernel_size': kernel_size, 'strides': strides},
        'locref_config': {'channels': locref, 'kernel_size': kernel_size, 'strides': strides},
    }
    if locref_final_conv:
        head['locref_config']['final_conv'] = {'out_channels': 2 * n_parts, 'kernel_size': 1}
    return head


def model_config(body_parts: list[str], backbone: dict, head: dict, normalize: bool) -> dict:
    return {
        'method': 'bu',
        'metadata': {'bodyparts': list(body_parts), 'unique_bodyparts': [],
                     'individuals': ['mouse'], 'with_identity': None},
        'data': {'inference': {'normalize_images': normalize}, 'colormode': 'RGB'},
        'model': {'backbone': backbone, 'heads': {'bodypart': head}},
    }


def build_resnet_model(path: str | Path, body_parts: list[str], model_name: str = 'resnet50',
                       seed: int = 0) -> Path:
    """Write an untrained DeepLabCut bottom-up ResNet export (output stride 16 and one
    2x deconvolution, as DeepLabCut's ResNet configurations), random weights."""
    import timm
    import torch
    from dlclive.pose_estimation_pytorch.models import PoseModel

    if not body_parts:
        raise ValueError('body_parts is empty: name the parts the model should output')
    try:
        channels = timm.create_model(model_name, pretrained=False).num_features
    except RuntimeError as exc:
        raise ValueError(f'backbone {model_name!r}: not a timm model ({exc})') from None
    n = len(body_parts)
    backbone = {'type': 'ResNet', 'model_name': model_name, 'output_stride': 16,
                'freeze_bn_stats': True, 'freeze_bn_weights': False}
    head = heatmap_head(channels, n, [3], [2], locref_final_conv=False)
    config = model_config(body_parts, backbone, head, normalize=True)
    torch.manual_seed(seed)
    model = PoseModel.build(copy.deepcopy(config['model']))
    return export_model(path, config, model.state_dict())
