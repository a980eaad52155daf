"""Recorder node: every clopy topic into a rosbag2 bag (MCAP storage), the task
stream into the pyControl-style event TSV, and the session's parameter and task
files archived beside them.

Messages are taken as raw CDR bytes (rclpy raw subscriptions), exactly what
rosbag2 itself stores, and written with the `rosbags` library. The bag is cut
into chunks at least every `flush_period_s`, so a killed recorder loses at
most the last chunk (docs/recording.md: how to recover the rest). Ctrl-C,
SIGTERM and errors close the bag and the TSV properly.

The folder carries the UNFINISHED marker from the start until the per-frame table
and the summary row are written. Why the session ended goes into events.tsv
(`end_reason`, `end_error`, before `end_time`): the first SessionEnd received, else
what the recorder infers (`clopy run died`, `node <name> left the graph`, `stopped by
the user`). Free space is checked at every flush: below `min_free_mb`, or on ENOSPC,
the recorder closes the bag and the event log and ends the session (`disk full: ...`).
"""
from __future__ import annotations

import errno
import os
import platform
import shutil
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from clopy_common import qos
from clopy_common.node_main import UPSTREAM_WAIT_S, StartupError, run_node
from clopy_common.session_end import (CLOPY_RUN_DIED, STOPPED_BY_USER, SessionEnder, disk_error, disk_full,
                                      end_message_fields)
from clopy_common.session_end import exit_reason as node_exit_reason
from clopy_data.bag import McapBagWriter, typestore_with_clopy
from clopy_data.folder import PARAMETERS, SessionFolder
from clopy_data.session import EventLogWriter, archive_file, create_session_dir
from clopy_data.topics import RECORDER_QOS
from clopy_data.topics import TOPICS as TOPIC_TYPES
from clopy_interfaces.msg import FrameInfo, SessionEnd, TaskEvent
from rclpy.node import Node

from clopy.live_feed import LiveFeedPublisher
from clopy.paradigms import PARADIGMS
from clopy.recorder_params import RECORDER
from clopy.replay import message_class

#: the end reasons the recorder infers when no node said why the session ended
STOPPED_BY_USER = 'stopped by the user'
PARENT_DIED = 'clopy run died'
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)



def disk_error(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT OSError that `exc` is or was caused by, else None."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno in DISK_ERRNOS:
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


# asked to stop, the recorder closes after this long without a message (node_main.wait_for_upstream)
QUIET_STOP_S = UPSTREAM_WAIT_S + 1.0

# topic -> (message class, rosbags type name, subscription QoS)
TOPICS = {topic: (message_class(type_name), type_name, getattr(qos, RECORDER_QOS[topic]))
          for topic, type_name in TOPIC_TYPES.items()}


def _versions() -> dict[str, str]:
    from importlib import metadata
    versions = {'clopy': '0.1.0', 'python': platform.python_version()}
    for dist in ('rosbags', 'numpy'):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    versions['ros_distro'] = os.environ.get('ROS_DISTRO', 'kilted (PyPI)')
    return versions


def parent_label() -> str:
    """What started this node, for the end reason when it dies: 'ros2 launch' when the
    parent process is a launch, else 'clopy run'."""
    try:
        cmdline = Path(f'/proc/{os.getppid()}/cmdline').read_bytes().split(b'\0')
    except OSError:
        return 'clopy run'
    return 'ros2 launch' if any(a.endswith(b'ros2') for a in cmdline) and b'launch' in cmdline else 'clopy run'


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__('recorder')
        values = RECORDER.declare(self)
        get = values.__getitem__

        start = datetime.now(timezone.utc).astimezone()
        try:
            if get('session_dir'):
                self.session_dir = Path(get('session_dir'))
                self.session_dir.mkdir(parents=True, exist_ok=True)
            else:
                self.session_dir = create_session_dir(Path(get('out_dir')), get('mouse'), start, get('paradigm'))
            task_hash = ''
            if get('param_file'):
                src = Path(get('param_file'))
                if not src.is_file():
                    raise StartupError(f'recorder.param_file = {str(src)!r}: no such file')
                dest = self.session_dir / PARAMETERS   # the name every tool reads
                if src.resolve() != dest.resolve():
                    shutil.copyfile(src, dest)
            if get('task_file'):
                from clopy_task.files import resolve_task_file
                src = resolve_task_file(get('task_file'))   # a path, or a name such as 'clnf'
                _, task_hash = archive_file(src, self.session_dir)
            folder = SessionFolder(self.session_dir)
            folder.mark_unfinished()
            self.bag = McapBagWriter(folder.bag, typestore_with_clopy(),
                                     max_chunk_age_s=get('flush_period_s'))
            self.events = EventLogWriter(folder.events)
            self.events.write_start_info(
                subject_id=get('mouse'), paradigm=get('paradigm'), start_time=start,
                task_file=Path(get('task_file')).name if get('task_file') else '',
                task_file_hash=task_hash,
                setup_id=socket.gethostname(), session_type=get('session_type'), versions=_versions())
            if get('rerun_of'):
                self.events.info('rerun_of', get('rerun_of'))
        except (OSError, ValueError, RuntimeError) as exc:   # a full disk too: one line, no traceback
            where = get('session_dir') or get('out_dir')
            raise StartupError(f'recorder: cannot create the session in {where!r}: {exc}') from exc
        self.counts: dict[str, int] = {}
        self.tsv_rows = 0
        self.min_free_mb = int(get('min_free_mb'))
        self.ender = SessionEnder(self)
        self.end_record: dict | None = None   # the first SessionEnd: the cause
        self.disk_full_reason: str | None = None
        self.session_nodes = {n for _, _, n in PARADIGMS[get('paradigm')].entries()} - {'recorder'} \
            if get('paradigm') in PARADIGMS else set()
        self.seen_nodes: set[str] = set()
        self.parent_label = parent_label()
        self.gone_nodes: list[str] = []
        self.live_feed = LiveFeedPublisher(self)   # viewers read batches, never the hot-path topics
        for topic, (cls, type_name, sub_qos) in TOPICS.items():
            if topic == qos.IMAGE and not get('record_images'):
                continue
            connection = self.bag.add_topic(topic, type_name)
            self.create_subscription(cls, topic, self._writer(topic, connection), sub_qos, raw=True)
        self.create_subscription(TaskEvent, qos.TASK_EVENT, self.on_task_event, qos.EVENT_QOS)
        self.create_subscription(FrameInfo, qos.FRAME_INFO, self.on_frame_info, qos.STREAM_QOS)
        self.create_subscription(SessionEnd, qos.SESSION_END, self.on_session_end, qos.SESSION_END_QOS)
        self.last_frame_index = -1
        self.create_timer(get('flush_period_s'), self.flush)
        self.create_timer(1.0, self.watch_graph)
        self.linger_s = 0.0
        # stopped together with everything (ros2 launch): record until every other node has gone
        # (not session_end: clopy run publishes it too, and a killed clopy run stays in the
        # graph for a while; every node that says why also publishes on the other topics)
        self.upstream_topics = tuple(t for t in TOPICS if t != qos.SESSION_END)
        self.upstream_wait_s = 20.0
        self._last_message_s = time.monotonic()
        self.get_logger().info(f'recording to {self.session_dir}')
        print(f'CLOPY_SESSION_DIR={self.session_dir}', flush=True)

    def _writer(self, topic: str, connection):
        clock = self.get_clock()
        feed = self.live_feed if topic in LiveFeedPublisher.TOPICS else None

        def write(data: bytes) -> None:
            if self.disk_full_reason is not None:
                return
            try:
                self.bag.write_raw(connection, clock.now().nanoseconds, data)
            except Exception as exc:  # noqa: BLE001 - only a full disk is handled here
                if not self._disk_full(exc):
                    raise
                return
            self.counts[topic] = self.counts.get(topic, 0) + 1
            self._last_message_s = time.monotonic()
            if feed is not None:
                feed.take(topic, data)
        return write

    def upstream_quiet(self) -> bool:
        """Asked to stop, the recorder waits for the other nodes to go; a node killed by
        SIGKILL stays in the graph for about 20 s (its DDS lease). Nothing received for
        QUIET_STOP_S (longer than any live node's own stop wait, during which the task
        still publishes its status) means nobody alive is left to record."""
        return time.monotonic() - self._last_message_s > QUIET_STOP_S

    def flush(self) -> None:
        """Cut the bag's chunk; then the free-space check of the session folder."""
        if self.disk_full_reason is not None:
            return
        try:
            self.bag.flush()
            free_mb = shutil.disk_usage(self.session_dir).free / 1e6
        except Exception as exc:  # noqa: BLE001
            if not self._disk_full(exc):
                raise
            return
        if free_mb < self.min_free_mb:
            self._end_for_disk(disk_full(free_mb, self.min_free_mb))

    def _disk_full(self, exc: BaseException) -> bool:
        """End the session cleanly when `exc` (or what caused it) is ENOSPC/EDQUOT."""
        cause = disk_error(exc)
        if cause is not None:
            self._end_for_disk(disk_full(cause=cause.strerror or errno.errorcode[cause.errno]))
        return cause is not None

    def _end_for_disk(self, reason: str) -> None:
        """Stop writing, close the bag and the event log (their end rows say why), and
        end the session with an error. Once."""
        if self.disk_full_reason is not None:
            return
        self.disk_full_reason = reason
        if self.end_record is None:
            self.end_record = {'reason': reason, 'node': self.get_name(), 'error': True}
        self.get_logger().error(f'{reason}: closing the bag and the event log')
        self._close_files()
        self.ender.end(reason, error=True)

    def on_session_end(self, msg: SessionEnd) -> None:
        if self.end_record is None:
            self.end_record = end_message_fields(msg)
            self.get_logger().info(f'session ends ({msg.node}): {msg.reason}')

    def watch_graph(self) -> None:
        """The session's nodes seen in the graph; one that leaves before this node is asked
        to stop is how the session ended under ros2 launch when no node said why."""
        request = getattr(self, 'stop_request', None)
        if request is not None and request.stop.is_set():
            return
        present = set(self.get_node_names()) & self.session_nodes
        for name in sorted(self.seen_nodes - present):
            if name not in self.gone_nodes:
                self.gone_nodes.append(name)
        self.seen_nodes |= present

    def inferred_end(self) -> dict:
        """The end reason when no SessionEnd came: the first node process that exited
        under ros2 launch (logs/node_exits.tsv), else the parent's death, else a session
        node gone from the graph, else a stop by the user."""
        exited = SessionFolder(self.session_dir).first_node_exit()   # written by ros2 launch
        if exited is not None and exited[0] != self.get_name():
            reason, error = node_exit_reason(*exited)
            return {'reason': reason, 'node': self.get_name(), 'error': error}
        if getattr(self, 'parent_died', False):
            reason = CLOPY_RUN_DIED if self.parent_label == 'clopy run' else f'{self.parent_label} died'
        elif self.gone_nodes:
            reason = f'node {self.gone_nodes[0]} left the graph'
        else:
            reason = STOPPED_BY_USER
        return {'reason': reason, 'node': self.get_name(), 'error': reason != STOPPED_BY_USER}

    def on_frame_info(self, msg: FrameInfo) -> None:
        """One camera per session: its frame indices only grow. An index seen again means a
        second camera (a second graph) publishes into this domain: stop, saying why."""
        if msg.frame_index <= self.last_frame_index and not getattr(self, 'finished', False):
            self.get_logger().error(
                f'frame index {msg.frame_index} arrived after {self.last_frame_index}: a second camera publishes '
                'frame_info in this ROS domain (two graphs on one domain merge their sessions); stopping the '
                'recording')
            self.exit_status = 1
            self.finished = True
        self.last_frame_index = max(self.last_frame_index, msg.frame_index)
        self.live_feed.frame(msg)

    def on_task_event(self, msg: TaskEvent) -> None:
        if msg.type == 'info' and msg.subtype == 'task_file':
            return  # the start rows name the archived copy already
        if self.events.closed:
            return
        try:
            self.events.write(msg.time_s, msg.type, msg.subtype, msg.content)
        except OSError as exc:
            if not self._disk_full(exc):
                raise
            return
        self.tsv_rows += 1

    def _drain(self, quiet_s: float = 0.3, limit_s: float = 2.0) -> None:
        """Take what is still queued (the last reward events, run_end records) until
        nothing has arrived for quiet_s, at most limit_s."""
        import rclpy
        end = time.monotonic() + limit_s
        last_total, quiet_since = -1, time.monotonic()
        while rclpy.ok() and time.monotonic() < end:
            rclpy.spin_once(self, timeout_sec=0.05)
            total = sum(self.counts.values())
            if total != last_total:
                last_total, quiet_since = total, time.monotonic()
            elif time.monotonic() - quiet_since > quiet_s:
                return

    def close(self) -> None:
        try:
            if getattr(self, 'bag', None) is not None and self.disk_full_reason is None:
                self._drain()
        finally:
            self._close_files()
        summary = ', '.join(f'{t} {n}' for t, n in sorted(self.counts.items()))
        self.get_logger().info(f'bag closed: {summary or "no messages"}; {self.tsv_rows} task events in {SessionFolder(self.session_dir).events.name}')
        if getattr(self, 'bag', None) is not None and self.get_parameter('finish').value:
            self._finish()

    def _close_files(self) -> None:
        """Close the bag, then the event log with its end rows; idempotent. A full disk
        here is one log line (what was written before stays readable: `clopy tables`)."""
        bag = getattr(self, 'bag', None)
        try:
            if bag is not None:
                bag.close()
        except Exception as exc:  # noqa: BLE001
            if not self._disk_error_line('the bag', exc):
                raise
        finally:
            events = getattr(self, 'events', None)
            if events is not None and not events.closed:
                end = self.end_record or self.inferred_end()
                try:
                    events.info('end_reason', end['reason'])
                    events.info('end_error', 'true' if end['error'] else 'false')
                    events.close(datetime.now(timezone.utc).astimezone())
                except OSError as exc:
                    if not self._disk_error_line('the event log', exc):
                        raise
                    events.close()

    def _disk_error_line(self, what: str, exc: BaseException) -> bool:
        cause = disk_error(exc)
        if cause is not None:
            self.get_logger().error(f'disk full while closing {what}: {cause.strerror}; '
                                    f'`clopy tables {self.session_dir}` recovers what was written')
        return cause is not None

    def _finish(self) -> None:
        """The rest of the session folder, whoever started the graph: the per-frame
        table, the summary row and the figure (made from the closed bag)."""
        from clopy_data.plots import session_figure
        from clopy_data.postprocess import finish_session
        folder = SessionFolder(self.session_dir)
        csv = self.get_parameter('summary_csv').value
        csv_path = Path(csv) if csv else folder.default_sessions_summary
        try:
            finish_session(folder.path, csv_path, rerun_of=self.get_parameter('rerun_of').value)
            self.get_logger().info(f'{folder.frame_table.name} written; summary row in {csv_path}')
        except Exception as exc:  # noqa: BLE001 - the bag is safe; say how to finish later
            self.get_logger().error(f'tables could not be made ({exc}); the bag is closed: '
                                    f'`clopy tables {folder.path}` makes them')
            return
        try:
            self.get_logger().info(f'figure: {session_figure(folder.path)}')
        except Exception as exc:  # noqa: BLE001 - a figure is never worth failing a session for
            self.get_logger().warning(f'no summary figure ({exc}); `clopy plot {folder.path}` draws it')


def main(args=None) -> int:
    return run_node(RecorderNode, args)


if __name__ == '__main__':
    sys.exit(main())
