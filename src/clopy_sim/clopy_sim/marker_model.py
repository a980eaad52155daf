"""The synthetic-marker DeepLabCut-Live export (``clopy pose-model synthetic``): a
PyTorch model that finds the synthetic behaviour camera's body-part markers by colour
(clopy_signal.dlc_models holds its backbone and DeepLabCut's head and export format),
so the whole dlclive path can be run and checked against the ground truth."""
from __future__ import annotations

import copy
from pathlib import Path

from clopy_signal.dlc_models import (LOCREF_STD, SYNTHETIC_BACKBONE, export_model, heatmap_head, model_config,
                                     register_backbones)

from .synthetic_behaviour import _COLOURS, _SIDE_VIEW, BODY_PARTS


def build_synthetic_marker_model(path: str | Path) -> Path:
    """Write the synthetic-marker export for the synthetic behaviour camera's
    default layout (640 x 320 or larger, side view above mirror-bottom view)."""
    import torch
    from dlclive.pose_estimation_pytorch.models import PoseModel

    register_backbones()
    n = len(BODY_PARTS)
    # the head's locref is a 1x1 convolution with zero weights: its bias moves every
    # peak by -0.5 px, undoing the predictor's +0.5 cell-centre offset at stride 1, so
    # positions come out in the camera's pixel-centre convention
    head = heatmap_head(n, n, [], [], locref_final_conv=True)
    config = model_config(list(BODY_PARTS), {'type': SYNTHETIC_BACKBONE, 'n_parts': n}, head, normalize=False)
    model = PoseModel.build(copy.deepcopy(config['model']))
    weights = model.state_dict()
    # the camera draws BGR; dlclive hands the network RGB in [0, 1]
    weights['backbone.colours'] = torch.tensor(
        [[c[2] / 255, c[1] / 255, c[0] / 255] for c in (_COLOURS[p] for p in BODY_PARTS)])
    weights['backbone.top_view'] = torch.tensor([1.0 if p in _SIDE_VIEW else 0.0 for p in BODY_PARTS])
    conv = 'heads.bodypart.locref_head.final_conv'
    weights[f'{conv}.weight'] = torch.zeros_like(weights[f'{conv}.weight'])
    weights[f'{conv}.bias'] = torch.full_like(weights[f'{conv}.bias'], -0.5 / LOCREF_STD)
    return export_model(path, config, weights)
