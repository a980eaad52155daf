"""`clopy replay SESSION_OR_BAG [--rate R] [--topics ...]`: publish a recorded
session again with its original timing (or R times faster), so rqt, Foxglove or
other nodes see it as live. Messages go out as the exact CDR bytes recorded.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import threading
import time
from pathlib import Path

from clopy_data.folder import BAG_METADATA, SessionFolder
from clopy_data.topics import COMMAND_TOPICS, RECORDER_QOS

from clopy import config as cfg


def bag_dir_of(path: Path) -> Path:
    for candidate in (SessionFolder(path).bag, path):
        if (candidate / BAG_METADATA).is_file():
            return candidate
    raise cfg.ConfigError(f'{path}: not a session folder (bag/) or a rosbag2 bag folder')


def message_class(type_name: str):
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    package, kind, name = type_name.split('/')
    try:
        return getattr(importlib.import_module(f'{package}.{kind}'), name)
    except (ImportError, AttributeError) as exc:
        raise cfg.ConfigError(f'message type {type_name} is not installed here ({exc})') from exc


def replay(path: Path, rate: float = 1.0, topics: list[str] | None = None,
           stop: threading.Event | None = None, on_progress=None, wait_for_subscribers: int = 0,
           wait_timeout_s: float = 30.0, include_commands: bool = False) -> dict[str, int]:
    """Publish the bag's messages at their recorded times / rate. Returns counts per topic.
    Call with rclpy initialised; uses the current ROS environment."""
    import rclpy
    from rosbags.rosbag2 import Reader

    from clopy_common import qos as qos_profiles
    if not rate > 0:
        raise cfg.ConfigError(f'--rate {rate}: must be > 0')
    stop = stop or threading.Event()
    bag = bag_dir_of(Path(path))
    node = rclpy.create_node('clopy_replay')
    counts: dict[str, int] = {}
    try:
        with Reader(bag) as reader:
            # commands (valve, tone) are left out unless named: a replay must not drive hardware
            conns = [c for c in reader.connections if (c.topic in topics if topics else
                                                       include_commands or c.topic not in COMMAND_TOPICS)]
            if topics:
                unknown = sorted(set(topics) - {c.topic for c in reader.connections})
                if unknown:
                    raise cfg.ConfigError(f'{bag}: no topic {unknown}; topics are '
                                          f'{sorted(c.topic for c in reader.connections)}')
            publishers = {}
            for c in conns:
                qos = getattr(qos_profiles, RECORDER_QOS[c.topic]) if c.topic in RECORDER_QOS else 10
                publishers[c.id] = node.create_publisher(message_class(c.msgtype), c.topic, qos)
            time.sleep(0.5)  # let subscribers match before the first message
            deadline = time.monotonic() + wait_timeout_s
            while wait_for_subscribers and not stop.is_set() and time.monotonic() < deadline and \
                    min(p.get_subscription_count() for p in publishers.values()) < wait_for_subscribers:
                time.sleep(0.05)
            start_wall = time.monotonic()
            start_bag = None
            for conn, timestamp_ns, raw in reader.messages(connections=conns):
                if stop.is_set():
                    break
                start_bag = timestamp_ns if start_bag is None else start_bag
                due = start_wall + (timestamp_ns - start_bag) * 1e-9 / rate
                wait = due - time.monotonic()
                if wait > 0:
                    stop.wait(wait)
                publishers[conn.id].publish(bytes(raw))
                counts[conn.topic] = counts.get(conn.topic, 0) + 1
                if on_progress is not None:
                    on_progress((timestamp_ns - start_bag) * 1e-9)
            time.sleep(0.3)  # reliable messages reach their readers before the publishers go
    finally:
        node.destroy_node()
    return counts


def _command(args: argparse.Namespace) -> int:
    import sys

    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from clopy.rosenv import DomainLease, apply_loopback
    lease = DomainLease()
    # a domain of its own unless told: a replay must never reach a live session's nodes
    domain_id = args.domain_id if args.domain_id is not None else lease.acquire()
    apply_loopback(domain_id)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    print(f'replaying {args.recording} at {args.rate}x on ROS_DOMAIN_ID={domain_id} (loopback only)', flush=True)
    last = [0.0]

    def progress(t_s: float) -> None:
        if sys.stdout.isatty() and t_s - last[0] > 0.5:
            last[0] = t_s
            print(f'\r{t_s:8.1f} s', end='', flush=True)
    try:
        counts = replay(args.recording, args.rate, args.topics, stop, progress, args.wait_for_subscribers,
                        include_commands=bool(args.topics))
    except cfg.ConfigError as exc:
        print(f'clopy replay: {exc}', file=sys.stderr)
        return 2
    finally:
        rclpy.shutdown()
        lease.release()
    print('\nreplayed: ' + ', '.join(f'{t} {n}' for t, n in sorted(counts.items())))
    return 0


def add_command(sub) -> None:
    p = sub.add_parser('replay', help='publish a recorded session again with its original timing')
    p.add_argument('recording', type=Path, help='session folder or bag folder')
    p.add_argument('--rate', type=float, default=1.0, help='speed factor (2 = twice as fast)')
    p.add_argument('--topics', nargs='+', help='only these topics (default: all but the reward and tone '
                                               'commands, which are replayed only when named)')
    p.add_argument('--domain-id', type=int, help='ROS_DOMAIN_ID to publish on (default: a free one, '
                                                 'printed); never the domain of a live session')
    p.add_argument('--wait-for-subscribers', type=int, default=0, metavar='N',
                   help='start only when every replayed topic has N subscribers (up to 30 s)')
    p.set_defaults(func=_command)
