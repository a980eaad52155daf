"""What the bridge advertises: every recorded topic, its type, a ros2msg definition that
parsers read (rosbags, and mcap_ros2 as Foxglove's kind of parser) and that decodes the
CDR bytes rclpy writes; the QoS of each topic is a clopy_common.qos profile."""
from __future__ import annotations

import pytest
from mcap.records import Schema
from mcap_ros2.decoder import DecoderFactory
from rclpy.serialization import serialize_message
from rosbags.typesys import get_types_from_msg

from clopy_common import qos
from clopy_data.topics import TOPICS, VIEWER_TOPICS
from clopy_dashboard.foxglove.schemas import BRIDGE_QOS, channel_specs
from clopy_interfaces.msg import ControlSignal, TaskEvent


def test_every_recorded_topic_is_served_with_its_type_and_a_parsable_definition():
    specs = channel_specs()
    served = {**TOPICS, **VIEWER_TOPICS}
    assert [s.topic for s in specs] == list(TOPICS) + ['image_preview']
    for spec in specs:
        assert spec.schema_name == spec.msgtype == served[spec.topic]
        types = get_types_from_msg(spec.schema_text, spec.msgtype)
        assert spec.msgtype in types
        assert spec.schema_text.count('=' * 80) == spec.schema_text.count('\nMSG: ')


def _decoder(spec):
    return DecoderFactory().decoder_for('cdr', Schema(id=1, name=spec.schema_name, encoding='ros2msg',
                                                      data=spec.schema_text.encode()))


def test_the_definition_decodes_the_cdr_bytes_rclpy_publishes():
    specs = {s.topic: s for s in channel_specs(['control_signal', 'task_event'])}
    msg = ControlSignal(frame_index=41, value=0.0625, units='dff', valid=True)
    msg.header.stamp.sec, msg.header.frame_id = 12, 'camera#41'
    got = _decoder(specs['control_signal'])(serialize_message(msg))
    assert (got.frame_index, got.value, got.units, got.valid) == (41, 0.0625, 'dff', True)
    assert (got.header.stamp.sec, got.header.frame_id) == (12, 'camera#41')
    event = TaskEvent(frame_index=3, time_s=1.5, type='state', subtype='', content='trial')
    got = _decoder(specs['task_event'])(serialize_message(event))
    assert (got.type, got.content, got.time_s) == ('state', 'trial', 1.5)


def test_each_topic_is_read_with_a_qos_profile_of_the_project():
    assert set(BRIDGE_QOS) == set(TOPICS) | set(VIEWER_TOPICS)
    for topic, name in BRIDGE_QOS.items():
        assert hasattr(qos, name), (topic, name)
    # images best effort (never hold up the camera), the rest reliable as published
    assert BRIDGE_QOS['image_raw'] == BRIDGE_QOS['image_preview'] == 'IMAGE_QOS'
    assert BRIDGE_QOS['session_status'] == 'STATUS_QOS'


def test_an_unknown_topic_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"\['camera_raw'\].*allowed: image_raw"):
        channel_specs(['control_signal', 'camera_raw'])
