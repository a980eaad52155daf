"""The recorded topics: names and message types, as plain strings.

The same names as ``clopy_common.qos`` (which needs rclpy); offline tools read
bags with these, the recorder subscribes to them and a replay publishes them.
``src/clopy/test/test_topics.py`` checks that both lists agree.
"""

IMAGE = 'image_raw'
FRAME_INFO = 'frame_info'
ROI_SIGNAL = 'roi_signal'
CONTROL_SIGNAL = 'control_signal'
POSE = 'pose'
TONE = 'tone'
TONE_EVENT = 'tone_event'
REWARD = 'reward'
REWARD_EVENT = 'reward_event'
TASK_EVENT = 'task_event'
SESSION_STATUS = 'session_status'
SESSION_END = 'session_end'
LICK = 'lick'
IMAGE_PREVIEW = 'image_preview'   # for viewers, not recorded (the frames are in image_raw)

#: Every recorded topic -> its message type (rosbag2 / rosbags type name).
TOPICS: dict[str, str] = {
    IMAGE: 'sensor_msgs/msg/Image',
    FRAME_INFO: 'clopy_interfaces/msg/FrameInfo',
    ROI_SIGNAL: 'clopy_interfaces/msg/RoiSignal',
    CONTROL_SIGNAL: 'clopy_interfaces/msg/ControlSignal',
    POSE: 'clopy_interfaces/msg/Pose',
    TONE: 'clopy_interfaces/msg/ToneCommand',
    TONE_EVENT: 'clopy_interfaces/msg/ToneEvent',
    REWARD: 'clopy_interfaces/msg/RewardCommand',
    REWARD_EVENT: 'clopy_interfaces/msg/RewardEvent',
    TASK_EVENT: 'clopy_interfaces/msg/TaskEvent',
    SESSION_STATUS: 'clopy_interfaces/msg/SessionStatus',
    SESSION_END: 'clopy_interfaces/msg/SessionEnd',
    LICK: 'clopy_interfaces/msg/Lick',
}

#: Topics for viewers that are not recorded -> message type (the Foxglove bridge serves them
#: too; ``live_feed`` is the dashboard's own and is not listed).
VIEWER_TOPICS: dict[str, str] = {IMAGE_PREVIEW: 'sensor_msgs/msg/Image'}

#: The QoS each topic is recorded (and replayed) with: a profile name in ``clopy_common.qos``.
RECORDER_QOS: dict[str, str] = {
    topic: ('RECORDER_IMAGE_QOS' if topic == IMAGE else 'STATUS_QOS' if topic == SESSION_STATUS else
            'SESSION_END_QOS' if topic == SESSION_END else 'EVENT_QOS')
    for topic in TOPICS
}

#: Commands to hardware (tone, valve): a replay leaves them out unless they are named.
COMMAND_TOPICS = (REWARD, TONE)
