"""`clopy pose-model`: write a DeepLabCut-Live PyTorch export that needs no training.

  clopy pose-model synthetic OUT.pt     tracks the synthetic behaviour camera's mouse
  clopy pose-model resnet OUT.pt [--backbone resnet50] [--body-parts ...]
                                        DeepLabCut's ResNet, untrained: cost figures only

Then: clopy run clmf --sim --set pose.backend=dlclive --set pose.model_path=OUT.pt
(needs the DeepLabCut-Live extra: ./clopy.sh setup --dlc).
"""
from __future__ import annotations

import sys
from pathlib import Path


def _command(args) -> int:
    from clopy_signal.dlc_backend import PoseBackendError, load_dlclive
    try:
        load_dlclive('pytorch')
    except PoseBackendError as exc:
        print(f'clopy pose-model: {exc}', file=sys.stderr)
        return 2
    from clopy_signal import dlc_models
    try:
        if args.kind == 'synthetic':
            from clopy_sim.marker_model import build_synthetic_marker_model
            path = build_synthetic_marker_model(args.out)
            what = 'synthetic-marker model (tracks the synthetic behaviour camera)'
        else:
            from clopy_signal.speed import BODY_PARTS
            parts = args.body_parts or list(BODY_PARTS)
            path = dlc_models.build_resnet_model(args.out, parts, args.backbone, seed=args.seed)
            what = f'untrained {args.backbone} model, {len(parts)} body parts (for cost figures only)'
    except (ValueError, OSError) as exc:
        print(f'clopy pose-model: {exc}', file=sys.stderr)
        return 2
    print(f'{path}: {what}')
    return 0


def add_command(sub) -> None:
    p = sub.add_parser('pose-model', help='write a DeepLabCut-Live export that needs no training '
                                          '(synthetic-mouse tracker, or an untrained ResNet)')
    p.add_argument('kind', choices=('synthetic', 'resnet'))
    p.add_argument('out', type=Path, help='the .pt file to write')
    p.add_argument('--backbone', default='resnet50',
                   help='resnet: a timm ResNet name (resnet50 is DeepLabCut\'s default; resnet10t is tiny)')
    p.add_argument('--body-parts', nargs='+', metavar='PART',
                   help='resnet: body-part names (default: the 11 of the original CLMF model)')
    p.add_argument('--seed', type=int, default=0, help='resnet: seed of the random weights')
    p.set_defaults(func=_command)
