"""A session split over the computers of a rig: which of a paradigm's nodes run
here, which run on the other computer(s), and the network the processes use.

`clopy run PARADIGM --nodes camera,pose` starts only those nodes (the camera
computer); `clopy run PARADIGM --remote camera,pose` starts all the others (the
session computer: recorder and session folder). With CLOPY_NETWORK=rig the
processes discover this computer and the peers named by --peers (or
ROS_STATIC_PEERS) only, through config/fastdds_rig.xml filled in with this
computer's rig address; without it everything stays on loopback, as always.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from clopy.config import ConfigError
from clopy.paradigms import NODES
from clopy.rosenv import local_address_for, network_mode, parse_peers, rig_profile_xml

# the end of a node-only run: the task on the other computer is done or gone
ENDED_ELSEWHERE = 'the session ended on the other computer'
RIG_PROFILE_NAME = 'fastdds_rig.xml'
# node -> (a topic only that node publishes ('pub') or subscribes to ('sub')): how the
# other computer's part of the graph is seen (from the paradigm manifest)
PRESENCE = {name: node.presence for name, node in NODES.items()}


def parse_names(text: str) -> list[str]:
    """'camera,pose' (or space separated) -> ['camera', 'pose']."""
    return [n for n in text.replace(',', ' ').split() if n]


def split_nodes(paradigm: str, all_nodes: list[tuple[str, str, str]], nodes: list[str] | None,
                remote: list[str] | None) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(the (package, executable, name) entries started here, in start order; the names
    of the nodes that run on the other computer). `nodes`: only these run here;
    `remote`: these run elsewhere, all others here; neither: everything here."""
    names = [n for _, _, n in all_nodes]
    if nodes is not None and remote is not None:
        raise ConfigError('--nodes and --remote (nodes:= and remote:=) exclude each other: give the nodes '
                          'of this computer or those of the other one')
    chosen = nodes if nodes is not None else remote
    if chosen is None:
        return list(all_nodes), []
    option = '--nodes' if nodes is not None else '--remote'
    if not chosen:
        raise ConfigError(f'{option}: no node named; allowed for {paradigm}: {", ".join(names)}')
    unknown = [n for n in chosen if n not in names]
    if unknown:
        raise ConfigError(f'{option} {",".join(chosen)}: {", ".join(unknown)} not a node of {paradigm}; '
                          f'allowed: {", ".join(names)}')
    here = [e for e in all_nodes if (e[2] in chosen) == (nodes is not None)]
    if not here:
        raise ConfigError(f'{option} {",".join(chosen)}: leaves no node to run on this computer')
    return here, [n for n in names if n not in [e[2] for e in here]]


def rig_peers(peers: list[str] | None, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """(network mode, peers): 'loopback' and [] unless CLOPY_NETWORK=rig; in a rig the
    peers from --peers, else from ROS_STATIC_PEERS (required)."""
    env = os.environ if env is None else env
    try:
        mode = network_mode(env)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if mode == 'loopback':
        if peers:
            raise ConfigError(f'--peers {";".join(peers)}: this computer is loopback-only (CLOPY_NETWORK '
                              'unset or loopback); set CLOPY_NETWORK=rig to open discovery to the peers')
        return mode, []
    try:
        if peers:
            return mode, parse_peers(';'.join(peers))
        if env.get('ROS_STATIC_PEERS', '').strip():
            return mode, parse_peers(env['ROS_STATIC_PEERS'], 'ROS_STATIC_PEERS')
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    raise ConfigError('CLOPY_NETWORK=rig: name the other computers with --peers ADDRESS[,ADDRESS] '
                      '(peers:= for ros2 launch) or ROS_STATIC_PEERS; discovery reaches only them')


def write_rig_profile(folder: Path, peers: list[str]) -> Path:
    """config/fastdds_rig.xml for this computer (its address on the route to the first
    peer), written into `folder` (the session folder: it records the network used)."""
    try:
        address = local_address_for(peers[0])
    except ValueError as exc:
        raise ConfigError(f'--peers {";".join(peers)}: {exc}') from None
    path = Path(folder) / RIG_PROFILE_NAME
    path.write_text(rig_profile_xml([address]))
    return path


def remote_end(remote: list[str], absent: list[str], was_running: bool, status: dict) -> str:
    """Why a split session ends, seen from here ('' while it goes on): the task on the
    other computer reported done, or a node there left the graph."""
    if 'task' in remote and was_running and not status.get('running', True):
        return ENDED_ELSEWHERE
    if absent:
        if 'task' in remote:
            return ENDED_ELSEWHERE
        if was_running and not status.get('running', True):
            return ''   # the task here is done and is about to exit: its end is the reason
        return f'{", ".join(absent)} on the other computer stopped'
    return ''
