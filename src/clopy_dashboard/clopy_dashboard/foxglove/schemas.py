"""What the bridge serves: every recorded topic (``clopy_data.topics.TOPICS``) and the
camera's preview for viewers (``VIEWER_TOPICS``: ``image_preview``), its
message type, the ros2msg schema text and the QoS it is read with. Plain Python, no rclpy.

The schema text is the one the recorder writes into the bag (rosbag2/MCAP form: the
type's own fields, then each nested type after a line of 80 '=' and ``MSG: <type>``),
made by the same typestore (``clopy_data.bag_types.typestore_with_clopy``).
"""
from __future__ import annotations

from dataclasses import dataclass

from clopy_data import topics as t
from clopy_data.bag_types import typestore_with_clopy

#: message encoding of every channel: the CDR bytes as they came off the wire
MESSAGE_ENCODING = 'cdr'
#: schema encoding Foxglove parses for ROS 2 message definitions
SCHEMA_ENCODING = 'ros2msg'

#: topic -> the clopy_common.qos profile its publisher uses (docs/topics.md), so a
#: reader is always compatible; a transient-local reader created mid-session gets the
#: writer's history (events so far, the latest status)
BRIDGE_QOS: dict[str, str] = {
    t.IMAGE: 'IMAGE_QOS', t.IMAGE_PREVIEW: 'IMAGE_QOS',
    t.FRAME_INFO: 'STREAM_QOS', t.ROI_SIGNAL: 'STREAM_QOS', t.CONTROL_SIGNAL: 'STREAM_QOS', t.POSE: 'STREAM_QOS',
    t.TONE: 'COMMAND_QOS', t.REWARD: 'COMMAND_QOS',
    t.TONE_EVENT: 'EVENT_QOS', t.REWARD_EVENT: 'EVENT_QOS', t.TASK_EVENT: 'EVENT_QOS', t.LICK: 'EVENT_QOS',
    t.SESSION_STATUS: 'STATUS_QOS', t.SESSION_END: 'SESSION_END_QOS',
}


#: topic -> message type of everything the bridge serves
SERVED: dict[str, str] = {**t.TOPICS, **t.VIEWER_TOPICS}


@dataclass(frozen=True)
class ChannelSpec:
    """One served topic."""

    topic: str          # ROS topic name as published (relative: 'control_signal')
    msgtype: str        # 'clopy_interfaces/msg/ControlSignal'
    schema_text: str    # ros2msg definition, nested types appended
    qos: str            # name of a profile in clopy_common.qos

    @property
    def schema_name(self) -> str:
        """The schema's name as Foxglove shows it: the type name."""
        return self.msgtype


def channel_specs(names: list[str] | None = None, typestore=None) -> list[ChannelSpec]:
    """The ChannelSpec of each topic in ``names`` (default: every served topic), in
    the order given. ValueError names an unknown topic and the ones allowed."""
    chosen = list(SERVED) if names is None else list(names)
    unknown = [n for n in chosen if n not in SERVED]
    if unknown:
        raise ValueError(f'topics {unknown}: not served; allowed: {", ".join(SERVED)}')
    store = typestore or typestore_with_clopy()
    specs = []
    for name in chosen:
        text, _digest = store.generate_msgdef(SERVED[name], ros_version=2)
        specs.append(ChannelSpec(name, SERVED[name], text, BRIDGE_QOS[name]))
    return specs
