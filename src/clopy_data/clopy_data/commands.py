"""The offline session tools' command line, without ROS (``python -m clopy_data``).

  python -m clopy_data tables SESSION       per-frame table and summary from the bag
  python -m clopy_data plot SESSION         summary figure (summary.png)
  python -m clopy_data threshold SESSION ...  offline threshold simulation
  python -m clopy_data analyze PATH ...     across-day learning statistics
  python -m clopy_data align SESSION RECORD  another system's sync pulses onto session time

The ``clopy`` command offers the same subcommands with the same parsers
(each module's ``add_command``).
"""
from __future__ import annotations

import argparse
import sys

THRESHOLD_MODULE = 'clopy_data.threshold_sim'


def add_commands(sub) -> None:
    """Add every offline subcommand of this package to ``sub`` (an argparse subparsers action)."""
    from clopy_data import align_command, analysis, plots, postprocess
    postprocess.add_command(sub)
    plots.add_command(sub)
    analysis.add_command(sub)
    align_command.add_command(sub)


def add_threshold_passthrough(sub) -> None:
    """``threshold ARGS...``: every argument goes to the threshold simulation's own parser."""
    p = sub.add_parser('threshold', help='offline threshold simulation over a recorded signal',
                       add_help=False, prefix_chars='\0')
    p.add_argument('argv', nargs=argparse.REMAINDER, help='arguments of the threshold simulation')
    p.set_defaults(func=_threshold)


def _threshold(args: argparse.Namespace) -> int:
    try:
        from clopy_data.threshold_sim import main as threshold_main
    except ImportError as exc:
        print(f'threshold: the threshold simulation ({THRESHOLD_MODULE}) is not available in this '
              f'install: {exc}', file=sys.stderr)
        return 2
    return int(threshold_main(list(args.argv)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m clopy_data',
                                     description='CLoPy-ROS session data tools (no ROS needed).')
    sub = parser.add_subparsers(dest='command', required=True)
    add_commands(sub)
    add_threshold_passthrough(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
