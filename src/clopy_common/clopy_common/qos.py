"""Topic names and the QoS of each, chosen for latency and for never losing a
command or an event (docs/topics.md explains the choice).

- images: best effort, keep last 5. A late frame is worth less than the next
  one, but a reader that stalls for a moment (a loaded 2-core machine) catches
  up on the few frames queued instead of losing them; the camera node counts
  frames it could not deliver, roi_dff and pose log frames they never received.
- frame info, signals and commands: reliable, keep last 100. On one computer
  reliable delivery costs nothing measurable and a lost reward command would be
  a lost reward.
- events (task, reward, tone, lick): reliable, keep last 1000, so a slow recorder
  catches up instead of losing records.
- both are transient local: a reader whose connection to a writer completes a
  moment after the writer's first messages (discovery on a loaded machine) still
  gets them from the writer's history, so the recorder never misses the start.
  Volatile readers (rqt, Foxglove) stay compatible.
- session status: reliable, transient local, keep last 1: a late joiner (a
  monitor started mid-session) gets the latest status at once.
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

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
MANUAL_REWARD = 'manual_reward'
LICK = 'lick'   # lick sensor changes (Lick): an event stream, EVENT_QOS
# for viewers, never read by the closed loop: the camera's image a few times a second
# (IMAGE_QOS) and the recorder's batches of per-frame values (LiveFeed, LIVE_FEED_QOS)
IMAGE_PREVIEW = 'image_preview'
LIVE_FEED = 'live_feed'

# header.frame_id of what the task sends when it stops (its final tone-off): caused by
# no frame, it keeps the last frame's stamp
SESSION_END_FRAME_ID = 'session_end'

IMAGE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                       reliability=ReliabilityPolicy.BEST_EFFORT,
                       durability=DurabilityPolicy.VOLATILE)
STREAM_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
COMMAND_QOS = STREAM_QOS
# The reward node must never act on a command from the history (a restarted
# node would otherwise open the valve for rewards already given): volatile.
VALVE_COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                               reliability=ReliabilityPolicy.RELIABLE,
                               durability=DurabilityPolicy.VOLATILE)
EVENT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1000,
                       reliability=ReliabilityPolicy.RELIABLE,
                       durability=DurabilityPolicy.TRANSIENT_LOCAL)
STATUS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)
# live_feed: reliable and volatile (a viewer that joins late starts from now); a few
# seconds of batches queued for a slow viewer
LIVE_FEED_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=20,
                           reliability=ReliabilityPolicy.RELIABLE,
                           durability=DurabilityPolicy.VOLATILE)
# session_end: reliable, transient local, keep last 10: a recorder that joins late still
# hears why the session ended
SESSION_END_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
# The recorder takes images best effort too, but with a deep queue (about 6 s
# at 15 fps), so a burst of work on a loaded machine does not cost frames in the bag.
RECORDER_IMAGE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                                reliability=ReliabilityPolicy.BEST_EFFORT,
                                durability=DurabilityPolicy.VOLATILE)
