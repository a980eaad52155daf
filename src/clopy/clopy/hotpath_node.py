"""The hot path in one process (`clopy run --composed`, launch argument `composed:=true`):

    hotpath_node --nodes reward,tone,task,roi_dff,camera --ros-args --params-file FILE

makes the named nodes, in that order (the camera last), in this one process and spins
them on one executor (clopy_common.node_main.run_nodes: an EventsExecutor where rclpy
has one). Each node is the same class its own executable runs (clopy.paradigms names it,
`module:Class`), reads its own section of the parameter file and keeps its name in the
graph; the topics, the QoS, the records and every safety rule are those of separate
processes. Stopping goes as for separate processes: the camera first, each node then
works on until the nodes feeding it have gone, the reward node last (a pulse in progress
still finishes). The recorder and the lick node are never here: the hot path never waits
on a disk or an I2C bus.
"""
from __future__ import annotations

import importlib
import sys

from clopy_common.node_main import run_nodes

from clopy.paradigms import NODES


def component(name: str):
    """The node class of `name` (clopy.paradigms); ValueError naming the allowed names."""
    allowed = [n for n, spec in NODES.items() if spec.component]
    if name not in allowed:
        raise ValueError(f'--nodes: {name!r} cannot run in the hot-path process; allowed: {", ".join(allowed)}')
    module, _, cls = NODES[name].component.partition(':')
    return getattr(importlib.import_module(module), cls)


def node_names(argv: list[str]) -> list[str]:
    """The names after --nodes (comma-separated), before --ros-args."""
    own = argv[:argv.index('--ros-args')] if '--ros-args' in argv else argv
    if '--nodes' not in own or own.index('--nodes') + 1 >= len(own):
        raise ValueError('usage: hotpath_node --nodes NAME[,NAME...] --ros-args --params-file FILE')
    names = [n.strip() for n in own[own.index('--nodes') + 1].split(',') if n.strip()]
    if not names:
        raise ValueError('--nodes: no node named')
    return names


def main(args=None) -> int:
    try:
        factories = [component(name) for name in node_names(sys.argv[1:] if args is None else args)]
    except ValueError as exc:
        print(f'[hotpath] configuration error: {exc}', file=sys.stderr, flush=True)
        return 2
    return run_nodes(factories, args)


if __name__ == '__main__':
    raise SystemExit(main())
