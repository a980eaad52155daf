"""clopy_data.topics (plain strings, no ROS) names what clopy_common.qos names, and the
recorder's subscriptions are built from it."""
from clopy_common import qos
from clopy_data import topics


def test_topic_names_match_clopy_common():
    for name in ('IMAGE', 'FRAME_INFO', 'ROI_SIGNAL', 'CONTROL_SIGNAL', 'POSE', 'TONE', 'TONE_EVENT', 'REWARD',
                 'REWARD_EVENT', 'TASK_EVENT', 'SESSION_STATUS', 'SESSION_END', 'LICK', 'IMAGE_PREVIEW'):
        assert getattr(topics, name) == getattr(qos, name), name


def test_recorder_qos_names_are_profiles():
    assert set(topics.RECORDER_QOS) == set(topics.TOPICS)
    assert qos.RECORDER_IMAGE_QOS is getattr(qos, topics.RECORDER_QOS[qos.IMAGE])
    assert qos.STATUS_QOS is getattr(qos, topics.RECORDER_QOS[qos.SESSION_STATUS])
    assert qos.EVENT_QOS is getattr(qos, topics.RECORDER_QOS[qos.REWARD_EVENT])
    assert qos.SESSION_END_QOS is getattr(qos, topics.RECORDER_QOS[qos.SESSION_END])
    assert qos.EVENT_QOS is getattr(qos, topics.RECORDER_QOS[qos.LICK])


def test_recorder_subscribes_every_topic_with_its_class():
    from clopy.recorder_node import TOPICS
    from clopy_interfaces.msg import RoiSignal
    from sensor_msgs.msg import Image
    assert set(TOPICS) == set(topics.TOPICS)
    assert TOPICS[qos.IMAGE][0] is Image and TOPICS[qos.IMAGE][2] is qos.RECORDER_IMAGE_QOS
    assert TOPICS[qos.ROI_SIGNAL] == (RoiSignal, 'clopy_interfaces/msg/RoiSignal', qos.EVENT_QOS)
