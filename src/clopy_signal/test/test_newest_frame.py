"""The pose node's hand-over to its inference thread: newest frame wins."""
import threading
import time

from clopy_signal.pose_node import NewestFrame


def test_a_waiting_frame_is_replaced_by_a_newer_one_and_counted():
    slot = NewestFrame()
    assert slot.put('frame 1') is True
    assert slot.put('frame 2') is False      # frame 1 was never taken
    assert slot.put('frame 3') is False
    assert slot.take(0.1) == 'frame 3'
    assert slot.skipped == 2
    assert slot.take(0.05) is None           # nothing new: times out
    assert slot.put('frame 4') is True       # the slot was empty: nothing skipped
    assert slot.skipped == 2


def test_take_wakes_for_a_new_frame_and_for_close():
    slot = NewestFrame()
    got = []
    reader = threading.Thread(target=lambda: got.append(slot.take(5.0)))
    reader.start()
    time.sleep(0.05)
    slot.put('frame 7')
    reader.join(2.0)
    assert got == ['frame 7']
    reader = threading.Thread(target=lambda: got.append(slot.take(5.0)))
    reader.start()
    time.sleep(0.05)
    started = time.monotonic()
    slot.close()
    reader.join(2.0)
    assert not reader.is_alive() and time.monotonic() - started < 1.0
    assert got[-1] is None and slot.closed
