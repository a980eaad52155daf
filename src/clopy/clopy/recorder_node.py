"""Recorder node: every clopy topic into a rosbag2 bag (MCAP storage), the task
stream into the pyControl-style event TSV, and the session's parameter and task
files archived beside them.

Messages are taken as raw CDR bytes (rclpy raw subscriptions), exactly what
rosbag2 itself stores, and written with the `rosbags` library. The bag is cut
into chunks at least every `flush_period_s`, so a killed recorder loses at
most the last chunk (docs/recording.md: how to recover the rest). Ctrl-C,
SIGTERM and errors close the bag and the TSV properly.
"""
from __future__ import annotations

import platform
import shutil
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

from clopy_common import qos
from clopy_common.node_main import StartupError, run_node
from clopy_data.bag import McapBagWriter, typestore_with_clopy
from clopy_data.folder import PARAMETERS, SessionFolder
from clopy_data.session import EventLogWriter, archive_file, create_session_dir
from clopy_data.topics import RECORDER_QOS
from clopy_data.topics import TOPICS as TOPIC_TYPES
from clopy_interfaces.msg import FrameInfo, TaskEvent
from rclpy.node import Node

from clopy.recorder_params import RECORDER
from clopy.replay import message_class

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
    import os
    versions['ros_distro'] = os.environ.get('ROS_DISTRO', 'kilted (PyPI)')
    return versions


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
            self.bag = McapBagWriter(folder.bag, typestore_with_clopy(),
                                     max_chunk_age_s=get('flush_period_s'))
            self.events = EventLogWriter(folder.events)
        except (OSError, ValueError, RuntimeError) as exc:
            raise StartupError(f'recorder: cannot create the session in {get("session_dir") or get("out_dir")!r}: {exc}') from exc
        self.events.write_start_info(
            subject_id=get('mouse'), paradigm=get('paradigm'), start_time=start,
            task_file=Path(get('task_file')).name if get('task_file') else '',
            task_file_hash=task_hash,
            setup_id=socket.gethostname(), session_type=get('session_type'), versions=_versions())

        if get('rerun_of'):
            self.events.info('rerun_of', get('rerun_of'))
        self.counts: dict[str, int] = {}
        self.tsv_rows = 0
        for topic, (cls, type_name, sub_qos) in TOPICS.items():
            if topic == qos.IMAGE and not get('record_images'):
                continue
            connection = self.bag.add_topic(topic, type_name)
            self.create_subscription(cls, topic, self._writer(topic, connection), sub_qos, raw=True)
        self.create_subscription(TaskEvent, qos.TASK_EVENT, self.on_task_event, qos.EVENT_QOS)
        self.create_subscription(FrameInfo, qos.FRAME_INFO, self.on_frame_info, qos.STREAM_QOS)
        self.last_frame_index = -1
        self.create_timer(get('flush_period_s'), self.bag.flush)
        self.linger_s = 0.0
        # stopped together with everything (ros2 launch): record until every other node has gone
        self.upstream_topics = tuple(TOPICS)
        self.upstream_wait_s = 20.0
        self.get_logger().info(f'recording to {self.session_dir}')
        print(f'CLOPY_SESSION_DIR={self.session_dir}', flush=True)

    def _writer(self, topic: str, connection):
        clock = self.get_clock()

        def write(data: bytes) -> None:
            self.bag.write_raw(connection, clock.now().nanoseconds, data)
            self.counts[topic] = self.counts.get(topic, 0) + 1
        return write

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

    def on_task_event(self, msg: TaskEvent) -> None:
        if msg.type == 'info' and msg.subtype == 'task_file':
            return  # the start rows name the archived copy already
        self.tsv_rows += 1
        self.events.write(msg.time_s, msg.type, msg.subtype, msg.content)

    def _drain(self, quiet_s: float = 0.3, limit_s: float = 2.0) -> None:
        """Take what is still queued (the last reward events, run_end records) until
        nothing has arrived for quiet_s, at most limit_s."""
        import time

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
            if getattr(self, 'bag', None) is not None:
                self._drain()
        finally:
            try:
                bag = getattr(self, 'bag', None)
                if bag is not None:
                    bag.close()
            finally:
                events = getattr(self, 'events', None)
                if events is not None:
                    events.close(datetime.now(timezone.utc).astimezone())
        summary = ', '.join(f'{t} {n}' for t, n in sorted(self.counts.items()))
        self.get_logger().info(f'bag closed: {summary or "no messages"}; {self.tsv_rows} task events in {SessionFolder(self.session_dir).events.name}')
        if getattr(self, 'bag', None) is not None and self.get_parameter('finish').value:
            self._finish()

    def _finish(self) -> None:
        """The rest of the session folder, whoever started the graph: the per-frame
        table, the summary row and the figure (made from the closed bag)."""
        from clopy_data.plots import session_figure
        from clopy_data.postprocess import finish_session
        folder = SessionFolder(self.session_dir)
        csv = self.get_parameter('summary_csv').value
        csv_path = Path(csv) if csv else SessionFolder.sessions_summary(folder.path.parents[1])
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
