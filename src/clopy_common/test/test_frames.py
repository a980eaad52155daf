"""The frame index an image carries (clopy_common.frames): written by the camera,
read by roi_dff and pose without waiting for the frame's FrameInfo."""
from __future__ import annotations

from sensor_msgs.msg import Image
from std_msgs.msg import Header

from clopy_common.frames import FrameIndexer, frame_header, frame_index_of, image_frame_id


def image(frame_id: str) -> Image:
    msg = Image()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 345
    return msg


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, line):
        self.lines.append(line)


def test_the_index_round_trips_through_the_frame_id():
    assert image_frame_id('camera', 123) == 'camera#123'
    assert frame_index_of(Header(frame_id='camera#123')) == 123
    assert frame_index_of(Header(frame_id='cam#era#7')) == 7
    for plain in ('camera', 'camera#', 'camera#x1', ''):
        assert frame_index_of(Header(frame_id=plain)) is None, plain


def test_what_is_computed_from_an_image_keeps_its_stamp_and_the_camera_frame_id():
    header = frame_header(image('camera#41').header)
    assert header.frame_id == 'camera' and (header.stamp.sec, header.stamp.nanosec) == (12, 345)
    assert frame_header(image('usb_cam').header).frame_id == 'usb_cam'


def test_frames_are_delivered_at_once_with_their_index_and_gaps_are_counted():
    got, log = [], Log()
    frames = FrameIndexer(lambda msg, index: got.append(index), log)
    for i in (0, 1, 4, 3, 5):
        frames.on_image(image(f'camera#{i}'))
    assert got == [0, 1, 4, 3, 5]
    assert frames.missed == 2 and len(log.lines) == 1 and '2 frame(s) before frame 4' in log.lines[0]


def test_images_without_an_index_are_numbered_in_arrival_order_said_once():
    got, log = [], Log()
    frames = FrameIndexer(lambda msg, index: got.append(index), log)
    for _ in range(3):
        frames.on_image(image('usb_cam'))
    assert got == [0, 1, 2] and frames.unnumbered == 3
    assert len(log.lines) == 1 and "'usb_cam'" in log.lines[0]
