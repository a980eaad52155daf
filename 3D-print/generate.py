"""Write the rig parts without the clopy command: python 3D-print/generate.py [--out DIR] [--only NAME,...]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rig_parts import PARTS, generate  # noqa: E402
from rig_parts.base import PartError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', type=Path, default=Path('parts'), help='output folder (default: ./parts)')
    parser.add_argument('--only', default='', help=f'comma-separated part names: {", ".join(PARTS)}')
    args = parser.parse_args(argv)
    try:
        generate(args.out, [n for n in args.only.split(',') if n])
    except PartError as exc:
        print(f'generate.py: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
